package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/internal/page"
	"github.com/keycare/keycare/requests"
	"github.com/keycare/keycare/requests/metrics"
	"github.com/keycare/keycare/requests/replycheck"
)

// --- the queue ---

func (s *Server) listRequests(c echo.Context) error {
	ctx := c.Request().Context()
	var f requests.Filter
	var v keycare.Validation
	q := c.QueryParams()
	if owner := q.Get("owner"); owner != "" {
		if owner == "me" {
			owner = keycare.ActorFrom(ctx).UserID
		}
		v.Check(keycare.ValidID(owner), "owner", "must be a user id or \"me\"")
		f.OwnerID = owner
	}
	if st := q.Get("status"); st != "" {
		for _, one := range strings.Split(st, ",") {
			ok := one == string(requests.StatusOpen) || one == string(requests.StatusWaitingOnClient) || one == string(requests.StatusResolved)
			v.Check(ok, "status", "must be open, waiting_on_client or resolved (comma-separated for several)")
			f.Statuses = append(f.Statuses, requests.Status(one))
		}
	}
	if b := q.Get("breached"); b != "" {
		breached, err := strconv.ParseBool(b)
		v.Check(err == nil, "breached", "must be true or false")
		f.Breached = &breached
	}
	if acc := q.Get("account"); acc != "" {
		v.Check(keycare.ValidID(acc), "account", "must be an account id")
		f.AccountID = acc
	}
	if d := q.Get("due_before"); d != "" {
		at, err := time.Parse(time.RFC3339, d)
		v.Check(err == nil, "due_before", "must be an RFC 3339 time, e.g. 2026-11-01T12:00:00Z")
		f.DueBefore = &at
	}
	if err := v.Err(); err != nil {
		return err
	}
	return list(c, func(p page.Request) (page.List[requests.Request], error) {
		return s.deps.Requests.List(ctx, f, p)
	})
}

func (s *Server) createRequest(c echo.Context) error {
	var in requests.NewRequest
	if err := bind(c, &in); err != nil {
		return err
	}
	r, err := s.deps.Requests.Create(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return object(c, http.StatusCreated, r.Version, r)
}

func (s *Server) getRequest(c echo.Context) error {
	d, err := s.deps.Requests.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, d.Version, d)
}

func (s *Server) updateRequest(c echo.Context) error {
	var in requests.RequestUpdate
	if err := bind(c, &in); err != nil {
		return err
	}
	v, err := ifMatch(c)
	if err != nil {
		return err
	}
	r, err := s.deps.Requests.Update(c.Request().Context(), c.Param("id"), in, v)
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, r.Version, r)
}

