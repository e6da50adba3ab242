package accounts

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/page"
)

// Tiers, statuses.
const (
	TierStrategic = "strategic"
	TierKey       = "key"
	TierStandard  = "standard"

	StatusOnboarding = "onboarding"
	StatusActive     = "active"
	StatusChurned    = "churned"
)

// Account is a key client.
type Account struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Slug        string        `json:"slug"`
	Tier        string        `json:"tier"`
	Status      string        `json:"status"`
	OwnerID     *string       `json:"owner_id"`
	BackupID    *string       `json:"backup_id"`
	Timezone    string        `json:"timezone"`
	Currency    string        `json:"currency"`
	SLAPolicyID *string       `json:"sla_policy_id"`
	ExternalIDs database.JSON `json:"external_ids"`
	Tags        database.JSON `json:"tags"`
	Version     int           `json:"-"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	ArchivedAt  *time.Time    `json:"archived_at"`
}

// NewAccount is the body of POST /accounts.
type NewAccount struct {
	Name        string            `json:"name" validate:"required,max=200"`
	Slug        string            `json:"slug" validate:"omitempty,max=100,slug"`
	Tier        string            `json:"tier" validate:"omitempty,oneof=strategic key standard"`
	Status      string            `json:"status" validate:"omitempty,oneof=onboarding active churned"`
	OwnerID     *string           `json:"owner_id" validate:"omitempty,id"`
	BackupID    *string           `json:"backup_id" validate:"omitempty,id"`
	SLAPolicyID *string           `json:"sla_policy_id" validate:"omitempty,id"`
	Timezone    string            `json:"timezone" validate:"omitempty,timezone"`
	Currency    string            `json:"currency" validate:"required,currency"`
	ExternalIDs map[string]string `json:"external_ids" validate:"omitempty,max=20,dive,keys,required,max=50,endkeys,required,max=200"`
	Tags        []string          `json:"tags" validate:"omitempty,max=50,dive,required,max=50"`
}

// AccountUpdate is the body of PATCH /accounts/{id}.
type AccountUpdate struct {
	Name        keycare.Optional[string]            `json:"name"`
	Slug        keycare.Optional[string]            `json:"slug"`
	Tier        keycare.Optional[string]            `json:"tier"`
	Status      keycare.Optional[string]            `json:"status"`
	OwnerID     keycare.Optional[string]            `json:"owner_id"`
	BackupID    keycare.Optional[string]            `json:"backup_id"`
	SLAPolicyID keycare.Optional[string]            `json:"sla_policy_id"`
	Timezone    keycare.Optional[string]            `json:"timezone"`
	Currency    keycare.Optional[string]            `json:"currency"`
	ExternalIDs keycare.Optional[map[string]string] `json:"external_ids"`
	Tags        keycare.Optional[[]string]          `json:"tags"`
}

// Filter narrows GET /accounts.
type Filter struct {
	OwnerID  string // a user id; the API resolves "me"
	Tier     string
	Status   string
	Query    string
	Archived bool // include archived accounts
}

// CreateAccount adds an account. Only admins and leads create accounts; the
// API enforces that by role.
func (s *Store) CreateAccount(ctx context.Context, in NewAccount) (*Account, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Tier == "" {
		in.Tier = TierKey
	}
	if in.Status == "" {
		in.Status = StatusOnboarding
	}
	if in.Timezone == "" {
		in.Timezone = "UTC"
	}
	if in.ExternalIDs == nil {
		in.ExternalIDs = map[string]string{}
	}
	if in.Tags == nil {
		in.Tags = []string{}
	}
	if err := keycare.Validate(in); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	a := &Account{
		ID: keycare.NewID(), Name: in.Name, Slug: in.Slug, Tier: in.Tier, Status: in.Status,
		OwnerID: in.OwnerID, BackupID: in.BackupID, SLAPolicyID: in.SLAPolicyID, Timezone: in.Timezone, Currency: in.Currency,
		ExternalIDs: database.NewJSON(in.ExternalIDs), Tags: database.NewJSON(in.Tags),
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := checkPolicy(ctx, tx, a.SLAPolicyID); err != nil {
			return err
		}
		if err := checkPeople(ctx, tx, a.OwnerID, a.BackupID); err != nil {
			return err
		}
		if a.Slug == "" {
			slug, err := freeSlug(ctx, tx, Slugify(a.Name))
			if err != nil {
				return err
			}
			a.Slug = slug
		}
		if err := tx.Create(a).Error; err != nil {
			if database.IsUniqueViolation(err) {
				return conflict("slug", "is taken by another account")
			}
			return err
		}
		return audit.Record(ctx, tx, "account.create", "account", a.ID, nil, a)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Account returns one account the caller may see.
func (s *Store) Account(ctx context.Context, id string) (*Account, error) {
	return getAccount(ctx, s.db, id)
}

func getAccount(ctx context.Context, tx *gorm.DB, id string) (*Account, error) {
	if !keycare.ValidID(id) {
		return nil, errAccountNotFound
	}
	var a Account
	err := visible(tx.WithContext(ctx).Table("accounts").Where("accounts.id = ?", id), keycare.ActorFrom(ctx)).Take(&a).Error
	if err != nil {
		return nil, notFound(err, "account not found")
	}
	return &a, nil
}

// Accounts lists the accounts the caller may see, by name.
func (s *Store) Accounts(ctx context.Context, f Filter, p page.Request) (page.List[Account], error) {
	keys, err := p.Keys(2)
	if err != nil {
		return page.List[Account]{}, err
	}
	q := visible(s.db.WithContext(ctx).Table("accounts"), keycare.ActorFrom(ctx))
	if f.OwnerID != "" {
		q = q.Where("accounts.owner_id = ?", f.OwnerID)
	}
	if f.Tier != "" {
		q = q.Where("accounts.tier = ?", f.Tier)
	}
	if f.Status != "" {
		q = q.Where("accounts.status = ?", f.Status)
	}
	if f.Query != "" {
		q = q.Where("lower(accounts.name) LIKE ? ESCAPE '\\'", "%"+likeEscape(strings.ToLower(f.Query))+"%")
	}
	if !f.Archived {
		q = q.Where("accounts.archived_at IS NULL")
	}
	if keys != nil {
		q = q.Where("(accounts.name > ? OR (accounts.name = ? AND accounts.id > ?))", keys[0], keys[0], keys[1])
	}
	var list []Account
	if err := q.Order("accounts.name, accounts.id").Limit(p.Size() + 1).Find(&list).Error; err != nil {
		return page.List[Account]{}, err
	}
	return page.Trim(list, p.Size(), func(a Account) []string { return []string{a.Name, a.ID} }), nil
}

// UpdateAccount changes an account. Managers may change their accounts but
// not who owns or backs them up: that is a lead's decision.
func (s *Store) UpdateAccount(ctx context.Context, id string, in AccountUpdate, ifVersion int) (*Account, error) {
	actor := keycare.ActorFrom(ctx)
	var out *Account
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		a, err := getAccount(ctx, tx, id)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != a.Version {
			return precondition("account")
		}
		if actor.Role == keycare.RoleManager {
			for field, set := range map[string]bool{"owner_id": in.OwnerID.Set, "backup_id": in.BackupID.Set, "sla_policy_id": in.SLAPolicyID.Set} {
				if set {
					return &keycare.Error{Code: keycare.EFORBIDDEN, Message: field + ": only a lead or admin may reassign an account or change its SLA", Fields: []keycare.FieldError{{Field: field, Message: "only a lead or admin may reassign an account or change its SLA"}}}
				}
			}
		}
		before := *a
		var v keycare.Validation
		str := func(o keycare.Optional[string], field, rule string, dst *string) {
			if !o.Set {
				return
			}
			if o.Null {
				v.Add(field, "must not be null")
				return
			}
			if err := keycare.ValidateVar(o.Value, field, rule); err != nil {
				_ = v.Merge("", err)
				return
			}
			*dst = o.Value
		}
		str(in.Name, "name", "required,max=200", &a.Name)
		str(in.Slug, "slug", "required,max=100,slug", &a.Slug)
		str(in.Tier, "tier", "required,oneof=strategic key standard", &a.Tier)
		str(in.Status, "status", "required,oneof=onboarding active churned", &a.Status)
		str(in.Timezone, "timezone", "required,timezone", &a.Timezone)
		str(in.Currency, "currency", "required,currency", &a.Currency)
		ref := func(o keycare.Optional[string], field string, dst **string) {
			if !o.Set {
				return
			}
			if o.Null || o.Value == "" {
				*dst = nil
				return
			}
			if !keycare.ValidID(o.Value) {
				v.Add(field, "must be an id")
				return
			}
			val := o.Value
			*dst = &val
		}
		ref(in.OwnerID, "owner_id", &a.OwnerID)
		ref(in.BackupID, "backup_id", &a.BackupID)
		ref(in.SLAPolicyID, "sla_policy_id", &a.SLAPolicyID)
		if in.ExternalIDs.Set {
			m := in.ExternalIDs.Value
			if m == nil {
				m = map[string]string{}
			}
			if err := v.Merge("", keycare.ValidateVar(m, "external_ids", "max=20,dive,keys,required,max=50,endkeys,required,max=200")); err != nil {
				return err
			}
			a.ExternalIDs = database.NewJSON(m)
		}
		if in.Tags.Set {
			t := in.Tags.Value
			if t == nil {
				t = []string{}
			}
			if err := v.Merge("", keycare.ValidateVar(t, "tags", "max=50,dive,required,max=50")); err != nil {
				return err
			}
			a.Tags = database.NewJSON(t)
		}
		if err := v.Err(); err != nil {
			return err
		}
		if keycare.Unchanged(before, *a) {
			out = a
			return nil
		}
		// Only people being assigned now must be active: a deactivated owner
		// must not block an unrelated edit (reassigning is how it gets fixed).
		owner, backup := a.OwnerID, a.BackupID
		if samePerson(before.OwnerID, owner) {
			owner = nil
		}
		if samePerson(before.BackupID, backup) {
			backup = nil
		}
		if err := checkPeople(ctx, tx, owner, backup); err != nil {
			return err
		}
		if !samePerson(before.SLAPolicyID, a.SLAPolicyID) {
			if err := checkPolicy(ctx, tx, a.SLAPolicyID); err != nil {
				return err
			}
		}
		if a.OwnerID != nil && a.BackupID != nil && *a.OwnerID == *a.BackupID {
			return keycare.Invalid("backup_id", "must differ from owner_id")
		}
		a.Version++
		a.UpdatedAt = time.Now().UTC()
		res := tx.Table("accounts").Where("id = ? AND version = ?", id, before.Version).Select("*").Omit("id", "created_at").Updates(a)
		if res.Error != nil {
			if database.IsUniqueViolation(res.Error) {
				return conflict("slug", "is taken by another account")
			}
			return res.Error
		}
		if res.RowsAffected == 0 {
			return precondition("account")
		}
		out = a
		if s.OnReassign != nil && (!samePerson(before.OwnerID, a.OwnerID) || !samePerson(before.BackupID, a.BackupID)) {
			if err := s.OnReassign(ctx, tx, id); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, "account.update", "account", id, before, a)
	})
	return out, err
}

func samePerson(a, b *string) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// ArchiveAccount archives an account: it leaves lists and its data is kept.
// Archiving twice is not an error.
func (s *Store) ArchiveAccount(ctx context.Context, id string) (*Account, error) {
	var out *Account
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		a, err := getAccount(ctx, tx, id)
		if err != nil {
			return err
		}
		out = a
		if a.ArchivedAt != nil {
			return nil
		}
		before := *a
		now := time.Now().UTC()
		a.ArchivedAt, a.UpdatedAt = &now, now
		a.Version++
		if err := tx.Table("accounts").Where("id = ?", id).Updates(map[string]any{"archived_at": now, "updated_at": now, "version": a.Version}).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, "account.archive", "account", id, before, a)
	})
	return out, err
}

// checkPeople makes sure owner and backup are distinct active team members
// who can own accounts.
// checkPolicy checks that an account's SLA policy exists.
func checkPolicy(ctx context.Context, tx *gorm.DB, id *string) error {
	if id == nil {
		return nil
	}
	var n int64
	if err := tx.WithContext(ctx).Table("sla_policies").Where("id = ?", *id).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return keycare.Invalid("sla_policy_id", "no such SLA policy")
	}
	return nil
}

func checkPeople(ctx context.Context, tx *gorm.DB, owner, backup *string) error {
	var v keycare.Validation
	for _, p := range []struct {
		field string
		id    *string
	}{{"owner_id", owner}, {"backup_id", backup}} {
		if p.id == nil {
			continue
		}
		var u struct {
			Role   string
			Active bool
		}
		err := tx.WithContext(ctx).Table("users").Select("role, active").Where("id = ?", *p.id).Take(&u).Error
		switch {
		case err == gorm.ErrRecordNotFound:
			v.Add(p.field, "no such user")
		case err != nil:
			return err
		case !u.Active:
			v.Add(p.field, "user is not active")
		case u.Role != keycare.RoleManager && u.Role != keycare.RoleLead && u.Role != keycare.RoleAdmin:
			v.Add(p.field, "user with role %s cannot own accounts", u.Role)
		}
	}
	if owner != nil && backup != nil && *owner == *backup {
		v.Add("backup_id", "must differ from owner_id")
	}
	return v.Err()
}

func freeSlug(ctx context.Context, tx *gorm.DB, base string) (string, error) {
	if base == "" {
		base = "account"
	}
	for i := 1; i < 1000; i++ {
		slug := base
		if i > 1 {
			slug = fmt.Sprintf("%s-%d", base, i)
		}
		var n int64
		if err := tx.WithContext(ctx).Table("accounts").Where("slug = ?", slug).Count(&n).Error; err != nil {
			return "", err
		}
		if n == 0 {
			return slug, nil
		}
	}
	return "", conflict("slug", "no free slug; give one")
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
