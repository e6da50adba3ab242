package api

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/accounts"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/page"
	"github.com/keycare/keycare/team"
)

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the API description served at /api/v1/openapi.json.
func OpenAPI() []byte { return openAPIDoc }

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.deps.Ready(ctx); err != nil {
		s.deps.Log.Warn("not ready", "error", err)
		return echo.NewHTTPError(http.StatusServiceUnavailable, "database unreachable")
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) metrics(c echo.Context) error {
	promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{}).ServeHTTP(c.Response(), c.Request())
	return nil
}

func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDoc)
}

// list answers a list route: read ?limit= and ?cursor=, fetch one page, send it.
func list[T any](c echo.Context, fetch func(page.Request) (page.List[T], error)) error {
	p, err := pageRequest(c)
	if err != nil {
		return err
	}
	l, err := fetch(p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, l)
}

// --- team ---

func (s *Server) getMe(c echo.Context) error {
	u := c.Get("user").(*team.User)
	return object(c, http.StatusOK, u.Version, u)
}

func (s *Server) listUsers(c echo.Context) error {
	return list(c, func(p page.Request) (page.List[team.User], error) {
		return s.deps.Team.List(c.Request().Context(), p)
	})
}

func (s *Server) createUser(c echo.Context) error {
	var in team.NewUser
	if err := bind(c, &in); err != nil {
		return err
	}
	u, err := s.deps.Team.Create(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return object(c, http.StatusCreated, u.Version, u)
}

func (s *Server) getUser(c echo.Context) error {
	u, err := s.deps.Team.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, u.Version, u)
}

func (s *Server) updateUser(c echo.Context) error {
	var in team.UserUpdate
	if err := bind(c, &in); err != nil {
		return err
	}
	v, err := ifMatch(c)
	if err != nil {
		return err
	}
	u, err := s.deps.Team.Update(c.Request().Context(), c.Param("id"), in, v)
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, u.Version, u)
}

// tokenRequest is the optional body of POST /users/{id}/tokens.
type tokenRequest struct {
	Name string `json:"name"`
}

func (s *Server) issueToken(c echo.Context) error {
	var in tokenRequest
	if err := bindOptional(c, &in); err != nil {
		return err
	}
	token, err := s.deps.Team.IssueToken(c.Request().Context(), c.Param("id"), in.Name)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, map[string]string{"token": token})
}

// --- accounts ---

func (s *Server) listAccounts(c echo.Context) error {
	p, err := pageRequest(c)
	if err != nil {
		return err
	}
	archived, err := boolQuery(c, "archived")
	if err != nil {
		return err
	}
	f := accounts.Filter{OwnerID: c.QueryParam("owner"), Tier: c.QueryParam("tier"), Status: c.QueryParam("status"), Query: c.QueryParam("q"), Archived: archived != nil && *archived}
	if f.OwnerID == "me" {
		f.OwnerID = keycare.ActorFrom(c.Request().Context()).UserID
	}
	var v keycare.Validation
	v.Check(f.OwnerID == "" || keycare.ValidID(f.OwnerID), "owner", "must be a user id or \"me\"")
	v.Check(f.Tier == "" || f.Tier == accounts.TierStrategic || f.Tier == accounts.TierKey || f.Tier == accounts.TierStandard, "tier", "must be one of: strategic, key, standard")
	v.Check(f.Status == "" || f.Status == accounts.StatusOnboarding || f.Status == accounts.StatusActive || f.Status == accounts.StatusChurned, "status", "must be one of: onboarding, active, churned")
	v.Check(len(f.Query) <= 200, "q", "must be at most 200 characters")
	if err := v.Err(); err != nil {
		return err
	}
	l, err := s.deps.Accounts.Accounts(c.Request().Context(), f, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, l)
}

func (s *Server) createAccount(c echo.Context) error {
	var in accounts.NewAccount
	if err := bind(c, &in); err != nil {
		return err
	}
	a, err := s.deps.Accounts.CreateAccount(c.Request().Context(), in)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, Prefix+"/accounts/"+a.ID)
	return object(c, http.StatusCreated, a.Version, a)
}

