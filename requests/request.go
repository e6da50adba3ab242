package requests

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/database"
)

// Channels a request can arrive through (SPEC §5).
const (
	ChannelTelegram = "telegram"
	ChannelPhone    = "phone"
	ChannelEmail    = "email"
	ChannelOther    = "other"
)

// Categories of a request (SPEC §5).
const (
	CategoryQuestion = "question"
	CategoryIncident = "incident"
	CategoryFeedback = "feedback"
	CategoryTask     = "task"
)

// Request is a client conversation to be answered, as the API shows it.
type Request struct {
	ID               string     `json:"id"`
	AccountID        string     `json:"account_id"`
	Channel          string     `json:"channel"`
	OwnerID          *string    `json:"owner_id"`
	Priority         Priority   `json:"priority"`
	Category         string     `json:"category"`
	Status           Status     `json:"status"`
	Subject          string     `json:"subject"`
	SLAPolicyID      *string    `json:"sla_policy_id"`
	OpenedAt         time.Time  `json:"opened_at"`
	FirstResponseDue *time.Time `json:"first_response_due"`
	NextResponseDue  *time.Time `json:"next_response_due"`
	ResolutionDue    *time.Time `json:"resolution_due"`
	DueAt            *time.Time `json:"due_at"` // the nearest of the three: the queue's order
	FirstRespondedAt *time.Time `json:"first_responded_at"`
	ResolvedAt       *time.Time `json:"resolved_at"`
	AwaitingTeam     bool       `json:"awaiting_team"` // the client wrote last
	LastMessageAt    *time.Time `json:"last_message_at"`
	Breached         []string   `json:"breached"`
	Touches          int        `json:"touches"`
	ReopenCount      int        `json:"reopen_count"`
	CSAT             *int       `json:"csat"`
	QA               *float64   `json:"qa"` // average QA score, null until reviewed
	MergedIntoID     *string    `json:"merged_into_id"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	Version          int        `json:"-"`
}

// requestRow is how a request is stored.
type requestRow struct {
	ID               string
	AccountID        string
	Channel          string
	OwnerID          *string
	Priority         string
	Category         string
	Status           string
	Subject          string
	SLAPolicyID      *string
	OpenedAt         time.Time
	FirstResponseDue *time.Time
	NextResponseDue  *time.Time
	ResolutionDue    *time.Time
	DueAt            *time.Time
	NextEventAt      *time.Time
	FirstRespondedAt *time.Time
	ResolvedAt       *time.Time
	AwaitingTeam     bool
	LastMessageAt    *time.Time
	Breached         database.JSON
	BreachedAny      bool
	Touches          int
	ReopenCount      int
	CSAT             *int       `gorm:"column:csat"`
	CSATAskedAt      *time.Time `gorm:"column:csat_asked_at"`
	QAScoreSum       int        `gorm:"column:qa_score_sum"` // the sum and number of its QA scores (AddReview keeps them)
	QAReviews        int        `gorm:"column:qa_reviews"`
	MergedIntoID     *string
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

func (requestRow) TableName() string { return "requests" }

func (r *requestRow) view() Request {
	out := Request{
		ID: r.ID, AccountID: r.AccountID, Channel: r.Channel, OwnerID: r.OwnerID, Priority: Priority(r.Priority),
		Category: r.Category, Status: Status(r.Status), Subject: r.Subject, SLAPolicyID: r.SLAPolicyID,
		OpenedAt: r.OpenedAt, FirstResponseDue: r.FirstResponseDue, NextResponseDue: r.NextResponseDue,
		ResolutionDue: r.ResolutionDue, DueAt: r.DueAt, FirstRespondedAt: r.FirstRespondedAt, ResolvedAt: r.ResolvedAt,
		AwaitingTeam: r.AwaitingTeam, LastMessageAt: r.LastMessageAt, Touches: r.Touches, ReopenCount: r.ReopenCount,
		CSAT: r.CSAT, MergedIntoID: r.MergedIntoID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Version: r.Version,
	}
	if r.QAReviews > 0 {
		qa := math.Round(float64(r.QAScoreSum)/float64(r.QAReviews)*100) / 100
		out.QA = &qa
	}
	out.Breached = []string{}
	if len(r.Breached) > 0 {
		_ = r.Breached.Decode(&out.Breached)
	}
	return out
}

type statusChangeRow struct {
	RequestID string
	Seq       int
	Status    string
	At        time.Time
}

func (statusChangeRow) TableName() string { return "request_status_changes" }

type clockRow struct {
	RequestID      string
	OpenedAt       time.Time
	AccountID      string
	OwnerID        *string
	Clock          string
	StartedAt      time.Time
	StoppedAt      *time.Time
	ElapsedSeconds *int64
	TargetSeconds  *int64
	DueAt          *time.Time
	Breached       bool
}

func (clockRow) TableName() string { return "request_clocks" }

// Enqueuer puts a job in the queue inside the caller's transaction, so the
// job exists exactly when the change that needs it is committed.
type Enqueuer interface {
	EnqueueTx(ctx context.Context, tx *gorm.DB, args river.JobArgs, opts *river.InsertOpts) error
}

// Poster posts Keycare's own notices (the rating question) into an
// account's group, in the caller's transaction. The chat service implements it.
type Poster interface {
	PostNotice(ctx context.Context, tx *gorm.DB, accountID, text, kind string) error
}

// Defaults of the Store's windows.
const (
	DefaultReopenWindow = 72 * time.Hour
	DefaultCSATWindow   = 72 * time.Hour
)

// Store keeps requests, their clocks, alerts, handovers and reviews. It
// implements chats.Conversations: messages are filed under requests in the
// transaction that stores them.
type Store struct {
	db *gorm.DB

	// Jobs is the queue alert checks and deliveries go to. Set it before the
	// store files messages: the queue is built after the workers (Register)
	// it runs, so it cannot be a constructor argument.
	Jobs Enqueuer

	// Poster asks for the rating after a request is resolved; nil: no CSAT questions.
	Poster Poster
	// ReopenWindow is how long after resolution a client message reopens
	// the request instead of opening a new one.
	ReopenWindow time.Duration
	// CSATWindow is how long after the rating question a client's rating counts.
	CSATWindow time.Duration
	// Now is the clock; tests inject a fake one.
	Now func() time.Time
	// Notifiers deliver alerts, by channel (NotifyTeamChat, NotifyWebhook);
	// a missing channel is not configured. Alerts are recorded either way.
	Notifiers map[string]Notifier

	mu       sync.Mutex
	policies map[string]cachedEngine
	listed   []policyRow
	listedAt time.Time
}

type cachedEngine struct {
	version int
	engine  *Engine
}

// NewStore returns the request store.
func NewStore(db *database.DB, jobs Enqueuer) *Store {
	return &Store{
		db: db.Gorm, Jobs: jobs, ReopenWindow: DefaultReopenWindow, CSATWindow: DefaultCSATWindow,
		Now: time.Now, policies: map[string]cachedEngine{},
	}
}

func (s *Store) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

var errNotFound = keycare.Errorf(keycare.ENOTFOUND, "request not found")

// getRow loads a request by id, or errNotFound.
func getRow(ctx context.Context, tx *gorm.DB, id string) (*requestRow, error) {
	if !keycare.ValidID(id) {
		return nil, errNotFound
	}
	var r requestRow
	err := tx.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// ownerFor is who owns a new request of an account: its owner, or its
// backup while the owner is away.
func ownerFor(ctx context.Context, tx *gorm.DB, accountID string) (*string, error) {
	var rows []struct {
		OwnerID    *string
		BackupID   *string
		OwnerAway  *bool
		BackupAway *bool
	}
	err := tx.WithContext(ctx).Raw(`SELECT a.owner_id, a.backup_id, o.away AS owner_away, b.away AS backup_away
FROM accounts a LEFT JOIN users o ON o.id = a.owner_id LEFT JOIN users b ON b.id = a.backup_id
WHERE a.id = ?`, accountID).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	r := rows[0]
	if r.OwnerID != nil && r.OwnerAway != nil && *r.OwnerAway && r.BackupID != nil && (r.BackupAway == nil || !*r.BackupAway) {
		return r.BackupID, nil
	}
	if r.OwnerID == nil {
		return r.BackupID, nil
	}
	return r.OwnerID, nil
}

// recordAudit records a change of a request in the audit log.
func recordAudit(ctx context.Context, tx *gorm.DB, action, requestID string, before, after any) error {
	return audit.Record(ctx, tx, action, "request", requestID, before, after)
}

// addStatus records a status change the clocks are computed from.
func addStatus(ctx context.Context, tx *gorm.DB, requestID string, st Status, at time.Time) error {
	var seq int
	if err := tx.WithContext(ctx).Model(&statusChangeRow{}).Where("request_id = ?", requestID).Select("COALESCE(MAX(seq), 0)").Scan(&seq).Error; err != nil {
		return err
	}
	return tx.WithContext(ctx).Create(&statusChangeRow{RequestID: requestID, Seq: seq + 1, Status: string(st), At: at.UTC()}).Error
}
