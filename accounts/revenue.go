package accounts

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/page"
)

// Revenue sources.
const (
	SourceManual = "manual"
	SourceImport = "import"
	SourceAPI    = "api"
)

// revenueRow is how a ledger line is stored: money in minor units.
type revenueRow struct {
	AccountID   string
	Month       string
	AmountMinor int64
	Currency    string
	Source      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (revenueRow) TableName() string { return "revenue_entries" }

// RevenueEntry is one month of an account's revenue as the API shows it.
type RevenueEntry struct {
	Month     string    `json:"month"`
	Amount    string    `json:"amount"`
	Currency  string    `json:"currency"`
	Source    string    `json:"source"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (r revenueRow) entry() RevenueEntry {
	return RevenueEntry{Month: r.Month, Amount: FormatAmount(r.AmountMinor, r.Currency), Currency: r.Currency, Source: r.Source, UpdatedAt: r.UpdatedAt}
}

// RevenueInput is the body of PUT /accounts/{id}/revenue/{YYYY-MM}.
type RevenueInput struct {
	Amount   string `json:"amount" validate:"required"`
	Currency string `json:"currency" validate:"omitempty,currency"`
}

// SetRevenue records (or replaces) an account's revenue for a month. created
// is true when the month had no entry before.
func (s *Store) SetRevenue(ctx context.Context, accountID, month string, in RevenueInput, source string) (e *RevenueEntry, created bool, err error) {
	if !keycare.ValidMonth(month) {
		return nil, false, keycare.Invalid("month", "must be a month as YYYY-MM")
	}
	if err := keycare.Validate(in); err != nil {
		return nil, false, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Lock the account (PostgreSQL) so concurrent writes of one month
		// serialise and each audit row has the true "before".
		a, err := getAccount(ctx, lockRow(tx), accountID)
		if err != nil {
			return err
		}
		if in.Currency == "" {
			in.Currency = a.Currency
		}
		minor, err := ParseAmount("amount", in.Amount, in.Currency)
		if err != nil {
			return err
		}
		row := revenueRow{AccountID: accountID, Month: month, AmountMinor: minor, Currency: in.Currency, Source: source}
		change, err := upsertRevenue(ctx, tx, &row)
		if err != nil {
			return err
		}
		created = change == changeCreated
		out := row.entry()
		e = &out
		return nil
	})
	return e, created, err
}

type change int

const (
	changeNone change = iota
	changeCreated
	changeUpdated
)

// upsertRevenue writes one ledger line and audits the change; a line that
// does not change is not written again.
func upsertRevenue(ctx context.Context, tx *gorm.DB, row *revenueRow) (change, error) {
	var old revenueRow
	created := false
	err := tx.WithContext(ctx).Where("account_id = ? AND month = ?", row.AccountID, row.Month).Take(&old).Error
	switch {
	case err == gorm.ErrRecordNotFound:
		created = true
	case err != nil:
		return changeNone, err
	case old.AmountMinor == row.AmountMinor && old.Currency == row.Currency:
		*row = old
		return changeNone, nil
	}
	now := time.Now().UTC()
	row.UpdatedAt = now
	row.CreatedAt = now
	if !created {
		row.CreatedAt = old.CreatedAt
	}
	err = tx.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "account_id"}, {Name: "month"}},
		DoUpdates: clause.AssignmentColumns([]string{"amount_minor", "currency", "source", "updated_at"}),
	}).Create(row).Error
	if err != nil {
		return changeNone, err
	}
	var before any
	c := changeCreated
	if !created {
		before, c = old.entry(), changeUpdated
	}
	return c, audit.Record(ctx, tx, "revenue.set", "account", row.AccountID, before, row.entry())
}

// RevenueRange bounds GET /accounts/{id}/revenue; empty ends are open.
type RevenueRange struct{ From, To string }

// Revenue lists an account's ledger, oldest month first.
func (s *Store) Revenue(ctx context.Context, accountID string, r RevenueRange, p page.Request) (page.List[RevenueEntry], error) {
	var v keycare.Validation
	v.Check(r.From == "" || keycare.ValidMonth(r.From), "from", "must be a month as YYYY-MM")
	v.Check(r.To == "" || keycare.ValidMonth(r.To), "to", "must be a month as YYYY-MM")
	v.Check(r.From == "" || r.To == "" || r.From <= r.To, "to", "must not be before from")
	if err := v.Err(); err != nil {
		return page.List[RevenueEntry]{}, err
	}
	keys, err := p.Keys(1)
	if err != nil {
		return page.List[RevenueEntry]{}, err
	}
	if err := s.CanSee(ctx, accountID); err != nil {
		return page.List[RevenueEntry]{}, err
	}
	q := s.db.WithContext(ctx).Where("account_id = ?", accountID)
	if r.From != "" {
		q = q.Where("month >= ?", r.From)
	}
	if r.To != "" {
		q = q.Where("month <= ?", r.To)
	}
	if keys != nil {
		q = q.Where("month > ?", keys[0])
	}
	var rows []revenueRow
	if err := q.Order("month").Limit(p.Size() + 1).Find(&rows).Error; err != nil {
		return page.List[RevenueEntry]{}, err
	}
	entries := make([]RevenueEntry, len(rows))
	for i, r := range rows {
		entries[i] = r.entry()
	}
	return page.Trim(entries, p.Size(), func(e RevenueEntry) []string { return []string{e.Month} }), nil
}

// ImportRow is one line of POST /revenue/import (CSV or JSON).
type ImportRow struct {
	AccountID  string `json:"account_id"`
	ExternalID string `json:"external_id"`
	Month      string `json:"month"`
	Amount     string `json:"amount"`
	Currency   string `json:"currency"`
}

// ImportResult says what an import did.
type ImportResult struct {
	Rows      int `json:"rows"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// MaxImportRows bounds one import.
const MaxImportRows = 100_000

// ImportRevenue applies every row or none: each row is checked first and all
// problems are reported together as rows[i].field errors.
func (s *Store) ImportRevenue(ctx context.Context, rows []ImportRow) (*ImportResult, error) {
	if len(rows) == 0 {
		return nil, keycare.Invalid("rows", "no rows to import")
	}
	if len(rows) > MaxImportRows {
		return nil, keycare.Invalid("rows", "at most %d rows per import", MaxImportRows)
	}
	res := &ImportResult{Rows: len(rows)}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		idx, err := loadAccountIndex(ctx, tx)
		if err != nil {
			return err
		}
		var v keycare.Validation
		parsed := make([]revenueRow, 0, len(rows))
		seen := map[[2]string]int{}
		for i, r := range rows {
			field := func(f string) string { return fmt.Sprintf("rows[%d].%s", i, f) }
			acc, ok := idx.resolve(r, field, &v)
			if !keycare.ValidMonth(r.Month) {
				v.Add(field("month"), "must be a month as YYYY-MM")
				ok = false
			}
			cur := r.Currency
			if cur == "" && acc != nil {
				cur = acc.currency // an unresolved account already has its error
			}
			if cur != "" && !keycare.ValidCurrency(cur) {
				v.Add(field("currency"), "must be an ISO 4217 currency code, e.g. EUR")
				ok = false
			}
			minor, err := ParseAmount(field("amount"), r.Amount, cur)
			if err := v.Merge("", err); err != nil {
				return err
			}
			if !ok || err != nil {
				continue
			}
			key := [2]string{acc.id, r.Month}
			if j, dup := seen[key]; dup {
				v.Add(field("month"), "repeats rows[%d] for the same account and month", j)
				continue
			}
			seen[key] = i
			parsed = append(parsed, revenueRow{AccountID: acc.id, Month: r.Month, AmountMinor: minor, Currency: cur, Source: SourceImport})
		}
		if err := v.Err(); err != nil {
			return err
		}
		for i := range parsed {
			c, err := upsertRevenue(ctx, tx, &parsed[i])
			if err != nil {
				return err
			}
			switch c {
			case changeCreated:
				res.Created++
			case changeUpdated:
				res.Updated++
			default:
				res.Unchanged++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

type accountRef struct{ id, currency string }

// accountIndex resolves import rows to accounts by id or by any external id.
type accountIndex struct {
	byID       map[string]*accountRef
	byExternal map[string][]*accountRef
}

func loadAccountIndex(ctx context.Context, tx *gorm.DB) (*accountIndex, error) {
	var rows []Account
	if err := tx.WithContext(ctx).Table("accounts").Select("id, currency, external_ids").Find(&rows).Error; err != nil {
		return nil, err
	}
	idx := &accountIndex{byID: map[string]*accountRef{}, byExternal: map[string][]*accountRef{}}
	for _, a := range rows {
		ref := &accountRef{id: a.ID, currency: a.Currency}
		idx.byID[a.ID] = ref
		var ext map[string]string
		_ = a.ExternalIDs.Decode(&ext)
		for _, v := range ext {
			idx.byExternal[v] = append(idx.byExternal[v], ref)
		}
	}
	return idx, nil
}

func (idx *accountIndex) resolve(r ImportRow, field func(string) string, v *keycare.Validation) (*accountRef, bool) {
	switch {
	case r.AccountID != "" && r.ExternalID != "":
		v.Add(field("account_id"), "give account_id or external_id, not both")
	case r.AccountID != "":
		if a := idx.byID[r.AccountID]; a != nil {
			return a, true
		}
		v.Add(field("account_id"), "no such account")
	case r.ExternalID != "":
		switch refs := idx.byExternal[r.ExternalID]; len(refs) {
		case 1:
			return refs[0], true
		case 0:
			v.Add(field("external_id"), "no account has this external id")
		default:
			v.Add(field("external_id"), "matches %d accounts", len(refs))
		}
	default:
		v.Add(field("account_id"), "account_id or external_id is required")
	}
	return nil, false
}

// lockRow adds FOR UPDATE on PostgreSQL; SQLite's single writer needs none.
func lockRow(tx *gorm.DB) *gorm.DB {
	if tx.Dialector.Name() == "postgres" {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}
