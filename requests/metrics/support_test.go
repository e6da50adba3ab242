package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/testdb"
)

// The hand-made dataset. The window measured is [March 1, March 3) 2026 UTC.
//
//	request  account  owner  opened (UTC)            touches  csat  measured
//	r1       acme     anna   03-01 00:00:00 (=From)  2        5     yes
//	r2       acme     boris  03-02 10:00:00          4        3     yes
//	r3       globex   anna   03-02 23:59:59.5        1        -     yes
//	r4       globex   -      03-02 12:00:00          0        4     yes
//	r5       acme     anna   03-01 12:00:00          10       1     no: merged into r1
//	r6       acme     anna   03-03 00:00:00 (=To)    7        1     no: at To
//	r7       globex   boris  02-28 23:59:59          3        2     no: before From
//
// Clocks (elapsed and target in business seconds; "run" = still running):
//
//	request  clock           elapsed  target  breached  decided  met
//	r1       first_response  60       900     no        yes      yes
//	r2       first_response  120      900     no        yes      yes
//	r3       first_response  300      900     no        yes      yes
//	r4       first_response  900      600     yes       yes      no
//	r1       follow_up       200      -       no        no (no target)
//	r1       follow_up       400      1800    no        yes      yes
//	r2       follow_up       run      1800    yes       yes      no  (breached while running)
//	r3       follow_up       run      1800    no        no (running)
//	r1       resolution      3600     86400   no        yes      yes
//	r2       resolution      90000    86400   yes       yes      no
//	r3       resolution      run      86400   no        no (running)
//	r4       resolution      7200     -       no        no (no target)
//	r5, r6, r7 each have a first_response of 5 s (r6: 10000 s breached) and
//	a resolution, which must not show anywhere.
//
// QA reviews: r1 4 and 5, r3 2; r5 1 and r6 1 (not measured).

// Clock names, as in request_clocks.clock.
const (
	clockFirstResponse = "first_response"
	clockFollowUp      = "follow_up"
	clockResolution    = "resolution"
)

var (
	from = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
)

// seedPeople adds the users and accounts both datasets use.
func seedPeople(t testing.TB, db *gorm.DB) {
	t.Helper()
	now := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	exec := func(sql string, args ...any) {
		t.Helper()
		if err := db.Exec(sql, args...).Error; err != nil {
			t.Fatalf("seed: %s: %v", sql, err)
		}
	}
	for _, u := range [][2]string{{"usr_anna", "Anna"}, {"usr_boris", "Boris"}, {"usr_lena", "Lena"}} {
		exec(`INSERT INTO users (id, name, email, role, created_at, updated_at) VALUES (?, ?, ?, 'manager', ?, ?)`,
			u[0], u[1], u[0]+"@example.com", now, now)
	}
	for _, a := range [][2]string{{"acc_acme", "Acme"}, {"acc_globex", "Globex"}} {
		exec(`INSERT INTO accounts (id, name, slug, tier, status, timezone, currency, created_at, updated_at)
			VALUES (?, ?, ?, 'key', 'active', 'UTC', 'EUR', ?, ?)`, a[0], a[1], a[0], now, now)
	}
}

