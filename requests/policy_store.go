package requests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/page"
)

// SLAPolicy is a stored SLA policy (SPEC §13).
type SLAPolicy struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Policy
	// DefaultFor lists the account tiers the policy applies to when an
	// account names no policy of its own.
	DefaultFor []string  `json:"default_for"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	Version    int       `json:"-"`
}

// NewSLAPolicy is the body of POST /sla-policies.
type NewSLAPolicy struct {
	Name string `json:"name"`
	Policy
	DefaultFor []string `json:"default_for"`
}

// SLAPolicyUpdate is the body of PATCH /sla-policies/{id}.
type SLAPolicyUpdate struct {
	Name          keycare.Optional[string]               `json:"name"`
	Targets       keycare.Optional[map[Priority]Targets] `json:"targets"`
	BusinessHours keycare.Optional[*BusinessHours]       `json:"business_hours"`
	WarnAt        keycare.Optional[float64]              `json:"warn_at"`
	DefaultFor    keycare.Optional[[]string]             `json:"default_for"`
}

type policyRow struct {
	ID            string
	Name          string
	Targets       database.JSON
	BusinessHours database.JSON
	WarnAt        float64
	DefaultFor    database.JSON
	Version       int
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (policyRow) TableName() string { return "sla_policies" }

func (r *policyRow) view() SLAPolicy {
	p := SLAPolicy{ID: r.ID, Name: r.Name, DefaultFor: []string{}, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Version: r.Version}
	_ = r.Targets.Decode(&p.Targets)
	if len(r.BusinessHours) > 0 && string(r.BusinessHours) != "null" {
		_ = r.BusinessHours.Decode(&p.BusinessHours)
		if bh := p.BusinessHours; bh != nil {
			if bh.Holidays == nil {
				bh.Holidays = []string{}
			}
			for day, periods := range bh.Weekly {
				if periods == nil {
					bh.Weekly[day] = []Period{}
				}
			}
		}
	}
	p.WarnAt = r.WarnAt
	_ = r.DefaultFor.Decode(&p.DefaultFor)
	return p
}

var errPolicyNotFound = keycare.Errorf(keycare.ENOTFOUND, "SLA policy not found")

var tiers = []string{"strategic", "key", "standard"}

// checkPolicy validates a whole policy record, naming fields by JSON path.
func checkPolicy(name string, p Policy, defaultFor []string) error {
	var v keycare.Validation
	name = strings.TrimSpace(name)
	v.Check(name != "" && len([]rune(name)) <= 200, "name", "is required, at most 200 characters")
	if err := v.Merge("", p.Validate()); err != nil {
		return err
	}
	for i, t := range defaultFor {
		v.Check(slices.Contains(tiers, t), fmt.Sprintf("default_for[%d]", i), "must be one of: strategic, key, standard")
	}
	if _, err := Compile(p); err != nil && keycare.ErrorCode(err) == keycare.EINVALID {
		if err := v.Merge("", err); err != nil {
			return err
		}
	}
	return v.Err()
}

// claimTiers takes the tiers of defaultFor away from every other policy: a
// tier has at most one default policy.
func claimTiers(ctx context.Context, tx *gorm.DB, id string, defaultFor []string) error {
	if len(defaultFor) == 0 {
		return nil
	}
	var others []policyRow
	if err := tx.WithContext(ctx).Where("id <> ?", id).Find(&others).Error; err != nil {
		return err
	}
	for _, o := range others {
		var has []string
		_ = o.DefaultFor.Decode(&has)
		kept := slices.DeleteFunc(slices.Clone(has), func(t string) bool { return slices.Contains(defaultFor, t) })
		if len(kept) != len(has) {
			if err := tx.Model(&policyRow{}).Where("id = ?", o.ID).Updates(map[string]any{"default_for": database.NewJSON(kept), "version": o.Version + 1, "updated_at": time.Now().UTC()}).Error; err != nil {
				return err
			}
		}
	}
	return nil
}

// CreatePolicy stores a new SLA policy.
func (s *Store) CreatePolicy(ctx context.Context, in NewSLAPolicy) (*SLAPolicy, error) {
	if in.DefaultFor == nil {
		in.DefaultFor = []string{}
	}
	in.Policy = in.Policy.WithDefaults()
	if err := checkPolicy(in.Name, in.Policy, in.DefaultFor); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	row := policyRow{
		ID: keycare.NewID(), Name: strings.TrimSpace(in.Name), Targets: database.NewJSON(in.Targets),
		BusinessHours: database.NewJSON(in.BusinessHours), WarnAt: in.WarnAt, DefaultFor: database.NewJSON(slices.Compact(slices.Sorted(slices.Values(in.DefaultFor)))),
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := uniquePolicyName(ctx, tx, row.ID, row.Name); err != nil {
			return err
		}
		if err := claimTiers(ctx, tx, row.ID, in.DefaultFor); err != nil {
			return err
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, "sla_policy.create", "sla_policy", row.ID, nil, row.view())
	})
	if err != nil {
		return nil, err
	}
	s.forgetPolicies()
	out := row.view()
	return &out, nil
}

func uniquePolicyName(ctx context.Context, tx *gorm.DB, id, name string) error {
	var n int64
	if err := tx.WithContext(ctx).Model(&policyRow{}).Where("lower(name) = lower(?) AND id <> ?", name, id).Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return &keycare.Error{Code: keycare.ECONFLICT, Message: "an SLA policy with this name exists", Fields: []keycare.FieldError{{Field: "name", Message: "is taken"}}}
	}
	return nil
}

// Policies lists SLA policies, oldest first.
func (s *Store) Policies(ctx context.Context, p page.Request) (page.List[SLAPolicy], error) {
	keys, err := p.Keys(1)
	if err != nil {
		return page.List[SLAPolicy]{}, err
	}
	q := s.db.WithContext(ctx)
	if keys != nil {
		q = q.Where("id > ?", keys[0])
	}
	var rows []policyRow
	if err := q.Order("id").Limit(p.Size() + 1).Find(&rows).Error; err != nil {
		return page.List[SLAPolicy]{}, err
	}
	out := make([]SLAPolicy, len(rows))
	for i := range rows {
		out[i] = rows[i].view()
	}
	return page.Trim(out, p.Size(), func(p SLAPolicy) []string { return []string{p.ID} }), nil
}

// GetPolicy returns one SLA policy.
func (s *Store) GetPolicy(ctx context.Context, id string) (*SLAPolicy, error) {
	r, err := getPolicy(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	out := r.view()
	return &out, nil
}

func getPolicy(ctx context.Context, tx *gorm.DB, id string) (*policyRow, error) {
	if !keycare.ValidID(id) {
		return nil, errPolicyNotFound
	}
	var r policyRow
	err := tx.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, errPolicyNotFound
	}
	return &r, err
}

// UpdatePolicy changes an SLA policy. Open requests under it are measured
// by the new rules from their next change on.
func (s *Store) UpdatePolicy(ctx context.Context, id string, in SLAPolicyUpdate, ifVersion int) (*SLAPolicy, error) {
	var out SLAPolicy
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row, err := getPolicy(ctx, tx, id)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != row.Version {
			return keycare.Errorf(keycare.EPRECONDITION, "the SLA policy changed since it was read (If-Match)")
		}
		before := row.view()
		p := before
		var v keycare.Validation
		if in.Name.Set {
			v.Check(!in.Name.Null, "name", "must not be null")
			p.Name = in.Name.Value
		}
		if in.Targets.Set {
			v.Check(!in.Targets.Null, "targets", "must not be null")
			p.Targets = in.Targets.Value
		}
		if in.BusinessHours.Set {
			p.BusinessHours = in.BusinessHours.Value // null: 24/7
		}
		if in.WarnAt.Set {
			v.Check(!in.WarnAt.Null, "warn_at", "must not be null")
			p.WarnAt = in.WarnAt.Value
		}
		if in.DefaultFor.Set {
			p.DefaultFor = in.DefaultFor.Value
			if p.DefaultFor == nil {
				p.DefaultFor = []string{}
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		p.Policy = p.Policy.WithDefaults()
		if err := checkPolicy(p.Name, p.Policy, p.DefaultFor); err != nil {
			return err
		}
		p.Name = strings.TrimSpace(p.Name)
		if err := uniquePolicyName(ctx, tx, id, p.Name); err != nil {
			return err
		}
		if err := claimTiers(ctx, tx, id, p.DefaultFor); err != nil {
			return err
		}
		now := time.Now().UTC()
		res := tx.Model(&policyRow{}).Where("id = ? AND version = ?", id, row.Version).Updates(map[string]any{
			"name": p.Name, "targets": database.NewJSON(p.Targets), "business_hours": database.NewJSON(p.BusinessHours),
			"warn_at": p.WarnAt, "default_for": database.NewJSON(slices.Compact(slices.Sorted(slices.Values(p.DefaultFor)))),
			"version": row.Version + 1, "updated_at": now,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return keycare.Errorf(keycare.EPRECONDITION, "the SLA policy changed while it was being updated")
		}
		row, err = getPolicy(ctx, tx, id)
		if err != nil {
			return err
		}
		out = row.view()
		return audit.Record(ctx, tx, "sla_policy.update", "sla_policy", id, before, out)
	})
	if err != nil {
		return nil, err
	}
	s.forgetPolicies()
	return &out, nil
}

// PolicyExists reports ENOTFOUND-as-invalid for an account's sla_policy_id.
func (s *Store) PolicyExists(ctx context.Context, tx *gorm.DB, id string) (bool, error) {
	if !keycare.ValidID(id) {
		return false, nil
	}
	var n int64
	err := tx.WithContext(ctx).Model(&policyRow{}).Where("id = ?", id).Count(&n).Error
	return n == 1, err
}

// policyCacheTTL bounds how long a replica uses a policy another changed.
const policyCacheTTL = 2 * time.Second

func (s *Store) forgetPolicies() {
	s.mu.Lock()
	s.listed, s.listedAt = nil, time.Time{}
	s.mu.Unlock()
}

// allPolicies returns every policy row, cached briefly: the table is small
// and read on every request opened.
func (s *Store) allPolicies(ctx context.Context, tx *gorm.DB) ([]policyRow, error) {
	s.mu.Lock()
	rows, fresh := s.listed, time.Since(s.listedAt) < policyCacheTTL && s.listed != nil
	s.mu.Unlock()
	if fresh {
		return rows, nil
	}
	if err := tx.WithContext(ctx).Find(&rows).Error; err != nil {
		return nil, err
	}
	if rows == nil {
		rows = []policyRow{}
	}
	s.mu.Lock()
	s.listed, s.listedAt = rows, time.Now()
	s.mu.Unlock()
	return rows, nil
}

// policyForAccount is the policy a new request of the account runs under:
// the account's own, else its tier's default, else none (clocks measured,
// no targets).
func (s *Store) policyForAccount(ctx context.Context, tx *gorm.DB, accountID string) (*string, error) {
	var acc []struct {
		Tier        string
		SLAPolicyID *string `gorm:"column:sla_policy_id"`
	}
	if err := tx.WithContext(ctx).Table("accounts").Select("tier, sla_policy_id").Where("id = ?", accountID).Find(&acc).Error; err != nil || len(acc) == 0 {
		return nil, err
	}
	rows, err := s.allPolicies(ctx, tx)
	if err != nil {
		return nil, err
	}
	if id := acc[0].SLAPolicyID; id != nil {
		for _, r := range rows {
			if r.ID == *id {
				return id, nil
			}
		}
	}
	for _, r := range rows {
		var tiers []string
		_ = r.DefaultFor.Decode(&tiers)
		if slices.Contains(tiers, acc[0].Tier) {
			id := r.ID
			return &id, nil
		}
	}
	return nil, nil
}

// measureOnly evaluates requests under no policy: clocks are measured for
// metrics, nothing is due.
var measureOnly = func() *Engine {
	s, err := NewSchedule(nil)
	if err != nil {
		panic(err)
	}
	return &Engine{policy: Policy{Targets: map[Priority]Targets{}}.WithDefaults(), schedule: s}
}()

// engine returns the compiled policy a request runs under.
func (s *Store) engine(ctx context.Context, tx *gorm.DB, policyID *string) (*Engine, error) {
	if policyID == nil {
		return measureOnly, nil
	}
	rows, err := s.allPolicies(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if r.ID != *policyID {
			continue
		}
		s.mu.Lock()
		c, ok := s.policies[r.ID]
		s.mu.Unlock()
		if ok && c.version == r.Version {
			return c.engine, nil
		}
		e, err := Compile(r.view().Policy)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.policies[r.ID] = cachedEngine{version: r.Version, engine: e}
		s.mu.Unlock()
		return e, nil
	}
	return measureOnly, nil // the policy was deleted: measure only
}
