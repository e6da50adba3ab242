package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/jobs"
	"github.com/keycare/keycare/migrations"
	"github.com/keycare/keycare/team"
)

// Shape of the seeded data (the issue's benchmark).
const (
	nManagers = 20
	nAccounts = 200
	nRequests = 50_000
	nMessages = 1_000_000
	seedDays  = 180 // requests are opened over the last 180 days
)

// dataset is what the load needs from the seeded database.
type dataset struct {
	AdminToken    string
	LeadToken     string
	ManagerIDs    []string // by email: manager01 first
	ManagerTokens []string // ManagerTokens[i] belongs to ManagerIDs[i]
	OpenOf        map[string]int
	SeedNow       time.Time // the "now" the data was generated around
	Steps         []SeedStep
	SeedTime      time.Duration
}

// SeedStep is one timed statement of the seed.
type SeedStep struct {
	Name    string  `json:"name"`
	Rows    int64   `json:"rows"`
	Seconds float64 `json:"seconds"`
}

// migrate applies Keycare's migrations and River's tables, as `keycare migrate` does.
func migrate(ctx context.Context, db *database.DB) error {
	if _, err := migrations.Up(ctx, db.SQL, db.Dialect); err != nil {
		return err
	}
	return jobs.Migrate(ctx, db)
}

// uuid7 is an SQL expression for a Keycare-shaped id (a UUIDv7, which sorts
// by creation time) whose time part is the timestamptz expression ts.
func uuid7(ts string) string {
	h := "lpad(to_hex(floor(extract(epoch FROM " + ts + ") * 1000)::bigint), 12, '0')"
	return "(substr(" + h + ", 1, 8) || '-' || substr(" + h + ", 9, 4) || '-7' || substr(gen_random_uuid()::text, 16, 21))"
}

// The SLA targets of the one policy, in seconds, by priority: first
// response, follow-up, resolution (24/7, no business hours).
const policyTargets = `{"urgent": {"first_response": 900, "follow_up": 1800, "resolution": 86400},
 "high": {"first_response": 1800, "follow_up": 3600, "resolution": 432000},
 "normal": {"first_response": 3600, "follow_up": 7200, "resolution": 864000},
 "low": {"first_response": 14400, "follow_up": 28800, "resolution": 1728000}}`

