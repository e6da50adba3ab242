// Package chats is the domain of account group chats and their messages:
// each key account has exactly one Telegram supergroup, mirrored into
// Keycare. It knows nothing of gotd; the Telegram integration implements
// the transport behind it.
package chats

import "time"

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
