package accounts

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/page"
)

// Contact is a person at a client.
type Contact struct {
	ID               string     `json:"id"`
	AccountID        string     `json:"account_id"`
	Name             string     `json:"name"`
	Title            string     `json:"title"`
	Email            string     `json:"email"`
	Phone            string     `json:"phone"`
	TelegramUsername string     `json:"telegram_username"`
	TelegramUserID   *int64     `json:"telegram_user_id"`
	Primary          bool       `json:"primary" gorm:"column:is_primary"`
	Verified         bool       `json:"verified"`
	Version          int        `json:"-"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	RemovedAt        *time.Time `json:"-"`
}

// NewContact is the body of POST /accounts/{id}/contacts.
type NewContact struct {
	Name             string `json:"name" validate:"required,max=200"`
	Title            string `json:"title" validate:"max=200"`
	Email            string `json:"email" validate:"omitempty,email,max=320"`
	Phone            string `json:"phone" validate:"omitempty,e164"`
	TelegramUsername string `json:"telegram_username" validate:"max=64"`
	TelegramUserID   *int64 `json:"telegram_user_id" validate:"omitempty,min=1"`
	Primary          bool   `json:"primary"`
}

// ContactUpdate is the body of PATCH /accounts/{id}/contacts/{cid}.
type ContactUpdate struct {
	Name             keycare.Optional[string] `json:"name"`
	Title            keycare.Optional[string] `json:"title"`
	Email            keycare.Optional[string] `json:"email"`
	Phone            keycare.Optional[string] `json:"phone"`
	TelegramUsername keycare.Optional[string] `json:"telegram_username"`
	TelegramUserID   keycare.Optional[int64]  `json:"telegram_user_id"`
	Primary          keycare.Optional[bool]   `json:"primary"`
}

// CreateContact adds a contact to an account.
func (s *Store) CreateContact(ctx context.Context, accountID string, in NewContact) (*Contact, error) {
	in.Name = strings.TrimSpace(in.Name)
	in.Phone = normalizePhone(in.Phone)
	in.TelegramUsername = strings.TrimPrefix(strings.TrimSpace(in.TelegramUsername), "@")
	if err := keycare.Validate(in); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	c := &Contact{
		ID: keycare.NewID(), AccountID: accountID, Name: in.Name, Title: in.Title, Email: in.Email,
		Phone: in.Phone, TelegramUsername: in.TelegramUsername, TelegramUserID: in.TelegramUserID,
		Primary: in.Primary, Verified: true, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := canSee(ctx, tx, accountID); err != nil {
			return err
		}
		if err := tx.Create(c).Error; err != nil {
			return err
		}
		if c.Primary {
			if err := demoteOtherPrimaries(ctx, tx, c); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, "contact.create", "contact", c.ID, nil, c)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Contacts lists an account's current contacts, primary first.
func (s *Store) Contacts(ctx context.Context, accountID string, p page.Request) (page.List[Contact], error) {
	keys, err := p.Keys(1)
	if err != nil {
		return page.List[Contact]{}, err
	}
	if err := s.CanSee(ctx, accountID); err != nil {
		return page.List[Contact]{}, err
	}
	q := s.db.WithContext(ctx).Where("account_id = ? AND removed_at IS NULL", accountID)
	if keys != nil {
		q = q.Where("id > ?", keys[0])
	}
	var list []Contact
	if err := q.Order("id").Limit(p.Size() + 1).Find(&list).Error; err != nil {
		return page.List[Contact]{}, err
	}
	return page.Trim(list, p.Size(), func(c Contact) []string { return []string{c.ID} }), nil
}

// Contact returns one current contact of an account.
func (s *Store) Contact(ctx context.Context, accountID, id string) (*Contact, error) {
	if err := s.CanSee(ctx, accountID); err != nil {
		return nil, err
	}
	return getContact(ctx, s.db, accountID, id)
}

func getContact(ctx context.Context, tx *gorm.DB, accountID, id string) (*Contact, error) {
	var c Contact
	err := tx.WithContext(ctx).Where("id = ? AND account_id = ? AND removed_at IS NULL", id, accountID).Take(&c).Error
	return &c, notFound(err, "contact not found")
}

// UpdateContact changes a contact.
func (s *Store) UpdateContact(ctx context.Context, accountID, id string, in ContactUpdate, ifVersion int) (*Contact, error) {
	var out *Contact
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := canSee(ctx, tx, accountID); err != nil {
			return err
		}
		c, err := getContact(ctx, tx, accountID, id)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != c.Version {
			return precondition("contact")
		}
		before := *c
		var v keycare.Validation
		text := func(o keycare.Optional[string], field, rule string, dst *string, norm func(string) string) {
			if !o.Set {
				return
			}
			val := ""
			if !o.Null {
				val = o.Value
			}
			if norm != nil {
				val = norm(val)
			}
			if err := keycare.ValidateVar(val, field, rule); err != nil {
				_ = v.Merge("", err)
				return
			}
			*dst = val
		}
		text(in.Name, "name", "required,max=200", &c.Name, strings.TrimSpace)
		text(in.Title, "title", "max=200", &c.Title, nil)
		text(in.Email, "email", "omitempty,email,max=320", &c.Email, strings.TrimSpace)
		text(in.Phone, "phone", "omitempty,e164", &c.Phone, normalizePhone)
		text(in.TelegramUsername, "telegram_username", "max=64", &c.TelegramUsername, func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "@") })
		if in.TelegramUserID.Set {
			c.TelegramUserID = nil
			if !in.TelegramUserID.Null {
				v.Check(in.TelegramUserID.Value > 0, "telegram_user_id", "must be positive")
				c.TelegramUserID = &in.TelegramUserID.Value
			}
		}
		if in.Primary.Set {
			v.Check(!in.Primary.Null, "primary", "must be true or false")
			c.Primary = in.Primary.Value
		}
		if err := v.Err(); err != nil {
			return err
		}
		if keycare.Unchanged(before, *c) {
			out = c
			return nil
		}
		c.Version++
		c.UpdatedAt = time.Now().UTC()
		res := tx.Model(&Contact{}).Where("id = ? AND version = ?", id, before.Version).Select("*").Omit("id", "account_id", "created_at").Updates(c)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return precondition("contact")
		}
		if c.Primary && !before.Primary {
			if err := demoteOtherPrimaries(ctx, tx, c); err != nil {
				return err
			}
		}
		out = c
		return audit.Record(ctx, tx, "contact.update", "contact", id, before, c)
	})
	return out, err
}

// RemoveContact removes a contact who left the client. The row is kept for
// the history of messages they wrote; it no longer appears in lists.
func (s *Store) RemoveContact(ctx context.Context, accountID, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := canSee(ctx, tx, accountID); err != nil {
			return err
		}
		c, err := getContact(ctx, tx, accountID, id)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		if err := tx.Model(&Contact{}).Where("id = ?", id).Updates(map[string]any{"removed_at": now, "updated_at": now, "version": c.Version + 1}).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, "contact.remove", "contact", id, c, nil)
	})
}

// demoteOtherPrimaries keeps one primary contact per account.
func demoteOtherPrimaries(ctx context.Context, tx *gorm.DB, c *Contact) error {
	return tx.WithContext(ctx).Model(&Contact{}).
		Where("account_id = ? AND id <> ? AND is_primary AND removed_at IS NULL", c.AccountID, c.ID).
		Updates(map[string]any{"is_primary": false, "updated_at": c.UpdatedAt, "version": gorm.Expr("version + 1")}).Error
}

// normalizePhone drops the spaces, dashes and brackets people type.
func normalizePhone(p string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '(', ')', '.':
			return -1
		}
		return r
	}, strings.TrimSpace(p))
}
