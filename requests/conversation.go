package requests

import (
	"context"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/requests/csat"
)

var _ chats.Conversations = (*Store)(nil)

// MessagesStored implements chats.Conversations. For each account, in
// order: a client message joins the account's current request, or rates
// the last resolved one, or reopens it within ReopenWindow, or opens a new
// one; a team message answers the current request. Requests whose clocks
// moved are re-evaluated once at the end, so a burst costs one evaluation.
func (s *Store) MessagesStored(ctx context.Context, tx *gorm.DB, msgs []chats.StoredMessage) (map[string]string, error) {
	placed := make(map[string]string, len(msgs))
	byAccount := map[string][]chats.StoredMessage{}
	var order []string
	for _, m := range msgs {
		if _, ok := byAccount[m.AccountID]; !ok {
			order = append(order, m.AccountID)
		}
		byAccount[m.AccountID] = append(byAccount[m.AccountID], m)
	}
	current, err := currentRequests(ctx, tx, order)
	if err != nil {
		return nil, err
	}
	touched := map[string]time.Time{} // requests only a last_message_at moved
	for _, acc := range order {
		c := &conversation{s: s, ctx: ctx, tx: tx, account: acc, cur: current[acc], dirty: map[string]*requestRow{}, extra: map[string][]Message{}}
		if err := c.place(byAccount[acc], placed, touched); err != nil {
			return nil, err
		}
	}
	return placed, touchRequests(ctx, tx, touched)
}

// touchRequests sets last_message_at of requests no clock moved for, in one statement.
func touchRequests(ctx context.Context, tx *gorm.DB, touched map[string]time.Time) error {
	if len(touched) == 0 {
		return nil
	}
	var (
		sql  strings.Builder
		args []any
		ids  []string
	)
	// PostgreSQL types a CASE of parameters as text unless told.
	param := "?"
	if tx.Dialector.Name() == "postgres" {
		param = "CAST(? AS timestamptz)"
	}
	sql.WriteString("UPDATE requests SET last_message_at = CASE id")
	for id, at := range touched {
		sql.WriteString(" WHEN ? THEN " + param)
		args = append(args, id, at)
		ids = append(ids, id)
	}
	sql.WriteString(" END WHERE id IN ?")
	return tx.WithContext(ctx).Exec(sql.String(), append(args, ids)...).Error
}

// currentRequests finds, per account, the open (or waiting) Telegram
// request new messages join: the most recently opened one. One query for
// the whole batch.
//
// On PostgreSQL the rows are locked (FOR UPDATE) until the batch commits:
// the batch saves them whole, and a handover, a PATCH or a QA review
// committed in between would otherwise be overwritten. They are locked in
// id order, as every other transaction that locks several requests does,
// so that two such transactions cannot deadlock.
func currentRequests(ctx context.Context, tx *gorm.DB, accountIDs []string) (map[string]*requestRow, error) {
	out := map[string]*requestRow{}
	if len(accountIDs) == 0 {
		return out, nil
	}
	var rows []requestRow
	err := forUpdate(tx.WithContext(ctx)).Where("account_id IN ? AND status <> ? AND channel = ? AND merged_into_id IS NULL", accountIDs, StatusResolved, ChannelTelegram).
		Order("id").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	for i := range rows {
		r := &rows[i]
		if cur, ok := out[r.AccountID]; !ok || r.OpenedAt.After(cur.OpenedAt) || r.OpenedAt.Equal(cur.OpenedAt) && r.ID > cur.ID {
			out[r.AccountID] = r
		}
	}
	return out, nil
}

// conversation is one account's requests as a batch of messages moves them.
type conversation struct {
	s       *Store
	ctx     context.Context
	tx      *gorm.DB
	account string
	cur     *requestRow            // the request new messages join; nil if none is open
	dirty   map[string]*requestRow // requests whose clocks moved
	extra   map[string][]Message   // batch messages not yet filed (their request_id is set after the hook)
}