func (s *Server) getCard(c echo.Context) error {
	card, err := s.deps.Accounts.CardOf(c.Request().Context(), c.Get(visibleAccount).(*accounts.Account))
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, card.Version, card)
}

func (s *Server) updateAccount(c echo.Context) error {
	var in accounts.AccountUpdate
	if err := bind(c, &in); err != nil {
		return err
	}
	v, err := ifMatch(c)
	if err != nil {
		return err
	}
	a, err := s.deps.Accounts.UpdateAccount(c.Request().Context(), c.Param("id"), in, v)
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, a.Version, a)
}

func (s *Server) archiveAccount(c echo.Context) error {
	a, err := s.deps.Accounts.ArchiveAccount(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, a.Version, a)
}

// --- contacts ---

func (s *Server) listContacts(c echo.Context) error {
	return list(c, func(p page.Request) (page.List[accounts.Contact], error) {
		return s.deps.Accounts.Contacts(c.Request().Context(), c.Param("id"), p)
	})
}

func (s *Server) createContact(c echo.Context) error {
	var in accounts.NewContact
	if err := bind(c, &in); err != nil {
		return err
	}
	ct, err := s.deps.Accounts.CreateContact(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	return object(c, http.StatusCreated, ct.Version, ct)
}

func (s *Server) getContact(c echo.Context) error {
	ct, err := s.deps.Accounts.Contact(c.Request().Context(), c.Param("id"), c.Param("cid"))
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, ct.Version, ct)
}

func (s *Server) updateContact(c echo.Context) error {
	var in accounts.ContactUpdate
	if err := bind(c, &in); err != nil {
		return err
	}
	v, err := ifMatch(c)
	if err != nil {
		return err
	}
	ct, err := s.deps.Accounts.UpdateContact(c.Request().Context(), c.Param("id"), c.Param("cid"), in, v)
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, ct.Version, ct)
}