// seedSQL fills an empty, migrated database, set-based: every table is one
// INSERT … SELECT over generate_series or over a temporary table of the
// requests' derived values, so the clocks, breaches, due times, status
// changes and messages of a request agree with each other. {{now}} is the
// instant the data is generated around; random() is seeded, so two runs
// build the same data (ids aside).
var seedSQL = []struct{ name, sql string }{
	{"session settings", `SET synchronous_commit = off`},
	{"random seed", `SELECT setseed(0.4242)`},
	{"users (admin, lead, 20 managers)", `
INSERT INTO users (id, name, email, role, telegram_username, telegram_user_id, active, away, version, created_at, updated_at)
SELECT ` + uuid7("created") + `, name, email, role, tg, tg_id, true, false, 1, created, created
FROM (
    SELECT {{now}} - interval '400 days' AS created, 'Bench Admin' AS name, 'admin@bench.keycare.local' AS email,
           'admin' AS role, NULL::text AS tg, NULL::bigint AS tg_id
    UNION ALL
    SELECT {{now}} - interval '399 days', 'Bench Lead', 'lead@bench.keycare.local', 'lead', 'care_lead', 700000000
    UNION ALL
    SELECT {{now}} - interval '398 days' + i * interval '1 hour', 'Manager ' || lpad(i::text, 2, '0'),
           'manager' || lpad(i::text, 2, '0') || '@bench.keycare.local', 'manager',
           'care_manager_' || lpad(i::text, 2, '0'), 700000000 + i
    FROM generate_series(1, 20) i
) u`},
	{"temp: managers", `
CREATE TEMP TABLE mgr AS
SELECT row_number() OVER (ORDER BY email)::int AS n, id FROM users WHERE role = 'manager'`},
	{"temp: accounts", `
CREATE TEMP TABLE acc AS
SELECT a AS n,
       ` + uuid7("{{now}} - interval '380 days' + a * interval '1 hour'") + ` AS id,
       ` + uuid7("{{now}} - interval '379 days' + a * interval '1 hour'") + ` AS chat_id,
       o.id AS owner_id, b.id AS backup_id,
       CASE WHEN a % 10 = 0 THEN 'strategic' WHEN a % 2 = 0 THEN 'key' ELSE 'standard' END AS tier,
       {{now}} - interval '380 days' + a * interval '1 hour' AS created
FROM generate_series(1, 200) a
JOIN mgr o ON o.n = (a - 1) % 20 + 1
JOIN mgr b ON b.n = a % 20 + 1`},
	{"accounts", `
INSERT INTO accounts (id, name, slug, tier, status, owner_id, backup_id, timezone, currency, external_ids, tags, version, created_at, updated_at)
SELECT id, 'Client ' || lpad(n::text, 4, '0') || ' Holding', 'client-' || lpad(n::text, 4, '0') || '-holding', tier, 'active',
       owner_id, backup_id, 'Europe/Moscow', 'RUB',
       jsonb_build_object('crm', 'CRM-' || lpad(n::text, 5, '0'), 'billing', 'BIL-' || lpad(n::text, 5, '0')),
       jsonb_build_array('bench', tier), 1, created, created
FROM acc`},
	{"chats (one active group per account)", `
INSERT INTO chats (id, account_id, status, origin, channel_id, access_hash, title, invite_link, group_created_at, version, created_at, updated_at)
SELECT chat_id, id, 'active', CASE WHEN n % 4 = 0 THEN 'adopted' ELSE 'created' END,
       1000000000 + n * 7919, n * 2654435761, 'Client ' || lpad(n::text, 4, '0') || ' Holding · Care',
       'https://t.me/+bench' || md5(id), created + interval '1 day', 1, created + interval '1 day', created + interval '1 day'
FROM acc`},
	{"sla_policies", `
INSERT INTO sla_policies (id, name, targets, business_hours, warn_at, default_for, version, created_at, updated_at)
SELECT ` + uuid7("{{now}} - interval '390 days'") + `, 'Bench 24/7', '` + policyTargets + `'::jsonb, NULL, 0.75,
       '["strategic", "key", "standard"]'::jsonb, 1, {{now}} - interval '390 days', {{now}} - interval '390 days'`},

	// Each request's independent draws, its status (unresolved ones are
	// mostly recent), priority, targets, whether it was answered, the
	// elapsed first response and resolution (breached for ~8.5% of the
	// resolved ones), and how many messages it gets before scaling.
	{"temp: requests, stage 1", `
CREATE TEMP TABLE req_a AS
SELECT b.n, b.opened_at, t.age_s, a.n AS acc_n, a.id AS account_id, a.chat_id, a.owner_id AS account_owner,
       ` + uuid7("b.opened_at") + ` AS id,
       s.status, s.priority, s.category, s.channel,
       CASE WHEN b.u_own < 0.005 THEN NULL WHEN b.u_own < 0.045 THEN a.backup_id ELSE a.owner_id END AS owner_id,
       (ARRAY['VM does not boot after resize', 'Invoice for last month is missing', 'Add a user to the console',
              'Managed PostgreSQL failover took 4 minutes', 'CDN purge is not applied', 'Quota increase for GPUs',
              'Backup restore test', 'Kubernetes node pool upgrade', 'Feedback on the new billing page',
              'Migrate the S3 bucket to another region', 'Slow disks on the analytics cluster', 'Renew the TLS certificate'])[1 + b.n % 12]
           || ' (#' || b.n || ')' AS subject,
       t.fr_t, t.fu_t, t.res_t, w.want_breach, w.brk, w.responded, w.fu_n,
       b.u_el3, b.u_t, b.u_csat, b.u_cv, b.u_qa, b.u_last,
       e.fr_el, CASE WHEN s.status = 'resolved' THEN greatest(e.res_el, e.fr_el + 1) END AS res_el,
       CASE WHEN w.responded THEN 2 + floor(60 * b.u_msg ^ 2) ELSE 1 + floor(3 * b.u_msg) END AS m_raw,
       0 AS msg_count
FROM (
    SELECT n,
           {{now}} - interval '180 days' + (n - random()) * (interval '180 days' / 50000) AS opened_at,
           1 + floor(random() * 200)::int AS acc_n,
           random() AS u_st, random() AS u_pr, random() AS u_cat, random() AS u_ch, random() AS u_own,
           random() AS u_br, random() AS u_brk, random() AS u_fr, random() AS u_el1, random() AS u_el2,
           random() AS u_el3, random() AS u_fu, random() AS u_t, random() AS u_csat, random() AS u_cv,
           random() AS u_qa, random() AS u_msg, random() AS u_last
    FROM generate_series(1, 50000) n
) b
JOIN acc a ON a.n = b.acc_n
CROSS JOIN LATERAL (SELECT extract(epoch FROM {{now}} - b.opened_at)::double precision / 86400 AS age_d) g
CROSS JOIN LATERAL (SELECT
    CASE WHEN b.u_st < 0.8 * exp(-g.age_d / 8.5) + 0.002 THEN 'open'
         WHEN b.u_st < 0.8 * exp(-g.age_d / 8.5) + 0.002 + 0.15 * exp(-g.age_d / 10) + 0.0005 THEN 'waiting_on_client'
         ELSE 'resolved' END AS status,
    CASE WHEN b.u_pr < 0.05 THEN 'urgent' WHEN b.u_pr < 0.25 THEN 'high' WHEN b.u_pr < 0.80 THEN 'normal' ELSE 'low' END AS priority,
    CASE WHEN b.u_cat < 0.55 THEN 'question' WHEN b.u_cat < 0.75 THEN 'incident' WHEN b.u_cat < 0.95 THEN 'task' ELSE 'feedback' END AS category,
    CASE WHEN b.u_ch < 0.85 THEN 'telegram' WHEN b.u_ch < 0.93 THEN 'email' WHEN b.u_ch < 0.98 THEN 'phone' ELSE 'other' END AS channel
) s
CROSS JOIN LATERAL (SELECT
    CASE s.priority WHEN 'urgent' THEN 900 WHEN 'high' THEN 1800 WHEN 'normal' THEN 3600 ELSE 14400 END AS fr_t,
    CASE s.priority WHEN 'urgent' THEN 1800 WHEN 'high' THEN 3600 WHEN 'normal' THEN 7200 ELSE 28800 END AS fu_t,
    CASE s.priority WHEN 'urgent' THEN 86400 WHEN 'high' THEN 432000 WHEN 'normal' THEN 864000 ELSE 1728000 END AS res_t,
    g.age_d * 86400 AS age_s
) t
CROSS JOIN LATERAL (SELECT
    s.status = 'resolved' AND b.u_br < 0.085 AS want_breach,
    -- which clocks a wanted breach hits: < .45 first response, < .75 resolution, < .9 follow-up, else first response and resolution
    b.u_brk AS brk,
    -- answered: every resolved or waiting request; an open one unless it is younger than a few first-response targets
    s.status <> 'open' OR b.u_fr < 1 - exp(-least(t.age_s / (t.fr_t * 0.5), 50)) AS responded,
    CASE WHEN b.u_fu < 0.3 THEN 0 WHEN b.u_fu < 0.7 THEN 1 ELSE 2 END AS fu_n
) w
CROSS JOIN LATERAL (SELECT
    CASE WHEN w.responded THEN least(
        CASE WHEN w.want_breach AND (w.brk < 0.45 OR w.brk >= 0.9) THEN t.fr_t * (1.05 + 2 * b.u_el1)
             ELSE t.fr_t * (0.03 + 0.9 * b.u_el1 ^ 2) END,
        t.age_s * 0.3)::bigint END AS fr_el,
    CASE WHEN s.status = 'resolved' THEN least(
        CASE WHEN w.want_breach AND ((w.brk >= 0.45 AND w.brk < 0.75) OR w.brk >= 0.9) THEN t.res_t * (1.05 + b.u_el2)
             ELSE t.res_t * (0.02 + 0.9 * b.u_el2 ^ 3) END,
        t.age_s * 0.95)::bigint END AS res_el
) e`},
	// Exactly 1,000,000 messages: scale the draws, then spread the rounding
	// remainder one message each over the longest conversations.
	{"temp: requests, message counts", `
UPDATE req_a SET msg_count = greatest(CASE WHEN responded THEN 2 ELSE 1 END,
                                      round(m_raw * 1000000.0 / (SELECT sum(m_raw) FROM req_a)))`},
	{"temp: requests, rounding remainder", `
UPDATE req_a SET msg_count = msg_count + sign(1000000 - (SELECT sum(msg_count) FROM req_a))::int
WHERE n IN (SELECT n FROM req_a WHERE responded ORDER BY msg_count DESC, n
            LIMIT (SELECT abs(1000000 - sum(msg_count)) FROM req_a))`},

	// Stage 2: when the last message was written, the follow-up clocks, due
	// times and breaches, consistent with the status:
	//   open, answered, odd message count: the client wrote last, a
	//     follow-up clock is running;
	//   open, answered, even count: the team wrote last;
	//   open, unanswered: the first-response clock is running;
	//   waiting_on_client: every clock is paused (no due times);
	//   resolved: every clock stopped.
	// Times are seconds after opened_at.
	{"temp: requests, stage 2", `
CREATE TEMP TABLE req AS
SELECT r.*, l.awaiting_team, l.last_s, f.*, bf.*,
       sum(r.msg_count) OVER (PARTITION BY r.acc_n ORDER BY r.n) - r.msg_count AS msg_offset
FROM req_a r
CROSS JOIN LATERAL (SELECT
    (r.status = 'open' AND (NOT r.responded OR r.msg_count % 2 = 1)) AS awaiting_team,
    CASE
        WHEN r.status = 'resolved' THEN r.res_el - least(600, (r.res_el - r.fr_el) * 0.1) * r.u_last
        WHEN NOT r.responded THEN r.age_s * r.u_last
        WHEN r.status = 'open' AND r.msg_count % 2 = 1 THEN r.age_s - least(r.fu_t * 1.4 * r.u_last, (r.age_s - r.fr_el) * 0.9)
        WHEN r.status = 'open' THEN r.age_s - (r.age_s - r.fr_el) * 0.5 * r.u_last
        ELSE r.fr_el + (r.age_s - r.fr_el) * (0.5 + 0.4 * r.u_last)
    END AS last_s
) l
CROSS JOIN LATERAL (SELECT
    -- stopped follow-ups fit between the first reply and the last message;
    -- a running one starts at the client's last message
    CASE WHEN NOT r.responded OR l.last_s - r.fr_el < 60 THEN 0
         WHEN r.status = 'open' AND r.msg_count % 2 = 1 THEN least(r.fu_n, 1)
         ELSE r.fu_n END AS fu_stopped,
    r.status = 'open' AND r.responded AND r.msg_count % 2 = 1 AND l.last_s - r.fr_el >= 60 AS fu_running,
    r.fr_el + 1 + (l.last_s - r.fr_el) * 0.2 AS fu1_start,
    r.fr_el + 2 + (l.last_s - r.fr_el) * 0.6 AS fu2_start
) f
CROSS JOIN LATERAL (SELECT
    least(CASE WHEN r.want_breach AND r.brk >= 0.75 AND r.brk < 0.9 THEN r.fu_t * (1.05 + r.u_el3)
               ELSE r.fu_t * (0.03 + 0.8 * r.u_el3 ^ 2) END,
          (l.last_s - f.fu1_start) * 0.35)::bigint AS fu1_el,
    least(r.fu_t * (0.03 + 0.6 * r.u_el3 ^ 3), (l.last_s - f.fu2_start) * 0.9)::bigint AS fu2_el
) bf`},
	{"temp: requests, clocks and breaches", `
CREATE TEMP TABLE req_c AS
SELECT r.n, x.*, b.*, jsonb_path_query_array(
           jsonb_build_array(CASE WHEN b.b_fr THEN 'first_response' END,
                             CASE WHEN b.b_fu1 OR b.b_fu2 OR b.b_furun THEN 'follow_up' END,
                             CASE WHEN b.b_res THEN 'resolution' END), '$[*] ? (@ != null)') AS breached
FROM req r
CROSS JOIN LATERAL (SELECT
    CASE WHEN NOT r.responded THEN r.opened_at + make_interval(secs => r.fr_t) END AS fr_running_due,
    CASE WHEN r.fu_running THEN r.opened_at + make_interval(secs => r.last_s + r.fu_t) END AS fu_running_due,
    CASE WHEN r.status = 'open' THEN r.opened_at + make_interval(secs => r.res_t) END AS res_running_due
) x
CROSS JOIN LATERAL (SELECT
    (r.responded AND r.fr_el > r.fr_t) OR (NOT r.responded AND r.age_s >= r.fr_t) AS b_fr,
    r.fu_stopped >= 1 AND r.fu1_el > r.fu_t AS b_fu1,
    r.fu_stopped >= 2 AND r.fu2_el > r.fu_t AS b_fu2,
    r.fu_running AND r.age_s - r.last_s >= r.fu_t AS b_furun,
    CASE WHEN r.status = 'resolved' THEN r.res_el > r.res_t
         WHEN r.status = 'open' THEN r.age_s >= r.res_t
         ELSE false END AS b_res
) b`},
	{"requests", `
INSERT INTO requests (id, account_id, channel, owner_id, priority, category, status, subject, sla_policy_id, opened_at,
                      first_response_due, next_response_due, resolution_due, due_at, next_event_at,
                      first_responded_at, resolved_at, awaiting_team, last_message_at, breached, breached_any,
                      touches, reopen_count, csat, csat_asked_at, merged_into_id, version, created_at, updated_at)
SELECT r.id, r.account_id, r.channel, r.owner_id, r.priority, r.category, r.status, r.subject,
       (SELECT id FROM sla_policies LIMIT 1), r.opened_at,
       r.opened_at + make_interval(secs => r.fr_t),
       c.fu_running_due,
       CASE WHEN r.status <> 'waiting_on_client' THEN r.opened_at + make_interval(secs => r.res_t) END,
       d.due_at,
       CASE WHEN d.due_at > {{now}} THEN d.due_at END,
       CASE WHEN r.responded THEN r.opened_at + make_interval(secs => r.fr_el) END,
       CASE WHEN r.status = 'resolved' THEN r.opened_at + make_interval(secs => r.res_el) END,
       r.awaiting_team,
       r.opened_at + make_interval(secs => r.last_s),
       c.breached, jsonb_array_length(c.breached) > 0,
       CASE WHEN r.responded THEN 1 + floor(r.u_t * 6)::int ELSE 0 END,
       0,
       CASE WHEN r.status = 'resolved' AND r.channel = 'telegram' AND r.u_csat < 0.353 THEN
           CASE WHEN r.u_cv < 0.55 THEN 5 WHEN r.u_cv < 0.8 THEN 4 WHEN r.u_cv < 0.9 THEN 3 WHEN r.u_cv < 0.95 THEN 2 ELSE 1 END END,
       CASE WHEN r.status = 'resolved' AND r.channel = 'telegram' THEN r.opened_at + make_interval(secs => r.res_el) END,
       NULL, 1 + r.msg_count, r.opened_at, r.opened_at + make_interval(secs => greatest(r.last_s, coalesce(r.res_el, 0)))
FROM req r
JOIN req_c c ON c.n = r.n
CROSS JOIN LATERAL (SELECT least(c.fr_running_due, c.fu_running_due, c.res_running_due) AS due_at) d`},
	{"request_status_changes", `
INSERT INTO request_status_changes (request_id, seq, status, at)
SELECT id, 1, 'open', opened_at FROM req
UNION ALL
SELECT id, 2, 'resolved', opened_at + make_interval(secs => res_el) FROM req WHERE status = 'resolved'
UNION ALL
SELECT id, 2, 'waiting_on_client', opened_at + make_interval(secs => last_s + 1) FROM req WHERE status = 'waiting_on_client'`},
	{"request_clocks", `
INSERT INTO request_clocks (request_id, clock, started_at, stopped_at, elapsed_seconds, target_seconds, due_at, breached)
SELECT r.id, 'first_response', r.opened_at,
       CASE WHEN r.responded THEN r.opened_at + make_interval(secs => r.fr_el) END,
       r.fr_el, r.fr_t, r.opened_at + make_interval(secs => r.fr_t), c.b_fr
FROM req r JOIN req_c c ON c.n = r.n
UNION ALL
SELECT r.id, 'follow_up', r.opened_at + make_interval(secs => r.fu1_start), r.opened_at + make_interval(secs => r.fu1_start + r.fu1_el),
       r.fu1_el, r.fu_t, r.opened_at + make_interval(secs => r.fu1_start + r.fu_t), c.b_fu1
FROM req r JOIN req_c c ON c.n = r.n WHERE r.fu_stopped >= 1
UNION ALL
SELECT r.id, 'follow_up', r.opened_at + make_interval(secs => r.fu2_start), r.opened_at + make_interval(secs => r.fu2_start + r.fu2_el),
       r.fu2_el, r.fu_t, r.opened_at + make_interval(secs => r.fu2_start + r.fu_t), c.b_fu2
FROM req r JOIN req_c c ON c.n = r.n WHERE r.fu_stopped >= 2
UNION ALL
SELECT r.id, 'follow_up', r.opened_at + make_interval(secs => r.last_s), NULL, NULL, r.fu_t, c.fu_running_due, c.b_furun
FROM req r JOIN req_c c ON c.n = r.n WHERE r.fu_running
UNION ALL
SELECT r.id, 'resolution', r.opened_at,
       CASE WHEN r.status = 'resolved' THEN r.opened_at + make_interval(secs => r.res_el) END,
       r.res_el, r.res_t,
       CASE WHEN r.status <> 'waiting_on_client' THEN r.opened_at + make_interval(secs => r.res_t) END, c.b_res
FROM req r JOIN req_c c ON c.n = r.n`},
	{"request_clocks: each request's opening, account and owner (as the requests store writes them)", `
UPDATE request_clocks c SET opened_at = r.opened_at, account_id = r.account_id, owner_id = r.owner_id
FROM requests r WHERE r.id = c.request_id`},
	{"request_qa (~5%)", `
INSERT INTO request_qa (id, request_id, reviewer_id, score, comment, created_at)
SELECT ` + uuid7("q.at") + `, r.id, (SELECT id FROM users WHERE role = 'lead' LIMIT 1),
       CASE WHEN r.u_qa < 0.01 THEN 2 WHEN r.u_qa < 0.02 THEN 3 WHEN r.u_qa < 0.035 THEN 4 ELSE 5 END,
       CASE WHEN r.u_qa < 0.02 THEN 'Answer missed the client''s second question' ELSE '' END, q.at
FROM req r
CROSS JOIN LATERAL (SELECT least(r.opened_at + make_interval(secs => r.res_el) + interval '1 day', {{now}}) AS at) q
WHERE r.status = 'resolved' AND r.u_qa < 0.0526`},
	{"requests: their QA scores' sum and count (as the requests store keeps them)", `
UPDATE requests r SET qa_score_sum = q.score_sum, qa_reviews = q.reviews
FROM (SELECT request_id, SUM(score) AS score_sum, COUNT(*) AS reviews FROM request_qa GROUP BY request_id) q
WHERE q.request_id = r.id`},
	// Messages: the client opens, the team answers (the first reply is
	// when the first-response clock stopped), then the sides alternate up
	// to the last message; an unanswered request has only client messages.
	{"messages (1,000,000)", `
INSERT INTO messages (id, chat_id, account_id, telegram_message_id, random_id, side, sender_kind, sender_user_id,
                      sender_contact_id, sender_telegram_id, sender_name, text, reply_to, media, service, status, error,
                      sent_at, edited_at, deleted_at, created_at, request_id)
SELECT ` + uuid7("m.at") + `, r.chat_id, r.account_id, (r.msg_offset + i)::int,
       CASE WHEN m.team THEN r.n::bigint * 1000 + i END,
       CASE WHEN m.team THEN 'team' ELSE 'client' END,
       CASE WHEN m.team THEN 'user' ELSE 'contact' END,
       CASE WHEN m.team THEN coalesce(r.owner_id, r.account_owner) END,
       NULL,
       CASE WHEN m.team THEN NULL ELSE 500000000 + r.acc_n * 10 + i % 3 END,
       CASE WHEN m.team THEN 'Care team' ELSE 'Contact ' || (1 + i % 3) || ' of client ' || lpad(r.acc_n::text, 4, '0') END,
       (ARRAY['Hi! ' || r.subject || '. Could you take a look?',
              'Thanks, we are on it and will come back within the hour.',
              'Here are the logs from this morning, the errors started around 09:40 MSK.',
              'We found the cause: the disk quota was exceeded. Increasing it now.',
              'Still seeing timeouts from the second availability zone, see the attached graph.',
              'Done, please check again and tell us if anything is still off.',
              'Confirmed, works now. One more thing: can you send the invoice for last month?',
              'Sent to the finance contact. Anything else we can help with today?'])[1 + (r.n + i) % 8],
       NULL, NULL, '', CASE WHEN m.team THEN 'sent' ELSE 'received' END, '',
       m.at, NULL, NULL, m.at, r.id
FROM req r
CROSS JOIN LATERAL generate_series(1, r.msg_count) i
CROSS JOIN LATERAL (SELECT
    r.responded AND i % 2 = 0 AS team,
    r.opened_at + make_interval(secs => CASE
        WHEN NOT r.responded THEN r.last_s * (i - 1) / greatest(r.msg_count - 1, 1)
        WHEN i = 1 THEN 0
        WHEN i = 2 THEN r.fr_el
        ELSE r.fr_el + (r.last_s - r.fr_el) * (i - 2) / greatest(r.msg_count - 2, 1)
    END) AS at
) m`},
	{"VACUUM ANALYZE", `VACUUM ANALYZE`},
}

