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
	"gorm.io/gorm"

	"github.com/keycare/keycare"
)

// supportSQL computes every metric of a report in one statement: one result
// row per group, and one for the total (group_no 0). Both databases run the
// same text but for two placeholders: {{utc_day}}, the UTC day of a
// timestamp (see utcDay), and {{clock_stats}}, the clock percentiles (see
// clockStatsPostgres and clockStatsSQLite), which SQLite has no
// percentile_cont for.
//
// Shaped for speed, since PostgreSQL sorts on several columns, text above
// all, cost several times a sort on one integer:
//
//   - Groups are numbered once (group_no 1, 2, ... in key order, sorting only
//     the distinct keys) and carried as integers from then on. Without a
//     GroupBy every request is in group 0, which is then the total itself.
//   - A clock's group and kind travel as one integer, part = group_no * 4 +
//     kind (1 first_response, 2 follow_up, 3 resolution).
//   - Counts and sums are taken per group and added up for the total rather
//     than counting every row twice. PostgreSQL's SUM of a bigint is a
//     numeric, hence the casts back to bigint.
//   - Clocks carry their request's opening time, account and owner (the
//     requests store copies them), so they are read from request_clocks
//     alone, by the covering index request_clocks_opened: no join with
//     requests, which was most of the cost.
//
// Named parameters (gorm's syntax) must each be followed by a space, a
// newline, a comma or a closing parenthesis, and the text must hold no
// question mark or at sign elsewhere, comments included: gorm would take
// them for parameters. TestSupportSQLParameters checks this.
const supportSQL = `
WITH selected AS (
    -- The requests measured, each with the key of its group.
    SELECT r.id, r.touches, r.csat,
           CASE @group_by
               WHEN 'manager' THEN COALESCE(r.owner_id, '')
               WHEN 'account' THEN r.account_id
               WHEN 'day' THEN {{utc_day}}
               ELSE ''
           END AS group_key
    FROM requests r
    WHERE r.opened_at >= @from
      AND r.opened_at < @to
      AND r.merged_into_id IS NULL
      AND (@owner_id = '' OR r.owner_id = @owner_id)
),
groups AS MATERIALIZED (
    -- Numbered from the distinct keys: sorting only those is cheap.
    SELECT group_key, ROW_NUMBER() OVER (ORDER BY group_key) AS group_no
    FROM (SELECT DISTINCT group_key FROM selected WHERE @group_by <> '') keys
),
numbered AS MATERIALIZED (
    SELECT s.id, s.touches, s.csat, COALESCE(g.group_no, 0) AS group_no
    FROM selected s
    LEFT JOIN groups g ON g.group_key = s.group_key
),
group_load AS (
    SELECT group_no,
           COUNT(*) AS requests,
           SUM(touches) AS touches,
           SUM(csat) AS csat,
           COUNT(csat) AS csat_count
    FROM numbered
    GROUP BY group_no
),
load AS (
    SELECT group_no, requests, touches, csat, csat_count FROM group_load
    UNION ALL
    SELECT 0, CAST(SUM(requests) AS bigint), CAST(SUM(touches) AS bigint),
           CAST(SUM(csat) AS bigint), CAST(SUM(csat_count) AS bigint)
    FROM group_load
    WHERE @group_by <> ''
    HAVING COUNT(*) > 0
),
group_qa AS (
    -- Every review of every measured request.
    SELECT n.group_no, SUM(q.score) AS score, COUNT(*) AS reviews
    FROM numbered n
    JOIN request_qa q ON q.request_id = n.id
    GROUP BY n.group_no
),
qa AS (
    SELECT group_no, score, reviews FROM group_qa
    UNION ALL
    SELECT 0, CAST(SUM(score) AS bigint), CAST(SUM(reviews) AS bigint)
    FROM group_qa
    WHERE @group_by <> ''
    HAVING COUNT(*) > 0
),
clocks AS MATERIALIZED (
    -- Every clock of every measured request, read from request_clocks
    -- alone: the requests store copies each request's opening time, account
    -- and owner onto its clocks and keeps none for merged requests, so the
    -- clocks select and group exactly as their requests do, with no join.
    SELECT {{clock_group_no}} * 4 + CASE c.clock
                                            WHEN 'first_response' THEN 1
                                            WHEN 'follow_up' THEN 2
                                            ELSE 3
                                        END AS part,
           c.elapsed_seconds AS elapsed,
           -- Decided: it has a target and either stopped or breached while running.
           CASE WHEN c.target_seconds IS NOT NULL AND (c.stopped_at IS NOT NULL OR c.breached)
                THEN 1 ELSE 0 END AS decided,
           -- Met: decided and not breached.
           CASE WHEN c.target_seconds IS NOT NULL AND c.stopped_at IS NOT NULL AND NOT c.breached
                THEN 1 ELSE 0 END AS met
    FROM request_clocks c
    {{clock_group_join}}
    WHERE c.opened_at >= @from
      AND c.opened_at < @to
      AND (@owner_id = '' OR c.owner_id = @owner_id)
),
{{clock_stats}}
SELECT l.group_no,
       COALESCE(g.group_key, '') AS group_key,
       CASE WHEN l.group_no = 0 THEN ''
            WHEN @group_by = 'manager' THEN COALESCE(u.name, '')
            WHEN @group_by = 'account' THEN COALESCE(a.name, '')
            ELSE g.group_key
       END AS name,
       l.requests,
       CAST(l.touches AS double precision) / l.requests AS touches_per_request,
       CAST(l.csat AS double precision) / NULLIF(l.csat_count, 0) AS csat,
       l.csat_count,
       CAST(q.score AS double precision) / q.reviews AS qa,
       COALESCE(q.reviews, 0) AS qa_count,
       COALESCE(fr.n, 0), fr.p50, fr.p90, COALESCE(fr.decided, 0), COALESCE(fr.met, 0),
       COALESCE(fu.n, 0), fu.p50, fu.p90, COALESCE(fu.decided, 0), COALESCE(fu.met, 0),
       COALESCE(rs.n, 0), rs.p50, rs.p90, COALESCE(rs.decided, 0), COALESCE(rs.met, 0)
FROM load l
LEFT JOIN groups g ON g.group_no = l.group_no
LEFT JOIN qa q ON q.group_no = l.group_no
LEFT JOIN clock_stats fr ON fr.group_no = l.group_no AND fr.clock = 1
LEFT JOIN clock_stats fu ON fu.group_no = l.group_no AND fu.clock = 2
LEFT JOIN clock_stats rs ON rs.group_no = l.group_no AND rs.clock = 3
LEFT JOIN users u ON @group_by = 'manager' AND u.id = g.group_key
LEFT JOIN accounts a ON @group_by = 'account' AND a.id = g.group_key
`

