// Package accounts is the key-account domain: accounts, their contacts,
// revenue ledger, service inventory and knowledge-base notes, and the account
// card that brings them together. It knows nothing of HTTP, Telegram or Jira.
//
// Every method reads the caller from ctx (keycare.ActorFrom) and applies the
// object-level rule of SPEC §6 itself: a manager sees only accounts they own
// or back up, and anything else is reported as not found.
package accounts

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/internal/database"
)

// Store is the account domain over a database.
type Store struct {
	db      *gorm.DB
	dialect string

	// OnReassign, when set, runs inside the transaction that changes an
	// account's owner or backup (the chat domain re-invites the team).
	OnReassign func(ctx context.Context, tx *gorm.DB, accountID string) error
}

// NewStore returns a Store on db.
func NewStore(db *database.DB) *Store {
	return &Store{db: db.Gorm, dialect: db.Dialect}
}

// visible narrows q (on table accounts) to the accounts the actor may see.
func visible(q *gorm.DB, a keycare.Actor) *gorm.DB {
	if a.SeesAll() || a.Role == keycare.RoleProduct {
		return q
	}
	if a.Role == keycare.RoleManager {
		// A manager also sees the accounts of requests handed over to them.
		return q.Where("(accounts.owner_id = ? OR accounts.backup_id = ? OR accounts.id IN (SELECT account_id FROM requests WHERE owner_id = ? AND status <> 'resolved'))", a.UserID, a.UserID, a.UserID)
	}
	return q.Where("1 = 0") // viewer: revenue health and metrics only
}

// CanSee returns ENOTFOUND unless the actor in ctx may see the account: the
// check of the stores' own operations on an account's contacts and notes.
// (The API's account-scoped routes read the account with Account, which
// applies the same rule, and hand it on.)
func (s *Store) CanSee(ctx context.Context, accountID string) error {
	return canSee(ctx, s.db, accountID)
}

func canSee(ctx context.Context, tx *gorm.DB, accountID string) error {
	if !keycare.ValidID(accountID) {
		return errAccountNotFound
	}
	var n int64
	q := visible(tx.WithContext(ctx).Table("accounts").Where("accounts.id = ?", accountID), keycare.ActorFrom(ctx))
	if err := q.Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return errAccountNotFound
	}
	return nil
}

var errAccountNotFound = keycare.Errorf(keycare.ENOTFOUND, "account not found")

// notFound turns gorm's "no row" into an ENOTFOUND with msg.
func notFound(err error, msg string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return keycare.Errorf(keycare.ENOTFOUND, "%s", msg)
	}
	return err
}

// precondition is the error for a version (ETag) mismatch.
func precondition(what string) error {
	return keycare.Errorf(keycare.EPRECONDITION, "%s changed since it was read", what)
}

// conflict is an ECONFLICT naming a field.
func conflict(field, msg string) error {
	return &keycare.Error{Code: keycare.ECONFLICT, Message: field + ": " + msg, Fields: []keycare.FieldError{{Field: field, Message: msg}}}
}
