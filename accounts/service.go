package accounts

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/page"
)

// Service statuses.
const (
	ServiceActive    = "active"
	ServiceSuspended = "suspended"
	ServiceCancelled = "cancelled"
)

// serviceRow is how an inventory line is stored: the price in minor units.
type serviceRow struct {
	ID                string
	AccountID         string
	Kind              string
	Name              string
	Plan              string
	Quantity          int
	MonthlyPriceMinor int64
	Currency          string
	Region            string
	Status            string
	StartedOn         *string
	EndedOn           *string
	ExternalID        string
	Attributes        database.JSON
	Version           int
	CreatedAt         time.Time
	UpdatedAt         time.Time
	RemovedAt         *time.Time
}

func (serviceRow) TableName() string { return "services" }

// Service is one item of an account's service inventory.
type Service struct {
	ID           string        `json:"id"`
	AccountID    string        `json:"account_id"`
	Kind         string        `json:"kind"`
	Name         string        `json:"name"`
	Plan         string        `json:"plan"`
	Quantity     int           `json:"quantity"`
	MonthlyPrice string        `json:"monthly_price"`
	Currency     string        `json:"currency"`
	Region       string        `json:"region"`
	Status       string        `json:"status"`
	StartedOn    *string       `json:"started_on"`
	EndedOn      *string       `json:"ended_on"`
	ExternalID   string        `json:"external_id"`
	Attributes   database.JSON `json:"attributes"`
	Version      int           `json:"-"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
}

func (r serviceRow) service() Service {
	return Service{
		ID: r.ID, AccountID: r.AccountID, Kind: r.Kind, Name: r.Name, Plan: r.Plan, Quantity: r.Quantity,
		MonthlyPrice: FormatAmount(r.MonthlyPriceMinor, r.Currency), Currency: r.Currency, Region: r.Region,
		Status: r.Status, StartedOn: r.StartedOn, EndedOn: r.EndedOn, ExternalID: r.ExternalID,
		Attributes: r.Attributes, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

// NewService is the body of POST /accounts/{id}/services.
type NewService struct {
	Kind         string         `json:"kind" validate:"required,max=100"`
	Name         string         `json:"name" validate:"required,max=200"`
	Plan         string         `json:"plan" validate:"max=200"`
	Quantity     *int           `json:"quantity" validate:"omitempty,min=0,max=1000000000"`
	MonthlyPrice string         `json:"monthly_price"`
	Currency     string         `json:"currency" validate:"omitempty,currency"`
	Region       string         `json:"region" validate:"max=100"`
	Status       string         `json:"status" validate:"omitempty,oneof=active suspended cancelled"`
	StartedOn    *string        `json:"started_on" validate:"omitempty,date"`
	EndedOn      *string        `json:"ended_on" validate:"omitempty,date"`
	ExternalID   string         `json:"external_id" validate:"max=200"`
	Attributes   map[string]any `json:"attributes" validate:"max=50"`
}

// ServiceUpdate is the body of PATCH /accounts/{id}/services/{sid}.
type ServiceUpdate struct {
	Kind         keycare.Optional[string]         `json:"kind"`
	Name         keycare.Optional[string]         `json:"name"`
	Plan         keycare.Optional[string]         `json:"plan"`
	Quantity     keycare.Optional[int]            `json:"quantity"`
	MonthlyPrice keycare.Optional[string]         `json:"monthly_price"`
	Currency     keycare.Optional[string]         `json:"currency"`
	Region       keycare.Optional[string]         `json:"region"`
	Status       keycare.Optional[string]         `json:"status"`
	StartedOn    keycare.Optional[string]         `json:"started_on"`
	EndedOn      keycare.Optional[string]         `json:"ended_on"`
	ExternalID   keycare.Optional[string]         `json:"external_id"`
	Attributes   keycare.Optional[map[string]any] `json:"attributes"`
}

// CreateService adds an item to an account's inventory. The price is in the
// account's currency unless another is given.
func (s *Store) CreateService(ctx context.Context, accountID string, in NewService) (*Service, error) {
	if in.Status == "" {
		in.Status = ServiceActive
	}
	if in.MonthlyPrice == "" {
		in.MonthlyPrice = "0"
	}
	if in.Attributes == nil {
		in.Attributes = map[string]any{}
	}
	qty := 1
	if in.Quantity != nil {
		qty = *in.Quantity
	}
	var v keycare.Validation
	if err := v.Merge("", keycare.Validate(in)); err != nil {
		return nil, err
	}
	checkServiceDates(&v, in.StartedOn, in.EndedOn)
	var out Service
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		a, err := getAccount(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if in.Currency == "" {
			in.Currency = a.Currency
		}
		price, err := ParseAmount("monthly_price", in.MonthlyPrice, in.Currency)
		if err := v.Merge("", err); err != nil {
			return err
		}
		if err := v.Err(); err != nil {
			return err
		}
		now := time.Now().UTC()
		row := serviceRow{
			ID: keycare.NewID(), AccountID: accountID, Kind: strings.TrimSpace(in.Kind), Name: strings.TrimSpace(in.Name),
			Plan: in.Plan, Quantity: qty, MonthlyPriceMinor: price, Currency: in.Currency, Region: in.Region,
			Status: in.Status, StartedOn: in.StartedOn, EndedOn: in.EndedOn, ExternalID: in.ExternalID,
			Attributes: database.NewJSON(in.Attributes), Version: 1, CreatedAt: now, UpdatedAt: now,
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		out = row.service()
		return audit.Record(ctx, tx, "service.create", "service", row.ID, nil, out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ServiceFilter narrows GET /accounts/{id}/services.
type ServiceFilter struct{ Status string }

// Services lists an account's inventory.
func (s *Store) Services(ctx context.Context, accountID string, f ServiceFilter, p page.Request) (page.List[Service], error) {
	if f.Status != "" && f.Status != ServiceActive && f.Status != ServiceSuspended && f.Status != ServiceCancelled {
		return page.List[Service]{}, keycare.Invalid("status", "must be one of: active, suspended, cancelled")
	}
	keys, err := p.Keys(1)
	if err != nil {
		return page.List[Service]{}, err
	}
	if err := s.CanSee(ctx, accountID); err != nil {
		return page.List[Service]{}, err
	}
	q := s.db.WithContext(ctx).Where("account_id = ? AND removed_at IS NULL", accountID)
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if keys != nil {
		q = q.Where("id > ?", keys[0])
	}
	var rows []serviceRow
	if err := q.Order("id").Limit(p.Size() + 1).Find(&rows).Error; err != nil {
		return page.List[Service]{}, err
	}
	return page.Trim(servicesOf(rows), p.Size(), func(s Service) []string { return []string{s.ID} }), nil
}

func servicesOf(rows []serviceRow) []Service {
	out := make([]Service, len(rows))
	for i, r := range rows {
		out[i] = r.service()
	}
	return out
}

// Service returns one inventory item.
func (s *Store) Service(ctx context.Context, accountID, id string) (*Service, error) {
	if err := s.CanSee(ctx, accountID); err != nil {
		return nil, err
	}
	row, err := getService(ctx, s.db, accountID, id)
	if err != nil {
		return nil, err
	}
	out := row.service()
	return &out, nil
}

func getService(ctx context.Context, tx *gorm.DB, accountID, id string) (*serviceRow, error) {
	var r serviceRow
	err := tx.WithContext(ctx).Where("id = ? AND account_id = ? AND removed_at IS NULL", id, accountID).Take(&r).Error
	return &r, notFound(err, "service not found")
}

// UpdateService changes an inventory item.
func (s *Store) UpdateService(ctx context.Context, accountID, id string, in ServiceUpdate, ifVersion int) (*Service, error) {
	var out Service
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := canSee(ctx, tx, accountID); err != nil {
			return err
		}
		r, err := getService(ctx, tx, accountID, id)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != r.Version {
			return precondition("service")
		}
		before := r.service()
		var v keycare.Validation
		text := func(o keycare.Optional[string], field, rule string, dst *string) {
			if !o.Set {
				return
			}
			val := ""
			if !o.Null {
				val = o.Value
			}
			if err := keycare.ValidateVar(val, field, rule); err != nil {
				_ = v.Merge("", err)
				return
			}
			*dst = val
		}
		text(in.Kind, "kind", "required,max=100", &r.Kind)
		text(in.Name, "name", "required,max=200", &r.Name)
		text(in.Plan, "plan", "max=200", &r.Plan)
		text(in.Region, "region", "max=100", &r.Region)
		text(in.Status, "status", "required,oneof=active suspended cancelled", &r.Status)
		text(in.ExternalID, "external_id", "max=200", &r.ExternalID)
		text(in.Currency, "currency", "required,currency", &r.Currency)
		date := func(o keycare.Optional[string], field string, dst **string) {
			if !o.Set {
				return
			}
			if o.Null || o.Value == "" {
				*dst = nil
				return
			}
			if !keycare.ValidDate(o.Value) {
				v.Add(field, "must be a date as YYYY-MM-DD")
				return
			}
			val := o.Value
			*dst = &val
		}
		date(in.StartedOn, "started_on", &r.StartedOn)
		date(in.EndedOn, "ended_on", &r.EndedOn)
		if in.Quantity.Set {
			v.Check(!in.Quantity.Null && in.Quantity.Value >= 0 && in.Quantity.Value <= 1_000_000_000, "quantity", "must be between 0 and 1000000000")
			r.Quantity = in.Quantity.Value
		}
		if in.MonthlyPrice.Set || in.Currency.Set {
			price := before.MonthlyPrice
			if in.MonthlyPrice.Set {
				price = in.MonthlyPrice.Value
			}
			minor, err := ParseAmount("monthly_price", price, r.Currency)
			if err := v.Merge("", err); err != nil {
				return err
			}
			r.MonthlyPriceMinor = minor
		}
		if in.Attributes.Set {
			m := in.Attributes.Value
			if m == nil {
				m = map[string]any{}
			}
			v.Check(len(m) <= 50, "attributes", "must have at most 50 keys")
			r.Attributes = database.NewJSON(m)
		}
		checkServiceDates(&v, r.StartedOn, r.EndedOn)
		if err := v.Err(); err != nil {
			return err
		}
		if keycare.Unchanged(before, r.service()) {
			out = before
			return nil
		}
		r.Version++
		r.UpdatedAt = time.Now().UTC()
		res := tx.Model(&serviceRow{}).Where("id = ? AND version = ?", id, before.Version).Select("*").Omit("id", "account_id", "created_at").Updates(r)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return precondition("service")
		}
		out = r.service()
		return audit.Record(ctx, tx, "service.update", "service", id, before, out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveService takes an item off the inventory (entered by mistake); a
// cancellation is a status change instead, so revenue health can see it.
func (s *Store) RemoveService(ctx context.Context, accountID, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := canSee(ctx, tx, accountID); err != nil {
			return err
		}
		r, err := getService(ctx, tx, accountID, id)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		if err := tx.Model(&serviceRow{}).Where("id = ?", id).Updates(map[string]any{"removed_at": now, "updated_at": now, "version": r.Version + 1}).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, "service.remove", "service", id, r.service(), nil)
	})
}

func checkServiceDates(v *keycare.Validation, started, ended *string) {
	if started != nil && ended != nil && *ended < *started {
		v.Add("ended_on", "must not be before started_on")
	}
}