// clockStatsPostgres is {{clock_stats}} on PostgreSQL: percentile_cont.
// The total needs no second sort of every clock: FILTER gives each kind its
// own aggregate in one pass.
const clockStatsPostgres = `
clock_stats AS (
    -- Per group and kind; then, when grouping, per kind over all groups in
    -- one pass (FILTER), unpivoted to one row per kind.
    SELECT part / 4 AS group_no, part % 4 AS clock,
           COUNT(elapsed) AS n,
           SUM(decided) AS decided,
           SUM(met) AS met,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY elapsed) AS p50,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY elapsed) AS p90
    FROM clocks
    GROUP BY part
    UNION ALL
    SELECT 0, kind.*
    FROM (
        SELECT COUNT(elapsed) FILTER (WHERE part % 4 = 1) AS fr_n,
               SUM(decided) FILTER (WHERE part % 4 = 1) AS fr_decided,
               SUM(met) FILTER (WHERE part % 4 = 1) AS fr_met,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY elapsed) FILTER (WHERE part % 4 = 1) AS fr_p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY elapsed) FILTER (WHERE part % 4 = 1) AS fr_p90,
               COUNT(elapsed) FILTER (WHERE part % 4 = 2) AS fu_n,
               SUM(decided) FILTER (WHERE part % 4 = 2) AS fu_decided,
               SUM(met) FILTER (WHERE part % 4 = 2) AS fu_met,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY elapsed) FILTER (WHERE part % 4 = 2) AS fu_p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY elapsed) FILTER (WHERE part % 4 = 2) AS fu_p90,
               COUNT(elapsed) FILTER (WHERE part % 4 = 3) AS rs_n,
               SUM(decided) FILTER (WHERE part % 4 = 3) AS rs_decided,
               SUM(met) FILTER (WHERE part % 4 = 3) AS rs_met,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY elapsed) FILTER (WHERE part % 4 = 3) AS rs_p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY elapsed) FILTER (WHERE part % 4 = 3) AS rs_p90
        FROM clocks
        WHERE @group_by <> ''
    ) total
    CROSS JOIN LATERAL (VALUES
        (1, fr_n, fr_decided, fr_met, fr_p50, fr_p90),
        (2, fu_n, fu_decided, fu_met, fu_p50, fu_p90),
        (3, rs_n, rs_decided, rs_met, rs_p50, rs_p90)
    ) kind
    WHERE @group_by <> ''
)
`