func (s *Server) removeContact(c echo.Context) error {
	if err := s.deps.Accounts.RemoveContact(c.Request().Context(), c.Param("id"), c.Param("cid")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// --- revenue ---

func (s *Server) listRevenue(c echo.Context) error {
	return list(c, func(p page.Request) (page.List[accounts.RevenueEntry], error) {
		return s.deps.Accounts.Revenue(c.Request().Context(), c.Param("id"), accounts.RevenueRange{From: c.QueryParam("from"), To: c.QueryParam("to")}, p)
	})
}

func (s *Server) putRevenue(c echo.Context) error {
	var in accounts.RevenueInput
	if err := bind(c, &in); err != nil {
		return err
	}
	e, created, err := s.deps.Accounts.SetRevenue(c.Request().Context(), c.Param("id"), c.Param("month"), in, accounts.SourceAPI)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, e)
}

func (s *Server) importRevenue(c echo.Context) error {
	rows, err := decodeImport(c)
	if err != nil {
		return err
	}
	res, err := s.deps.Accounts.ImportRevenue(c.Request().Context(), rows)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// --- services ---

func (s *Server) listServices(c echo.Context) error {
	return list(c, func(p page.Request) (page.List[accounts.Service], error) {
		return s.deps.Accounts.Services(c.Request().Context(), c.Param("id"), accounts.ServiceFilter{Status: c.QueryParam("status")}, p)
	})
}

func (s *Server) createService(c echo.Context) error {
	var in accounts.NewService
	if err := bind(c, &in); err != nil {
		return err
	}
	sv, err := s.deps.Accounts.CreateService(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	return object(c, http.StatusCreated, sv.Version, sv)
}

func (s *Server) getService(c echo.Context) error {
	sv, err := s.deps.Accounts.Service(c.Request().Context(), c.Param("id"), c.Param("sid"))
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, sv.Version, sv)
}

func (s *Server) updateService(c echo.Context) error {
	var in accounts.ServiceUpdate
	if err := bind(c, &in); err != nil {
		return err
	}
	v, err := ifMatch(c)
	if err != nil {
		return err
	}
	sv, err := s.deps.Accounts.UpdateService(c.Request().Context(), c.Param("id"), c.Param("sid"), in, v)
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, sv.Version, sv)
}

func (s *Server) removeService(c echo.Context) error {
	if err := s.deps.Accounts.RemoveService(c.Request().Context(), c.Param("id"), c.Param("sid")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// --- notes ---

func (s *Server) noteFilter(c echo.Context) (accounts.NoteFilter, error) {
	pinned, err := boolQuery(c, "pinned")
	if err != nil {
		return accounts.NoteFilter{}, err
	}
	team, err := boolQuery(c, "team")
	if err != nil {
		return accounts.NoteFilter{}, err
	}
	f := accounts.NoteFilter{Query: c.QueryParam("q"), Tag: c.QueryParam("tag"), Pinned: pinned, TeamOnly: team != nil && *team, AccountID: c.QueryParam("account")}
	if f.AccountID != "" && !keycare.ValidID(f.AccountID) {
		return f, keycare.Invalid("account", "must be an account id")
	}
	return f, nil
}

func (s *Server) listNotes(c echo.Context) error {
	f, err := s.noteFilter(c)
	if err != nil {
		return err
	}
	return s.notes(c, f)
}

func (s *Server) listAccountNotes(c echo.Context) error {
	f, err := s.noteFilter(c)
	if err != nil {
		return err
	}
	f.AccountID, f.TeamOnly = c.Param("id"), false
	return s.notes(c, f)
}

func (s *Server) notes(c echo.Context, f accounts.NoteFilter) error {
	return list(c, func(p page.Request) (page.List[accounts.Note], error) {
		return s.deps.Accounts.Notes(c.Request().Context(), f, p)
	})
}

func (s *Server) createAccountNote(c echo.Context) error { return s.createNote(c, c.Param("id")) }

func (s *Server) createTeamNote(c echo.Context) error { return s.createNote(c, "") }

func (s *Server) createNote(c echo.Context, accountID string) error {
	var in accounts.NewNote
	if err := bind(c, &in); err != nil {
		return err
	}
	n, err := s.deps.Accounts.CreateNote(c.Request().Context(), accountID, in)
	if err != nil {
		return err
	}
	return object(c, http.StatusCreated, n.Version, n)
}

func (s *Server) getNote(c echo.Context) error {
	n, err := s.deps.Accounts.Note(c.Request().Context(), c.Param("nid"))
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, n.Version, n)
}

func (s *Server) updateNote(c echo.Context) error {
	var in accounts.NoteUpdate
	if err := bind(c, &in); err != nil {
		return err
	}
	v, err := ifMatch(c)
	if err != nil {
		return err
	}
	n, err := s.deps.Accounts.UpdateNote(c.Request().Context(), c.Param("nid"), in, v)
	if err != nil {
		return err
	}
	return object(c, http.StatusOK, n.Version, n)
}

func (s *Server) deleteNote(c echo.Context) error {
	if err := s.deps.Accounts.DeleteNote(c.Request().Context(), c.Param("nid")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listNoteRevisions(c echo.Context) error {
	return list(c, func(p page.Request) (page.List[accounts.NoteRevision], error) {
		return s.deps.Accounts.NoteRevisions(c.Request().Context(), c.Param("nid"), p)
	})
}

// --- audit ---

func (s *Server) listAudit(c echo.Context) error {
	p, err := pageRequest(c)
	if err != nil {
		return err
	}
	f := audit.Filter{EntityType: c.QueryParam("entity"), EntityID: c.QueryParam("entity_id"), ActorID: c.QueryParam("actor")}
	var v keycare.Validation
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if q := c.QueryParam(t.name); q != "" {
			at, err := time.Parse(time.RFC3339, q)
			v.Check(err == nil, t.name, "must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z")
			*t.dst = at
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	l, err := s.deps.Audit.List(c.Request().Context(), f, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, l)
}
