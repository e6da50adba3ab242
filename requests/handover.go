package requests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/internal/page"
)

var lockClause = clause.Locking{Strength: "UPDATE"}

// Handover statuses.
const (
	HandoverPending  = "pending"
	HandoverAccepted = "accepted"
)

// Handover passes requests from one team member to another with a note
// (SPEC §8): one request, several, or a whole shift.
type Handover struct {
	ID         string     `json:"id"`
	FromUserID string     `json:"from_user_id"`
	ToUserID   string     `json:"to_user_id"`
	CreatedBy  string     `json:"created_by"`
	Note       string     `json:"note"`
	Shift      bool       `json:"shift"`
	Status     string     `json:"status"`
	RequestIDs []string   `json:"request_ids"`
	CreatedAt  time.Time  `json:"created_at"`
	AcceptedAt *time.Time `json:"accepted_at"`
}

type handoverRow struct {
	ID         string
	FromUserID string
	ToUserID   string
	CreatedBy  string
	Note       string
	Shift      bool
	Status     string
	CreatedAt  time.Time
	AcceptedAt *time.Time
}

func (handoverRow) TableName() string { return "handovers" }

type handoverRequest struct {
	HandoverID string
	RequestID  string
}

func (handoverRequest) TableName() string { return "handover_requests" }

// NewHandover is the body of POST /handovers.
type NewHandover struct {
	ToUserID   string   `json:"to_user_id" validate:"required,id"`
	RequestIDs []string `json:"request_ids" validate:"omitempty,max=500,dive,id"`
	Shift      bool     `json:"shift"`
	Note       string   `json:"note" validate:"max=4000"`
	// FromUserID hands over someone else's requests (a lead covering an
	// absence); it defaults to the caller.
	FromUserID *string `json:"from_user_id" validate:"omitempty,id"`
}

var errHandoverNotFound = keycare.Errorf(keycare.ENOTFOUND, "handover not found")