// seed adds the hand-made dataset described above.
func seed(t testing.TB, db *gorm.DB) {
	t.Helper()
	seedPeople(t, db)
	now := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	exec := func(sql string, args ...any) {
		t.Helper()
		if err := db.Exec(sql, args...).Error; err != nil {
			t.Fatalf("seed: %s: %v", sql, err)
		}
	}
	type request struct {
		id, account string
		owner       any // string or nil
		opened      time.Time
		touches     int
		csat        any // int or nil
		mergedInto  any // string or nil
	}
	day := func(d, h, m, s, ns int) time.Time { return time.Date(2026, time.Month(3), d, h, m, s, ns, time.UTC) }
	opened := map[string]time.Time{}
	for _, r := range []request{
		{"r1", "acc_acme", "usr_anna", day(1, 0, 0, 0, 0), 2, 5, nil},
		{"r2", "acc_acme", "usr_boris", day(2, 10, 0, 0, 0), 4, 3, nil},
		{"r3", "acc_globex", "usr_anna", day(2, 23, 59, 59, 500_000_000), 1, nil, nil},
		{"r4", "acc_globex", nil, day(2, 12, 0, 0, 0), 0, 4, nil},
		{"r5", "acc_acme", "usr_anna", day(1, 12, 0, 0, 0), 10, 1, "r1"},
		{"r6", "acc_acme", "usr_anna", day(3, 0, 0, 0, 0), 7, 1, nil},
		{"r7", "acc_globex", "usr_boris", day(1, 0, 0, 0, 0).Add(-time.Second), 3, 2, nil},
	} {
		exec(`INSERT INTO requests (id, account_id, owner_id, channel, priority, category, status,
				opened_at, touches, csat, merged_into_id, created_at, updated_at)
			VALUES (?, ?, ?, 'telegram', 'normal', 'question', 'open', ?, ?, ?, ?, ?, ?)`,
			r.id, r.account, r.owner, r.opened, r.touches, r.csat, r.mergedInto, r.opened, r.opened)
		opened[r.id] = r.opened
	}
	type clock struct {
		request, clock string
		start          int // minutes after the request opened (a clock never starts before)
		elapsed        any // int64 seconds, or nil while running
		target         any // int64 seconds, or nil without a target
		breached       bool
	}
	for _, c := range []clock{
		{"r1", clockFirstResponse, 0, 60, 900, false},
		{"r2", clockFirstResponse, 0, 120, 900, false},
		{"r3", clockFirstResponse, 0, 300, 900, false},
		{"r4", clockFirstResponse, 0, 900, 600, true},
		{"r1", clockFollowUp, 10, 200, nil, false},
		{"r1", clockFollowUp, 20, 400, 1800, false},
		{"r2", clockFollowUp, 10, nil, 1800, true},
		{"r3", clockFollowUp, 10, nil, 1800, false},
		{"r1", clockResolution, 0, 3600, 86400, false},
		{"r2", clockResolution, 0, 90000, 86400, true},
		{"r3", clockResolution, 0, nil, 86400, false},
		{"r4", clockResolution, 0, 7200, nil, false},
		{"r5", clockFirstResponse, 0, 5, 900, false},
		{"r5", clockResolution, 0, 5, 900, false},
		{"r6", clockFirstResponse, 0, 10000, 900, true},
		{"r6", clockResolution, 0, 5, nil, false},
		{"r7", clockFirstResponse, 0, 5, 900, false},
		{"r7", clockResolution, 0, nil, 900, true},
	} {
		started := opened[c.request].Add(time.Duration(c.start) * time.Minute)
		var stopped any
		if c.elapsed != nil {
			stopped = started.Add(time.Duration(c.elapsed.(int)) * time.Second)
		}
		exec(`INSERT INTO request_clocks (request_id, clock, started_at, stopped_at, elapsed_seconds, target_seconds, breached)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, c.request, c.clock, started, stopped, c.elapsed, c.target, c.breached)
	}
	syncClocks(exec)
	for i, q := range []struct {
		request string
		score   int
	}{{"r1", 4}, {"r1", 5}, {"r3", 2}, {"r5", 1}, {"r6", 1}} {
		exec(`INSERT INTO request_qa (id, request_id, reviewer_id, score, created_at) VALUES (?, ?, 'usr_lena', ?, ?)`,
			"qa"+string(rune('0'+i)), q.request, q.score, now)
	}
	syncQA(exec)
}

func f(v float64) *float64 { return &v }

// The expected rows, with the arithmetic. percentile_cont(p) over n sorted
// values v0..v(n-1): position p*(n-1), interpolated between its neighbours.
var (
	// All of r1..r4.
	total = Row{
		Requests:          4,
		TouchesPerRequest: f(1.75), // (2+4+1+0)/4
		// {60, 120, 300, 900}: p50 at 1.5 = 120 + 0.5*(300-120) = 210;
		// p90 at 2.7 = 300 + 0.7*(900-300) = 720. Met 3 of 4 decided.
		FirstResponse: Durations{Count: 4, P50: f(210), P90: f(720), SLACompliance: f(75)},
		// {200, 400}: p50 at 0.5 = 300; p90 at 0.9 = 200 + 0.9*200 = 380.
		// Decided: r1's second (met) and r2's breached running one: 1 of 2.
		FollowUp: Durations{Count: 2, P50: f(300), P90: f(380), SLACompliance: f(50)},
		// {3600, 7200, 90000}: p50 at 1 = 7200; p90 at 1.8 = 7200 + 0.8*82800 = 73440.
		// Decided: r1 (met), r2 (breached); r3 runs, r4 has no target: 1 of 2.
		Resolution: Durations{Count: 3, P50: f(7200), P90: f(73440), SLACompliance: f(50)},
		// (3+1+1) met of (4+2+2) decided = 62.5 %.
		SLACompliance: f(62.5),
		CSAT:          f(4), CSATCount: 3, // (5+3+4)/3
		QA: f(3.67), QACount: 3, // (4+5+2)/3 = 3.666…
	}
	// r4.
	unowned = Row{
		Key: "", Name: "", Requests: 1, TouchesPerRequest: f(0),
		FirstResponse: Durations{Count: 1, P50: f(900), P90: f(900), SLACompliance: f(0)},
		Resolution:    Durations{Count: 1, P50: f(7200), P90: f(7200)}, // no target: nothing decided
		SLACompliance: f(0),                                            // 0 of 1
		CSAT:          f(4), CSATCount: 1,
	}
	// r1, r3.
	anna = Row{
		Key: "usr_anna", Name: "Anna", Requests: 2, TouchesPerRequest: f(1.5), // (2+1)/2
		// {60, 300}: p50 = 60 + 0.5*240 = 180; p90 = 60 + 0.9*240 = 276.
		FirstResponse: Durations{Count: 2, P50: f(180), P90: f(276), SLACompliance: f(100)},
		// {200, 400} as in the total; r3's running, unbreached one is undecided: 1 of 1.
		FollowUp:      Durations{Count: 2, P50: f(300), P90: f(380), SLACompliance: f(100)},
		Resolution:    Durations{Count: 1, P50: f(3600), P90: f(3600), SLACompliance: f(100)},
		SLACompliance: f(100), // 4 of 4
		CSAT:          f(5), CSATCount: 1,
		QA: f(3.67), QACount: 3, // (4+5+2)/3
	}
	// r2.
	boris = Row{
		Key: "usr_boris", Name: "Boris", Requests: 1, TouchesPerRequest: f(4),
		FirstResponse: Durations{Count: 1, P50: f(120), P90: f(120), SLACompliance: f(100)},
		FollowUp:      Durations{Count: 0, SLACompliance: f(0)}, // breached while running: decided, no time
		Resolution:    Durations{Count: 1, P50: f(90000), P90: f(90000), SLACompliance: f(0)},
		SLACompliance: f(33.33), // 1 of 3
		CSAT:          f(3), CSATCount: 1,
	}
	// r1, r2.
	acme = Row{
		Key: "acc_acme", Name: "Acme", Requests: 2, TouchesPerRequest: f(3), // (2+4)/2
		// {60, 120}: p50 = 60 + 0.5*60 = 90; p90 = 60 + 0.9*60 = 114.
		FirstResponse: Durations{Count: 2, P50: f(90), P90: f(114), SLACompliance: f(100)},
		FollowUp:      Durations{Count: 2, P50: f(300), P90: f(380), SLACompliance: f(50)},
		// {3600, 90000}: p50 = 3600 + 0.5*86400 = 46800; p90 = 3600 + 0.9*86400 = 81360.
		Resolution:    Durations{Count: 2, P50: f(46800), P90: f(81360), SLACompliance: f(50)},
		SLACompliance: f(66.67),           // (2+1+1) of (2+2+2)
		CSAT:          f(4), CSATCount: 2, // (5+3)/2
		QA: f(4.5), QACount: 2, // (4+5)/2
	}
	// r3, r4.
	globex = Row{
		Key: "acc_globex", Name: "Globex", Requests: 2, TouchesPerRequest: f(0.5), // (1+0)/2
		// {300, 900}: p50 = 600; p90 = 300 + 0.9*600 = 840. r3 met, r4 breached.
		FirstResponse: Durations{Count: 2, P50: f(600), P90: f(840), SLACompliance: f(50)},
		FollowUp:      Durations{Count: 0},                             // r3's runs unbreached: undecided
		Resolution:    Durations{Count: 1, P50: f(7200), P90: f(7200)}, // r3 runs, r4 has no target
		SLACompliance: f(50),                                           // 1 of 2
		CSAT:          f(4), CSATCount: 1,
		QA: f(2), QACount: 1,
	}
	// r1.
	march1 = Row{
		Key: "2026-03-01", Name: "2026-03-01", Requests: 1, TouchesPerRequest: f(2),
		FirstResponse: Durations{Count: 1, P50: f(60), P90: f(60), SLACompliance: f(100)},
		FollowUp:      Durations{Count: 2, P50: f(300), P90: f(380), SLACompliance: f(100)},
		Resolution:    Durations{Count: 1, P50: f(3600), P90: f(3600), SLACompliance: f(100)},
		SLACompliance: f(100), // 3 of 3
		CSAT:          f(5), CSATCount: 1,
		QA: f(4.5), QACount: 2,
	}
	// r2, r3 (23:59:59.5 UTC is still March 2), r4.
	march2 = Row{
		Key: "2026-03-02", Name: "2026-03-02", Requests: 3, TouchesPerRequest: f(1.67), // (4+1+0)/3
		// {120, 300, 900}: p50 at 1 = 300; p90 at 1.8 = 300 + 0.8*600 = 780. 2 of 3 met.
		FirstResponse: Durations{Count: 3, P50: f(300), P90: f(780), SLACompliance: f(66.67)},
		FollowUp:      Durations{Count: 0, SLACompliance: f(0)}, // r2 breached running; r3 undecided
		// {7200, 90000}: p50 = 7200 + 0.5*82800 = 48600; p90 = 7200 + 0.9*82800 = 81720.
		Resolution:    Durations{Count: 2, P50: f(48600), P90: f(81720), SLACompliance: f(0)},
		SLACompliance: f(40),                // (2+0+0) of (3+1+1)
		CSAT:          f(3.5), CSATCount: 2, // (3+4)/2
		QA: f(2), QACount: 1,
	}
)

func TestSupport(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		seed(t, db.Gorm)
		ctx := context.Background()
		for _, tc := range []struct {
			name   string
			q      Query
			total  Row
			groups []Row
		}{
			{"total", Query{From: from, To: to}, total, []Row{}},
			{"by manager", Query{From: from, To: to, GroupBy: GroupManager}, total, []Row{unowned, anna, boris}},
			{"by account", Query{From: from, To: to, GroupBy: GroupAccount}, total, []Row{acme, globex}},
			{"by day", Query{From: from, To: to, GroupBy: GroupDay}, total, []Row{march1, march2}},
			{"own requests", Query{From: from, To: to, OwnerID: "usr_anna"}, withoutKey(anna), []Row{}},
			{"own requests by manager", Query{From: from, To: to, GroupBy: GroupManager, OwnerID: "usr_anna"}, withoutKey(anna), []Row{anna}},
			{"bounds given in another zone", Query{
				From: from.In(time.FixedZone("MSK", 3*3600)), To: to.In(time.FixedZone("EST", -5*3600)),
			}, total, []Row{}},
			{"last half second", Query{From: to.Add(-500 * time.Millisecond), To: to}, Row{
				Requests: 1, TouchesPerRequest: f(1), // r3 only
				FirstResponse: Durations{Count: 1, P50: f(300), P90: f(300), SLACompliance: f(100)},
				SLACompliance: f(100),
				QA:            f(2), QACount: 1,
			}, []Row{}},
			{"at To", Query{From: to, To: to.Add(time.Hour)}, Row{
				Requests: 1, TouchesPerRequest: f(7), // r6 only: the window starts where the last ended
				FirstResponse: Durations{Count: 1, P50: f(10000), P90: f(10000), SLACompliance: f(0)},
				Resolution:    Durations{Count: 1, P50: f(5), P90: f(5)},
				SLACompliance: f(0),
				CSAT:          f(1), CSATCount: 1,
				QA: f(1), QACount: 1,
			}, []Row{}},
			{"nothing opened", Query{From: from.AddDate(-1, 0, 0), To: from.AddDate(0, -1, 0), GroupBy: GroupDay}, Row{}, []Row{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := Support(ctx, db.Gorm, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				if !got.From.Equal(tc.q.From) || !got.To.Equal(tc.q.To) || got.GroupBy != tc.q.GroupBy {
					t.Errorf("echoed query: from %v to %v group_by %q", got.From, got.To, got.GroupBy)
				}
				want := &Report{From: got.From, To: got.To, GroupBy: got.GroupBy, Total: tc.total, Groups: tc.groups}
				if g, w := asJSON(t, got), asJSON(t, want); g != w {
					t.Errorf("got\n%s\nwant\n%s", g, w)
				}
			})
		}
	})
}

// withoutKey is r as the total of a query: no key, no name.
func withoutKey(r Row) Row {
	r.Key, r.Name = "", ""
	return r
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSupportEmptyJSON(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		got, err := Support(context.Background(), db.Gorm, Query{From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(got)
		for _, want := range []string{`"groups":[]`, `"touches_per_request":null`, `"p50":null`, `"sla_compliance":null`, `"csat":null`, `"qa":null`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %s", b, want)
			}
		}
	})
}

func TestSupportInvalid(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		for _, q := range []Query{
			{From: from, To: to, GroupBy: "week"},
			{From: to, To: from},
			{From: from, To: from},
			{To: to},
		} {
			_, err := Support(context.Background(), db.Gorm, q)
			if keycare.ErrorCode(err) != keycare.EINVALID {
				t.Errorf("%+v: err = %v, want invalid", q, err)
			}
		}
	})
}

// TestSupportSQLParameters guards against gorm's named-parameter parsing:
// every at sign must start a known parameter that ends where gorm expects,
// and no question mark may appear.
func TestSupportSQLParameters(t *testing.T) {
	known := map[string]bool{"from": true, "to": true, "owner_id": true}
	param := regexp.MustCompile(`@([a-z_]+)([ ,)\n]|$)`)
	for _, dialect := range []string{"postgres", "sqlite"} {
		for _, groupBy := range []string{GroupNone, GroupManager, GroupAccount, GroupDay} {
			for _, owner := range []string{"", "usr_anna"} {
				byName, err := texts(dialect, Query{GroupBy: groupBy, OwnerID: owner})
				if err != nil {
					t.Fatal(err)
				}
				for name, text := range byName {
					checkSQLText(t, dialect+" "+groupBy+" "+name, text, known, param)
				}
			}
		}
	}
}

func checkSQLText(t *testing.T, dialect, text string, known map[string]bool, param *regexp.Regexp) {
	t.Helper()
	{
		if strings.Contains(text, "?") {
			t.Errorf("%s: SQL holds a question mark", dialect)
		}
		for _, m := range param.FindAllStringSubmatch(text, -1) {
			if !known[m[1]] {
				t.Errorf("%s: unknown parameter @%s", dialect, m[1])
			}
		}
		if n, m := strings.Count(text, "@"), len(param.FindAllString(text, -1)); n != m {
			t.Errorf("%s: %d at signs, %d well-formed parameters", dialect, n, m)
		}
		if strings.Contains(text, "{{") {
			t.Errorf("%s: placeholder left in SQL", dialect)
		}
	}
}

// TestSupportAgreesWithReference seeds a few hundred pseudo-random requests
// (ties, running clocks, missing targets, unowned and merged requests
// included) and checks Support against a plain Go computation of the same
// report, for every GroupBy, on each database; on PostgreSQL also against
// percentile_cont itself.
func TestSupportAgreesWithReference(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		data := randomData(rand.New(rand.NewPCG(1, 2)))
		data.insert(t, db.Gorm)
		ctx := context.Background()
		for _, q := range []Query{
			{From: from, To: to},
			{From: from, To: to, GroupBy: GroupManager},
			{From: from, To: to, GroupBy: GroupAccount},
			{From: from, To: to, GroupBy: GroupDay},
			{From: from.Add(36 * time.Hour), To: to, GroupBy: GroupDay, OwnerID: "usr_anna"},
		} {
			got, err := Support(ctx, db.Gorm, q)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := asJSON(t, got), asJSON(t, data.report(q)); g != w {
				t.Errorf("%+v: got\n%s\nwant\n%s", q, g, w)
			}
		}
		if db.Dialect != database.Postgres {
			return
		}
		got, err := Support(ctx, db.Gorm, Query{From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		for clock, d := range map[string]Durations{clockFirstResponse: got.Total.FirstResponse, clockFollowUp: got.Total.FollowUp, clockResolution: got.Total.Resolution} {
			var p50, p90 float64
			err := db.Gorm.Raw(`SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY c.elapsed_seconds),
			                           percentile_cont(0.9) WITHIN GROUP (ORDER BY c.elapsed_seconds)
			                    FROM request_clocks c JOIN requests r ON r.id = c.request_id
			                    WHERE r.opened_at >= ? AND r.opened_at < ? AND r.merged_into_id IS NULL
			                      AND c.clock = ? AND c.elapsed_seconds IS NOT NULL`, from, to, clock).Row().Scan(&p50, &p90)
			if err != nil {
				t.Fatal(err)
			}
			if *d.P50 != math.Round(p50*100)/100 || *d.P90 != math.Round(p90*100)/100 {
				t.Errorf("%s: p50 %v p90 %v, percentile_cont %v %v", clock, *d.P50, *d.P90, p50, p90)
			}
		}
	})
}

// testData is a generated dataset and what it should measure.
type testData struct {
	requests []testRequest
	clocks   []testClock
	qa       []testQA
}

type testRequest struct {
	id, account, owner string // owner "" for none
	opened             time.Time
	touches            int
	csat               int // 0 for none
	merged             bool
}

type testClock struct {
	request, clock    string
	started           time.Time
	elapsed, target   int64 // -1 for NULL
	stopped, breached bool
}

type testQA struct {
	request string
	score   int
}

func randomData(r *rand.Rand) *testData {
	d := &testData{}
	kinds := []string{clockFirstResponse, clockFollowUp, clockResolution}
	for i := range 300 {
		req := testRequest{
			id:      fmt.Sprintf("req_%03d", i),
			account: []string{"acc_acme", "acc_globex"}[r.IntN(2)],
			owner:   []string{"", "usr_anna", "usr_boris", "usr_lena"}[r.IntN(4)],
			// From a day before the window to a day after it.
			opened:  from.Add(-24*time.Hour + time.Duration(r.Int64N(int64(4*24*time.Hour)))).Truncate(time.Microsecond),
			touches: r.IntN(6),
			merged:  r.IntN(15) == 0,
		}
		if i == 0 {
			req.merged = false // the others merge into it
		}
		if r.IntN(3) > 0 {
			req.csat = 1 + r.IntN(5)
		}
		d.requests = append(d.requests, req)
		for k, kind := range kinds {
			for j := range r.IntN(3) {
				c := testClock{request: req.id, clock: kind, started: req.opened.Add(time.Duration(k*10+j) * time.Minute), elapsed: -1, target: -1}
				if r.IntN(4) > 0 {
					c.target = []int64{60, 600, 3600}[r.IntN(3)]
				}
				if r.IntN(5) > 0 {
					c.stopped = true
					c.elapsed = int64(r.IntN(40)) * 30 // coarse, so there are ties
					c.breached = c.target >= 0 && c.elapsed > c.target
				} else {
					c.breached = c.target >= 0 && r.IntN(2) == 0
				}
				d.clocks = append(d.clocks, c)
			}
		}
		for range r.IntN(3) {
			if r.IntN(3) == 0 {
				d.qa = append(d.qa, testQA{request: req.id, score: 1 + r.IntN(5)})
			}
		}
	}
	return d
}

func (d *testData) insert(t *testing.T, db *gorm.DB) {
	t.Helper()
	seedPeople(t, db)
	exec := func(sql string, args ...any) {
		t.Helper()
		if err := db.Exec(sql, args...).Error; err != nil {
			t.Fatalf("seed: %s: %v", sql, err)
		}
	}
	null := func(v any, ok bool) any {
		if !ok {
			return nil
		}
		return v
	}
	for _, r := range d.requests {
		var merged any
		if r.merged {
			merged = d.requests[0].id
		}
		exec(`INSERT INTO requests (id, account_id, owner_id, channel, priority, category, status,
				opened_at, touches, csat, merged_into_id, created_at, updated_at)
			VALUES (?, ?, ?, 'telegram', 'normal', 'question', 'open', ?, ?, ?, ?, ?, ?)`,
			r.id, r.account, null(r.owner, r.owner != ""), r.opened, r.touches, null(r.csat, r.csat > 0), merged, r.opened, r.opened)
	}
	for _, c := range d.clocks {
		exec(`INSERT INTO request_clocks (request_id, clock, started_at, stopped_at, elapsed_seconds, target_seconds, breached)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, c.request, c.clock, c.started,
			null(c.started.Add(time.Duration(c.elapsed)*time.Second), c.stopped), null(c.elapsed, c.elapsed >= 0),
			null(c.target, c.target >= 0), c.breached)
	}
	syncClocks(exec)
	for i, q := range d.qa {
		exec(`INSERT INTO request_qa (id, request_id, reviewer_id, score, created_at) VALUES (?, ?, 'usr_lena', ?, ?)`,
			fmt.Sprintf("qa_%03d", i), q.request, q.score, from)
	}
	syncQA(exec)
}

