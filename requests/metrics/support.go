package metrics

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
	"gorm.io/gorm"

	"github.com/keycare/keycare"
)

// A report is read in three statements, each aggregating in the database:
//
//   - load: per group, the requests measured, their touches, CSAT and QA
//     (sums and counts, which Go adds up for the total);
//   - group clocks: per group and clock kind, the stopped clocks' count and
//     percentiles and the decided and met clocks (only when grouping);
//   - total clocks: the same over every group, since percentiles do not add up.
//
// A grouped report on PostgreSQL runs them on two connections at once, in
// transactions that share one exported snapshot, so every number still comes
// from one snapshot: the group clocks on one, the load and the total clocks
// on the other (the two halves take about as long). An ungrouped report,
// whose two statements are short, and every report on SQLite run them one
// after the other in one transaction: exporting the snapshot costs more than
// running the two at once saves.
//
// Shaped for speed on PostgreSQL, where a 30-day report over a portfolio the
// size of the benchmark's reads about 8,000 requests and 25,000 clocks
// (BenchmarkSupport; the figures below are from it and from pgbench on the
// load tool's data):
//
//   - Requests carry their QA scores' sum and count, and clocks carry their
//     request's opening time, account and owner (the requests store keeps
//     both), so each statement reads one table, by a covering index, with
//     no join.
//   - Each kind of clock has its own covering index (a partial index per
//     kind), and the clock statements take the kinds one by one: nothing
//     sorts, groups or filters by kind. The total clocks went from 17 to
//     8 ms; one aggregate per kind with FILTER over one scan of every clock
//     evaluated each filter for every row.
//   - Groups are hashed, never sorted: a group's clocks are collected into
//     an array and sorted on their own for its percentiles. A GROUP BY with
//     percentile_cont sorted every clock by group and then again within its
//     group, which cost a third more.
//   - A day is grouped as a date and formatted only once per group.
//   - Running the group clocks beside the rest took a 30-day report by
//     manager from 35 to 21 ms.
//
// Named parameters (gorm's syntax) must each be followed by a space, a
// newline, a comma or a closing parenthesis, and the text must hold no
// question mark or at sign elsewhere, comments included: gorm would take
// them for parameters. TestSupportSQLParameters checks this.

// loadSQL is the load statement: one row per group ({{key}}, the group key
// of requests r; empty when not grouping), with its name.
const loadSQL = `
SELECT {{key_text}} AS group_key, {{name}} AS name,
       g.requests, g.touches, g.csat, g.csat_count, g.qa_score, g.qa_reviews
FROM (
    SELECT {{key}} AS k,
           COUNT(*) AS requests,
           SUM(r.touches) AS touches,
           SUM(r.csat) AS csat,
           COUNT(r.csat) AS csat_count,
           SUM(r.qa_score_sum) AS qa_score,
           SUM(r.qa_reviews) AS qa_reviews
    FROM requests r
    WHERE r.opened_at >= @from
      AND r.opened_at < @to
      AND r.merged_into_id IS NULL
      {{owner}}
    GROUP BY 1
) g
{{name_join}}
`

// decided and met are whether a clock c is decided (it has a target and
// either stopped or breached while running) and whether it met its target
// (decided and not breached), as 1 or 0.
const (
	decided = `CASE WHEN c.target_seconds IS NOT NULL AND (c.stopped_at IS NOT NULL OR c.breached) THEN 1 ELSE 0 END`
	met     = `CASE WHEN c.target_seconds IS NOT NULL AND c.stopped_at IS NOT NULL AND NOT c.breached THEN 1 ELSE 0 END`
)

// measuredClocks selects the clocks of the requests measured: the requests
// store copies each request's opening time, account and owner onto its
// clocks and keeps none for merged requests, so the clocks select and group
// exactly as their requests do.
const measuredClocks = `request_clocks c
    WHERE c.opened_at >= @from
      AND c.opened_at < @to
      {{owner}}`

// kinds are the clock kinds, in the order the PostgreSQL statements take
// them one by one.
var kinds = []string{"first_response", "follow_up", "resolution"}