// CreateHandover records a pending handover. With shift, it takes every
// request the giver owns that waits for a team reply; otherwise the listed
// requests, which must be unresolved and visible to the caller.
func (s *Store) CreateHandover(ctx context.Context, in NewHandover) (*Handover, error) {
	in.Note = strings.TrimSpace(in.Note)
	if err := keycare.Validate(in); err != nil {
		return nil, err
	}
	actor := keycare.ActorFrom(ctx)
	var v keycare.Validation
	v.Check(in.Shift != (len(in.RequestIDs) > 0), "request_ids", "give request_ids or \"shift\": true, not both")
	from := actor.UserID
	if in.FromUserID != nil {
		if *in.FromUserID != actor.UserID && !actor.SeesAll() {
			return nil, &keycare.Error{Code: keycare.EFORBIDDEN, Message: "from_user_id: only a lead or admin may hand over someone else's requests",
				Fields: []keycare.FieldError{{Field: "from_user_id", Message: "only a lead or admin may hand over someone else's requests"}}}
		}
		from = *in.FromUserID
	}
	v.Check(in.ToUserID != from, "to_user_id", "must be someone else")
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out Handover
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := checkAssignee(ctx, tx, "to_user_id", in.ToUserID); err != nil {
			return err
		}
		var ids []string
		if in.Shift {
			q := visible(tx.Model(&requestRow{}), actor).
				Where("requests.owner_id = ? AND requests.status = ? AND requests.awaiting_team AND requests.merged_into_id IS NULL", from, StatusOpen)
			if err := q.Order("requests.id").Pluck("requests.id", &ids).Error; err != nil {
				return err
			}
			if len(ids) == 0 {
				return keycare.Invalid("shift", "nothing to hand over: no request of theirs waits for a team reply")
			}
		} else {
			ids = slices.Compact(slices.Sorted(slices.Values(in.RequestIDs)))
			var found []requestRow
			if err := visible(tx.Model(&requestRow{}), actor).Where("requests.id IN ?", ids).Find(&found).Error; err != nil {
				return err
			}
			for i, id := range in.RequestIDs {
				j := slices.IndexFunc(found, func(r requestRow) bool { return r.ID == id })
				switch {
				case j < 0:
					v.Add(fmt.Sprintf("request_ids[%d]", i), "no such request")
				case Status(found[j].Status) == StatusResolved || found[j].MergedIntoID != nil:
					v.Add(fmt.Sprintf("request_ids[%d]", i), "is resolved")
				}
			}
			if err := v.Err(); err != nil {
				return err
			}
		}
		row := handoverRow{ID: keycare.NewID(), FromUserID: from, ToUserID: in.ToUserID, CreatedBy: actor.UserID, Note: in.Note,
			Shift: in.Shift, Status: HandoverPending, CreatedAt: s.now()}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		links := make([]handoverRequest, len(ids))
		for i, id := range ids {
			links[i] = handoverRequest{HandoverID: row.ID, RequestID: id}
		}
		if err := tx.Create(&links).Error; err != nil {
			return err
		}
		out = row.view(ids)
		return recordHandover(ctx, tx, "handover.create", out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (r handoverRow) view(ids []string) Handover {
	if ids == nil {
		ids = []string{}
	}
	return Handover{ID: r.ID, FromUserID: r.FromUserID, ToUserID: r.ToUserID, CreatedBy: r.CreatedBy, Note: r.Note, Shift: r.Shift,
		Status: r.Status, RequestIDs: ids, CreatedAt: r.CreatedAt, AcceptedAt: r.AcceptedAt}
}

func recordHandover(ctx context.Context, tx *gorm.DB, action string, h Handover) error {
	for _, id := range h.RequestIDs {
		if err := recordAudit(ctx, tx, action, id, nil, map[string]any{"handover_id": h.ID, "from_user_id": h.FromUserID, "to_user_id": h.ToUserID, "note": h.Note}); err != nil {
			return err
		}
	}
	return nil
}

// AcceptHandover makes the receiver the owner of the handover's requests
// that are still unresolved. Only the receiver (or a lead or admin) accepts.
func (s *Store) AcceptHandover(ctx context.Context, id string) (*Handover, error) {
	actor := keycare.ActorFrom(ctx)
	var out Handover
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row, err := getHandover(ctx, tx, id)
		if err != nil {
			return err
		}
		if !actor.SeesAll() && actor.UserID != row.ToUserID && actor.UserID != row.FromUserID {
			return errHandoverNotFound
		}
		if actor.UserID != row.ToUserID && !actor.SeesAll() {
			return keycare.Errorf(keycare.EFORBIDDEN, "only the receiver accepts a handover")
		}
		if row.Status != HandoverPending {
			return keycare.Errorf(keycare.ECONFLICT, "the handover is %s already", row.Status)
		}
		var ids []string
		if err := tx.Model(&handoverRequest{}).Where("handover_id = ?", id).Order("request_id").Pluck("request_id", &ids).Error; err != nil {
			return err
		}
		now := s.now()
		res := tx.Model(&handoverRow{}).Where("id = ? AND status = ?", id, HandoverPending).Updates(map[string]any{"status": HandoverAccepted, "accepted_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return keycare.Errorf(keycare.ECONFLICT, "the handover was accepted meanwhile")
		}
		var moved []string
		// Locked in id order (see currentRequests) before they are updated.
		if err := forUpdate(tx.Model(&requestRow{})).Where("id IN ? AND status <> ? AND merged_into_id IS NULL", ids, StatusResolved).
			Order("id").Pluck("id", &moved).Error; err != nil {
			return err
		}
		if err := tx.Model(&requestRow{}).Where("id IN ?", moved).
			Updates(map[string]any{"owner_id": row.ToUserID, "version": gorm.Expr("version + 1"), "updated_at": now}).Error; err != nil {
			return err
		}
		// Metrics count the clocks under the request's owner.
		if err := tx.Model(&clockRow{}).Where("request_id IN ?", moved).Update("owner_id", row.ToUserID).Error; err != nil {
			return err
		}
		row.Status, row.AcceptedAt = HandoverAccepted, &now
		out = row.view(ids)
		return recordHandover(ctx, tx, "handover.accept", out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func getHandover(ctx context.Context, tx *gorm.DB, id string) (*handoverRow, error) {
	if !keycare.ValidID(id) {
		return nil, errHandoverNotFound
	}
	var r handoverRow
	err := forUpdate(tx.WithContext(ctx)).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, errHandoverNotFound
	}
	return &r, err
}

// HandoverFilter narrows GET /handovers.
type HandoverFilter struct {
	Status string // pending or accepted; empty: both
}

// Handovers lists handovers newest first: a manager sees those they give or
// receive, leads and admins all.
func (s *Store) Handovers(ctx context.Context, f HandoverFilter, p page.Request) (page.List[Handover], error) {
	keys, err := p.Keys(1)
	if err != nil {
		return page.List[Handover]{}, err
	}
	actor := keycare.ActorFrom(ctx)
	q := s.db.WithContext(ctx).Model(&handoverRow{})
	if !actor.SeesAll() {
		q = q.Where("from_user_id = ? OR to_user_id = ?", actor.UserID, actor.UserID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if keys != nil {
		q = q.Where("id < ?", keys[0])
	}
	var rows []handoverRow
	if err := q.Order("id DESC").Limit(p.Size() + 1).Find(&rows).Error; err != nil {
		return page.List[Handover]{}, err
	}
	items, err := s.withRequests(ctx, rows)
	if err != nil {
		return page.List[Handover]{}, err
	}
	return page.Trim(items, p.Size(), func(h Handover) []string { return []string{h.ID} }), nil
}

func (s *Store) withRequests(ctx context.Context, rows []handoverRow) ([]Handover, error) {
	out := make([]Handover, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var links []handoverRequest
	if err := s.db.WithContext(ctx).Where("handover_id IN ?", ids).Order("request_id").Find(&links).Error; err != nil {
		return nil, err
	}
	by := map[string][]string{}
	for _, l := range links {
		by[l.HandoverID] = append(by[l.HandoverID], l.RequestID)
	}
	for i, r := range rows {
		out[i] = r.view(by[r.ID])
	}
	return out, nil
}

// handoversOf lists the handovers a request was part of, oldest first.
func (s *Store) handoversOf(ctx context.Context, requestID string) ([]Handover, error) {
	var rows []handoverRow
	if err := s.db.WithContext(ctx).Where("id IN (SELECT handover_id FROM handover_requests WHERE request_id = ?)", requestID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	return s.withRequests(ctx, rows)
}