// seed fills an empty, migrated database and issues API tokens through team.Service.
func seed(ctx context.Context, dbURL string, db *database.DB) (*dataset, error) {
	start := time.Now()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	now := time.Now().UTC().Truncate(time.Second)
	nowSQL := "timestamptz '" + now.Format(time.RFC3339) + "'"
	ds := &dataset{SeedNow: now}
	for _, st := range seedSQL {
		t := time.Now()
		tag, err := conn.Exec(ctx, strings.ReplaceAll(st.sql, "{{now}}", nowSQL))
		if err != nil {
			return nil, fmt.Errorf("seed %s: %w", st.name, err)
		}
		ds.Steps = append(ds.Steps, SeedStep{Name: st.name, Rows: tag.RowsAffected(), Seconds: time.Since(t).Seconds()})
		progress("  %-40s %9d rows  %6.2fs", st.name, tag.RowsAffected(), time.Since(t).Seconds())
	}
	if err := issueTokens(ctx, db, ds); err != nil {
		return nil, err
	}
	ds.SeedTime = time.Since(start)
	return ds, nil
}

// issueTokens gives the admin, the lead and every manager a token through
// Keycare itself, so they are hashed exactly as in production, and reads
// how many open requests each manager owns (what their queue should show).
func issueTokens(ctx context.Context, db *database.DB, ds *dataset) error {
	var admin, lead string
	if err := db.SQL.QueryRowContext(ctx, "SELECT id FROM users WHERE email = 'admin@bench.keycare.local'").Scan(&admin); err != nil {
		return fmt.Errorf("no seeded bench admin (%w): run without -reuse", err)
	}
	if err := db.SQL.QueryRowContext(ctx, "SELECT id FROM users WHERE email = 'lead@bench.keycare.local'").Scan(&lead); err != nil {
		return fmt.Errorf("no seeded bench lead: %w", err)
	}
	rows, err := db.SQL.QueryContext(ctx, `SELECT u.id, count(r.id) FROM users u
LEFT JOIN requests r ON r.owner_id = u.id AND r.status = 'open' AND r.merged_into_id IS NULL
WHERE u.role = 'manager' AND u.email LIKE '%@bench.keycare.local' GROUP BY u.id, u.email ORDER BY u.email`)
	if err != nil {
		return err
	}
	ds.OpenOf = map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return err
		}
		ds.ManagerIDs = append(ds.ManagerIDs, id)
		ds.OpenOf[id] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(ds.ManagerIDs) == 0 {
		return errors.New("no seeded bench managers")
	}
	sctx := keycare.WithActor(ctx, keycare.SystemActor)
	svc := team.NewService(db.Gorm)
	if ds.AdminToken, err = svc.IssueToken(sctx, admin, "keycare-requests-load"); err != nil {
		return fmt.Errorf("issue admin token: %w", err)
	}
	if ds.LeadToken, err = svc.IssueToken(sctx, lead, "keycare-requests-load"); err != nil {
		return fmt.Errorf("issue lead token: %w", err)
	}
	for _, id := range ds.ManagerIDs {
		tok, err := svc.IssueToken(sctx, id, "keycare-requests-load")
		if err != nil {
			return fmt.Errorf("issue manager token: %w", err)
		}
		ds.ManagerTokens = append(ds.ManagerTokens, tok)
	}
	return nil
}