// groupClocksPostgres is the group clocks statement on PostgreSQL for one
// kind of clock ({{kind}}; the statement is a UNION ALL of the three): one
// row per group. Each kind's clocks are read from an index of their own
// (request_clocks_first_response and so on), so nothing sorts or groups by
// kind.
const groupClocksPostgres = `
SELECT {{key_text}} AS group_key, '{{kind}}' AS clock, g.n, g.decided, g.met, p.pct[1] AS p50, p.pct[2] AS p90
FROM (
    SELECT {{key}} AS k,
           COUNT(c.elapsed_seconds) AS n,
           SUM(` + decided + `) AS decided,
           SUM(` + met + `) AS met,
           array_agg(c.elapsed_seconds) FILTER (WHERE c.elapsed_seconds IS NOT NULL) AS elapsed
    FROM ` + measuredClocks + `
      AND c.clock = '{{kind}}'
    GROUP BY 1
) g
CROSS JOIN LATERAL (
    SELECT percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY e) AS pct
    FROM unnest(g.elapsed) e
) p
`

// totalClocksPostgres is the total clocks statement on PostgreSQL for one
// kind of clock, as groupClocksPostgres: one row.
const totalClocksPostgres = `
SELECT '' AS group_key, '{{kind}}' AS clock, t.n, t.decided, t.met, t.pct[1] AS p50, t.pct[2] AS p90
FROM (
    SELECT COUNT(c.elapsed_seconds) AS n,
           COALESCE(SUM(` + decided + `), 0) AS decided,
           COALESCE(SUM(` + met + `), 0) AS met,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY c.elapsed_seconds) AS pct
    FROM ` + measuredClocks + `
      AND c.clock = '{{kind}}'
) t
`

// perKind is a UNION ALL of text for each kind of clock.
func perKind(text string) string {
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = strings.ReplaceAll(text, "{{kind}}", k)
	}
	return strings.Join(parts, "UNION ALL")
}

// groupClocksSQLite is the clocks statement on SQLite, which has no
// percentile_cont: the same numbers from window functions. Each stopped
// clock is numbered 1..n in order of elapsed time within its group and kind;
// then each percentile reads the rows it falls between. The total clocks
// statement is the same with every clock in one group, the empty key.
//
// percentile_cont(p) over n sorted values v[0..n-1] is v[k] + f*(v[k+1]-v[k])
// with k = floor(p*(n-1)) and f = p*(n-1) - k; for p = 0.5 and 0.9 that is
// exact in integer arithmetic: k = (n-1)/2 and 9*(n-1)/10 (integer division),
// f = ((n-1)%2)/2 and (9*(n-1)%10)/10. Row numbers are 1-based, so v[k] is
// row k+1; v[k+1] may not exist when f is 0, where it is not needed.
const groupClocksSQLite = `
WITH clocks AS (
    SELECT {{key}} AS k, c.clock, c.elapsed_seconds AS elapsed,
           ` + decided + ` AS decided,
           ` + met + ` AS met
    FROM ` + measuredClocks + `
),
counts AS (
    SELECT k, clock, COUNT(elapsed) AS n, SUM(decided) AS decided, SUM(met) AS met
    FROM clocks
    GROUP BY k, clock
),
ranked AS (
    SELECT k, clock, elapsed,
           ROW_NUMBER() OVER (PARTITION BY k, clock ORDER BY elapsed) AS rn,
           COUNT(*) OVER (PARTITION BY k, clock) AS n
    FROM clocks
    WHERE elapsed IS NOT NULL
),
points AS (
    SELECT k, clock,
           MAX(CASE WHEN rn = (n - 1) / 2 + 1 THEN elapsed END) AS p50_lo,
           MAX(CASE WHEN rn = (n - 1) / 2 + 2 THEN elapsed END) AS p50_hi,
           MAX(CASE WHEN rn = 9 * (n - 1) / 10 + 1 THEN elapsed END) AS p90_lo,
           MAX(CASE WHEN rn = 9 * (n - 1) / 10 + 2 THEN elapsed END) AS p90_hi
    FROM ranked
    GROUP BY k, clock
)
SELECT {{key_text}} AS group_key, g.clock, g.n, g.decided, g.met,
       t.p50_lo + (g.n - 1) % 2 / 2.0 * COALESCE(t.p50_hi - t.p50_lo, 0) AS p50,
       t.p90_lo + 9 * (g.n - 1) % 10 / 10.0 * COALESCE(t.p90_hi - t.p90_lo, 0) AS p90
FROM counts g
LEFT JOIN points t ON t.k = g.k AND t.clock = g.clock
`

