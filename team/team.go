// Package team holds the members of the Care team, their roles and their API
// tokens. Tokens are random, shown once and stored as a SHA-256 hash: they
// carry 256 bits of entropy, so a slow password hash would add nothing.
package team

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/page"
)

// User is a member of the Care team.
type User struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Email            string    `json:"email"`
	Role             string    `json:"role"`
	TelegramUsername *string   `json:"telegram_username"`
	TelegramUserID   *int64    `json:"telegram_user_id"`
	Active           bool      `json:"active"`
	Away             bool      `json:"away"`
	Version          int       `json:"-"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// NewUser is the body of POST /users and of `keycare users add`.
type NewUser struct {
	Name             string  `json:"name" validate:"required,max=200"`
	Email            string  `json:"email" validate:"required,email,max=320"`
	Role             string  `json:"role" validate:"required,oneof=admin lead manager product viewer"`
	TelegramUsername *string `json:"telegram_username" validate:"omitempty,max=64"`
	TelegramUserID   *int64  `json:"telegram_user_id" validate:"omitempty,min=1"`
}

// UserUpdate is the body of PATCH /users/{id}.
type UserUpdate struct {
	Name             keycare.Optional[string] `json:"name"`
	Email            keycare.Optional[string] `json:"email"`
	Role             keycare.Optional[string] `json:"role"`
	TelegramUsername keycare.Optional[string] `json:"telegram_username"`
	TelegramUserID   keycare.Optional[int64]  `json:"telegram_user_id"`
	Active           keycare.Optional[bool]   `json:"active"`
	Away             keycare.Optional[bool]   `json:"away"`
}

type apiToken struct {
	ID         string
	UserID     string
	Hash       string
	Name       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

func (apiToken) TableName() string { return "api_tokens" }

// Service manages the team.
type Service struct {
	db       *gorm.DB
	mu       sync.Mutex
	lastSeen map[string]time.Time // token hash → when last_used_at was last written
}

// NewService returns a team service on db.
func NewService(db *gorm.DB) *Service {
	return &Service{db: db, lastSeen: map[string]time.Time{}}
}

// Create adds a user.
func (s *Service) Create(ctx context.Context, in NewUser) (*User, error) {
	in.Email = strings.TrimSpace(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	if err := keycare.Validate(in); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	u := &User{
		ID: keycare.NewID(), Name: in.Name, Email: in.Email, Role: in.Role,
		TelegramUsername: normalizeUsername(in.TelegramUsername), TelegramUserID: in.TelegramUserID,
		Active: true, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(u).Error; err != nil {
			return uniqueUserError(err)
		}
		return audit.Record(ctx, tx, "user.create", "user", u.ID, nil, u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Get returns one user.
func (s *Service) Get(ctx context.Context, id string) (*User, error) {
	var u User
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, keycare.Errorf(keycare.ENOTFOUND, "user not found")
	}
	return &u, err
}

// List returns users ordered by creation.
func (s *Service) List(ctx context.Context, p page.Request) (page.List[User], error) {
	keys, err := p.Keys(1)
	if err != nil {
		return page.List[User]{}, err
	}
	q := s.db.WithContext(ctx).Order("id")
	if keys != nil {
		q = q.Where("id > ?", keys[0])
	}
	var users []User
	if err := q.Limit(p.Size() + 1).Find(&users).Error; err != nil {
		return page.List[User]{}, err
	}
	return page.Trim(users, p.Size(), func(u User) []string { return []string{u.ID} }), nil
}

// Update changes a user. ifVersion, when not zero, must match the stored
// version (the ETag the caller read).
func (s *Service) Update(ctx context.Context, id string, in UserUpdate, ifVersion int) (*User, error) {
	var out *User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.Where("id = ?", id).Take(&u).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return keycare.Errorf(keycare.ENOTFOUND, "user not found")
			}
			return err
		}
		if ifVersion != 0 && ifVersion != u.Version {
			return keycare.Errorf(keycare.EPRECONDITION, "user changed since it was read")
		}
		before := u
		var v keycare.Validation
		if in.Name.Set {
			v.Check(!in.Name.Null && strings.TrimSpace(in.Name.Value) != "" && len(in.Name.Value) <= 200, "name", "is required and at most 200 characters")
			u.Name = strings.TrimSpace(in.Name.Value)
		}
		if in.Email.Set {
			u.Email = strings.TrimSpace(in.Email.Value)
			if in.Email.Null {
				v.Add("email", "is required")
			} else if err := v.Merge("", keycare.Validate(struct {
				Email string `json:"email" validate:"email,max=320"`
			}{u.Email})); err != nil {
				return err
			}
		}
		if in.Role.Set {
			v.Check(!in.Role.Null && isRole(in.Role.Value), "role", "must be one of: %s", strings.Join(keycare.Roles, ", "))
			u.Role = in.Role.Value
		}
		if in.TelegramUsername.Set {
			u.TelegramUsername = nil
			if !in.TelegramUsername.Null {
				u.TelegramUsername = normalizeUsername(&in.TelegramUsername.Value)
			}
		}
		if in.TelegramUserID.Set {
			u.TelegramUserID = nil
			if !in.TelegramUserID.Null {
				v.Check(in.TelegramUserID.Value > 0, "telegram_user_id", "must be positive")
				u.TelegramUserID = &in.TelegramUserID.Value
			}
		}
		if in.Active.Set {
			v.Check(!in.Active.Null, "active", "must be true or false")
			u.Active = in.Active.Value
		}
		if in.Away.Set {
			v.Check(!in.Away.Null, "away", "must be true or false")
			u.Away = in.Away.Value
		}
		if err := v.Err(); err != nil {
			return err
		}
		if keycare.Unchanged(before, u) {
			out = &u
			return nil
		}
		u.Version++
		u.UpdatedAt = time.Now().UTC()
		res := tx.Model(&User{}).Where("id = ? AND version = ?", id, before.Version).Select("*").Updates(&u)
		if res.Error != nil {
			return uniqueUserError(res.Error)
		}
		if res.RowsAffected == 0 {
			return keycare.Errorf(keycare.EPRECONDITION, "user changed since it was read")
		}
		out = &u
		return audit.Record(ctx, tx, "user.update", "user", id, before, u)
	})
	return out, err
}

// IssueToken creates an API token for a user and returns it; it is never shown again.
func (s *Service) IssueToken(ctx context.Context, userID, name string) (string, error) {
	if len(name) > 200 {
		return "", keycare.Invalid("name", "must be at most 200 characters")
	}
	token := newToken()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&User{}).Where("id = ?", userID).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return keycare.Errorf(keycare.ENOTFOUND, "user not found")
		}
		t := apiToken{ID: keycare.NewID(), UserID: userID, Hash: hashToken(token), Name: name, CreatedAt: time.Now().UTC()}
		if err := tx.Create(&t).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, "token.issue", "user", userID, nil, map[string]string{"token_id": t.ID, "name": name})
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// Authenticate returns the active user a token belongs to, or EUNAUTHORIZED.
func (s *Service) Authenticate(ctx context.Context, token string) (*User, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 100 {
		return nil, keycare.Errorf(keycare.EUNAUTHORIZED, "invalid token")
	}
	h := hashToken(token)
	var u User
	err := s.db.WithContext(ctx).Table("users").Select("users.*").
		Joins("JOIN api_tokens ON api_tokens.user_id = users.id").
		Where("api_tokens.hash = ? AND api_tokens.revoked_at IS NULL AND users.active", h).
		Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, keycare.Errorf(keycare.EUNAUTHORIZED, "invalid token")
	}
	if err != nil {
		return nil, err
	}
	s.touch(ctx, h)
	return &u, nil
}

// touch records when a token was last used, at most once a minute per token,
// so authentication does not write on every request.
func (s *Service) touch(ctx context.Context, hash string) {
	now := time.Now().UTC()
	s.mu.Lock()
	if now.Sub(s.lastSeen[hash]) < time.Minute {
		s.mu.Unlock()
		return
	}
	s.lastSeen[hash] = now
	s.mu.Unlock()
	s.db.WithContext(ctx).Model(&apiToken{}).Where("hash = ?", hash).Update("last_used_at", now)
}

// Bootstrap creates the first admin when the team has none and returns its
// token; created is false (and the token empty) when an admin already exists.
func (s *Service) Bootstrap(ctx context.Context, email string) (token string, created bool, err error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&User{}).Where("role = ?", keycare.RoleAdmin).Count(&n).Error; err != nil {
		return "", false, err
	}
	if n > 0 {
		return "", false, nil
	}
	ctx = keycare.WithActor(ctx, keycare.SystemActor)
	u, err := s.Create(ctx, NewUser{Name: "Admin", Email: email, Role: keycare.RoleAdmin})
	if err != nil {
		return "", false, err
	}
	token, err = s.IssueToken(ctx, u.ID, "bootstrap")
	return token, err == nil, err
}

// ByTelegramID returns the team member with that Telegram user id, if any.
func (s *Service) ByTelegramID(ctx context.Context, tgID int64) (*User, error) {
	var u User
	err := s.db.WithContext(ctx).Where("telegram_user_id = ?", tgID).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, keycare.Errorf(keycare.ENOTFOUND, "user not found")
	}
	return &u, err
}

const tokenPrefix = "kc_"

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func isRole(r string) bool {
	for _, x := range keycare.Roles {
		if x == r {
			return true
		}
	}
	return false
}

func normalizeUsername(u *string) *string {
	if u == nil {
		return nil
	}
	s := strings.TrimPrefix(strings.TrimSpace(*u), "@")
	if s == "" {
		return nil
	}
	return &s
}

func uniqueUserError(err error) error {
	if database.IsUniqueViolation(err) {
		if strings.Contains(err.Error(), "telegram") {
			return &keycare.Error{Code: keycare.ECONFLICT, Message: "telegram_user_id belongs to another user", Fields: []keycare.FieldError{{Field: "telegram_user_id", Message: "belongs to another user"}}}
		}
		return &keycare.Error{Code: keycare.ECONFLICT, Message: "email belongs to another user", Fields: []keycare.FieldError{{Field: "email", Message: "belongs to another user"}}}
	}
	return err
}
