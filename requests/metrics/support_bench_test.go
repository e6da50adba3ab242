package metrics

import (
	"context"
	"os"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/testdb"
)

// loadEnd is where the benchmark's six months of requests end: the
// timestamptz literal in seedLoadSQL.
var loadEnd = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)

// seedLoadSQL fills a PostgreSQL database with 50,000 requests opened every
// 314 s over the six months before loadEnd (≈ 8,250 in any 30 days), owned by
// 20 managers (every 50th unowned), across 500 accounts, with ≈ 2.5 clocks
// each (first response and resolution always, a follow-up for half), CSAT on
// 40 %, a QA review on 10 %, and every 53rd merged into its neighbour.
// Values come from multiplicative hashes of the request number, so the
// data is the same on every run.
var seedLoadSQL = []string{
	`INSERT INTO users (id, name, email, role, created_at, updated_at)
	 SELECT 'usr_' || i, 'Manager ' || i, 'm' || i || '@example.com', 'manager', now(), now()
	 FROM generate_series(1, 20) i`,
	`INSERT INTO accounts (id, name, slug, tier, status, timezone, currency, created_at, updated_at)
	 SELECT 'acc_' || i, 'Account ' || i, 'acc-' || i, 'key', 'active', 'UTC', 'EUR', now(), now()
	 FROM generate_series(1, 500) i`,
	`INSERT INTO requests (id, account_id, owner_id, channel, priority, category, status,
	                       opened_at, touches, csat, created_at, updated_at)
	 SELECT 'req_' || lpad(i::text, 6, '0'),
	        'acc_' || (1 + i * 7919 % 500),
	        CASE WHEN i % 50 = 0 THEN NULL ELSE 'usr_' || (1 + i * 31 % 20) END,
	        'telegram', 'normal', 'question', 'resolved',
	        timestamptz '2026-07-01 00:00:00+00' - i * interval '314 seconds',
	        i * 104729 % 9,
	        CASE WHEN i % 5 < 2 THEN 1 + i * 7919 % 5 END,
	        now(), now()
	 FROM generate_series(1::bigint, 50000) i`,
	`UPDATE requests SET merged_into_id = 'req_' || lpad((substr(id, 5)::bigint + 1)::text, 6, '0')
	 WHERE substr(id, 5)::bigint % 53 = 0`,
	`INSERT INTO request_clocks (request_id, clock, started_at, stopped_at, elapsed_seconds, target_seconds, breached)
	 SELECT id, clock, opened_at,
	        CASE WHEN NOT running THEN opened_at + elapsed * interval '1 second' END,
	        CASE WHEN NOT running THEN elapsed END,
	        target,
	        CASE WHEN running THEN n % 2 = 0 ELSE elapsed > coalesce(target, elapsed) END
	 FROM (
	     SELECT r.id, r.opened_at, k.clock, substr(r.id, 5)::bigint AS n,
	            substr(r.id, 5)::bigint * k.mul % k.spread + 1 AS elapsed,
	            CASE WHEN substr(r.id, 5)::bigint % 10 <> 0 THEN k.target END AS target,
	            substr(r.id, 5)::bigint % 10 = k.running AS running
	     FROM requests r
	     CROSS JOIN (VALUES ('first_response', 7919, 3600, 900, 3),
	                        ('follow_up', 104729, 7200, 1800, 4),
	                        ('resolution', 1299709, 172800, 86400, 5)) k(clock, mul, spread, target, running)
	     WHERE k.clock <> 'follow_up' OR substr(r.id, 5)::bigint % 2 = 0
	 ) c`,
	`INSERT INTO request_qa (id, request_id, reviewer_id, score, created_at)
	 SELECT 'qa_' || id, id, 'usr_1', 1 + substr(id, 5)::bigint * 31 % 5, now()
	 FROM requests WHERE substr(id, 5)::bigint % 10 = 7`,
	// The index Support reads clocks by; to move into migrations/00003.
	`CREATE INDEX IF NOT EXISTS request_clocks_started ON request_clocks (started_at)
	 INCLUDE (request_id, clock, elapsed_seconds, target_seconds, stopped_at, breached)`,
	`VACUUM ANALYZE users, accounts, requests, request_clocks, request_qa`,
}

func seedLoad(b *testing.B, db *gorm.DB) {
	b.Helper()
	for _, sql := range seedLoadSQL {
		if err := db.Exec(sql).Error; err != nil {
			b.Fatalf("seed: %v\n%s", err, sql)
		}
	}
}

// BenchmarkSupport measures a 30-day report over 50,000 requests on
// PostgreSQL (set KEYCARE_TEST_POSTGRES_URL).
func BenchmarkSupport(b *testing.B) {
	if os.Getenv(testdb.EnvPostgres) == "" {
		b.Skip(testdb.EnvPostgres + " not set")
	}
	db := testdb.Open(b, database.Postgres)
	seedLoad(b, db.Gorm)
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
			r, err := Support(ctx, db.Gorm, q)
			if err != nil {
				b.Fatal(err)
			}
			if r.Total.Requests < 8000 {
				b.Fatalf("measured %d requests, want ≈ 8,100", r.Total.Requests)
			}
			for b.Loop() {
				if _, err := Support(ctx, db.Gorm, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