// keys are the group key of a request (alias r) or a clock (alias c) per
// dialect and GroupBy, and keyText the key as the report shows it, from the
// grouped column g.k: a day is grouped as a date on PostgreSQL, which is
// cheaper than formatting every row, and formatted once per group.
var keys = map[string]map[string]string{
	"postgres": {
		GroupNone:    `''`,
		GroupManager: `COALESCE(X.owner_id, '')`,
		GroupAccount: `X.account_id`,
		GroupDay:     `(X.opened_at AT TIME ZONE 'UTC')::date`,
	},
	"sqlite": {
		GroupNone:    `''`,
		GroupManager: `COALESCE(X.owner_id, '')`,
		GroupAccount: `X.account_id`,
		// SQLite stores times as text with their offset ("2026-03-01
		// 21:30:00+00:00"); its date functions convert them to UTC.
		GroupDay: `strftime('%Y-%m-%d', X.opened_at)`,
	},
}

func keyText(dialect, groupBy string) string {
	if dialect == "postgres" && groupBy == GroupDay {
		return `to_char(g.k, 'YYYY-MM-DD')`
	}
	return `g.k`
}

// names are each GroupBy's group name and the join it needs.
var names = map[string][2]string{
	GroupNone:    {`''`, ``},
	GroupManager: {`COALESCE(u.name, '')`, `LEFT JOIN users u ON u.id = g.k`},
	GroupAccount: {`COALESCE(a.name, '')`, `LEFT JOIN accounts a ON a.id = g.k`},
	GroupDay:     {`{{key_text}}`, ``},
}

// Statement is one statement of a report as Support sends it, for tools
// that EXPLAIN it.
type Statement struct {
	Name string // "load", "group clocks" or "total clocks"
	SQL  string
	Args []any
}

// texts are the SQL texts of q's statements on dialect, by name: load, total
// clocks and, when q groups, group clocks.
func texts(dialect string, q Query) (map[string]string, error) {
	if _, ok := keys[dialect]; !ok {
		return nil, fmt.Errorf("metrics: unsupported database %q", dialect)
	}
	fill := func(text, alias, groupBy string) string {
		owner := ""
		if q.OwnerID != "" {
			owner = "AND " + alias + ".owner_id = @owner_id "
		}
		text = strings.ReplaceAll(text, "{{name}}", names[groupBy][0]) // which may hold {{key_text}}
		return strings.NewReplacer(
			"{{key}}", strings.ReplaceAll(keys[dialect][groupBy], "X.", alias+"."),
			"{{key_text}}", keyText(dialect, groupBy),
			"{{name_join}}", names[groupBy][1],
			"{{owner}}", owner,
		).Replace(text)
	}
	group, total := groupClocksSQLite, groupClocksSQLite
	if dialect == "postgres" {
		group, total = perKind(groupClocksPostgres), perKind(totalClocksPostgres)
	}
	out := map[string]string{
		"load":         fill(loadSQL, "r", q.GroupBy),
		"total clocks": fill(total, "c", GroupNone),
	}
	if q.GroupBy != GroupNone {
		out["group clocks"] = fill(group, "c", q.GroupBy)
	}
	return out, nil
}

// Statements are the statements Support sends for q, with their arguments.
func Statements(db *gorm.DB, q Query) ([]Statement, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	dialect := db.Dialector.Name()
	byName, err := texts(dialect, q)
	if err != nil {
		return nil, err
	}
	var out []Statement
	for _, name := range []string{"load", "group clocks", "total clocks"} {
		text, ok := byName[name]
		if !ok {
			continue
		}
		// Raw builds the SQL and its arguments (gorm's named parameters
		// become the dialect's placeholders); it runs nothing.
		stmt := db.Session(&gorm.Session{NewDB: true}).Raw(text, map[string]any{
			"from":     q.From.UTC(),
			"to":       q.To.UTC(),
			"owner_id": q.OwnerID,
		}).Statement
		if stmt.Error != nil {
			return nil, stmt.Error
		}
		args := stmt.Vars
		if dialect == "postgres" {
			// Sent as an unnamed statement, planned for each call's own
			// bounds: pgx otherwise prepares and caches it, and after five
			// runs PostgreSQL may switch to a generic plan made without the
			// period's bounds, which guesses a handful of rows.
			args = append([]any{pgx.QueryExecModeCacheDescribe}, args...)
		}
		out = append(out, Statement{Name: name, SQL: stmt.SQL.String(), Args: args})
	}
	return out, nil
}