// report computes what Support should answer, the obvious way.
func (d *testData) report(q Query) *Report {
	names := map[string]string{"usr_anna": "Anna", "usr_boris": "Boris", "usr_lena": "Lena", "acc_acme": "Acme", "acc_globex": "Globex"}
	keyOf := func(r testRequest) string {
		switch q.GroupBy {
		case GroupManager:
			return r.owner
		case GroupAccount:
			return r.account
		case GroupDay:
			return r.opened.UTC().Format(time.DateOnly)
		}
		return ""
	}
	type acc struct {
		requests, touches, csatSum, csatN, qaSum, qaN int
		elapsed                                       map[string][]float64
		decided, met                                  map[string]int64
	}
	newAcc := func() *acc {
		return &acc{elapsed: map[string][]float64{}, decided: map[string]int64{}, met: map[string]int64{}}
	}
	total, groups := newAcc(), map[string]*acc{}
	measured := map[string]string{} // request id → group key
	for _, r := range d.requests {
		if r.merged || r.opened.Before(q.From) || !r.opened.Before(q.To) || (q.OwnerID != "" && r.owner != q.OwnerID) {
			continue
		}
		k := keyOf(r)
		measured[r.id] = k
		if groups[k] == nil {
			groups[k] = newAcc()
		}
		for _, a := range []*acc{total, groups[k]} {
			a.requests++
			a.touches += r.touches
			if r.csat > 0 {
				a.csatSum += r.csat
				a.csatN++
			}
		}
	}
	for _, c := range d.clocks {
		k, ok := measured[c.request]
		if !ok {
			continue
		}
		for _, a := range []*acc{total, groups[k]} {
			if c.elapsed >= 0 {
				a.elapsed[c.clock] = append(a.elapsed[c.clock], float64(c.elapsed))
			}
			if c.target >= 0 && (c.stopped || c.breached) {
				a.decided[c.clock]++
				if !c.breached {
					a.met[c.clock]++
				}
			}
		}
	}
	for _, x := range d.qa {
		k, ok := measured[x.request]
		if !ok {
			continue
		}
		for _, a := range []*acc{total, groups[k]} {
			a.qaSum += x.score
			a.qaN++
		}
	}
	avg := func(sum, n int) *float64 {
		if n == 0 {
			return nil
		}
		return rounded(float64(sum) / float64(n))
	}
	percentile := func(v []float64, p float64) *float64 {
		if len(v) == 0 {
			return nil
		}
		s := slices.Sorted(slices.Values(v))
		pos := p * float64(len(s)-1)
		lo := int(math.Floor(pos))
		hi := min(lo+1, len(s)-1)
		return rounded(s[lo] + (pos-float64(lo))*(s[hi]-s[lo]))
	}
	row := func(key, name string, a *acc) Row {
		dur := func(clock string) Durations {
			return Durations{Count: len(a.elapsed[clock]), P50: percentile(a.elapsed[clock], 0.5), P90: percentile(a.elapsed[clock], 0.9),
				SLACompliance: percent(a.met[clock], a.decided[clock])}
		}
		var met, decided int64
		for _, k := range []string{clockFirstResponse, clockFollowUp, clockResolution} {
			met, decided = met+a.met[k], decided+a.decided[k]
		}
		return Row{Key: key, Name: name, Requests: a.requests, TouchesPerRequest: avg(a.touches, a.requests),
			FirstResponse: dur(clockFirstResponse), FollowUp: dur(clockFollowUp), Resolution: dur(clockResolution),
			SLACompliance: percent(met, decided), CSAT: avg(a.csatSum, a.csatN), CSATCount: a.csatN, QA: avg(a.qaSum, a.qaN), QACount: a.qaN}
	}
	rep := &Report{From: q.From, To: q.To, GroupBy: q.GroupBy, Total: row("", "", total), Groups: []Row{}}
	if q.GroupBy != GroupNone {
		for _, k := range slices.Sorted(maps.Keys(groups)) {
			name := names[k]
			if q.GroupBy == GroupDay {
				name = k
			}
			rep.Groups = append(rep.Groups, row(k, name, groups[k]))
		}
	}
	return rep
}

