package main

import (
	"context"
	"database/sql"
	"sync/atomic"

	"gorm.io/gorm"
)

// sqlTrace counts every SQL statement Keycare sends through gorm's pool,
// including raw ones that bypass gorm's callbacks (the metrics query runs
// on Statement.ConnPool directly). One atomic add per statement.
type sqlTrace struct {
	n atomic.Int64
}

// countPool is the *sql.DB with counting Query/Exec; BeginTx and the rest
// are the *sql.DB's own, so transactions work as before.
type countPool struct {
	*sql.DB
	n *atomic.Int64
}

func (p *countPool) GetDBConn() (*sql.DB, error) { return p.DB, nil }

func (p *countPool) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	p.n.Add(1)
	return p.DB.QueryContext(ctx, q, args...)
}

func (p *countPool) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	p.n.Add(1)
	return p.DB.QueryRowContext(ctx, q, args...)
}

func (p *countPool) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	p.n.Add(1)
	return p.DB.ExecContext(ctx, q, args...)
}

// install must run before anything takes a session of g.
func (t *sqlTrace) install(g *gorm.DB, sqlDB *sql.DB) {
	p := &countPool{DB: sqlDB, n: &t.n}
	g.ConnPool = p
	g.Statement.ConnPool = p
}
