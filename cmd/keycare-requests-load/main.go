// Command keycare-requests-load seeds PostgreSQL with 200 accounts, 50,000
// requests and 1,000,000 messages and measures the request queue and the
// support metrics under an open-loop load, next to a bare echo "hello"
// endpoint measured in the same run as the baseline:
//
//	GET /api/v1/requests?owner=me&status=open   as each manager in turn (target p99 ≤ 10 ms)
//	GET /api/v1/requests?breached=true          as the lead             (target p99 ≤ 10 ms)
//	GET /api/v1/metrics/support?from=…&to=…     as the admin, 30 days   (target p99 ≤ 45 ms)
//	  … &group_by=manager                       as the admin, 30 days   (target p99 ≤ 45 ms)
//
//	go run ./cmd/keycare-requests-load
//
// The Keycare API runs in this process, built as `keycare serve` builds it,
// on 127.0.0.1:0; load is only ever sent to loopback. The database named in
// -database-url (its name must contain "bench") is created, migrated and
// seeded, and dropped at the end unless -keep.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/accounts"
	"github.com/keycare/keycare/api"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/internal/benchkit"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/idempotency"
	"github.com/keycare/keycare/internal/page"
	"github.com/keycare/keycare/requests"
	"github.com/keycare/keycare/requests/metrics"
	"github.com/keycare/keycare/team"
)

type options struct {
	DatabaseURL   string
	Keep          bool
	Reuse         bool
	Rate          float64
	MetricsRate   float64
	Duration      time.Duration
	Warmup        time.Duration
	JSON          bool
	Explain       bool
	ExplainRuns   int
	AccessLog     bool
	VerifyEvery   int
	Inflight      int
	Timeout       time.Duration
	QueueP99      time.Duration
	MetricsP99    time.Duration
	MetricsDays   int
	SkipMetrics   bool
	SkipQueue     bool
	ExplainOutput string
	CPUProfile    string
	ProfilePhase  string
}

func main() {
	time.Local = time.UTC // as cmd/keycare does
	var o options
	flag.StringVar(&o.DatabaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/keycare_bench_requests?sslmode=disable",
		"PostgreSQL database to create, seed and serve from (its name must contain \"bench\"); dropped at the end unless -keep")
	flag.BoolVar(&o.Keep, "keep", false, "keep the database after the run (reuse it later with -reuse)")
	flag.BoolVar(&o.Reuse, "reuse", false, "reuse a database seeded by an earlier run with -keep instead of creating it (it is then kept)")
	flag.Float64Var(&o.Rate, "rate", 50, "requests per second of each measured phase, fired on a fixed schedule (open loop)")
	flag.Float64Var(&o.MetricsRate, "metrics-rate", 0, "requests per second of the two metrics phases (0: -rate)")
	flag.DurationVar(&o.Duration, "duration", 20*time.Second, "length of each measured phase")
	flag.DurationVar(&o.Warmup, "warmup", 3*time.Second, "unrecorded load on each endpoint just before its phase")
	flag.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	flag.BoolVar(&o.Explain, "explain", false, "print the full EXPLAIN (ANALYZE, BUFFERS) plans, not only their summary")
	flag.StringVar(&o.ExplainOutput, "explain-out", "", "also write the full plans to this file")
	flag.IntVar(&o.ExplainRuns, "explain-runs", 5, "EXPLAIN ANALYZE runs per query (the median is reported)")
	flag.BoolVar(&o.AccessLog, "access-log", false, "format the request log as JSON like production (written to io.Discard) instead of dropping it")
	flag.IntVar(&o.VerifyEvery, "verify-every", 10, "decode and check every Nth response body")
	flag.IntVar(&o.Inflight, "max-inflight", 5000, "in-flight requests above which a send counts as an overload error")
	flag.DurationVar(&o.Timeout, "timeout", 10*time.Second, "per-request timeout")
	flag.DurationVar(&o.QueueP99, "target-queue-p99", 10*time.Millisecond, "p99 target of both queue calls")
	flag.DurationVar(&o.MetricsP99, "target-metrics-p99", 45*time.Millisecond, "p99 target of both metrics calls")
	flag.IntVar(&o.MetricsDays, "metrics-days", 30, "the metrics period: from this many days ago to now")
	flag.BoolVar(&o.SkipQueue, "skip-queue", false, "do not measure the two queue calls")
	flag.BoolVar(&o.SkipMetrics, "skip-metrics", false, "do not measure the two metrics calls")
	flag.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of one measured phase to this file (go tool pprof -top FILE)")
	flag.StringVar(&o.ProfilePhase, "profile-phase", "queue: mine", "the phase -cpuprofile profiles (a prefix of its label)")
	flag.Parse()
	if o.MetricsRate == 0 {
		o.MetricsRate = o.Rate
	}
	if o.Rate <= 0 || o.MetricsRate <= 0 || o.Duration <= 0 || o.MetricsDays <= 0 || o.ExplainRuns <= 0 {
		fmt.Fprintln(os.Stderr, "keycare-requests-load: -rate, -metrics-rate, -duration, -metrics-days and -explain-runs must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "keycare-requests-load:", err)
		os.Exit(1)
	}
	if o.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		rep.print(os.Stdout, o.Explain)
	}
	if rep.Errors > 0 {
		os.Exit(4)
	}
	if !rep.TargetsMet {
		os.Exit(3)
	}
}

