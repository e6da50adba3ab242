package requests

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/database"
)

// Alert is a warning or breach Keycare raised, as stored and as notifiers
// send it (the webhook's body is its JSON, SPEC §13).
type Alert struct {
	ID        string     `json:"id"`
	Event     string     `json:"event"` // sla.warning or sla.breach
	RequestID string     `json:"request_id"`
	AccountID string     `json:"account_id"`
	Clock     string     `json:"clock"`
	DueAt     *time.Time `json:"due_at"`
	OwnerID   *string    `json:"owner_id"`
	At        time.Time  `json:"at"`        // when it was due to be raised
	RaisedAt  time.Time  `json:"raised_at"` // when Keycare raised it
	// Recipients are the users told: the owner for a warning, the backup
	// and the leads for a breach.
	Recipients []string `json:"recipients"`
}

type alertRow struct {
	ID             string
	RequestID      string
	AccountID      string
	Event          string
	Clock          string
	ClockStartedAt time.Time
	DueAt          *time.Time
	At             time.Time
	RaisedAt       time.Time
	OwnerID        *string
	Recipients     database.JSON
	TeamChatSentAt *time.Time
	WebhookSentAt  *time.Time
}

func (alertRow) TableName() string { return "sla_alerts" }

func (a *alertRow) view() Alert {
	out := Alert{ID: a.ID, Event: a.Event, RequestID: a.RequestID, AccountID: a.AccountID, Clock: a.Clock, DueAt: a.DueAt,
		OwnerID: a.OwnerID, At: a.At, RaisedAt: a.RaisedAt, Recipients: []string{}}
	_ = a.Recipients.Decode(&out.Recipients)
	return out
}

// Notification channels.
const (
	NotifyTeamChat = "team_chat"
	NotifyWebhook  = "webhook"
)

// Notifier delivers an alert through one channel. An error makes the job
// retry, so each alert is delivered at least once; Deliver gets what it
// needs to deduplicate (the alert id).
type Notifier interface {
	Deliver(ctx context.Context, a Alert, n AlertNames) error
}

// AlertNames are the human names an alert's text needs.
type AlertNames struct {
	Account    string
	Subject    string
	Recipients []Person
}

// Person is a team member as a notification names them.
type Person struct {
	ID               string
	Name             string
	TelegramUsername string
}

// CheckArgs is the job armed for a request's next warning or breach. It
// re-evaluates the request: whatever is due by then is raised, once.
type CheckArgs struct {
	RequestID string    `json:"request_id"`
	At        time.Time `json:"at"`
}

// Kind implements river.JobArgs.
func (CheckArgs) Kind() string { return "sla_check" }

// NotifyArgs delivers one alert through one channel.
type NotifyArgs struct {
	AlertID string `json:"alert_id"`
	Channel string `json:"channel"`
}

// Kind implements river.JobArgs.
func (NotifyArgs) Kind() string { return "sla_notify" }

// raise records every warning and breach due by now that is not recorded
// yet — each exactly once, by the unique key (request, clock, event, clock
// start) — and queues its notifications in the same transaction.
func (s *Store) raise(ctx context.Context, tx *gorm.DB, r *requestRow, st State, now time.Time) error {
	for _, ev := range st.Events {
		if ev.At.After(now) {
			break
		}
		row := alertRow{
			ID: keycare.NewID(), RequestID: r.ID, AccountID: r.AccountID, Event: string(ev.Kind), Clock: ev.Clock,
			ClockStartedAt: ev.ClockStart.UTC(), At: ev.At.UTC(), RaisedAt: s.now(), OwnerID: r.OwnerID,
		}
		if !ev.DueAt.IsZero() {
			d := ev.DueAt.UTC()
			row.DueAt = &d
		}
		people, err := s.recipients(ctx, tx, r, ev.Kind)
		if err != nil {
			return err
		}
		ids := make([]string, len(people))
		for i, p := range people {
			ids[i] = p.ID
		}
		row.Recipients = database.NewJSON(ids)
		res := tx.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			continue // raised before
		}
		for _, ch := range s.channels() {
			if err := s.Jobs.EnqueueTx(ctx, tx, NotifyArgs{AlertID: row.ID, Channel: ch}, &river.InsertOpts{MaxAttempts: 25}); err != nil {
				return err
			}
		}
		actx := keycare.WithActor(ctx, keycare.SystemActor)
		if err := audit.Record(actx, tx, string(ev.Kind), "request", r.ID, nil, row.view()); err != nil {
			return err
		}
	}
	return nil
}

// channels are the configured notification channels.
func (s *Store) channels() []string {
	var out []string
	for _, ch := range []string{NotifyTeamChat, NotifyWebhook} {
		if s.Notifiers[ch] != nil {
			out = append(out, ch)
		}
	}
	return out
}

