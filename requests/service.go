package requests

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/page"
	"github.com/keycare/keycare/requests/csat"
)

// visible limits q (over requests) to what the actor may see: everything
// for admins and leads; for a manager, requests of accounts they own or
// back up, and requests they own (a handover makes them the owner).
func visible(q *gorm.DB, a keycare.Actor) *gorm.DB {
	switch {
	case a.SeesAll():
		return q
	case a.Role == keycare.RoleManager:
		return q.Where("(requests.owner_id = ? OR requests.account_id IN (SELECT id FROM accounts WHERE owner_id = ? OR backup_id = ?))", a.UserID, a.UserID, a.UserID)
	default:
		return q.Where("1 = 0")
	}
}

// visibleRow loads a request the actor may see, or errNotFound.
func visibleRow(ctx context.Context, tx *gorm.DB, id string) (*requestRow, error) {
	if !keycare.ValidID(id) {
		return nil, errNotFound
	}
	var rows []requestRow
	q := forUpdate(visible(tx.WithContext(ctx).Model(&requestRow{}).Where("requests.id = ?", id), keycare.ActorFrom(ctx)))
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errNotFound
	}
	return &rows[0], nil
}

// CanSee returns ENOTFOUND unless the actor in ctx may see the request.
func (s *Store) CanSee(ctx context.Context, id string) error {
	if !keycare.ValidID(id) {
		return errNotFound
	}
	var n int64
	if err := visible(s.db.WithContext(ctx).Model(&requestRow{}).Where("requests.id = ?", id), keycare.ActorFrom(ctx)).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return errNotFound
	}
	return nil
}

// Filter narrows the queue (SPEC §6).
type Filter struct {
	OwnerID   string   // a user id ("me" is resolved by the caller)
	Statuses  []Status // any of
	Breached  *bool
	AccountID string
	DueBefore *time.Time
}

// List is the queue: requests sorted by the nearest due time (those with
// nothing due last), then by id.
func (s *Store) List(ctx context.Context, f Filter, p page.Request) (page.List[Request], error) {
	keys, err := p.Keys(2)
	if err != nil {
		return page.List[Request]{}, err
	}
	q := visible(s.db.WithContext(ctx).Model(&requestRow{}), keycare.ActorFrom(ctx)).Where("requests.merged_into_id IS NULL")
	if f.OwnerID != "" {
		q = q.Where("requests.owner_id = ?", f.OwnerID)
	}
	if len(f.Statuses) > 0 {
		q = q.Where("requests.status IN ?", f.Statuses)
	}
	if f.Breached != nil {
		q = q.Where("requests.breached_any = ?", *f.Breached)
	}
	if f.AccountID != "" {
		q = q.Where("requests.account_id = ?", f.AccountID)
	}
	if f.DueBefore != nil {
		q = q.Where("requests.due_at < ?", f.DueBefore.UTC())
	}
	if keys != nil {
		if keys[0] == "" {
			q = q.Where("requests.due_at IS NULL AND requests.id > ?", keys[1])
		} else {
			due, err := time.Parse(time.RFC3339Nano, keys[0])
			if err != nil {
				return page.List[Request]{}, keycare.Invalid("cursor", "is not a cursor this list issued")
			}
			q = q.Where("(requests.due_at IS NULL OR requests.due_at > ? OR (requests.due_at = ? AND requests.id > ?))", due, due, keys[1])
		}
	}
	var rows []requestRow
	err = q.Order("requests.due_at NULLS LAST, requests.id").
		Limit(p.Size() + 1).Find(&rows).Error
	if err != nil {
		return page.List[Request]{}, err
	}
	items := make([]Request, len(rows))
	for i := range rows {
		items[i] = rows[i].view()
	}
	return page.Trim(items, p.Size(), func(r Request) []string {
		due := ""
		if r.DueAt != nil {
			due = r.DueAt.UTC().Format(time.RFC3339Nano)
		}
		return []string{due, r.ID}
	}), nil
}

