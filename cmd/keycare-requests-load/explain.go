package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/keycare/keycare/internal/benchkit"
	"github.com/keycare/keycare/internal/database"
)

// recPool wraps gorm's connection pool and records every query sent
// through it, so the SQL that Keycare's own code builds for an endpoint
// can be EXPLAINed exactly as it is sent (text and arguments).
type recPool struct {
	gorm.ConnPool
	mu   sync.Mutex
	seen []capturedQuery
}

type capturedQuery struct {
	SQL  string
	Args []any
	// Settings are set on the EXPLAIN's connection first (and reset after),
	// as the code under test sets them in its transaction.
	Settings map[string]string
}

func (p *recPool) record(q string, args []any) {
	p.mu.Lock()
	p.seen = append(p.seen, capturedQuery{SQL: q, Args: slices.Clone(args)})
	p.mu.Unlock()
}

func (p *recPool) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	p.record(q, args)
	return p.ConnPool.QueryContext(ctx, q, args...)
}

func (p *recPool) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	p.record(q, args)
	return p.ConnPool.QueryRowContext(ctx, q, args...)
}

// take returns the queries recorded since the last take.
func (p *recPool) take() []capturedQuery {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.seen
	p.seen = nil
	return out
}

// recordingDB is db whose gorm handle sends everything through a recPool.
func recordingDB(ctx context.Context, db *database.DB) (*database.DB, *recPool) {
	g := db.Gorm.Session(&gorm.Session{Context: ctx, NewDB: true})
	p := &recPool{ConnPool: g.Statement.ConnPool}
	g.Statement.ConnPool = p
	return &database.DB{Gorm: g, SQL: db.SQL, Dialect: db.Dialect}, p
}

// ExplainResult is what EXPLAIN (ANALYZE, BUFFERS) says of one endpoint's main query.
type ExplainResult struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
	Args string `json:"args"`
	// Custom: planned for the call's own arguments (what a fresh or an
	// unnamed statement gets). Median of Runs executions.
	CustomExecMs float64  `json:"custom_plan_execution_ms"`
	CustomPlanMs float64  `json:"custom_plan_planning_ms"`
	CustomTop    []string `json:"custom_plan_summary"`
	CustomPlan   string   `json:"custom_plan"`
	// Generic: PREPAREd and run with plan_cache_mode = force_generic_plan,
	// the plan a cached prepared statement may switch to after five runs.
	GenericExecMs float64  `json:"generic_plan_execution_ms"`
	GenericTop    []string `json:"generic_plan_summary"`
	GenericPlan   string   `json:"generic_plan"`
	Runs          int      `json:"runs"`
	Error         string   `json:"error,omitempty"`
}

// explain runs EXPLAIN (ANALYZE, BUFFERS) of q runs times with a custom plan
// and once more with a generic one, on a connection of its own.
func explain(ctx context.Context, db *sql.DB, name string, q capturedQuery, runs int) ExplainResult {
	r := ExplainResult{Name: name, SQL: strings.TrimSpace(q.SQL), Runs: runs}
	var args []any
	var lits []string
	for _, a := range q.Args {
		if _, ok := a.(pgx.QueryExecMode); ok {
			continue
		}
		args = append(args, a)
		lits = append(lits, literal(a))
	}
	r.Args = strings.Join(lits, ", ")
	conn, err := db.Conn(ctx)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer conn.Close()
	for name, value := range q.Settings {
		if _, err := conn.ExecContext(ctx, "SET "+name+" = "+value); err != nil {
			r.Error = err.Error()
			return r
		}
		defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "RESET "+name) }()
	}

	// Unnamed statement: planned with these arguments.
	var execs, plans []time.Duration
	for i := 0; i < runs; i++ {
		text, err := explainText(ctx, conn, "EXPLAIN (ANALYZE, BUFFERS) "+q.SQL, append([]any{pgx.QueryExecModeDescribeExec}, args...)...)
		if err != nil {
			r.Error = "custom: " + err.Error()
			return r
		}
		e, p := timings(text)
		execs, plans = append(execs, e), append(plans, p)
		r.CustomPlan = text
	}
	r.CustomExecMs = benchkit.Summarize(execs).P50
	r.CustomPlanMs = benchkit.Summarize(plans).P50
	r.CustomTop = summary(r.CustomPlan)

	// Generic plan of a prepared statement.
	stmt := "keycare_requests_load_explain"
	if _, err := conn.ExecContext(ctx, "PREPARE "+stmt+" AS "+q.SQL); err != nil {
		r.Error = "prepare: " + err.Error()
		return r
	}
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "DEALLOCATE "+stmt)
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "RESET plan_cache_mode")
	}()
	if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		r.Error = err.Error()
		return r
	}
	call := "EXPLAIN (ANALYZE, BUFFERS) EXECUTE " + stmt
	if len(lits) > 0 {
		call += "(" + r.Args + ")"
	}
	var gen []time.Duration
	for i := 0; i < max(runs/2, 1); i++ {
		text, err := explainText(ctx, conn, call, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			r.Error = "generic: " + err.Error()
			return r
		}
		e, _ := timings(text)
		gen = append(gen, e)
		r.GenericPlan = text
	}
	r.GenericExecMs = benchkit.Summarize(gen).P50
	r.GenericTop = summary(r.GenericPlan)
	return r
}

func explainText(ctx context.Context, conn *sql.Conn, q string, args ...any) (string, error) {
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String(), rows.Err()
}

// timings reads "Execution Time: x ms" and "Planning Time: y ms".
func timings(plan string) (exec, planning time.Duration) {
	for _, line := range strings.Split(plan, "\n") {
		line = strings.TrimSpace(line)
		var ms float64
		if _, err := fmt.Sscanf(line, "Execution Time: %f ms", &ms); err == nil {
			exec = time.Duration(ms * float64(time.Millisecond))
		}
		if _, err := fmt.Sscanf(line, "Planning Time: %f ms", &ms); err == nil {
			planning = time.Duration(ms * float64(time.Millisecond))
		}
	}
	return exec, planning
}

// summary is the top plan node, its buffers, and the timing lines.
func summary(plan string) []string {
	lines := strings.Split(strings.TrimRight(plan, "\n"), "\n")
	var out []string
	buffers := false
	for i, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case i == 0:
			out = append(out, t)
		case i <= 3 && !buffers && strings.HasPrefix(t, "Buffers:"):
			buffers = true
			out = append(out, t)
		case strings.HasPrefix(t, "Planning Time:"), strings.HasPrefix(t, "Execution Time:"):
			out = append(out, t)
		}
	}
	return out
}

// literal writes an argument as an SQL literal for EXECUTE.
func literal(a any) string {
	if v, ok := a.(driver.Valuer); ok {
		if x, err := v.Value(); err == nil {
			a = x
		}
	}
	switch v := a.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return "'" + v.UTC().Format(time.RFC3339Nano) + "'"
	case []byte:
		return quote(string(v))
	}
	rv := reflect.ValueOf(a)
	switch rv.Kind() {
	case reflect.String:
		return quote(rv.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprint(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return fmt.Sprint(rv.Float())
	case reflect.Bool:
		return fmt.Sprint(rv.Bool())
	case reflect.Pointer:
		if rv.IsNil() {
			return "NULL"
		}
		return literal(rv.Elem().Interface())
	}
	return quote(fmt.Sprint(a))
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
