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

// Chat is an account's Telegram group as the account card shows it.
type Chat struct {
	AccountID  string    `json:"account_id"`
	Status     string    `json:"status"`
	TelegramID string    `json:"telegram_id"`
	Title      string    `json:"title"`
	InviteLink string    `json:"invite_link"`
	Members    int       `json:"members"`
	UpdatedAt  time.Time `json:"updated_at"`
}