// syncClocks does what the requests store does when it saves clocks: copy
// each clock's request's opening time, account and owner onto it, and keep
// no clocks for merged requests.
func syncClocks(exec func(string, ...any)) {
	exec(`UPDATE request_clocks SET opened_at = (SELECT opened_at FROM requests WHERE requests.id = request_clocks.request_id), account_id = (SELECT account_id FROM requests WHERE requests.id = request_clocks.request_id), owner_id = (SELECT owner_id FROM requests WHERE requests.id = request_clocks.request_id)`)
	exec(`DELETE FROM request_clocks WHERE request_id IN (SELECT id FROM requests WHERE merged_into_id IS NOT NULL)`)
}

// syncQA does what the requests store does when it adds a review: keep the
// sum and the number of each request's QA scores on the request.
func syncQA(exec func(string, ...any)) {
	exec(`UPDATE requests SET qa_score_sum = (SELECT COALESCE(SUM(score), 0) FROM request_qa WHERE request_qa.request_id = requests.id),
	                          qa_reviews = (SELECT COUNT(*) FROM request_qa WHERE request_qa.request_id = requests.id)`)
}

// TestSupportReadsOneSnapshot reports by manager while requests and their
// clocks keep arriving. On PostgreSQL the group clocks and the total clocks
// are read on two connections at once; sharing one snapshot, the groups'
// counts always add up to the total's.
func TestSupportReadsOneSnapshot(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		seedPeople(t, db.Gorm)
		ctx, stop := context.WithCancel(context.Background())
		written := make(chan error, 1)
		go func() {
			defer close(written)
			owners := []string{"usr_anna", "usr_boris", "usr_lena"}
			for i := 0; ctx.Err() == nil; i++ {
				opened := from.Add(time.Duration(i) * time.Minute)
				id := fmt.Sprintf("req_%05d", i)
				err := db.Gorm.Transaction(func(tx *gorm.DB) error {
					if err := tx.Exec(`INSERT INTO requests (id, account_id, owner_id, channel, priority, category, status,
							opened_at, touches, created_at, updated_at)
						VALUES (?, 'acc_acme', ?, 'telegram', 'normal', 'question', 'open', ?, 1, ?, ?)`,
						id, owners[i%3], opened, opened, opened).Error; err != nil {
						return err
					}
					return tx.Exec(`INSERT INTO request_clocks (request_id, clock, started_at, stopped_at, elapsed_seconds, target_seconds,
							breached, opened_at, account_id, owner_id)
						VALUES (?, 'first_response', ?, ?, ?, 900, false, ?, 'acc_acme', ?)`,
						id, opened, opened.Add(time.Minute), 60+i, opened, owners[i%3]).Error
				})
				if err != nil {
					written <- err
					return
				}
			}
		}()
		for range 40 {
			r, err := Support(context.Background(), db.Gorm, Query{From: from, To: to, GroupBy: GroupManager})
			if err != nil {
				t.Fatal(err)
			}
			requests, clocks := 0, 0
			for _, g := range r.Groups {
				requests += g.Requests
				clocks += g.FirstResponse.Count
			}
			if requests != r.Total.Requests || clocks != r.Total.FirstResponse.Count || clocks != requests {
				t.Fatalf("groups: %d requests, %d clocks; total: %d requests, %d clocks",
					requests, clocks, r.Total.Requests, r.Total.FirstResponse.Count)
			}
		}
		stop()
		if err := <-written; err != nil {
			t.Fatal(err)
		}
	})
}

// When every slot for a report on two connections is taken, a grouped
// report runs on one connection instead, with the same numbers.
func TestSupportWithoutAParallelSlot(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		seed(t, db.Gorm)
		ctx := context.Background()
		q := Query{From: from, To: to, GroupBy: GroupManager}
		want, err := Support(ctx, db.Gorm, q)
		if err != nil {
			t.Fatal(err)
		}
		if err := parallel.Acquire(ctx, parallelReports); err != nil {
			t.Fatal(err)
		}
		got, err := Support(ctx, db.Gorm, q)
		parallel.Release(parallelReports)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := asJSON(t, got), asJSON(t, want); g != w {
			t.Errorf("on one connection\n%s\non two\n%s", g, w)
		}
	})
}
