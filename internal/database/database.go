// Package database opens Keycare's store: PostgreSQL when a URL is given,
// otherwise an embedded pure-Go SQLite file. Both are reached through gorm and
// share one *sql.DB with the job queue, so a job can be enqueued in the same
// transaction as the write that causes it.
package database

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialects Keycare runs on.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// DB is an open store.
type DB struct {
	Gorm    *gorm.DB
	SQL     *sql.DB
	Dialect string
}

// Open opens PostgreSQL at url, or SQLite at dataDir/keycare.db when url is empty.
func Open(ctx context.Context, url, dataDir string, log *slog.Logger) (*DB, error) {
	if url != "" {
		return OpenPostgres(ctx, url, log)
	}
	return OpenSQLite(ctx, filepath.Join(dataDir, "keycare.db"), log)
}

// OpenPostgres opens a PostgreSQL database.
func OpenPostgres(ctx context.Context, url string, log *slog.Logger) (*DB, error) {
	g, err := gorm.Open(postgres.New(postgres.Config{DSN: url}), gormConfig(log))
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(40)
	sqlDB.SetMaxIdleConns(40)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("postgres unreachable: %w", err)
	}
	return &DB{Gorm: g, SQL: sqlDB, Dialect: Postgres}, nil
}

// OpenSQLite opens (creating if needed) a SQLite database file.
//
// SQLite allows one writer at a time; River's own advice is a single
// connection, which also makes every transaction serial and so immune to
// SQLITE_BUSY. Code inside a transaction must therefore use only that
// transaction, never the pool.
func OpenSQLite(ctx context.Context, path string, log *slog.Logger) (*DB, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	g, err := gorm.Open(sqlite.Open(dsn), gormConfig(log))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(1)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return &DB{Gorm: g, SQL: sqlDB, Dialect: SQLite}, nil
}

// Close closes the pool.
func (db *DB) Close() error { return db.SQL.Close() }

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.SQL.PingContext(ctx) }

// IsUniqueViolation reports whether err is a unique-constraint violation on either dialect.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "SQLSTATE 23505") || strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "duplicate key value")
}

func gormConfig(log *slog.Logger) *gorm.Config {
	return &gorm.Config{
		Logger:                 logger.New(slogWriter{log}, logger.Config{SlowThreshold: 500 * time.Millisecond, LogLevel: logger.Warn, IgnoreRecordNotFoundError: true, ParameterizedQueries: true}),
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		SkipDefaultTransaction: true,
		QueryFields:            true, // name columns: never fetch what the struct does not hold (e.g. notes.search)
		TranslateError:         false,
	}
}

// slogWriter sends gorm's warnings to slog; ParameterizedQueries keeps values
// (phone numbers, message text) out of the line.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Printf(format string, args ...any) {
	if w.log != nil {
		w.log.Warn("gorm", "detail", fmt.Sprintf(format, args...))
	}
}