// OpenForAccount lists an account's unresolved requests, nearest due first,
// for the account card.
func OpenForAccount(ctx context.Context, tx *gorm.DB, accountID string) ([]Request, error) {
	var rows []requestRow
	err := tx.WithContext(ctx).
		Where("account_id = ? AND status <> ? AND merged_into_id IS NULL", accountID, StatusResolved).
		Order("requests.due_at NULLS LAST, requests.id").Limit(50).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]Request, len(rows))
	for i := range rows {
		out[i] = rows[i].view()
	}
	return out, nil
}

// Detail is GET /requests/{id}: the request with its conversation, clocks,
// alerts, handovers and reviews, so whoever takes it over needs nothing else.
type Detail struct {
	Request
	Messages  []MessageRef `json:"messages"`
	Clocks    []ClockView  `json:"clocks"`
	Alerts    []Alert      `json:"alerts"`
	Handovers []Handover   `json:"handovers"`
	Reviews   []Review     `json:"qa_reviews"`
}

// MessageRef is a message of a request.
type MessageRef struct {
	ID                string     `json:"id"`
	TelegramMessageID *int       `json:"telegram_message_id"`
	Side              string     `json:"side"`
	SenderKind        string     `json:"sender_kind"`
	SenderName        string     `json:"sender_name"`
	Text              string     `json:"text"`
	Status            string     `json:"status"`
	SentAt            *time.Time `json:"sent_at"`
	DeletedAt         *time.Time `json:"deleted_at"`
}

// ClockView is one SLA clock of a request.
type ClockView struct {
	Clock          string     `json:"clock"`
	StartedAt      time.Time  `json:"started_at"`
	StoppedAt      *time.Time `json:"stopped_at"`
	ElapsedSeconds *int64     `json:"elapsed_seconds"`
	TargetSeconds  *int64     `json:"target_seconds"`
	DueAt          *time.Time `json:"due_at"`
	Breached       bool       `json:"breached"`
}

// Review is a lead's QA score of a request.
type Review struct {
	ID         string    `json:"id"`
	ReviewerID string    `json:"reviewer_id"`
	Score      int       `json:"score"`
	Comment    string    `json:"comment"`
	CreatedAt  time.Time `json:"created_at"`
}

type reviewRow struct {
	ID         string
	RequestID  string
	ReviewerID string
	Score      int
	Comment    string
	CreatedAt  time.Time
}

func (reviewRow) TableName() string { return "request_qa" }

// maxDetailMessages bounds the conversation GET /requests/{id} carries.
const maxDetailMessages = 500

// Get returns a request the caller may see, with everything about it.
func (s *Store) Get(ctx context.Context, id string) (*Detail, error) {
	r, err := visibleRow(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx)
	d := &Detail{Request: r.view(), Messages: []MessageRef{}, Clocks: []ClockView{}, Alerts: []Alert{}, Handovers: []Handover{}, Reviews: []Review{}}
	var msgs []struct {
		MessageRef
		CreatedAt time.Time
	}
	if err := db.Table("messages").Select("id, telegram_message_id, side, sender_kind, sender_name, text, status, sent_at, created_at, deleted_at").
		Where("request_id = ?", id).Order("COALESCE(sent_at, created_at), id").Limit(maxDetailMessages).Find(&msgs).Error; err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if m.SentAt == nil {
			at := m.CreatedAt
			m.SentAt = &at // an outgoing message not confirmed yet: when it was queued
		}
		d.Messages = append(d.Messages, m.MessageRef)
	}
	var clocks []clockRow
	if err := db.Where("request_id = ?", id).Order("started_at, clock").Find(&clocks).Error; err != nil {
		return nil, err
	}
	for _, c := range clocks {
		d.Clocks = append(d.Clocks, ClockView{Clock: c.Clock, StartedAt: c.StartedAt, StoppedAt: c.StoppedAt, ElapsedSeconds: c.ElapsedSeconds, TargetSeconds: c.TargetSeconds, DueAt: c.DueAt, Breached: c.Breached})
	}
	var alerts []alertRow
	if err := db.Where("request_id = ?", id).Order("at, id").Find(&alerts).Error; err != nil {
		return nil, err
	}
	for i := range alerts {
		d.Alerts = append(d.Alerts, alerts[i].view())
	}
	if d.Handovers, err = s.handoversOf(ctx, id); err != nil {
		return nil, err
	}
	var reviews []reviewRow
	if err := db.Where("request_id = ?", id).Order("created_at, id").Find(&reviews).Error; err != nil {
		return nil, err
	}
	for _, rv := range reviews {
		d.Reviews = append(d.Reviews, Review{ID: rv.ID, ReviewerID: rv.ReviewerID, Score: rv.Score, Comment: rv.Comment, CreatedAt: rv.CreatedAt})
	}
	return d, nil
}