// Counts are the rows actually in the database, read back with count(*).
type Counts struct {
	Users                int64   `json:"users"`
	Managers             int64   `json:"managers"`
	Accounts             int64   `json:"accounts"`
	Chats                int64   `json:"chats"`
	SLAPolicies          int64   `json:"sla_policies"`
	Requests             int64   `json:"requests"`
	Open                 int64   `json:"open"`
	Waiting              int64   `json:"waiting_on_client"`
	Resolved             int64   `json:"resolved"`
	OpenPastDue          int64   `json:"open_past_due"`
	OpenNoDue            int64   `json:"open_without_due_at"`
	BreachedAny          int64   `json:"breached_any"`
	BreachedOpen         int64   `json:"breached_any_unresolved"`
	Last30Days           int64   `json:"requests_opened_last_30_days"`
	OpenPerManagerMin    int64   `json:"open_per_manager_min"`
	OpenPerManagerAvg    float64 `json:"open_per_manager_avg"`
	OpenPerManagerMax    int64   `json:"open_per_manager_max"`
	CSAT                 int64   `json:"csat_rated"`
	TouchesMin           int64   `json:"touches_min"`
	TouchesMax           int64   `json:"touches_max"`
	Clocks               int64   `json:"request_clocks"`
	ClocksPerRequestMin  int64   `json:"clocks_per_request_min"`
	ClocksPerRequestMax  int64   `json:"clocks_per_request_max"`
	ClocksBreached       int64   `json:"request_clocks_breached"`
	ClockBreachMismatch  int64   `json:"requests_whose_clocks_disagree_with_breached_any"`
	StatusChanges        int64   `json:"request_status_changes"`
	QA                   int64   `json:"request_qa"`
	Messages             int64   `json:"messages"`
	MessagesWithRequest  int64   `json:"messages_with_request_id"`
	MessagesOutsideLife  int64   `json:"messages_outside_request_life"`
	DatabaseBytes        int64   `json:"database_bytes"`
	RequestsBytes        int64   `json:"requests_table_bytes"`
	MessagesBytes        int64   `json:"messages_table_bytes"`
	RequestClocksBytes   int64   `json:"request_clocks_table_bytes"`
	PostgresSettings     string  `json:"postgres_settings"`
	AutovacuumedRequests bool    `json:"-"`
}