// clockStatsSQLite is {{clock_stats}} on SQLite, which has no
// percentile_cont: the same numbers from window functions. Each stopped
// clock is numbered 1..n in order of elapsed time within its part (and, when
// grouping, a second time within its kind alone, for the total); then each
// percentile reads the rows it falls between.
//
// percentile_cont(p) over n sorted values v[0..n-1] is v[k] + f*(v[k+1]-v[k])
// with k = floor(p*(n-1)) and f = p*(n-1) - k; for p = 0.5 and 0.9 that is
// exact in integer arithmetic: k = (n-1)/2 and 9*(n-1)/10 (integer division),
// f = ((n-1)%2)/2 and (9*(n-1)%10)/10. Row numbers are 1-based, so v[k] is
// row k+1; v[k+1] may not exist when f is 0, where it is not needed.
const clockStatsSQLite = `
group_parts AS (
    SELECT part, COUNT(elapsed) AS n, SUM(decided) AS decided, SUM(met) AS met
    FROM clocks
    GROUP BY part
),
parts AS (
    SELECT part, n, decided, met FROM group_parts
    UNION ALL
    SELECT part % 4, SUM(n), SUM(decided), SUM(met)
    FROM group_parts
    WHERE @group_by <> ''
    GROUP BY part % 4
),
ranked AS (
    SELECT part, elapsed,
           ROW_NUMBER() OVER (PARTITION BY part ORDER BY elapsed) AS rn,
           COUNT(*) OVER (PARTITION BY part) AS n
    FROM (
        SELECT part, elapsed FROM clocks WHERE elapsed IS NOT NULL
        UNION ALL
        SELECT part % 4, elapsed FROM clocks WHERE elapsed IS NOT NULL AND @group_by <> ''
    ) stopped
),
points AS (
    SELECT part,
           MAX(CASE WHEN rn = (n - 1) / 2 + 1 THEN elapsed END) AS p50_lo,
           MAX(CASE WHEN rn = (n - 1) / 2 + 2 THEN elapsed END) AS p50_hi,
           MAX(CASE WHEN rn = 9 * (n - 1) / 10 + 1 THEN elapsed END) AS p90_lo,
           MAX(CASE WHEN rn = 9 * (n - 1) / 10 + 2 THEN elapsed END) AS p90_hi
    FROM ranked
    GROUP BY part
),
clock_stats AS (
    SELECT p.part / 4 AS group_no, p.part % 4 AS clock, p.n, p.decided, p.met,
           t.p50_lo + (p.n - 1) % 2 / 2.0 * COALESCE(t.p50_hi - t.p50_lo, 0) AS p50,
           t.p90_lo + 9 * (p.n - 1) % 10 / 10.0 * COALESCE(t.p90_hi - t.p90_lo, 0) AS p90
    FROM parts p
    LEFT JOIN points t ON t.part = p.part
)
`

// utcDay is the UTC calendar day (YYYY-MM-DD) of r.opened_at per dialect.
// SQLite stores times as text with their offset ("2026-03-01 21:30:00+00:00")
// and its date functions convert them to UTC.
var utcDay = map[string]string{
	"postgres": `to_char(r.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
	"sqlite":   `strftime('%Y-%m-%d', r.opened_at)`,
}

// clockGroupJoin gives each clock its group when grouping. Without a
// GroupBy it is left out (every clock is in group 0): joining every clock to
// the empty groups table cost about a third of an ungrouped report.
const clockGroupJoin = `LEFT JOIN groups g ON g.group_key = CASE @group_by
                                            WHEN 'manager' THEN COALESCE(c.owner_id, '')
                                            WHEN 'account' THEN c.account_id
                                            WHEN 'day' THEN {{utc_day_c}}
                                            ELSE ''
                                        END`

// supportSQLFor is supportSQL per dialect and whether it groups, built once.
var supportSQLFor = map[string]map[bool]string{
	"postgres": {false: buildSQL("postgres", false), true: buildSQL("postgres", true)},
	"sqlite":   {false: buildSQL("sqlite", false), true: buildSQL("sqlite", true)},
}

func buildSQL(dialect string, grouped bool) string {
	stats := map[string]string{"postgres": clockStatsPostgres, "sqlite": clockStatsSQLite}[dialect]
	groupNo, join := "0", ""
	if grouped {
		groupNo, join = "COALESCE(g.group_no, 0)", clockGroupJoin
	}
	return strings.NewReplacer(
		"{{clock_group_no}}", groupNo,
		"{{clock_group_join}}", strings.ReplaceAll(join, "{{utc_day_c}}", strings.ReplaceAll(utcDay[dialect], "r.", "c.")),
		"{{utc_day}}", utcDay[dialect],
		"{{clock_stats}}", stats,
	).Replace(supportSQL)
}

// Support computes the support metrics of the requests q selects: in total,
// and per group when q.GroupBy is set. Groups are the managers, accounts or
// days that have at least one measured request. Averages, percentiles and
// percentages are rounded to 2 decimals.
//
// It reads in one statement, so every number comes from one snapshot. The
// times compared are q's bounds in UTC: SQLite compares times as text, which
// orders correctly only when both sides are written in the same zone, and
// Keycare writes UTC.
func Support(ctx context.Context, db *gorm.DB, q Query) (*Report, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	dialect := db.Dialector.Name()
	text, ok := supportSQLFor[dialect][q.GroupBy != ""]
	if !ok {
		return nil, fmt.Errorf("metrics: unsupported database %q", dialect)
	}
	stmt := db.WithContext(ctx).Raw(text, map[string]any{
		"from":     q.From.UTC(),
		"to":       q.To.UTC(),
		"group_by": q.GroupBy,
		"owner_id": q.OwnerID,
	}).Statement // builds the SQL and its arguments; runs nothing
	if stmt.Error != nil {
		return nil, stmt.Error
	}
	begin := time.Now()
	report, err := read(ctx, stmt, dialect, q)
	db.Logger.Trace(ctx, begin, func() (string, int64) { return stmt.SQL.String(), int64(len(report.Groups) + 1) }, err)
	if err != nil {
		return nil, fmt.Errorf("metrics: support: %w", err)
	}
	return report, nil
}

// read runs stmt and collects its rows. The statement goes to the database
// directly rather than through gorm, for one reason: on PostgreSQL it must
// run as an unnamed statement. pgx otherwise prepares and caches it, and
// after five runs PostgreSQL may switch to a generic plan made without the
// period's bounds, which guesses a handful of requests and picks nested
// loops that take twice as long for a month's worth. An unnamed statement
// is planned for each call's own bounds.
func read(ctx context.Context, stmt *gorm.Statement, dialect string, q Query) (*Report, error) {
	report := &Report{From: q.From, To: q.To, GroupBy: q.GroupBy, Groups: []Row{}}
	vars := stmt.Vars
	if dialect == "postgres" {
		vars = append([]any{pgx.QueryExecModeCacheDescribe}, vars...)
	}
	rows, err := stmt.ConnPool.QueryContext(ctx, stmt.SQL.String(), vars...)
	if err != nil {
		return report, err
	}
	defer rows.Close()
	for rows.Next() {
		groupNo, row, err := scanRow(rows)
		if err != nil {
			return report, err
		}
		if groupNo == 0 {
			report.Total = row
		} else {
			report.Groups = append(report.Groups, row)
		}
	}
	if err := rows.Err(); err != nil {
		return report, err
	}
	// Sorted here, byte-wise, rather than by ORDER BY, whose text order
	// follows PostgreSQL's collation and would differ from SQLite's.
	sort.Slice(report.Groups, func(i, j int) bool { return report.Groups[i].Key < report.Groups[j].Key })
	return report, nil
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

// clockCounts is one clock kind's columns of a result row.
type clockCounts struct {
	n, decided, met int64
	p50, p90        sql.NullFloat64
}

func scanRow(rows *sql.Rows) (groupNo int64, row Row, err error) {
	var (
		requests, csatCount, qaCount int64
		touches, csat, qa            sql.NullFloat64
		fr, fu, rs                   clockCounts
	)
	err = rows.Scan(&groupNo, &row.Key, &row.Name,
		&requests, &touches, &csat, &csatCount,
		&qa, &qaCount,
		&fr.n, &fr.p50, &fr.p90, &fr.decided, &fr.met,
		&fu.n, &fu.p50, &fu.p90, &fu.decided, &fu.met,
		&rs.n, &rs.p50, &rs.p90, &rs.decided, &rs.met,
	)
	if err != nil {
		return 0, Row{}, err
	}
	row.Requests = int(requests)
	row.TouchesPerRequest = rounded(touches)
	row.CSAT, row.CSATCount = rounded(csat), int(csatCount)
	row.QA, row.QACount = rounded(qa), int(qaCount)
	row.FirstResponse = fr.durations()
	row.FollowUp = fu.durations()
	row.Resolution = rs.durations()
	row.SLACompliance = percent(fr.met+fu.met+rs.met, fr.decided+fu.decided+rs.decided)
	return groupNo, row, nil
}

func (c clockCounts) durations() Durations {
	return Durations{
		Count:         int(c.n),
		P50:           rounded(c.p50),
		P90:           rounded(c.p90),
		SLACompliance: percent(c.met, c.decided),
	}
}

// percent is 100 × part / whole rounded to 2 decimals, or nil when whole is 0.
func percent(part, whole int64) *float64 {
	if whole == 0 {
		return nil
	}
	return rounded(sql.NullFloat64{Float64: 100 * float64(part) / float64(whole), Valid: true})
}

// rounded is v rounded to 2 decimals, or nil when v is NULL.
func rounded(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	r := math.Round(v.Float64*100) / 100
	return &r
}