func (c *conversation) place(msgs []chats.StoredMessage, placed map[string]string, touched map[string]time.Time) error {
	for _, m := range msgs {
		var (
			rid string
			err error
		)
		if m.Side == chats.SideClient {
			rid, err = c.client(m)
		} else {
			rid, err = c.team(m)
		}
		if err != nil {
			return err
		}
		if rid != "" {
			placed[m.ID] = rid
		}
	}
	if r := c.cur; r != nil && r.LastMessageAt != nil {
		if _, dirty := c.dirty[r.ID]; !dirty {
			touched[r.ID] = *r.LastMessageAt
		}
	}
	for _, r := range c.dirty {
		if err := c.s.evaluate(c.ctx, c.tx, r, c.extra[r.ID]); err != nil {
			return err
		}
	}
	return nil
}

// currentRequest is the current request of one account (currentRequests).
func currentRequest(ctx context.Context, tx *gorm.DB, accountID string) (*requestRow, error) {
	m, err := currentRequests(ctx, tx, []string{accountID})
	return m[accountID], err
}

func (c *conversation) note(r *requestRow, m chats.StoredMessage) {
	c.dirty[r.ID] = r
	c.extra[r.ID] = append(c.extra[r.ID], Message{At: m.At, Side: Side(m.Side)})
}

func (c *conversation) client(m chats.StoredMessage) (string, error) {
	at := m.At.UTC()
	if c.cur == nil {
		last, err := c.lastResolved()
		if err != nil {
			return "", err
		}
		// Telegram dates to the second: a rating in the second the question
		// was asked can carry a date just before it.
		if last != nil && last.CSATAskedAt != nil && last.CSAT == nil && !at.Before(last.CSATAskedAt.Truncate(time.Second)) && at.Sub(*last.CSATAskedAt) <= c.s.CSATWindow {
			if score, ok := csat.Parse(m.Text); ok {
				return last.ID, c.rate(last, score)
			}
		}
		if last != nil && last.ResolvedAt != nil && at.Sub(*last.ResolvedAt) <= c.s.ReopenWindow {
			if err := c.reopen(last, at); err != nil {
				return "", err
			}
		} else if err := c.open(m); err != nil {
			return "", err
		}
	} else if Status(c.cur.Status) == StatusWaitingOnClient {
		// The client answered: the request waits on the team again.
		if err := addStatus(c.ctx, c.tx, c.cur.ID, StatusOpen, at); err != nil {
			return "", err
		}
		c.cur.Status = string(StatusOpen)
		c.dirty[c.cur.ID] = c.cur
	}
	r := c.cur
	if !r.AwaitingTeam {
		// The first client message since the last team reply: a follow-up
		// clock starts. Later ones in a row change no clock.
		r.AwaitingTeam = true
		c.dirty[r.ID] = r
	}
	c.extra[r.ID] = append(c.extra[r.ID], Message{At: at, Side: SideClient})
	r.LastMessageAt = &at // if no clock moved, MessagesStored writes it for the whole batch at once
	return r.ID, nil
}

func (c *conversation) team(m chats.StoredMessage) (string, error) {
	r := c.cur
	if r == nil {
		return "", nil // nothing to answer: a greeting, a notice
	}
	at := m.At.UTC()
	r.Touches++
	r.AwaitingTeam = false
	r.LastMessageAt = &at
	c.note(r, m)
	return r.ID, nil
}

// lastResolved is the account's most recently resolved Telegram request.
func (c *conversation) lastResolved() (*requestRow, error) {
	var rows []requestRow
	err := forUpdate(c.tx.WithContext(c.ctx)).Where("account_id = ? AND status = ? AND channel = ? AND merged_into_id IS NULL", c.account, StatusResolved, ChannelTelegram).
		Order("resolved_at DESC, id DESC").Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return &rows[0], nil
}

func (c *conversation) rate(r *requestRow, score int) error {
	now := c.s.now()
	if err := c.tx.Model(&requestRow{}).Where("id = ?", r.ID).Updates(map[string]any{"csat": score, "updated_at": now, "version": gorm.Expr("version + 1")}).Error; err != nil {
		return err
	}
	ctx := keycare.WithActor(c.ctx, keycare.Actor{Kind: keycare.ActorTelegram})
	return recordAudit(ctx, c.tx, "request.csat", r.ID, nil, map[string]any{"csat": score})
}