// Support computes the support metrics of the requests q selects: in total,
// and per group when q.GroupBy is set. Groups are the managers, accounts or
// days that have at least one measured request. Averages, percentiles and
// percentages are rounded to 2 decimals.
//
// It reads through db's connection pool, never through a transaction db
// may be in: call it with the database's handle.
//
// The times compared are q's bounds in UTC: SQLite compares times as text,
// which orders correctly only when both sides are written in the same zone,
// and Keycare writes UTC.
func Support(ctx context.Context, db *gorm.DB, q Query) (*Report, error) {
	stmts, err := Statements(db, q)
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	var res results
	read := map[string]func(*sql.Rows) error{
		"load":         func(rows *sql.Rows) error { return scanAll(rows, &res.load, scanLoad) },
		"group clocks": func(rows *sql.Rows) error { return scanAll(rows, &res.groups, scanClocks) },
		"total clocks": func(rows *sql.Rows) error { return scanAll(rows, &res.totals, scanClocks) },
	}
	runOne := func(ctx context.Context, tx *sql.Tx, s Statement) error {
		begin := time.Now()
		rows, err := tx.QueryContext(ctx, s.SQL, s.Args...)
		if err == nil {
			err = read[s.Name](rows)
		}
		db.Logger.Trace(ctx, begin, func() (string, int64) { return s.SQL, -1 }, err)
		if err != nil {
			return fmt.Errorf("metrics: support %s: %w", s.Name, err)
		}
		return nil
	}
	if db.Dialector.Name() == "postgres" && q.GroupBy != GroupNone && parallel.TryAcquire(1) {
		defer parallel.Release(1)
		err = runParallel(ctx, sqlDB, lanes(stmts), runOne)
	} else {
		err = runSerial(ctx, sqlDB, db.Dialector.Name(), stmts, runOne)
	}
	if err != nil {
		return nil, err
	}
	return res.report(q), nil
}

// parallel bounds the reports running on two connections at once. Each
// holds its first connection while it waits for the second, so without a
// bound enough simultaneous reports could hold the whole pool and wait on
// each other; past the bound a report runs on one connection instead.
var parallel = semaphore.NewWeighted(parallelReports)

const parallelReports = 4

// lanes splits a grouped report's statements between two connections so
// that both take about as long: the group clocks alone, the rest together.
func lanes(stmts []Statement) [2][]Statement {
	var out [2][]Statement
	for _, s := range stmts {
		if s.Name == "group clocks" {
			out[0] = append(out[0], s)
		} else {
			out[1] = append(out[1], s)
		}
	}
	return out
}