// recipients are who an alert is for: the owner (or, while they are away,
// the account's backup) for a warning; the backup and every lead for a breach.
func (s *Store) recipients(ctx context.Context, tx *gorm.DB, r *requestRow, kind EventKind) ([]Person, error) {
	var acc []struct {
		OwnerID  *string
		BackupID *string
	}
	if err := tx.WithContext(ctx).Table("accounts").Select("owner_id, backup_id").Where("id = ?", r.AccountID).Find(&acc).Error; err != nil {
		return nil, err
	}
	var backup *string
	if len(acc) == 1 {
		backup = acc[0].BackupID
	}
	q := tx.WithContext(ctx).Table("users").Select("id, name, telegram_username").Where("active")
	if kind == EventWarning {
		var ids []string
		if r.OwnerID != nil {
			ids = append(ids, *r.OwnerID)
		}
		if backup != nil {
			ids = append(ids, *backup)
		}
		var people []struct {
			Person
			Away bool
		}
		if err := tx.WithContext(ctx).Table("users").Select("id, name, telegram_username, away").Where("id IN ? AND active", ids).Find(&people).Error; err != nil {
			return nil, err
		}
		var owner, back *Person
		for i := range people {
			switch {
			case r.OwnerID != nil && people[i].ID == *r.OwnerID && !people[i].Away:
				owner = &people[i].Person
			case backup != nil && people[i].ID == *backup:
				back = &people[i].Person
			}
		}
		if owner != nil {
			return []Person{*owner}, nil
		}
		if back != nil {
			return []Person{*back}, nil
		}
		return []Person{}, nil
	}
	if backup != nil {
		q = q.Where("id = ? OR role = ?", *backup, keycare.RoleLead)
	} else {
		q = q.Where("role = ?", keycare.RoleLead)
	}
	var people []Person
	if err := q.Order("name, id").Find(&people).Error; err != nil {
		return nil, err
	}
	return people, nil
}

// checkWorker runs CheckArgs jobs.
type checkWorker struct {
	river.WorkerDefaults[CheckArgs]
	s *Store
}

// Work re-evaluates the request as of now, raising what is due and arming
// the next event. A job for an instant that moved finds nothing new: harmless.
func (w *checkWorker) Work(ctx context.Context, job *river.Job[CheckArgs]) error {
	err := w.s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		r, err := lockedRow(ctx, tx, job.Args.RequestID)
		if err != nil {
			return err
		}
		r.NextEventAt = nil // re-arm whatever comes next
		return w.s.evaluate(ctx, tx, r, nil)
	})
	if errors.Is(err, errNotFound) {
		return nil
	}
	return err
}

// lockedRow loads a request for update (FOR UPDATE on PostgreSQL).
func lockedRow(ctx context.Context, tx *gorm.DB, id string) (*requestRow, error) {
	return getRow(ctx, forUpdate(tx), id)
}

// forUpdate is q locking the rows it reads until the transaction ends, on
// PostgreSQL. SQLite has no row locks and needs none: it runs one
// transaction at a time.
func forUpdate(q *gorm.DB) *gorm.DB {
	if q.Dialector.Name() == "postgres" {
		return q.Clauses(lockClause)
	}
	return q
}

// notifyWorker runs NotifyArgs jobs.
type notifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	s *Store
}

// Work delivers one alert through one channel and records when it went out.
func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	n := w.s.Notifiers[job.Args.Channel]
	if n == nil {
		return nil // the channel was unconfigured since
	}
	var a alertRow
	if err := w.s.db.WithContext(ctx).Where("id = ?", job.Args.AlertID).Take(&a).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		return err
	}
	col := "webhook_sent_at"
	sent := a.WebhookSentAt
	if job.Args.Channel == NotifyTeamChat {
		col, sent = "team_chat_sent_at", a.TeamChatSentAt
	}
	if sent != nil {
		return nil
	}
	names, err := w.s.alertNames(ctx, &a)
	if err != nil {
		return err
	}
	if err := n.Deliver(ctx, a.view(), names); err != nil {
		return err
	}
	return w.s.db.WithContext(ctx).Model(&alertRow{}).Where("id = ?", a.ID).Update(col, time.Now().UTC()).Error
}

func (s *Store) alertNames(ctx context.Context, a *alertRow) (AlertNames, error) {
	var out AlertNames
	var names []string
	if err := s.db.WithContext(ctx).Table("accounts").Where("id = ?", a.AccountID).Pluck("name", &names).Error; err != nil {
		return out, err
	}
	if len(names) == 1 {
		out.Account = names[0]
	}
	var subj []string
	if err := s.db.WithContext(ctx).Table("requests").Where("id = ?", a.RequestID).Pluck("subject", &subj).Error; err != nil {
		return out, err
	}
	if len(subj) == 1 {
		out.Subject = subj[0]
	}
	var ids []string
	_ = a.Recipients.Decode(&ids)
	if len(ids) > 0 {
		if err := s.db.WithContext(ctx).Table("users").Select("id, name, telegram_username").Where("id IN ?", ids).Order("name, id").Find(&out.Recipients).Error; err != nil {
			return out, err
		}
	}
	return out, nil
}

// Register adds the request jobs to w.
func (s *Store) Register(w *river.Workers) {
	river.AddWorker(w, &checkWorker{s: s})
	river.AddWorker(w, &notifyWorker{s: s})
}