// Report is everything the run measured.
type Report struct {
	Database        string          `json:"database"`
	PostgresVersion string          `json:"postgres_version"`
	GoVersion       string          `json:"go_version"`
	GOMAXPROCS      int             `json:"gomaxprocs"`
	CPUs            int             `json:"cpus"`
	Seeded          bool            `json:"seeded"`
	SeedSeconds     float64         `json:"seed_seconds"`
	SeedSteps       []SeedStep      `json:"seed_steps,omitempty"`
	SeedNow         time.Time       `json:"seed_now"`
	Counts          *Counts         `json:"counts"`
	RateLimit       string          `json:"rate_limit"`
	RequestLog      string          `json:"request_log"`
	Method          string          `json:"method"`
	WarmupSeconds   float64         `json:"warmup_seconds"`
	LoadAvgBefore   string          `json:"loadavg_before"`
	LoadAvgAfter    string          `json:"loadavg_after"`
	Phases          []Phase         `json:"phases"`
	Explains        []ExplainResult `json:"explain"`
	Targets         []Verdict       `json:"targets"`
	TargetsMet      bool            `json:"targets_met"`
	Errors          int             `json:"errors"`
	DatabaseDropped bool            `json:"database_dropped"`
	CPUProfile      string          `json:"cpu_profile,omitempty"`
	Elapsed         time.Duration   `json:"-"`
}

// Phase is one measured endpoint.
type Phase struct {
	Label    string `json:"label"`
	Endpoint string `json:"endpoint"`
	Caller   string `json:"caller"`
	benchkit.PhaseResult
	ServerErrors []string `json:"server_errors,omitempty"` // what the API logged at error level
}

// Verdict is one target checked.
type Verdict struct {
	Phase    string  `json:"phase"`
	TargetMs float64 `json:"target_p99_ms"`
	P99Ms    float64 `json:"p99_ms"`
	Errors   int     `json:"errors"`
	Met      bool    `json:"met"`
}

