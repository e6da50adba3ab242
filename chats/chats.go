// Package chats is the domain of account group chats and their messages:
// each key account has exactly one Telegram supergroup, mirrored into
// Keycare. It knows nothing of gotd; the Telegram integration implements
// the transport behind it.
package chats

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Chat statuses (SPEC §5).
const (
	StatusCreating   = "creating"
	StatusActive     = "active"
	StatusFailed     = "failed"
	StatusLostAccess = "lost_access"
	StatusArchived   = "archived"
)

// Message sides.
const (
	SideClient = "client"
	SideTeam   = "team"
)

// Chat is an account's Telegram group with the people in it.
type Chat struct {
	AccountID  string    `json:"account_id"`
	Status     string    `json:"status"`
	TelegramID string    `json:"telegram_id"`
	Title      string    `json:"title"`
	InviteLink string    `json:"invite_link"`
	Members    []Member  `json:"members"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Member is a person in an account's group.
type Member struct {
	TelegramUserID int64      `json:"telegram_user_id"`
	Name           string     `json:"name"`
	Username       string     `json:"username"`
	Kind           string     `json:"kind"` // team, client, keycare
	UserID         *string    `json:"user_id"`
	ContactID      *string    `json:"contact_id"`
	JoinedAt       time.Time  `json:"joined_at"`
	LeftAt         *time.Time `json:"left_at"`
}

// Conversations places messages into requests (the requests package
// implements it). The chat store calls it inside the transaction that
// stores the messages, so a message and its effect on its request — a
// request opened, a clock started or stopped — commit together or not at all.
type Conversations interface {
	// MessagesStored is told of messages that just entered the record, in the
	// order they were stored, and returns the request each belongs to, by
	// message id (messages that belong to none are left out).
	MessagesStored(ctx context.Context, tx *gorm.DB, msgs []StoredMessage) (map[string]string, error)
}

// StoredMessage is what Conversations learns of a message: a client's
// message, or a team member's reply from the API or their own Telegram app.
// Keycare's own posts (welcome, rating questions) and service messages are
// not passed: they answer nobody.
type StoredMessage struct {
	ID           string
	AccountID    string
	ChatID       string
	Side         string // SideClient or SideTeam
	SenderUserID *string
	Text         string
	At           time.Time
}

// WrittenAt is when a message was written, as precisely as Keycare knows.
// A reply sent through Keycare (any status but received) was written when
// it was queued (createdAt); Telegram's confirmation only follows. Telegram
// dates what it delivers to the second, so two messages a moment apart can
// look simultaneous — a client's question and the reply to it would tie:
// when Keycare stored such a message within that second (createdAt), the
// stored time is the better one, while a message that arrived later
// (history, catch-up after downtime) keeps Telegram's date.
func WrittenAt(status string, sentAt *time.Time, createdAt time.Time) time.Time {
	if sentAt == nil || status != MessageReceived {
		return createdAt.UTC()
	}
	if d := createdAt.Sub(*sentAt); d >= 0 && d < time.Second {
		return createdAt.UTC()
	}
	return sentAt.UTC()
}