func (s *Server) splitRequest(c echo.Context) error {
	var in requests.SplitInput
	if err := bind(c, &in); err != nil {
		return err
	}
	r, err := s.deps.Requests.Split(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	return object(c, http.StatusCreated, r.Version, r)
}

func (s *Server) mergeRequest(c echo.Context) error {
	var in requests.MergeInput
	if err := bind(c, &in); err != nil {
		return err
	}
	r, err := s.deps.Requests.Merge(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, r.Version, r)
}

func (s *Server) reviewRequest(c echo.Context) error {
	var in requests.QAInput
	if err := bind(c, &in); err != nil {
		return err
	}
	r, err := s.deps.Requests.AddReview(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

// --- handovers ---

func (s *Server) listHandovers(c echo.Context) error {
	f := requests.HandoverFilter{Status: c.QueryParam("status")}
	if f.Status != "" && f.Status != requests.HandoverPending && f.Status != requests.HandoverAccepted {
		return keycare.Invalid("status", "must be pending or accepted")
	}
	return list(c, func(p page.Request) (page.List[requests.Handover], error) {
		return s.deps.Requests.Handovers(c.Request().Context(), f, p)
	})
}

func (s *Server) createHandover(c echo.Context) error {
	var in requests.NewHandover
	if err := bind(c, &in); err != nil {
		return err
	}
	h, err := s.deps.Requests.CreateHandover(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, h)
}

func (s *Server) acceptHandover(c echo.Context) error {
	var none struct{}
	if err := bindOptional(c, &none); err != nil {
		return err
	}
	h, err := s.deps.Requests.AcceptHandover(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h)
}

// --- SLA policies ---

func (s *Server) listPolicies(c echo.Context) error {
	return list(c, func(p page.Request) (page.List[requests.SLAPolicy], error) {
		return s.deps.Requests.Policies(c.Request().Context(), p)
	})
}

func (s *Server) createPolicy(c echo.Context) error {
	var in requests.NewSLAPolicy
	if err := bind(c, &in); err != nil {
		return err
	}
	p, err := s.deps.Requests.CreatePolicy(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return object(c, http.StatusCreated, p.Version, p)
}

func (s *Server) getPolicy(c echo.Context) error {
	p, err := s.deps.Requests.GetPolicy(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, p.Version, p)
}

func (s *Server) updatePolicy(c echo.Context) error {
	var in requests.SLAPolicyUpdate
	if err := bind(c, &in); err != nil {
		return err
	}
	v, err := ifMatch(c)
	if err != nil {
		return err
	}
	p, err := s.deps.Requests.UpdatePolicy(c.Request().Context(), c.Param("id"), in, v)
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, p.Version, p)
}

// --- support metrics ---

// maxMetricsRange bounds ?from= to ?to=.
const maxMetricsRange = 366 * 24 * time.Hour

func (s *Server) supportMetrics(c echo.Context) error {
	ctx := c.Request().Context()
	now := time.Now().UTC()
	q := metrics.Query{To: now, From: now.AddDate(0, 0, -30), GroupBy: c.QueryParam("group_by")}
	var v keycare.Validation
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		raw := c.QueryParam(t.name)
		if raw == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			at, err = time.Parse(time.DateOnly, raw)
		}
		v.Check(err == nil, t.name, "must be an RFC 3339 time or a date, e.g. 2026-11-01")
		*t.dst = at.UTC()
	}
	switch q.GroupBy {
	case "", "manager", "account", "day":
	default:
		v.Add("group_by", "must be manager, account or day")
	}
	if v.Err() == nil {
		v.Check(q.From.Before(q.To), "to", "must be after from")
		v.Check(q.To.Sub(q.From) <= maxMetricsRange, "from", "the range must be at most 366 days")
	}
	if err := v.Err(); err != nil {
		return err
	}
	if a := keycare.ActorFrom(ctx); a.Role == keycare.RoleManager {
		q.OwnerID = a.UserID // a manager sees their own numbers
	}
	r, err := s.deps.SupportMetrics(ctx, q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// --- replies with checks ---

// SentMessage is the answer to POST /accounts/{id}/messages: the pending
// message and what the reply checks found.
type SentMessage struct {
	chats.Message
	Warnings []replycheck.Warning `json:"warnings"`
}

// checkReply runs the reply checks against what the account has on file.
func (s *Server) checkReply(c echo.Context, accountID, text string) ([]replycheck.Warning, error) {
	phones, emails, names, ids, tickets, err := s.deps.Requests.Facts(c.Request().Context(), accountID)
	if err != nil {
		return nil, err
	}
	w := replycheck.Check(text, replycheck.Facts{Phones: phones, Emails: emails, Companies: names, AccountIDs: ids, Tickets: tickets})
	if w == nil {
		w = []replycheck.Warning{}
	}
	return w, nil
}

// strictRefusal is the 422 of ?strict=true: every warning names the text.
func strictRefusal(ws []replycheck.Warning) error {
	e := &keycare.Error{Code: keycare.EUNPROCESSABL, Message: "the reply was not sent: the reply checks found problems (drop ?strict=true to send it anyway)"}
	for _, w := range ws {
		e.Fields = append(e.Fields, keycare.FieldError{Field: "text", Message: w.Code + ": " + w.Message})
	}
	return e
}
