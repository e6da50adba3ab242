// Package testdb gives each test its own migrated database: a fresh SQLite
// file always, and a fresh PostgreSQL schema when KEYCARE_TEST_POSTGRES_URL
// is set (CI sets it).
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/migrations"
)

// EnvPostgres names the variable holding the PostgreSQL URL for tests.
const EnvPostgres = "KEYCARE_TEST_POSTGRES_URL"

// Dialects returns the dialects tests run on here.
func Dialects() []string {
	if os.Getenv(EnvPostgres) != "" {
		return []string{database.SQLite, database.Postgres}
	}
	return []string{database.SQLite}
}

// Each runs fn as a subtest on every available dialect, each with its own database.
func Each(t *testing.T, fn func(t *testing.T, db *database.DB)) {
	t.Helper()
	for _, d := range Dialects() {
		t.Run(d, func(t *testing.T) { fn(t, Open(t, d)) })
	}
}

// Open returns a migrated, empty database of dialect, removed when t ends.
func Open(t testing.TB, dialect string) *database.DB {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var db *database.DB
	var err error
	switch dialect {
	case database.Postgres:
		var u string
		u, err = Schema(t)
		if err == nil {
			db, err = database.OpenPostgres(ctx, u, log)
		}
	default:
		db, err = database.OpenSQLite(ctx, filepath.Join(t.TempDir(), "keycare.db"), log)
	}
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := migrations.Up(ctx, db.SQL, dialect); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// Schema creates a fresh PostgreSQL schema, drops it when t ends, and returns
// a URL whose connections use it.
func Schema(t testing.TB) (string, error) {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	admin, err := database.OpenPostgres(context.Background(), base, nil)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if err := admin.Gorm.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		return "", err
	}
	t.Cleanup(func() {
		if a, err := database.OpenPostgres(context.Background(), base, nil); err == nil {
			a.Gorm.Exec("DROP SCHEMA " + schema + " CASCADE")
			_ = a.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