func (c *conversation) reopen(r *requestRow, at time.Time) error {
	if err := addStatus(c.ctx, c.tx, r.ID, StatusOpen, at); err != nil {
		return err
	}
	r.Status = string(StatusOpen)
	r.ReopenCount++
	r.ResolvedAt = nil
	c.cur = r
	c.dirty[r.ID] = r
	ctx := keycare.WithActor(c.ctx, keycare.Actor{Kind: keycare.ActorTelegram})
	return recordAudit(ctx, c.tx, "request.reopen", r.ID, map[string]any{"status": StatusResolved}, map[string]any{"status": StatusOpen, "reopen_count": r.ReopenCount})
}

func (c *conversation) open(m chats.StoredMessage) error {
	r, err := c.s.newRequest(c.ctx, c.tx, c.account, ChannelTelegram, subjectOf(m.Text), m.At.UTC())
	if err != nil {
		return err
	}
	c.cur = r
	c.dirty[r.ID] = r
	ctx := keycare.WithActor(c.ctx, keycare.Actor{Kind: keycare.ActorTelegram})
	return recordAudit(ctx, c.tx, "request.open", r.ID, nil, r.view())
}

// newRequest inserts a request with the account's owner and policy.
func (s *Store) newRequest(ctx context.Context, tx *gorm.DB, accountID, channel, subject string, at time.Time) (*requestRow, error) {
	owner, err := ownerFor(ctx, tx, accountID)
	if err != nil {
		return nil, err
	}
	policy, err := s.policyForAccount(ctx, tx, accountID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	r := &requestRow{
		ID: keycare.NewID(), AccountID: accountID, Channel: channel, OwnerID: owner, Priority: string(PriorityNormal),
		Category: CategoryQuestion, Status: string(StatusOpen), Subject: subject, SLAPolicyID: policy, OpenedAt: at,
		Breached: database.NewJSON([]string{}), Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if err := tx.WithContext(ctx).Create(r).Error; err != nil {
		return nil, err
	}
	return r, addStatus(ctx, tx, r.ID, StatusOpen, at)
}

// subjectOf is a request's subject from its first message: its first line, shortened.
func subjectOf(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	if r := []rune(line); len(r) > 120 {
		line = string(r[:119]) + "…"
	}
	return line
}

// history loads what a request's clocks depend on, plus messages of the
// current batch not filed under it yet.
func (s *Store) history(ctx context.Context, tx *gorm.DB, r *requestRow, extra []Message) (History, error) {
	h := History{Priority: Priority(r.Priority), OpenedAt: r.OpenedAt}
	if r.Channel != ChannelTelegram {
		// A request logged by hand was taken by the person who logged it:
		// that is its first response.
		h.Messages = append(h.Messages, Message{At: r.OpenedAt, Side: SideTeam})
	}
	msgs, err := requestMessages(ctx, tx, r.ID)
	if err != nil {
		return h, err
	}
	for _, m := range msgs {
		if m.Status != "failed" && m.DeletedAt == nil {
			h.Messages = append(h.Messages, Message{At: m.at(), Side: Side(m.Side)})
		}
	}
	h.Messages = append(h.Messages, extra...)
	var changes []statusChangeRow
	if err := tx.WithContext(ctx).Where("request_id = ?", r.ID).Order("seq").Find(&changes).Error; err != nil {
		return h, err
	}
	for _, c := range changes {
		h.StatusChanges = append(h.StatusChanges, StatusChange{At: c.At, Status: Status(c.Status)})
	}
	return h, nil
}

// evaluate recomputes a request's clocks and due times, stores them with
// the row, raises warnings and breaches already due, and arms a job for the
// next one.
func (s *Store) evaluate(ctx context.Context, tx *gorm.DB, r *requestRow, extra []Message) error {
	engine, err := s.engine(ctx, tx, r.SLAPolicyID)
	if err != nil {
		return err
	}
	h, err := s.history(ctx, tx, r, extra)
	if err != nil {
		return err
	}
	now := s.now()
	if last := lastInstant(h); last.After(now) {
		now = last // a message stamped a moment ahead of this machine's clock
	}
	st, err := engine.Evaluate(h, now)
	if err != nil {
		return err
	}
	r.FirstResponseDue, r.NextResponseDue, r.ResolutionDue = st.FirstResponseDue, st.NextResponseDue, st.ResolutionDue
	r.FirstRespondedAt, r.ResolvedAt = st.FirstRespondedAt, st.ResolvedAt
	r.DueAt = nil
	for _, c := range append([]ClockState{st.FirstResponse, st.Resolution}, st.FollowUps...) {
		if c.StoppedAt == nil && c.DueAt != nil && (r.DueAt == nil || c.DueAt.Before(*r.DueAt)) && Status(r.Status) != StatusResolved {
			d := *c.DueAt
			r.DueAt = &d
		}
	}
	r.Breached = database.NewJSON(st.Breached)
	r.BreachedAny = len(st.Breached) > 0
	prevArmed := r.NextEventAt
	r.NextEventAt = nil
	if st.NextEvent != nil {
		at := st.NextEvent.At
		r.NextEventAt = &at
	}
	r.UpdatedAt = s.now()
	r.Version++
	if err := tx.WithContext(ctx).Select("*").Omit("created_at").Save(r).Error; err != nil {
		return err
	}
	if err := saveClocks(ctx, tx, r, st); err != nil {
		return err
	}
	if err := s.raise(ctx, tx, r, st, now); err != nil {
		return err
	}
	if r.NextEventAt != nil && (prevArmed == nil || !prevArmed.Equal(*r.NextEventAt)) {
		return s.Jobs.EnqueueTx(ctx, tx, CheckArgs{RequestID: r.ID, At: *r.NextEventAt}, &river.InsertOpts{
			ScheduledAt: *r.NextEventAt, UniqueOpts: river.UniqueOpts{ByArgs: true},
		})
	}
	return nil
}

func lastInstant(h History) time.Time {
	var t time.Time
	for _, m := range h.Messages {
		if m.At.After(t) {
			t = m.At
		}
	}
	for _, c := range h.StatusChanges {
		if c.At.After(t) {
			t = c.At
		}
	}
	return t
}

// saveClocks replaces a request's clock rows with the evaluated ones.
func saveClocks(ctx context.Context, tx *gorm.DB, r *requestRow, st State) error {
	if err := tx.WithContext(ctx).Where("request_id = ?", r.ID).Delete(&clockRow{}).Error; err != nil {
		return err
	}
	if r.MergedIntoID != nil {
		return nil // a merged request is measured as part of the one it joined
	}
	rows := []clockRow{clockOf(r, st.FirstResponse), clockOf(r, st.Resolution)}
	for _, f := range st.FollowUps {
		rows = append(rows, clockOf(r, f))
	}
	return tx.WithContext(ctx).Create(&rows).Error
}

func clockOf(r *requestRow, c ClockState) clockRow {
	row := clockRow{
		RequestID: r.ID, OpenedAt: r.OpenedAt.UTC(), AccountID: r.AccountID, OwnerID: r.OwnerID,
		Clock: c.Name, StartedAt: c.StartedAt.UTC(), StoppedAt: c.StoppedAt, DueAt: c.DueAt, Breached: c.Breached,
	}
	if c.StoppedAt != nil {
		e := int64(c.Elapsed / time.Second)
		row.ElapsedSeconds = &e
	}
	if c.Target > 0 {
		t := int64(c.Target / time.Second)
		row.TargetSeconds = &t
	}
	return row
}

// filedMessage is what the clocks and the request view need of a message.
type filedMessage struct {
	ID        string
	Side      string
	Text      string
	Status    string
	SentAt    *time.Time
	CreatedAt time.Time
	DeletedAt *time.Time
}

// at is when the message was written (chats.WrittenAt). The two times are
// selected apart and combined here: SQLite's COALESCE of two times is text.
func (m filedMessage) at() time.Time { return chats.WrittenAt(m.Status, m.SentAt, m.CreatedAt) }

// requestMessages lists a request's messages in the order they were written.
func requestMessages(ctx context.Context, tx *gorm.DB, requestID string) ([]filedMessage, error) {
	var msgs []filedMessage
	err := tx.WithContext(ctx).Table("messages").Select("id, side, text, status, sent_at, created_at, deleted_at").
		Where("request_id = ?", requestID).Order("COALESCE(sent_at, created_at), id").Find(&msgs).Error
	return msgs, err
}
