package accounts

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/requests"
)

// Person is a team member as the card names them.
type Person struct {
	ID               string  `json:"id"`
	Name             string  `json:"name"`
	Email            string  `json:"email"`
	TelegramUsername *string `json:"telegram_username"`
	Away             bool    `json:"away"`
}

// Card is everything about an account a manager needs before answering
// (SPEC §6): one read, so nobody asks the client what Keycare already knows.
//
// Product users get the card without contacts and notes (SPEC §6: never
// contact details); those fields are then absent, not empty.
type Card struct {
	Account
	Owner        *Person            `json:"owner"`
	Backup       *Person            `json:"backup"`
	Contacts     []Contact          `json:"contacts,omitzero"`
	Services     []Service          `json:"services"`
	Notes        []Note             `json:"notes,omitzero"`
	Revenue      []RevenueEntry     `json:"revenue"`
	Chat         *chats.Chat        `json:"chat"`
	OpenRequests []requests.Request `json:"open_requests"`
	JiraIssues   []any              `json:"jira_issues"`
	Health       any                `json:"health"`
}

// CardRevenueMonths is how many months of revenue the card carries.
const CardRevenueMonths = 12

// Card returns the account card: the account, owner and backup, contacts,
// active services, pinned notes, the last 12 months of revenue, the chat and
// the open requests. Jira links and health join it as those parts land.
func (s *Store) Card(ctx context.Context, id string) (*Card, error) {
	a, err := s.Account(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.CardOf(ctx, a)
}

// CardOf is Card for an account the caller has already read (and so may
// see): the API's authorization reads it to check it is visible, and the
// card does not read it a second time.
func (s *Store) CardOf(ctx context.Context, a *Account) (*Card, error) {
	actor := keycare.ActorFrom(ctx)
	id := a.ID
	var err error
	db := s.db.WithContext(ctx)
	c := &Card{Account: *a, Services: []Service{}, Revenue: []RevenueEntry{}, OpenRequests: []requests.Request{}, JiraIssues: []any{}}

	var people []Person
	ids := []string{}
	for _, p := range []*string{a.OwnerID, a.BackupID} {
		if p != nil {
			ids = append(ids, *p)
		}
	}
	if len(ids) > 0 {
		if err := db.Table("users").Select("id, name, email, telegram_username, away").Where("id IN ?", ids).Find(&people).Error; err != nil {
			return nil, err
		}
	}
	for i := range people {
		if a.OwnerID != nil && people[i].ID == *a.OwnerID {
			c.Owner = &people[i]
		}
		if a.BackupID != nil && people[i].ID == *a.BackupID {
			c.Backup = &people[i]
		}
	}

	var services []serviceRow
	if err := db.Where("account_id = ? AND removed_at IS NULL AND status <> ?", id, ServiceCancelled).Order("id").Find(&services).Error; err != nil {
		return nil, err
	}
	c.Services = servicesOf(services)

	var revenue []revenueRow
	if err := db.Where("account_id = ? AND month >= ?", id, firstCardMonth(time.Now().UTC())).Order("month").Find(&revenue).Error; err != nil {
		return nil, err
	}
	for _, r := range revenue {
		c.Revenue = append(c.Revenue, r.entry())
	}

	if err := cardChat(db, c, actor.Role != keycare.RoleProduct); err != nil {
		return nil, err
	}
	if actor.Role != keycare.RoleProduct {
		if err := s.cardPrivate(db, c); err != nil {
			return nil, err
		}
		// Open requests carry the client's words (their subjects): not for product users.
		if c.OpenRequests, err = requests.OpenForAccount(ctx, db, id); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// cardChat adds the account's group: its status and, for the Care team, the
// invite link and who is in it (product users never get into the group).
func cardChat(db *gorm.DB, c *Card, private bool) error {
	var rows []struct {
		ID         string
		Status     string
		ChannelID  *int64
		Title      string
		InviteLink string
		UpdatedAt  time.Time
	}
	if err := db.Table("chats").Select("id, status, channel_id, title, invite_link, updated_at").Where("account_id = ?", c.ID).Limit(1).Find(&rows).Error; err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	r := rows[0]
	c.Chat = &chats.Chat{AccountID: c.ID, Status: r.Status, Title: r.Title, Members: []chats.Member{}, UpdatedAt: r.UpdatedAt}
	if r.ChannelID != nil {
		c.Chat.TelegramID = strconv.FormatInt(*r.ChannelID, 10)
	}
	if !private {
		return nil
	}
	c.Chat.InviteLink = r.InviteLink
	return db.Table("chat_members").
		Select("telegram_user_id, name, username, kind, user_id, contact_id, joined_at, left_at").
		Where("chat_id = ? AND left_at IS NULL", r.ID).Order("joined_at").Find(&c.Chat.Members).Error
}

// cardPrivate adds what product users may not see: contacts and notes.
func (s *Store) cardPrivate(db *gorm.DB, c *Card) error {
	c.Contacts, c.Notes = []Contact{}, []Note{}
	if err := db.Where("account_id = ? AND removed_at IS NULL", c.ID).Order("is_primary DESC, id").Find(&c.Contacts).Error; err != nil {
		return err
	}
	return db.Where("account_id = ? AND deleted_at IS NULL AND pinned", c.ID).Order("id DESC").Find(&c.Notes).Error
}

// firstCardMonth is the oldest month the card shows: 11 months before now.
func firstCardMonth(now time.Time) string {
	m := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -(CardRevenueMonths - 1), 0)
	return fmt.Sprintf("%04d-%02d", m.Year(), int(m.Month()))
}
