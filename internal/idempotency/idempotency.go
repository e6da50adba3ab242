// Package idempotency remembers the responses to POSTs sent with an
// Idempotency-Key, so a client that retries gets the first answer instead of
// a second side effect (a second Telegram post, a second Jira issue).
package idempotency

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/internal/database"
)

// inProgress marks a key whose first request has not finished.
const inProgress = 0

// stale is how long a key may stay in progress before its request is taken
// for dead: far longer than any request may run.
const stale = 2 * time.Minute

type record struct {
	UserID      string
	Route       string
	Key         string
	RequestHash string
	Status      int
	Body        []byte
	CreatedAt   time.Time
}

func (record) TableName() string { return "idempotency_keys" }

// Store keeps idempotency keys.
type Store struct{ db *gorm.DB }

// NewStore returns a key store on db.
func NewStore(db *database.DB) *Store { return &Store{db: db.Gorm} }

// Response is a stored first answer.
type Response struct {
	Status int
	Body   []byte
}

// Begin reserves key for a request. It returns the first response when the
// key was used before with the same request, ECONFLICT while that first
// request is still running, and EUNPROCESSABL when the key was used for a
// different request. A nil response means: go ahead, then Finish or Abandon.
func (s *Store) Begin(ctx context.Context, userID, route, key, requestHash string) (*Response, error) {
	if len(key) == 0 || len(key) > 200 {
		return nil, keycare.Invalid("Idempotency-Key", "must be 1 to 200 characters")
	}
	r := record{UserID: userID, Route: route, Key: key, RequestHash: requestHash, Status: inProgress, Body: []byte{}, CreatedAt: time.Now().UTC()}
	err := s.db.WithContext(ctx).Create(&r).Error
	if err == nil {
		return nil, nil
	}
	if !database.IsUniqueViolation(err) {
		return nil, err
	}
	var prev record
	if err := s.db.WithContext(ctx).Where("user_id = ? AND route = ? AND key = ?", userID, route, key).Take(&prev).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) { // abandoned meanwhile
			return nil, keycare.Errorf(keycare.ECONFLICT, "a request with this Idempotency-Key just failed; retry")
		}
		return nil, err
	}
	switch {
	case prev.RequestHash != requestHash:
		return nil, keycare.Errorf(keycare.EUNPROCESSABL, "this Idempotency-Key was used with a different request")
	case prev.Status == inProgress && time.Since(prev.CreatedAt) > stale:
		// Its request died mid-way (a crash before Finish): free the key and retry once.
		if err := s.db.WithContext(ctx).Where("user_id = ? AND route = ? AND key = ? AND status = ?", userID, route, key, inProgress).Delete(&record{}).Error; err != nil {
			return nil, err
		}
		return s.Begin(ctx, userID, route, key, requestHash)
	case prev.Status == inProgress:
		return nil, keycare.Errorf(keycare.ECONFLICT, "a request with this Idempotency-Key is still running")
	}
	return &Response{Status: prev.Status, Body: prev.Body}, nil
}

// Finish stores the first response.
func (s *Store) Finish(ctx context.Context, userID, route, key string, res Response) error {
	return s.db.WithContext(ctx).Model(&record{}).Where("user_id = ? AND route = ? AND key = ?", userID, route, key).
		Updates(map[string]any{"status": res.Status, "body": res.Body}).Error
}

// Abandon frees a key whose request failed, so the client may retry it.
func (s *Store) Abandon(ctx context.Context, userID, route, key string) error {
	return s.db.WithContext(ctx).Where("user_id = ? AND route = ? AND key = ? AND status = ?", userID, route, key, inProgress).Delete(&record{}).Error
}