func countRows(ctx context.Context, db *database.DB, now time.Time) (*Counts, error) {
	c := &Counts{}
	q := []struct {
		dst  any
		sql  string
		args []any
	}{
		{&c.Users, "SELECT count(*) FROM users", nil},
		{&c.Managers, "SELECT count(*) FROM users WHERE role = 'manager'", nil},
		{&c.Accounts, "SELECT count(*) FROM accounts", nil},
		{&c.Chats, "SELECT count(*) FROM chats", nil},
		{&c.SLAPolicies, "SELECT count(*) FROM sla_policies", nil},
		{&c.Requests, "SELECT count(*) FROM requests", nil},
		{&c.Open, "SELECT count(*) FROM requests WHERE status = 'open'", nil},
		{&c.Waiting, "SELECT count(*) FROM requests WHERE status = 'waiting_on_client'", nil},
		{&c.Resolved, "SELECT count(*) FROM requests WHERE status = 'resolved'", nil},
		{&c.OpenPastDue, "SELECT count(*) FROM requests WHERE status = 'open' AND due_at < $1", []any{now}},
		{&c.OpenNoDue, "SELECT count(*) FROM requests WHERE status = 'open' AND due_at IS NULL", nil},
		{&c.BreachedAny, "SELECT count(*) FROM requests WHERE breached_any", nil},
		{&c.BreachedOpen, "SELECT count(*) FROM requests WHERE breached_any AND status <> 'resolved'", nil},
		{&c.Last30Days, "SELECT count(*) FROM requests WHERE opened_at >= $1 AND merged_into_id IS NULL", []any{now.AddDate(0, 0, -30)}},
		{&c.CSAT, "SELECT count(*) FROM requests WHERE csat IS NOT NULL", nil},
		{&c.TouchesMin, "SELECT coalesce(min(touches), 0) FROM requests WHERE first_responded_at IS NOT NULL", nil},
		{&c.TouchesMax, "SELECT coalesce(max(touches), 0) FROM requests", nil},
		{&c.Clocks, "SELECT count(*) FROM request_clocks", nil},
		{&c.ClocksPerRequestMin, "SELECT coalesce(min(n), 0) FROM (SELECT count(*) n FROM request_clocks GROUP BY request_id) x", nil},
		{&c.ClocksPerRequestMax, "SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM request_clocks GROUP BY request_id) x", nil},
		{&c.ClocksBreached, "SELECT count(*) FROM request_clocks WHERE breached", nil},
		{&c.ClockBreachMismatch, `SELECT count(*) FROM requests r
WHERE r.breached_any <> EXISTS (SELECT 1 FROM request_clocks c WHERE c.request_id = r.id AND c.breached)`, nil},
		{&c.StatusChanges, "SELECT count(*) FROM request_status_changes", nil},
		{&c.QA, "SELECT count(*) FROM request_qa", nil},
		{&c.Messages, "SELECT count(*) FROM messages", nil},
		{&c.MessagesWithRequest, "SELECT count(*) FROM messages WHERE request_id IS NOT NULL", nil},
		{&c.MessagesOutsideLife, `SELECT count(*) FROM messages m JOIN requests r ON r.id = m.request_id
WHERE m.sent_at < r.opened_at OR m.sent_at > coalesce(r.resolved_at, $1)`, []any{now}},
		{&c.DatabaseBytes, "SELECT pg_database_size(current_database())", nil},
		{&c.RequestsBytes, "SELECT pg_total_relation_size('requests')", nil},
		{&c.MessagesBytes, "SELECT pg_total_relation_size('messages')", nil},
		{&c.RequestClocksBytes, "SELECT pg_total_relation_size('request_clocks')", nil},
		{&c.PostgresSettings, `SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings
WHERE name IN ('shared_buffers', 'work_mem', 'effective_cache_size', 'random_page_cost', 'jit', 'max_parallel_workers_per_gather')`, nil},
	}
	for _, x := range q {
		if err := db.SQL.QueryRowContext(ctx, x.sql, x.args...).Scan(x.dst); err != nil {
			return nil, fmt.Errorf("count: %s: %w", x.sql, err)
		}
	}
	err := db.SQL.QueryRowContext(ctx, `SELECT min(n), avg(n), max(n) FROM (
SELECT count(r.id) n FROM users u LEFT JOIN requests r ON r.owner_id = u.id AND r.status = 'open'
WHERE u.role = 'manager' GROUP BY u.id) x`).Scan(&c.OpenPerManagerMin, &c.OpenPerManagerAvg, &c.OpenPerManagerMax)
	if err != nil {
		return nil, err
	}
	c.OpenPerManagerAvg = float64(int(c.OpenPerManagerAvg*10+0.5)) / 10
	return c, nil
}

// discardLog is a logger that drops everything (request logs are not measured).
func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// jsonDiscardLog formats every record as JSON, as production does, but throws the bytes away.
func jsonDiscardLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }
