package metrics

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/testdb"
)

// loadEnd is where the benchmark's six months of requests end: the time
// written literally in seedLoadSQL and seedLoadSQLite.
var loadEnd = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)

// The benchmark's data: 50,000 requests opened every 314 s over the six
// months before loadEnd (≈ 8,250 in any 30 days), owned by 20 managers (one
// in 50 unowned), across 500 accounts, with ≈ 2.5 clocks each (first
// response and resolution always, a follow-up for half; one in ten without a
// target; one in ten of each kind still running, half of those breached),
// CSAT on 40 %, a QA review on 10 %, and every 53rd request merged into the
// next. Ids are UUID-shaped like Keycare's. Each attribute of request i is
// its own multiplicative hash of i modulo a prime, so they are not
// correlated, and both databases get the same data on every run.
var seedValues = strings.NewReplacer(
	"{account}", "(1 + i * 7919 % 1000003 % 500)",
	"{owner}", "(1 + i * 104729 % 1000003 % 20)",
	"{unowned}", "(i * 15485863 % 1000003 % 50 = 0)",
	"{touches}", "(i * 1299709 % 1000003 % 9)",
	"{rated}", "(i * 179424673 % 1000003 % 5 < 2)",
	"{csat}", "(1 + i * 32452843 % 1000003 % 5)",
	"{reviewed}", "(i * 67867967 % 1000003 % 10 = 0)",
	"{score}", "(1 + i * 49979693 % 1000003 % 5)",
	"{follow_up}", "(i * 86028121 % 1000003 % 2 = 0)",
	"{no_target}", "(i * 49979687 % 1000003 % 10 = 0)",
	"{elapsed}", "(1 + i * k.mul % 1000003 % k.spread)",
	"{running}", "(i * k.run % 1000003 % 10 = 0)",
	"{breached_running}", "(i * k.run % 1000003 % 20 = 0)",
	"{kinds}", `SELECT 'first_response' AS clock, 2750159 AS mul, 3600 AS spread, 900 AS target, 3367900 AS run
	            UNION ALL SELECT 'follow_up', 4256233, 7200, 1800, 7368787
	            UNION ALL SELECT 'resolution', 5800079, 172800, 86400, 9737333`,
)

// seedLoadSQL seeds PostgreSQL, in one transaction.
var seedLoadSQL = []string{
	`INSERT INTO users (id, name, email, role, created_at, updated_at)
	 SELECT md5('usr' || i)::uuid::text, 'Manager ' || i, 'm' || i || '@example.com', 'manager', now(), now()
	 FROM generate_series(1, 20) i`,
	`INSERT INTO accounts (id, name, slug, tier, status, timezone, currency, created_at, updated_at)
	 SELECT md5('acc' || i)::uuid::text, 'Account ' || i, 'acc-' || i, 'key', 'active', 'UTC', 'EUR', now(), now()
	 FROM generate_series(1, 500) i`,
	`CREATE TEMPORARY TABLE seed ON COMMIT DROP AS
	 SELECT i, md5('req' || i)::uuid::text AS id,
	        timestamptz '2026-07-01 00:00:00+00' - i * interval '314 seconds' AS opened_at
	 FROM generate_series(1::bigint, 50000) i`,
	`INSERT INTO requests (id, account_id, owner_id, channel, priority, category, status,
	                       opened_at, touches, csat, created_at, updated_at)
	 SELECT id, md5('acc' || {account})::uuid::text,
	        CASE WHEN NOT {unowned} THEN md5('usr' || {owner})::uuid::text END,
	        'telegram', 'normal', 'question', 'resolved',
	        opened_at, {touches}, CASE WHEN {rated} THEN {csat} END, opened_at, opened_at
	 FROM seed`,
	`UPDATE requests r SET merged_into_id = next.id
	 FROM seed s JOIN seed next ON next.i = s.i + 1
	 WHERE r.id = s.id AND s.i % 53 = 0`,
	`INSERT INTO request_clocks (request_id, clock, started_at, stopped_at, elapsed_seconds, target_seconds, breached)
	 SELECT id, clock, opened_at,
	        CASE WHEN NOT running THEN opened_at + elapsed * interval '1 second' END,
	        CASE WHEN NOT running THEN elapsed END,
	        target,
	        CASE WHEN running THEN breached_running ELSE elapsed > coalesce(target, elapsed) END
	 FROM (
	     SELECT s.id, s.opened_at, k.clock, {elapsed} AS elapsed,
	            CASE WHEN NOT {no_target} THEN k.target END AS target,
	            {running} AS running, {breached_running} AS breached_running
	     FROM seed s (i, id, opened_at)
	     CROSS JOIN ({kinds}) k
	     WHERE k.clock <> 'follow_up' OR {follow_up}
	 ) c`,
	`UPDATE request_clocks c SET opened_at = r.opened_at, account_id = r.account_id, owner_id = r.owner_id FROM requests r WHERE r.id = c.request_id`,
	`DELETE FROM request_clocks WHERE request_id IN (SELECT id FROM requests WHERE merged_into_id IS NOT NULL)`,
	`INSERT INTO request_qa (id, request_id, reviewer_id, score, created_at)
	 SELECT md5('qa' || i)::uuid::text, id, md5('usr1')::uuid::text, {score}, opened_at
	 FROM seed WHERE {reviewed}`,
	`UPDATE requests r SET qa_score_sum = q.score_sum, qa_reviews = q.reviews
	 FROM (SELECT request_id, SUM(score) AS score_sum, COUNT(*) AS reviews FROM request_qa GROUP BY request_id) q
	 WHERE q.request_id = r.id`,
}

// afterSeedSQL runs on PostgreSQL outside the seeding transaction.
var afterSeedSQL = []string{
	`VACUUM ANALYZE users, accounts, requests, request_clocks, request_qa`,
}

// seedLoadSQLite is seedLoadSQL for SQLite: the same data, times written as
// gorm writes them ("2026-06-30 23:54:46+00:00").
var seedLoadSQLite = []string{
	`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
	 INSERT INTO users (id, name, email, role, created_at, updated_at)
	 SELECT printf('%08x-0000-7000-8001-%012d', i * 2654435761 % 4294967296, i),
	        'Manager ' || i, 'm' || i || '@example.com', 'manager',
	        '2026-07-01 00:00:00+00:00', '2026-07-01 00:00:00+00:00'
	 FROM n`,
	`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
	 INSERT INTO accounts (id, name, slug, tier, status, timezone, currency, created_at, updated_at)
	 SELECT printf('%08x-0000-7000-8002-%012d', i * 2654435761 % 4294967296, i),
	        'Account ' || i, 'acc-' || i, 'key', 'active', 'UTC', 'EUR',
	        '2026-07-01 00:00:00+00:00', '2026-07-01 00:00:00+00:00'
	 FROM n`,
	`CREATE TEMPORARY TABLE seed AS
	 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
	 SELECT i, printf('%08x-0000-7000-8003-%012d', i * 2654435761 % 4294967296, i) AS id,
	        strftime('%Y-%m-%d %H:%M:%S', '2026-07-01 00:00:00', printf('-%d seconds', i * 314)) || '+00:00' AS opened_at
	 FROM n`,
	`INSERT INTO requests (id, account_id, owner_id, channel, priority, category, status,
	                       opened_at, touches, csat, created_at, updated_at)
	 SELECT id,
	        printf('%08x-0000-7000-8002-%012d', {account} * 2654435761 % 4294967296, {account}),
	        CASE WHEN NOT {unowned} THEN printf('%08x-0000-7000-8001-%012d', {owner} * 2654435761 % 4294967296, {owner}) END,
	        'telegram', 'normal', 'question', 'resolved',
	        opened_at, {touches}, CASE WHEN {rated} THEN {csat} END, opened_at, opened_at
	 FROM seed`,
	`UPDATE requests SET merged_into_id = (
	     SELECT next.id FROM seed s JOIN seed next ON next.i = s.i + 1 WHERE s.id = requests.id)
	 WHERE id IN (SELECT id FROM seed WHERE i % 53 = 0)`,
	`INSERT INTO request_clocks (request_id, clock, started_at, stopped_at, elapsed_seconds, target_seconds, breached)
	 SELECT id, clock, opened_at,
	        CASE WHEN NOT running THEN strftime('%Y-%m-%d %H:%M:%S', opened_at, printf('+%d seconds', elapsed)) || '+00:00' END,
	        CASE WHEN NOT running THEN elapsed END,
	        target,
	        CASE WHEN running THEN breached_running ELSE elapsed > coalesce(target, elapsed) END
	 FROM (
	     SELECT s.id, s.opened_at, k.clock, {elapsed} AS elapsed,
	            CASE WHEN NOT {no_target} THEN k.target END AS target,
	            {running} AS running, {breached_running} AS breached_running
	     FROM seed s
	     CROSS JOIN ({kinds}) k
	     WHERE k.clock <> 'follow_up' OR {follow_up}
	 ) c`,
	`UPDATE request_clocks SET opened_at = (SELECT opened_at FROM requests WHERE requests.id = request_clocks.request_id), account_id = (SELECT account_id FROM requests WHERE requests.id = request_clocks.request_id), owner_id = (SELECT owner_id FROM requests WHERE requests.id = request_clocks.request_id)`,
	`DELETE FROM request_clocks WHERE request_id IN (SELECT id FROM requests WHERE merged_into_id IS NOT NULL)`,
	`INSERT INTO request_qa (id, request_id, reviewer_id, score, created_at)
	 SELECT printf('%08x-0000-7000-8004-%012d', i * 2654435761 % 4294967296, i), id,
	        printf('%08x-0000-7000-8001-%012d', 2654435761, 1), {score}, opened_at
	 FROM seed WHERE {reviewed}`,
	`UPDATE requests SET qa_score_sum = (SELECT COALESCE(SUM(score), 0) FROM request_qa WHERE request_qa.request_id = requests.id),
	                     qa_reviews = (SELECT COUNT(*) FROM request_qa WHERE request_qa.request_id = requests.id)`,
	`DROP TABLE seed`,
}

// seedLoad fills db with the benchmark's data, in one transaction.
func seedLoad(b *testing.B, db *database.DB) {
	b.Helper()
	seed, after := seedLoadSQL, afterSeedSQL
	if db.Dialect == database.SQLite {
		seed, after = seedLoadSQLite, nil
	}
	err := db.Gorm.Transaction(func(tx *gorm.DB) error {
		for _, sql := range seed {
			if err := tx.Exec(seedValues.Replace(sql)).Error; err != nil {
				return fmt.Errorf("%w\n%s", err, sql)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	for _, sql := range after {
		if err := db.Gorm.Exec(sql).Error; err != nil {
			b.Fatalf("seed: %v\n%s", err, sql)
		}
	}
}

// BenchmarkSupport measures 30-day reports over 50,000 requests, on SQLite
// and, when KEYCARE_TEST_POSTGRES_URL is set, on PostgreSQL.
func BenchmarkSupport(b *testing.B) {
	for _, dialect := range testdb.Dialects() {
		b.Run(dialect, func(b *testing.B) {
			db := testdb.Open(b, dialect)
			seedLoad(b, db)
			benchmarkSupport(b, db.Gorm)
		})
	}
}

func benchmarkSupport(b *testing.B, db *gorm.DB) {
	ctx := context.Background()
	q := Query{From: loadEnd.AddDate(0, 0, -30), To: loadEnd}
	for _, groupBy := range []string{GroupNone, GroupManager, GroupAccount, GroupDay} {
		name := "group_by=" + groupBy
		if groupBy == GroupNone {
			name = "group_by=none"
		}
		b.Run(name, func(b *testing.B) {
			q := q
			q.GroupBy = groupBy
			r, err := Support(ctx, db, q)
			if err != nil {
				b.Fatal(err)
			}
			if r.Total.Requests < 8000 {
				b.Fatalf("measured %d requests, want ≈ 8,100", r.Total.Requests)
			}
			for b.Loop() {
				if _, err := Support(ctx, db, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