func run(ctx context.Context, o options) (_ *Report, err error) {
	began := time.Now()
	quiet := discardLog()
	rep := &Report{
		Database: benchkit.Redact(o.DatabaseURL), GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: runtime.NumCPU(),
		RateLimit:  "off (api.Config RateLimit=1e6/s, RateBurst=1e6)",
		RequestLog: "dropped before formatting (logging is not measured); errors the API logs are counted",
		Method: "open loop: requests fired on a fixed schedule regardless of responses; latency from the scheduled send time (no coordinated omission); " +
			"keep-alive net/http client, loopback only; one endpoint per phase; exact nearest-rank percentiles over all samples; any non-200 is an error",
		WarmupSeconds: o.Warmup.Seconds(), LoadAvgBefore: loadavg(),
	}
	errLog := newErrorLog(nil)
	if o.AccessLog {
		errLog = newErrorLog(jsonDiscardLog().Handler())
		rep.RequestLog = "formatted as JSON at info level like production, written to io.Discard"
	}
	apiLog := slog.New(errLog)

	// 1. Database: create, migrate, seed (or reuse).
	u, perr := url.Parse(o.DatabaseURL)
	if perr != nil {
		return nil, fmt.Errorf("-database-url: %w", perr)
	}
	benchDBName = strings.TrimPrefix(u.Path, "/")
	if !strings.Contains(benchDBName, "bench") {
		return nil, fmt.Errorf("-database-url: refusing database %q: its name must contain \"bench\"", benchDBName)
	}
	if !o.Reuse {
		if err := benchkit.ResetDatabase(ctx, o.DatabaseURL, true); err != nil {
			return nil, err
		}
		if !o.Keep {
			defer func() {
				if derr := benchkit.ResetDatabase(context.WithoutCancel(ctx), o.DatabaseURL, false); derr != nil {
					err = errors.Join(err, fmt.Errorf("drop %s: %w", benchDBName, derr))
				} else {
					rep.DatabaseDropped = true
				}
			}()
		}
	}
	db, err := database.Open(ctx, o.DatabaseURL, "", quiet)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := migrate(ctx, db); err != nil {
		return nil, err
	}
	_ = db.SQL.QueryRowContext(ctx, "SHOW server_version").Scan(&rep.PostgresVersion)
	var ds *dataset
	if o.Reuse {
		ds = &dataset{}
		if err := db.SQL.QueryRowContext(ctx, "SELECT max(opened_at) FROM requests").Scan(&ds.SeedNow); err != nil {
			return nil, fmt.Errorf("-reuse: %w", err)
		}
		if err := issueTokens(ctx, db, ds); err != nil {
			return nil, err
		}
	} else {
		progress("seeding %s: %d accounts, %d requests, %d messages (set-based SQL)...", benchDBName, nAccounts, nRequests, nMessages)
		if ds, err = seed(ctx, o.DatabaseURL, db); err != nil {
			return nil, err
		}
		rep.Seeded, rep.SeedSteps = true, ds.Steps
		rep.SeedSeconds = benchkit.Round1(ds.SeedTime.Seconds())
		progress("seeded in %.1fs", ds.SeedTime.Seconds())
	}
	rep.SeedNow = ds.SeedNow
	if rep.Counts, err = countRows(ctx, db, time.Now()); err != nil {
		return nil, err
	}

	trace := &sqlTrace{}
	trace.install(db.Gorm, db.SQL)

	// 2. The Keycare API as `keycare serve` builds it, and the echo baseline.
	teamSvc := team.NewService(db.Gorm)
	chatStore := chats.NewStore(db)
	reqStore := requests.NewStore(db, nil) // nothing measured writes, so nothing is enqueued
	chatStore.Conversations = reqStore
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	apiSrv := api.New(api.Config{RateLimit: 1e6, RateBurst: 1e6}, api.Deps{
		Log: apiLog, Accounts: accounts.NewStore(db), Team: teamSvc, Audit: audit.NewLog(db.Gorm),
		Ready: db.Ping, Registry: reg,
		Chats: chats.NewService(chatStore, nil), Idempotency: idempotency.NewStore(db),
		Requests: reqStore,
		SupportMetrics: func(ctx context.Context, q metrics.Query) (*metrics.Report, error) {
			return metrics.Support(ctx, db.Gorm, q)
		},
	})
	apiH := benchkit.NewTimedHandler(apiSrv.Handler())
	apiURL, closeAPI, err := benchkit.Serve(apiH, quiet)
	if err != nil {
		return nil, err
	}
	defer closeAPI()

	helloH, helloURL, closeHello, err := benchkit.Hello(quiet)
	if err != nil {
		return nil, err
	}
	defer closeHello()

	client := benchkit.Client(o.Timeout)

	get := func(path, token string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, apiURL+path, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("Accept", "application/json")
		return r
	}
	metricsPath := func(groupBy string) string {
		now := time.Now().UTC()
		q := url.Values{"from": {now.AddDate(0, 0, -o.MetricsDays).Format(time.RFC3339)}, "to": {now.Format(time.RFC3339)}}
		if groupBy != "" {
			q.Set("group_by", groupBy)
		}
		return api.Prefix + "/metrics/support?" + q.Encode()
	}
	queueReq := func(i int, _ *rand.Rand) *http.Request {
		return get(api.Prefix+"/requests?owner=me&status=open", ds.ManagerTokens[i%len(ds.ManagerTokens)])
	}
	breachedReq := func(int, *rand.Rand) *http.Request {
		return get(api.Prefix+"/requests?breached=true", ds.LeadToken)
	}
	metricsReq := func(int, *rand.Rand) *http.Request { return get(metricsPath(""), ds.AdminToken) }
	metricsMgrReq := func(int, *rand.Rand) *http.Request { return get(metricsPath("manager"), ds.AdminToken) }
	helloReq := func(int, *rand.Rand) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, helloURL+"/hello", nil)
		return r
	}
	verifyHello := func(b []byte) error {
		if string(b) != "hello" {
			return fmt.Errorf("body %q", b)
		}
		return nil
	}
	last30 := func() int64 {
		var n int64
		_ = db.SQL.QueryRowContext(ctx, "SELECT count(*) FROM requests WHERE opened_at >= $1 AND merged_into_id IS NULL",
			time.Now().AddDate(0, 0, -o.MetricsDays)).Scan(&n)
		return n
	}
	verifyQueue := func(b []byte) error { return checkQueue(b, ds.OpenOf) }
	verifyBreached := func(b []byte) error { return checkBreached(b, rep.Counts.BreachedAny) }
	verifyMetrics := func(grouped bool) func([]byte) error {
		return func(b []byte) error { return checkMetrics(b, last30(), grouped) }
	}

	// Sanity: one of each before loading anything.
	for _, c := range []struct {
		name   string
		req    *http.Request
		verify func([]byte) error
	}{
		{"queue", queueReq(0, nil), verifyQueue}, {"breached", breachedReq(0, nil), verifyBreached},
		{"metrics", metricsReq(0, nil), verifyMetrics(false)}, {"metrics by manager", metricsMgrReq(0, nil), verifyMetrics(true)},
	} {
		if err := benchkit.Check(ctx, client, c.req, c.verify); err != nil {
			return nil, fmt.Errorf("first %s request: %w", c.name, err)
		}
	}

	mk := func(name string, rate float64, d time.Duration, h *benchkit.TimedHandler, req func(int, *rand.Rand) *http.Request, verify func([]byte) error) *benchkit.Phase {
		return &benchkit.Phase{Database: benchDBName, Name: name, Rate: rate, Duration: d, Client: client, Server: h, Request: req, Verify: verify, Every: o.VerifyEvery, Inflight: o.Inflight}
	}
	type spec struct {
		label, endpoint, caller string
		rate                    float64
		h                       *benchkit.TimedHandler
		req                     func(int, *rand.Rand) *http.Request
		verify                  func([]byte) error
	}
	specs := []spec{{"hello (bare echo)", "GET /hello on a bare echo server", "none", o.Rate, helloH, helloReq, verifyHello}}
	if !o.SkipQueue {
		specs = append(specs,
			spec{"queue: mine, open", "GET /api/v1/requests?owner=me&status=open", fmt.Sprintf("the %d managers in turn", len(ds.ManagerTokens)), o.Rate, apiH, queueReq, verifyQueue},
			spec{"queue: breached", "GET /api/v1/requests?breached=true", "lead", o.Rate, apiH, breachedReq, verifyBreached})
	}
	if !o.SkipMetrics {
		specs = append(specs,
			spec{"metrics: 30 days", fmt.Sprintf("GET /api/v1/metrics/support?from=now-%dd&to=now", o.MetricsDays), "admin", o.MetricsRate, apiH, metricsReq, verifyMetrics(false)},
			spec{"metrics: by manager", fmt.Sprintf("GET /api/v1/metrics/support?from=now-%dd&to=now&group_by=manager", o.MetricsDays), "admin", o.MetricsRate, apiH, metricsMgrReq, verifyMetrics(true)})
	}

	// 3. Each endpoint: warm-up (not recorded), then measured.
	for _, s := range specs {
		if o.Warmup > 0 {
			progress("warm-up %-22s %s at %.0f/s (not recorded)", s.label, o.Warmup, s.rate)
			if r := mk("warmup", s.rate, o.Warmup, nil, s.req, s.verify).Run(ctx, nil); r.Errors > 0 {
				progress("warm-up of %s: %d errors (%v); measuring anyway", s.label, r.Errors, r.ErrorKinds)
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		runtime.GC()
		progress("measure %-22s %s at %.0f/s", s.label, o.Duration, s.rate)
		errLog.take()
		ph := mk(s.label, s.rate, o.Duration, s.h, s.req, s.verify)
		if o.CPUProfile != "" && strings.HasPrefix(s.label, o.ProfilePhase) {
			f, err := os.Create(o.CPUProfile)
			if err != nil {
				return nil, err
			}
			ph.OnStarted = func() {
				if err := pprof.StartCPUProfile(f); err != nil {
					progress("cpuprofile: %v", err)
				}
			}
			ph.OnStopped = func() { pprof.StopCPUProfile(); f.Close() }
			rep.CPUProfile = o.CPUProfile + " (" + s.label + ")"
		}
		res := ph.Run(ctx, &trace.n)
		rep.Phases = append(rep.Phases, Phase{Label: s.label, Endpoint: s.endpoint, Caller: s.caller, PhaseResult: res, ServerErrors: errLog.take()})
		rep.Errors += res.Errors
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	// 4. Verdicts.
	rep.TargetsMet = true
	for _, p := range rep.Phases {
		var target time.Duration
		switch {
		case strings.HasPrefix(p.Label, "queue"):
			target = o.QueueP99
		case strings.HasPrefix(p.Label, "metrics"):
			target = o.MetricsP99
		default:
			continue
		}
		v := Verdict{Phase: p.Label, TargetMs: benchkit.Ms(target), P99Ms: p.Latency.P99, Errors: p.Errors}
		v.Met = p.Errors == 0 && p.OK > 0 && p.Latency.P99 <= v.TargetMs
		rep.TargetsMet = rep.TargetsMet && v.Met
		rep.Targets = append(rep.Targets, v)
	}
	rep.LoadAvgAfter = loadavg()

	// 5. EXPLAIN (ANALYZE, BUFFERS) of the SQL each endpoint sends, captured
	// from Keycare's own code, after the load (it does not disturb it).
	progress("EXPLAIN (ANALYZE, BUFFERS) of each endpoint's query (%d runs each)", o.ExplainRuns)
	rep.Explains = explainAll(ctx, db, ds, o)
	if o.ExplainOutput != "" {
		var b strings.Builder
		for _, x := range rep.Explains {
			fmt.Fprintf(&b, "-- %s\n%s\n-- args: %s\n\n-- custom plan\n%s\n-- generic plan\n%s\n\n", x.Name, x.SQL, x.Args, x.CustomPlan, x.GenericPlan)
		}
		if err := os.WriteFile(o.ExplainOutput, []byte(b.String()), 0o644); err != nil {
			return nil, err
		}
	}
	rep.Elapsed = time.Since(began)
	return rep, nil
}

// explainAll captures and explains the queue SQL for one manager (the one
// with the most open requests), the breached queue for the lead, and both
// metrics queries for the admin.
func explainAll(ctx context.Context, db *database.DB, ds *dataset, o options) []ExplainResult {
	rdb, pool := recordingDB(ctx, db)
	store := requests.NewStore(rdb, nil)
	mgr := ds.ManagerIDs[0]
	for _, id := range ds.ManagerIDs {
		if ds.OpenOf[id] > ds.OpenOf[mgr] {
			mgr = id
		}
	}
	var admin, lead string
	_ = db.SQL.QueryRowContext(ctx, "SELECT id FROM users WHERE email = 'admin@bench.keycare.local'").Scan(&admin)
	_ = db.SQL.QueryRowContext(ctx, "SELECT id FROM users WHERE email = 'lead@bench.keycare.local'").Scan(&lead)
	as := func(id, role string) context.Context {
		return keycare.WithActor(ctx, keycare.Actor{Kind: keycare.ActorUser, UserID: id, Role: role})
	}
	yes := true
	now := time.Now().UTC()
	type job struct {
		name string
		call func() error                        // the queue: its SQL is captured as it is sent
		sql  func() ([]metrics.Statement, error) // the metrics: the statements Support sends
	}
	metricsSQL := func(groupBy string) func() ([]metrics.Statement, error) {
		return func() ([]metrics.Statement, error) {
			return metrics.Statements(db.Gorm, metrics.Query{From: now.AddDate(0, 0, -o.MetricsDays), To: now, GroupBy: groupBy})
		}
	}
	jobs := []job{
		{name: fmt.Sprintf("queue owner=me&status=open (manager with the most open: %d)", ds.OpenOf[mgr]), call: func() error {
			_, err := store.List(as(mgr, keycare.RoleManager), requests.Filter{OwnerID: mgr, Statuses: []requests.Status{requests.StatusOpen}}, page.Request{})
			return err
		}},
		{name: "queue breached=true (lead)", call: func() error {
			_, err := store.List(as(lead, keycare.RoleLead), requests.Filter{Breached: &yes}, page.Request{})
			return err
		}},
		{name: fmt.Sprintf("metrics %d days (admin)", o.MetricsDays), sql: metricsSQL(metrics.GroupNone)},
		{name: fmt.Sprintf("metrics %d days group_by=manager (admin)", o.MetricsDays), sql: metricsSQL(metrics.GroupManager)},
	}
	var out []ExplainResult
	for _, j := range jobs {
		if j.sql != nil {
			stmts, err := j.sql()
			if err != nil {
				out = append(out, ExplainResult{Name: j.name, Error: err.Error()})
			}
			for _, st := range stmts {
				// Support's transactions run no parallel workers (see metrics.beginPostgres).
				q := capturedQuery{SQL: st.SQL, Args: st.Args, Settings: map[string]string{"max_parallel_workers_per_gather": "0"}}
				out = append(out, explain(ctx, db.SQL, j.name+": "+st.Name, q, o.ExplainRuns))
			}
			continue
		}
		pool.take()
		if err := j.call(); err != nil {
			out = append(out, ExplainResult{Name: j.name, Error: err.Error()})
			continue
		}
		qs := pool.take()
		if len(qs) == 0 {
			out = append(out, ExplainResult{Name: j.name, Error: "no query captured"})
			continue
		}
		// The endpoint's main query is the last one it sent.
		out = append(out, explain(ctx, db.SQL, j.name, qs[len(qs)-1], o.ExplainRuns))
	}
	return out
}

// queuePage is what the queue checks read of a page of requests.
type queuePage struct {
	Items []struct {
		ID       string     `json:"id"`
		OwnerID  *string    `json:"owner_id"`
		Status   string     `json:"status"`
		DueAt    *time.Time `json:"due_at"`
		Breached []string   `json:"breached"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// sorted checks the queue order: nearest due first, nothing due last, then id.
func (p *queuePage) sorted() error {
	for i := 1; i < len(p.Items); i++ {
		a, b := p.Items[i-1], p.Items[i]
		switch {
		case a.DueAt == nil && b.DueAt != nil:
			return fmt.Errorf("item %d has a due time after one without", i)
		case a.DueAt != nil && b.DueAt != nil && (a.DueAt.After(*b.DueAt) || (a.DueAt.Equal(*b.DueAt) && a.ID > b.ID)):
			return fmt.Errorf("items %d and %d out of order", i-1, i)
		}
	}
	return nil
}

func checkQueue(b []byte, openOf map[string]int) error {
	var p queuePage
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("decode: %v", err)
	}
	if len(p.Items) == 0 {
		return errors.New("empty queue")
	}
	owner := p.Items[0].OwnerID
	if owner == nil {
		return errors.New("an item without an owner")
	}
	for _, it := range p.Items {
		if it.Status != "open" || it.OwnerID == nil || *it.OwnerID != *owner {
			return fmt.Errorf("item %s: status %s, owner %v: not the caller's open request", it.ID, it.Status, it.OwnerID)
		}
	}
	if want := min(openOf[*owner], page.DefaultLimit); len(p.Items) != want {
		return fmt.Errorf("%d items, want %d", len(p.Items), want)
	}
	if (openOf[*owner] > page.DefaultLimit) != (p.NextCursor != "") {
		return errors.New("next_cursor does not match the number of open requests")
	}
	return p.sorted()
}

func checkBreached(b []byte, breached int64) error {
	var p queuePage
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("decode: %v", err)
	}
	if want := min(int(breached), page.DefaultLimit); len(p.Items) != want {
		return fmt.Errorf("%d items, want %d", len(p.Items), want)
	}
	for _, it := range p.Items {
		if len(it.Breached) == 0 {
			return fmt.Errorf("item %s is not breached", it.ID)
		}
	}
	return p.sorted()
}

func checkMetrics(b []byte, want int64, grouped bool) error {
	var r metrics.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("decode: %v", err)
	}
	got := int64(r.Total.Requests)
	if d := got - want; d < -want/50-2 || d > want/50+2 {
		return fmt.Errorf("total.requests %d, want ≈ %d", got, want)
	}
	if r.Total.FirstResponse.Count == 0 || r.Total.Resolution.Count == 0 || r.Total.SLACompliance == nil {
		return errors.New("total has no clock figures")
	}
	if grouped {
		sum := 0
		for _, g := range r.Groups {
			sum += g.Requests
		}
		if len(r.Groups) < nManagers || sum != r.Total.Requests {
			return fmt.Errorf("%d groups adding up to %d requests, want ≥ %d groups adding up to %d", len(r.Groups), sum, nManagers, r.Total.Requests)
		}
	} else if len(r.Groups) != 0 {
		return fmt.Errorf("%d groups without group_by", len(r.Groups))
	}
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func (r *Report) print(w io.Writer, full bool) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("keycare-requests-load: the request queue and support metrics under open-loop load")
	p("  database     %s (PostgreSQL %s; %s)", r.Database, r.PostgresVersion, r.Counts.PostgresSettings)
	if r.Seeded {
		p("  seeded       in %.1fs, set-based SQL (INSERT … SELECT over generate_series), then VACUUM ANALYZE; data generated around %s", r.SeedSeconds, r.SeedNow.Format(time.RFC3339))
		for _, s := range r.SeedSteps {
			if s.Rows > 1 || s.Seconds >= 0.5 {
				p("    %-42s %9d rows %7.2fs", s.Name, s.Rows, s.Seconds)
			}
		}
	} else {
		p("  reused       a database seeded earlier (-reuse); data generated around %s", r.SeedNow.Format(time.RFC3339))
	}
	c := r.Counts
	p("  rows (count(*) after seeding):")
	p("    users %d (%d managers, a lead, an admin); accounts %d; chats %d; sla_policies %d", c.Users, c.Managers, c.Accounts, c.Chats, c.SLAPolicies)
	p("    requests %d: open %d, waiting_on_client %d, resolved %d; opened in the last 30 days %d", c.Requests, c.Open, c.Waiting, c.Resolved, c.Last30Days)
	p("      open per manager min/avg/max %d / %.1f / %d; open past due %d, open without due_at %d", c.OpenPerManagerMin, c.OpenPerManagerAvg, c.OpenPerManagerMax, c.OpenPastDue, c.OpenNoDue)
	p("      breached_any %d (%.1f%%; %d unresolved); csat rated %d; touches %d–%d", c.BreachedAny, 100*float64(c.BreachedAny)/float64(max(c.Requests, 1)), c.BreachedOpen, c.CSAT, c.TouchesMin, c.TouchesMax)
	p("    request_clocks %d (%d–%d per request, %d breached; requests whose breached_any disagrees with their clocks: %d)", c.Clocks, c.ClocksPerRequestMin, c.ClocksPerRequestMax, c.ClocksBreached, c.ClockBreachMismatch)
	p("    request_status_changes %d; request_qa %d", c.StatusChanges, c.QA)
	p("    messages %d (%d with request_id; %d outside their request's life)", c.Messages, c.MessagesWithRequest, c.MessagesOutsideLife)
	p("    sizes: database %d MB; requests %d MB, request_clocks %d MB, messages %d MB (with indexes)", c.DatabaseBytes>>20, c.RequestsBytes>>20, c.RequestClocksBytes>>20, c.MessagesBytes>>20)
	p("  server       Keycare API in-process as `keycare serve` builds it (api.New with the real stores, same http.Server settings) on 127.0.0.1; %s, %d CPUs, GOMAXPROCS %d", r.GoVersion, r.CPUs, r.GOMAXPROCS)
	p("  rate limit   %s", r.RateLimit)
	p("  request log  %s", r.RequestLog)
	p("  method       %s", r.Method)
	p("  warm-up      %.0fs of each endpoint just before its phase, not recorded", r.WarmupSeconds)
	p("  load average before %s, after %s (2-core machine shared with other work)", r.LoadAvgBefore, r.LoadAvgAfter)
	p("")
	for i, x := range r.Phases {
		p("  [%d] %-20s %s  (caller: %s)", i+1, x.Label, x.Endpoint, x.Caller)
	}
	p("")
	const cw = 21
	head := fmt.Sprintf("  %-27s", "")
	for i := range r.Phases {
		head += fmt.Sprintf(" %-*s", cw, fmt.Sprintf("[%d]", i+1))
	}
	p("%s", strings.TrimRight(head, " "))
	row := func(label string, f func(Phase) string) {
		line := fmt.Sprintf("  %-27s", label)
		for _, x := range r.Phases {
			line += fmt.Sprintf(" %-*s", cw, f(x))
		}
		p("%s", strings.TrimRight(line, " "))
	}
	row("rate asked / sent per s", func(x Phase) string { return fmt.Sprintf("%.0f / %.1f", x.RateAsked, x.SendRate) })
	row("responses per s", func(x Phase) string { return fmt.Sprintf("%.1f", x.Throughput) })
	row("duration", func(x Phase) string { return fmt.Sprintf("%.0fs", x.Duration) })
	row("requests", func(x Phase) string { return fmt.Sprintf("%d", x.Requests) })
	row("ok (200)", func(x Phase) string { return fmt.Sprintf("%d", x.OK) })
	row("errors", func(x Phase) string { return fmt.Sprintf("%d", x.Errors) })
	row("bodies checked, all right", func(x Phase) string { return fmt.Sprintf("%d", x.Verified) })
	row("latency p50", func(x Phase) string { return benchkit.FmtMs(x.Latency.P50) })
	row("latency p90", func(x Phase) string { return benchkit.FmtMs(x.Latency.P90) })
	row("latency p99", func(x Phase) string { return benchkit.FmtMs(x.Latency.P99) })
	row("latency max", func(x Phase) string { return benchkit.FmtMs(x.Latency.Max) })
	row("latency mean", func(x Phase) string { return benchkit.FmtMs(x.Latency.Mean) })
	row("from actual send p50/p99", func(x Phase) string {
		return benchkit.FmtMs(x.FromSend.P50) + " / " + benchkit.FmtMs(x.FromSend.P99)
	})
	row("in server p50/p99", func(x Phase) string {
		return benchkit.FmtMs(x.ServerTime.P50) + " / " + benchkit.FmtMs(x.ServerTime.P99)
	})
	row("generator lag p99/max", func(x Phase) string {
		return benchkit.FmtMs(x.SendLag.P99) + " / " + benchkit.FmtMs(x.SendLag.Max)
	})
	row("response size", func(x Phase) string { return fmt.Sprintf("%d B", x.ResponseBytes) })
	row("SQL statements / request", func(x Phase) string { return fmt.Sprintf("%.1f", x.SQLPerRequest) })
	row("CPU: this process", func(x Phase) string { return fmt.Sprintf("%.2f cores", x.ProcessCPU) })
	row("  waiting for a core", func(x Phase) string { return fmt.Sprintf("%.2f s/s", x.ProcessWait) })
	row("CPU: postgres backends", func(x Phase) string { return fmt.Sprintf("%.2f cores", x.PostgresCPU) })
	row("  waiting for a core", func(x Phase) string { return fmt.Sprintf("%.2f s/s", x.PostgresWait) })
	row("CPU per response", func(x Phase) string {
		if x.Throughput <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f ms", (x.ProcessCPU+x.PostgresCPU)/x.Throughput*1000)
	})
	row("CPU: everything else", func(x Phase) string { return fmt.Sprintf("%.2f cores", x.OtherCPU) })
	row("CPU stolen by the host", func(x Phase) string { return fmt.Sprintf("%.2f cores", x.StolenCPU) })
	row("CPU pressure (some waiting)", func(x Phase) string { return fmt.Sprintf("%.0f%% of the time", x.CPUPressure) })
	row("GC cycles / pause total", func(x Phase) string { return fmt.Sprintf("%d / %s", x.GCs, benchkit.FmtMs(x.GCPauseTotalMs)) })
	row("allocated / request", func(x Phase) string { return fmt.Sprintf("%.1f KB", x.AllocPerReqKB) })
	for _, x := range r.Phases {
		if len(x.ErrorKinds) > 0 {
			kinds := make([]string, 0, len(x.ErrorKinds))
			for k, v := range x.ErrorKinds {
				kinds = append(kinds, fmt.Sprintf("%s ×%d", k, v))
			}
			slices.Sort(kinds)
			p("  %s errors: %s", x.Label, strings.Join(kinds, "; "))
		}
		for i, e := range x.ServerErrors {
			if i == 5 {
				p("    … %d more kinds", len(x.ServerErrors)-i)
				break
			}
			p("    API logged: %s", e)
		}
	}
	var other float64
	for _, x := range r.Phases {
		other = max(other, x.OtherCPU)
	}
	var stolen float64
	for _, x := range r.Phases {
		stolen = max(stolen, x.StolenCPU)
	}
	if other > 0.1 || stolen > 0.1 {
		p("  NOTE: during some phase other processes used up to %.2f cores and the host took up to %.2f cores of 2 (the machine is shared): figures are pessimistic", other, stolen)
	}
	if len(r.Phases) > 0 && r.Phases[0].Latency.P99 > 0 {
		h := r.Phases[0]
		p("  baseline: hello p50 %s, p99 %s at the same rate; the endpoints' p99 over hello's p99:", benchkit.FmtMs(h.Latency.P50), benchkit.FmtMs(h.Latency.P99))
		for _, x := range r.Phases[1:] {
			p("    %-22s %.1f×", x.Label, x.Latency.P99/h.Latency.P99)
		}
	}
	p("")
	for _, v := range r.Targets {
		verdict := "MET"
		if !v.Met {
			verdict = "MISSED"
		}
		p("  target  %-22s p99 ≤ %-8s %-6s (p99 %s, %d errors)", v.Phase, benchkit.FmtMs(v.TargetMs), verdict, benchkit.FmtMs(v.P99Ms), v.Errors)
	}
	p("")
	p("  EXPLAIN (ANALYZE, BUFFERS) of the SQL each endpoint sends (captured from Keycare's code; median of the runs):")
	for _, x := range r.Explains {
		if x.Error != "" {
			p("    %s: ERROR %s", x.Name, x.Error)
			continue
		}
		p("    %s", x.Name)
		p("      custom plan:  execution %s (planning %s)", benchkit.FmtMs(x.CustomExecMs), benchkit.FmtMs(x.CustomPlanMs))
		for _, l := range x.CustomTop {
			p("        %s", l)
		}
		p("      generic plan (a cached prepared statement after 5 runs may switch to it): execution %s", benchkit.FmtMs(x.GenericExecMs))
		if len(x.GenericTop) > 0 {
			p("        %s", x.GenericTop[0])
		}
		if full {
			p("      SQL: %s", oneLine(x.SQL))
			p("      args: %s", x.Args)
			p("      custom plan:")
			for _, l := range strings.Split(strings.TrimRight(x.CustomPlan, "\n"), "\n") {
				p("        %s", l)
			}
			p("      generic plan:")
			for _, l := range strings.Split(strings.TrimRight(x.GenericPlan, "\n"), "\n") {
				p("        %s", l)
			}
		}
	}
	if r.CPUProfile != "" {
		p("  CPU profile: %s", r.CPUProfile)
	}
	if r.DatabaseDropped {
		p("  database dropped (-keep keeps it)")
	}
	p("  total run time %s", r.Elapsed.Round(time.Second))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "keycare-requests-load: "+format+"\n", a...)
}

// benchDBName is the database whose PostgreSQL backends the phases measure.
var benchDBName string