// NewRequest is the body of POST /requests: a request that came by phone,
// email or another channel, logged by the team member taking it.
type NewRequest struct {
	AccountID string     `json:"account_id" validate:"required,id"`
	Channel   string     `json:"channel" validate:"required,oneof=phone email other"`
	Subject   string     `json:"subject" validate:"required,max=500"`
	Priority  string     `json:"priority" validate:"omitempty,oneof=low normal high urgent"`
	Category  string     `json:"category" validate:"omitempty,oneof=question incident feedback task"`
	OwnerID   *string    `json:"owner_id" validate:"omitempty,id"`
	OpenedAt  *time.Time `json:"opened_at"`
}

// Create logs a request by hand. Its first response is the call or mail
// that brought it: the person logging it has taken it. Its resolution
// clock runs until it is resolved.
func (s *Store) Create(ctx context.Context, in NewRequest) (*Request, error) {
	in.Subject = strings.TrimSpace(in.Subject)
	if err := keycare.Validate(in); err != nil {
		return nil, err
	}
	now := s.now()
	opened := now
	if in.OpenedAt != nil {
		opened = in.OpenedAt.UTC().Truncate(time.Microsecond)
		var v keycare.Validation
		v.Check(!opened.After(now.Add(time.Minute)), "opened_at", "must not be in the future")
		v.Check(opened.After(now.AddDate(0, 0, -90)), "opened_at", "must be within the last 90 days")
		if err := v.Err(); err != nil {
			return nil, err
		}
	}
	var out Request
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := canSeeAccount(ctx, tx, in.AccountID); err != nil {
			return keycare.Invalid("account_id", "no such account")
		}
		r, err := s.newRequest(ctx, tx, in.AccountID, in.Channel, in.Subject, opened)
		if err != nil {
			return err
		}
		if in.Priority != "" {
			r.Priority = in.Priority
		}
		if in.Category != "" {
			r.Category = in.Category
		}
		if in.OwnerID != nil {
			if err := checkAssignee(ctx, tx, "owner_id", *in.OwnerID); err != nil {
				return err
			}
			r.OwnerID = in.OwnerID
		} else if a := keycare.ActorFrom(ctx); a.UserID != "" {
			r.OwnerID = &a.UserID
		}
		if err := s.evaluate(ctx, tx, r, nil); err != nil {
			return err
		}
		out = r.view()
		return recordAudit(ctx, tx, "request.create", r.ID, nil, out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// canSeeAccount returns ENOTFOUND unless the actor may see the account.
func canSeeAccount(ctx context.Context, tx *gorm.DB, accountID string) error {
	a := keycare.ActorFrom(ctx)
	q := tx.WithContext(ctx).Table("accounts").Where("id = ? AND archived_at IS NULL", accountID)
	if !a.SeesAll() {
		q = q.Where("(owner_id = ? OR backup_id = ?)", a.UserID, a.UserID)
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return keycare.Errorf(keycare.ENOTFOUND, "account not found")
	}
	return nil
}

// checkAssignee checks that a user can own requests: active, and on the Care team.
func checkAssignee(ctx context.Context, tx *gorm.DB, field, userID string) error {
	if !keycare.ValidID(userID) {
		return keycare.Invalid(field, "must be a user id")
	}
	var n int64
	if err := tx.WithContext(ctx).Table("users").Where("id = ? AND active AND role IN ?", userID, []string{keycare.RoleAdmin, keycare.RoleLead, keycare.RoleManager}).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return keycare.Invalid(field, "must be an active admin, lead or manager")
	}
	return nil
}

// RequestUpdate is the body of PATCH /requests/{id}.
type RequestUpdate struct {
	OwnerID  keycare.Optional[string] `json:"owner_id"`
	Status   keycare.Optional[string] `json:"status"`
	Priority keycare.Optional[string] `json:"priority"`
	Category keycare.Optional[string] `json:"category"`
	Subject  keycare.Optional[string] `json:"subject"`
}

// Update changes a request's owner, status, priority, category or subject.
// A status or priority change moves the clocks; resolving a Telegram
// request asks the client for a rating.
func (s *Store) Update(ctx context.Context, id string, in RequestUpdate, ifVersion int) (*Request, error) {
	var out Request
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		r, err := visibleRow(ctx, tx, id)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != r.Version {
			return keycare.Errorf(keycare.EPRECONDITION, "the request changed since it was read (If-Match)")
		}
		if r.MergedIntoID != nil {
			return keycare.Errorf(keycare.ECONFLICT, "the request was merged into %s", *r.MergedIntoID)
		}
		before := r.view()
		var v keycare.Validation
		set := func(o keycare.Optional[string], field, rule string, dst *string) bool {
			if !o.Set {
				return false
			}
			if o.Null {
				v.Add(field, "must not be null")
				return false
			}
			if err := keycare.ValidateVar(o.Value, field, rule); err != nil {
				_ = v.Merge("", err)
				return false
			}
			changed := *dst != o.Value
			*dst = o.Value
			return changed
		}
		oldStatus := r.Status
		statusChanged := set(in.Status, "status", "required,oneof=open waiting_on_client resolved", &r.Status)
		set(in.Priority, "priority", "required,oneof=low normal high urgent", &r.Priority) // re-evaluated below: targets follow the priority
		set(in.Category, "category", "required,oneof=question incident feedback task", &r.Category)
		if in.Subject.Set {
			in.Subject.Value = strings.TrimSpace(in.Subject.Value)
			set(in.Subject, "subject", "required,max=500", &r.Subject)
		}
		if in.OwnerID.Set {
			if in.OwnerID.Null || in.OwnerID.Value == "" {
				r.OwnerID = nil
			} else if err := checkAssignee(ctx, tx, "owner_id", in.OwnerID.Value); err != nil {
				return err
			} else {
				owner := in.OwnerID.Value
				r.OwnerID = &owner
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		now := s.now()
		if statusChanged {
			if err := addStatus(ctx, tx, r.ID, Status(r.Status), now); err != nil {
				return err
			}
			if Status(oldStatus) == StatusResolved {
				r.ReopenCount++
			}
			if Status(r.Status) == StatusResolved && r.Channel == ChannelTelegram && s.Poster != nil && r.CSAT == nil {
				if err := s.Poster.PostNotice(ctx, tx, r.AccountID, csat.Question(), "csat"); err != nil && keycare.ErrorCode(err) != keycare.ECONFLICT {
					return err
				} else if err == nil {
					r.CSATAskedAt = &now
				}
			}
		}
		if err := s.evaluate(ctx, tx, r, nil); err != nil {
			return err
		}
		out = r.view()
		return recordAudit(ctx, tx, "request.update", r.ID, before, out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SplitInput is the body of POST /requests/{id}/split.
type SplitInput struct {
	MessageIDs []string `json:"message_ids" validate:"required,min=1,max=500,dive,id"`
}

// Split moves messages of a request into a new request of the same account
// (a second question asked in the same stream), and re-measures both.
func (s *Store) Split(ctx context.Context, id string, in SplitInput) (*Request, error) {
	if err := keycare.Validate(in); err != nil {
		return nil, err
	}
	var out Request
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		r, err := visibleRow(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.MergedIntoID != nil {
			return keycare.Errorf(keycare.ECONFLICT, "the request was merged into %s", *r.MergedIntoID)
		}
		all, err := requestMessages(ctx, tx, id)
		if err != nil {
			return err
		}
		var msgs []filedMessage
		for i, mid := range in.MessageIDs {
			j := slices.IndexFunc(all, func(m filedMessage) bool { return m.ID == mid })
			if j < 0 {
				return keycare.Invalid(fmt.Sprintf("message_ids[%d]", i), "is not a message of this request")
			}
			if !slices.ContainsFunc(msgs, func(m filedMessage) bool { return m.ID == mid }) {
				msgs = append(msgs, all[j])
			}
		}
		slices.SortFunc(msgs, func(a, b filedMessage) int { return a.at().Compare(b.at()) })
		if len(all) == len(msgs) {
			return keycare.Invalid("message_ids", "must leave at least one message in the request")
		}
		subject := ""
		for _, m := range msgs {
			if m.Side == string(SideClient) {
				subject = subjectOf(m.Text)
				break
			}
		}
		n, err := s.newRequest(ctx, tx, r.AccountID, r.Channel, subject, msgs[0].at())
		if err != nil {
			return err
		}
		n.OwnerID, n.Priority, n.Category, n.SLAPolicyID = r.OwnerID, r.Priority, r.Category, r.SLAPolicyID
		if err := tx.Table("messages").Where("request_id = ? AND id IN ?", id, in.MessageIDs).Update("request_id", n.ID).Error; err != nil {
			return err
		}
		if err := s.refresh(ctx, tx, r); err != nil {
			return err
		}
		if err := s.refresh(ctx, tx, n); err != nil {
			return err
		}
		out = n.view() // new: no reviews yet
		return recordAudit(ctx, tx, "request.split", r.ID, nil, map[string]any{"new_request_id": n.ID, "message_ids": in.MessageIDs})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// refresh recounts what a request's messages imply (touches, who wrote
// last, when) after messages moved in or out, then re-evaluates it.
func (s *Store) refresh(ctx context.Context, tx *gorm.DB, r *requestRow) error {
	msgs, err := requestMessages(ctx, tx, r.ID)
	if err != nil {
		return err
	}
	r.Touches, r.AwaitingTeam, r.LastMessageAt = 0, false, nil
	for _, m := range msgs {
		at := m.at()
		if m.Side == string(SideTeam) {
			r.Touches++
		}
		r.AwaitingTeam = m.Side == string(SideClient)
		r.LastMessageAt = &at
	}
	if len(msgs) > 0 && r.Channel == ChannelTelegram && msgs[0].at().Before(r.OpenedAt) {
		r.OpenedAt = msgs[0].at()
	}
	return s.evaluate(ctx, tx, r, nil)
}

// MergeInput is the body of POST /requests/{id}/merge.
type MergeInput struct {
	Into string `json:"into" validate:"required,id"`
}

// Merge moves a request's messages into another request of the same
// account and closes it as merged: two threads that were one question.
func (s *Store) Merge(ctx context.Context, id string, in MergeInput) (*Request, error) {
	if err := keycare.Validate(in); err != nil {
		return nil, err
	}
	if in.Into == id {
		return nil, keycare.Invalid("into", "must be another request")
	}
	var out Request
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Both are locked, in id order (see currentRequests).
		var from, into *requestRow
		var errFrom, errInto error
		if id < in.Into {
			from, errFrom = visibleRow(ctx, tx, id)
			if errFrom == nil {
				into, errInto = visibleRow(ctx, tx, in.Into)
			}
		} else {
			into, errInto = visibleRow(ctx, tx, in.Into)
			from, errFrom = visibleRow(ctx, tx, id)
		}
		if errFrom != nil {
			return errFrom
		}
		if errInto != nil {
			return keycare.Invalid("into", "no such request")
		}
		if into.AccountID != from.AccountID {
			return keycare.Invalid("into", "must be a request of the same account")
		}
		if from.MergedIntoID != nil || into.MergedIntoID != nil {
			return keycare.Errorf(keycare.ECONFLICT, "a merged request cannot be merged again")
		}
		if err := tx.Table("messages").Where("request_id = ?", from.ID).Update("request_id", into.ID).Error; err != nil {
			return err
		}
		if from.OpenedAt.Before(into.OpenedAt) {
			into.OpenedAt = from.OpenedAt
		}
		now := s.now()
		if Status(from.Status) != StatusResolved {
			if err := addStatus(ctx, tx, from.ID, StatusResolved, now); err != nil {
				return err
			}
		}
		if err := tx.Model(&requestRow{}).Where("id = ?", from.ID).Updates(map[string]any{
			"merged_into_id": into.ID, "status": StatusResolved, "resolved_at": now, "due_at": nil, "next_event_at": nil,
			"next_response_due": nil, "awaiting_team": false, "version": from.Version + 1, "updated_at": now,
		}).Error; err != nil {
			return err
		}
		if err := tx.Where("request_id = ?", from.ID).Delete(&clockRow{}).Error; err != nil {
			return err // measured as part of into from now on
		}
		if err := s.refresh(ctx, tx, into); err != nil {
			return err
		}
		out = into.view()
		return recordAudit(ctx, tx, "request.merge", from.ID, nil, map[string]any{"merged_into_id": into.ID})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// QAInput is the body of POST /requests/{id}/qa.
type QAInput struct {
	Score   int    `json:"score" validate:"required,min=1,max=5"`
	Comment string `json:"comment" validate:"max=4000"`
}

// AddReview records a lead's QA score of a request.
func (s *Store) AddReview(ctx context.Context, id string, in QAInput) (*Review, error) {
	if err := keycare.Validate(in); err != nil {
		return nil, err
	}
	actor := keycare.ActorFrom(ctx)
	var out Review
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if _, err := visibleRow(ctx, tx, id); err != nil {
			return err
		}
		row := reviewRow{ID: keycare.NewID(), RequestID: id, ReviewerID: actor.UserID, Score: in.Score, Comment: strings.TrimSpace(in.Comment), CreatedAt: s.now()}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		out = Review{ID: row.ID, ReviewerID: row.ReviewerID, Score: row.Score, Comment: row.Comment, CreatedAt: row.CreatedAt}
		if err := tx.Model(&requestRow{}).Where("id = ?", id).Updates(map[string]any{
			"qa_score_sum": gorm.Expr("qa_score_sum + ?", row.Score),
			"qa_reviews":   gorm.Expr("qa_reviews + 1"),
			"version":      gorm.Expr("version + 1"),
			"updated_at":   row.CreatedAt,
		}).Error; err != nil {
			return err
		}
		return recordAudit(ctx, tx, "request.qa", id, nil, out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Facts is what the account has on file, for reply checks.
func (s *Store) Facts(ctx context.Context, accountID string) (phones, emails, names, ids, tickets []string, err error) {
	db := s.db.WithContext(ctx)
	var contacts []struct {
		Phone string
		Email string
	}
	if err = db.Table("contacts").Select("phone, email").Where("account_id = ? AND removed_at IS NULL", accountID).Find(&contacts).Error; err != nil {
		return
	}
	for _, c := range contacts {
		if c.Phone != "" {
			phones = append(phones, c.Phone)
		}
		if c.Email != "" {
			emails = append(emails, c.Email)
		}
	}
	var acc []struct {
		Name        string
		Slug        string
		ExternalIDs database.JSON `gorm:"column:external_ids"`
	}
	if err = db.Table("accounts").Select("name, slug, external_ids").Where("id = ?", accountID).Find(&acc).Error; err != nil {
		return
	}
	ids = append(ids, accountID)
	if len(acc) == 1 {
		names = append(names, acc[0].Name)
		ids = append(ids, acc[0].Slug)
		var ext map[string]string
		_ = acc[0].ExternalIDs.Decode(&ext)
		for _, v := range ext {
			ids = append(ids, v)
		}
	}
	if err = db.Table("requests").Where("account_id = ? AND status <> ?", accountID, StatusResolved).Pluck("id", &tickets).Error; err != nil {
		return
	}
	return
}
