// Package audit keeps Keycare's append-only log of every change: who did
// what to which entity, with the state before and after. Rows are written in
// the same transaction as the change they describe, and the database refuses
// to update or delete them.
package audit

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/page"
)

// Event is one audit row.
type Event struct {
	ID         string        `json:"id"`
	At         time.Time     `json:"at"`
	ActorKind  string        `json:"actor_kind"`
	ActorID    string        `json:"actor_id,omitempty"`
	Action     string        `json:"action"`
	EntityType string        `json:"entity_type"`
	EntityID   string        `json:"entity_id"`
	Before     database.JSON `json:"before"`
	After      database.JSON `json:"after"`
	RequestID  string        `json:"request_id,omitempty"`
}

// TableName implements gorm's tabler.
func (Event) TableName() string { return "audit_events" }

// Record appends an event for the actor in ctx. Call it with the transaction
// that makes the change; before or after may be nil (creation, removal).
func Record(ctx context.Context, tx *gorm.DB, action, entityType, entityID string, before, after any) error {
	a := keycare.ActorFrom(ctx)
	e := Event{
		ID: keycare.NewID(), At: time.Now().UTC(),
		ActorKind: a.Kind, ActorID: a.UserID, RequestID: a.RequestID,
		Action: action, EntityType: entityType, EntityID: entityID,
	}
	if before != nil {
		e.Before = database.NewJSON(before)
	}
	if after != nil {
		e.After = database.NewJSON(after)
	}
	return tx.WithContext(ctx).Create(&e).Error
}

// Filter narrows GET /audit.
type Filter struct {
	EntityType string
	EntityID   string
	ActorID    string
	From, To   time.Time
}

// Log reads the audit log.
type Log struct{ db *gorm.DB }

// NewLog returns a reader of the audit log.
func NewLog(db *gorm.DB) *Log { return &Log{db: db} }

// List returns events newest first. Only admins and leads may read it; the
// API enforces that by role.
func (l *Log) List(ctx context.Context, f Filter, p page.Request) (page.List[Event], error) {
	keys, err := p.Keys(1)
	if err != nil {
		return page.List[Event]{}, err
	}
	q := l.db.WithContext(ctx).Model(&Event{})
	if f.EntityType != "" {
		q = q.Where("entity_type = ?", f.EntityType)
	}
	if f.EntityID != "" {
		q = q.Where("entity_id = ?", f.EntityID)
	}
	if f.ActorID != "" {
		q = q.Where("actor_id = ?", f.ActorID)
	}
	if !f.From.IsZero() {
		q = q.Where("at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("at < ?", f.To.UTC())
	}
	if keys != nil {
		q = q.Where("id < ?", keys[0])
	}
	var events []Event
	if err := q.Order("id DESC").Limit(p.Size() + 1).Find(&events).Error; err != nil {
		return page.List[Event]{}, err
	}
	return page.Trim(events, p.Size(), func(e Event) []string { return []string{e.ID} }), nil
}