// runParallel runs two lanes of statements at once, each in a transaction
// of its own, both on the snapshot the first one exports.
func runParallel(ctx context.Context, db *sql.DB, lanes [2][]Statement, run func(context.Context, *sql.Tx, Statement) error) error {
	first, err := beginPostgres(ctx, db, "")
	if err != nil {
		return err
	}
	defer first.Rollback() //nolint:errcheck // read-only: nothing to keep
	var snapshot string
	if err := first.QueryRowContext(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
		return fmt.Errorf("metrics: export snapshot: %w", err)
	}
	second, err := beginPostgres(ctx, db, snapshot)
	if err != nil {
		return err
	}
	defer second.Rollback() //nolint:errcheck // read-only: nothing to keep
	g, gctx := errgroup.WithContext(ctx)
	for i, tx := range []*sql.Tx{first, second} {
		g.Go(func() error {
			for _, s := range lanes[i] {
				if err := run(gctx, tx, s); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// runSerial runs the statements one after the other in one transaction.
func runSerial(ctx context.Context, db *sql.DB, dialect string, stmts []Statement, run func(context.Context, *sql.Tx, Statement) error) error {
	var tx *sql.Tx
	var err error
	if dialect == "postgres" {
		tx, err = beginPostgres(ctx, db, "")
	} else {
		// A SQLite transaction reads one snapshot; read-only, it begins
		// deferred, taking no write lock (the DSN makes others immediate).
		tx, err = db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	}
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	for _, s := range stmts {
		if err := run(ctx, tx, s); err != nil {
			return err
		}
	}
	return nil
}

// beginPostgres starts a read-only repeatable-read transaction, on snapshot
// when it is set, so that every statement reads one snapshot.
//
// It also runs no parallel workers. Given the three per-kind aggregates of
// the total clocks, PostgreSQL plans a Parallel Append over two workers;
// starting them took about 30 ms on the benchmark's 2 cores, against about
// 4 ms for each aggregate.
func beginPostgres(ctx context.Context, db *sql.DB, snapshot string) (*sql.Tx, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	if snapshot != "" {
		// The snapshot id is PostgreSQL's own text (hex digits and dashes),
		// and SET takes no parameters.
		if _, err := tx.ExecContext(ctx, "SET TRANSACTION SNAPSHOT '"+snapshot+"'"); err != nil {
			_ = tx.Rollback()
			return nil, fmt.Errorf("metrics: import snapshot: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL max_parallel_workers_per_gather = 0"); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// loadRow is a row of the load statement.
type loadRow struct {
	key, name                                 string
	requests, touches, csatCount, qa, reviews int64
	csat                                      sql.NullInt64
}

// clockRow is a row of a clocks statement: one kind of clock of one group.
type clockRow struct {
	key, clock      string
	n, decided, met int64
	p50, p90        sql.NullFloat64
}

func scanLoad(rows *sql.Rows) (r loadRow, err error) {
	err = rows.Scan(&r.key, &r.name, &r.requests, &r.touches, &r.csat, &r.csatCount, &r.qa, &r.reviews)
	return r, err
}

func scanClocks(rows *sql.Rows) (r clockRow, err error) {
	err = rows.Scan(&r.key, &r.clock, &r.n, &r.decided, &r.met, &r.p50, &r.p90)
	return r, err
}

func scanAll[T any](rows *sql.Rows, into *[]T, scan func(*sql.Rows) (T, error)) error {
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		*into = append(*into, v)
	}
	return rows.Err()
}

// results are the rows of a report's statements.
type results struct {
	load           []loadRow
	groups, totals []clockRow
}

// report puts the rows together: a group per load row, with its clocks; the
// total adds up the groups' counts and sums and takes the total clocks.
func (res *results) report(q Query) *Report {
	report := &Report{From: q.From, To: q.To, GroupBy: q.GroupBy, Groups: []Row{}}
	var sum loadRow
	for _, l := range res.load {
		sum.requests += l.requests
		sum.touches += l.touches
		sum.csat.Int64 += l.csat.Int64
		sum.csatCount += l.csatCount
		sum.qa += l.qa
		sum.reviews += l.reviews
	}
	sum.csat.Valid = sum.csatCount > 0
	report.Total = row(sum, res.totals)
	if q.GroupBy == GroupNone {
		return report
	}
	clocks := make(map[string][]clockRow, len(res.load))
	for _, c := range res.groups {
		clocks[c.key] = append(clocks[c.key], c)
	}
	for _, l := range res.load {
		report.Groups = append(report.Groups, row(l, clocks[l.key]))
	}
	// Sorted here, byte-wise, rather than by ORDER BY, whose text order
	// follows PostgreSQL's collation and would differ from SQLite's.
	sort.Slice(report.Groups, func(i, j int) bool { return report.Groups[i].Key < report.Groups[j].Key })
	return report
}

// row is the metrics of one group (or the total) from its load and clocks.
func row(l loadRow, clocks []clockRow) Row {
	r := Row{Key: l.key, Name: l.name, Requests: int(l.requests), CSATCount: int(l.csatCount), QACount: int(l.reviews)}
	if l.requests > 0 {
		r.TouchesPerRequest = rounded(float64(l.touches) / float64(l.requests))
	}
	if l.csatCount > 0 {
		r.CSAT = rounded(float64(l.csat.Int64) / float64(l.csatCount))
	}
	if l.reviews > 0 {
		r.QA = rounded(float64(l.qa) / float64(l.reviews))
	}
	var decided, met int64
	for _, c := range clocks {
		d := Durations{Count: int(c.n), P50: roundedNull(c.p50), P90: roundedNull(c.p90), SLACompliance: percent(c.met, c.decided)}
		switch c.clock {
		case "first_response":
			r.FirstResponse = d
		case "follow_up":
			r.FollowUp = d
		case "resolution":
			r.Resolution = d
		}
		decided += c.decided
		met += c.met
	}
	r.SLACompliance = percent(met, decided)
	return r
}

func (q Query) validate() error {
	var v keycare.Validation
	switch q.GroupBy {
	case GroupNone, GroupManager, GroupAccount, GroupDay:
	default:
		v.Add("group_by", "must be one of manager, account, day")
	}
	v.Check(!q.From.IsZero(), "from", "is required")
	v.Check(!q.To.IsZero(), "to", "is required")
	v.Check(q.From.IsZero() || q.To.IsZero() || q.From.Before(q.To), "to", "must be after from")
	return v.Err()
}

// percent is 100 × part / whole rounded to 2 decimals, or nil when whole is 0.
func percent(part, whole int64) *float64 {
	if whole == 0 {
		return nil
	}
	return rounded(100 * float64(part) / float64(whole))
}

// rounded is v rounded to 2 decimals.
func rounded(v float64) *float64 {
	r := math.Round(v*100) / 100
	return &r
}

// roundedNull is v rounded to 2 decimals, or nil when v is NULL.
func roundedNull(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	return rounded(v.Float64)
}
