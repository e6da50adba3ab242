// Command keycare-load seeds a PostgreSQL database with key accounts of the
// SPEC §12 shape and measures the account card (GET /api/v1/accounts/{id})
// under an open-loop load, next to a bare echo "hello" endpoint measured in
// the same run as the baseline.
//
//	go run ./cmd/keycare-load -database-url postgres://postgres@127.0.0.1:5432/keycare_bench?sslmode=disable
//
// The Keycare API runs in this process, built as `keycare serve` builds it,
// on 127.0.0.1:0; load is only ever sent to loopback.
package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/keycare/keycare/internal/benchkit"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/accounts"
	"github.com/keycare/keycare/api"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/team"
)

type options struct {
	DatabaseURL string
	Rate        float64
	Duration    time.Duration
	Warmup      time.Duration
	Accounts    int
	Reset       bool
	As          string
	JSON        bool
	CPUProfile  string
	MemProfile  string
	AccessLog   bool
	VerifyEvery int
	Inflight    int
	Timeout     time.Duration
	Breakdown   int
	TargetP99   time.Duration
}

func main() {
	time.Local = time.UTC // as cmd/keycare does
	var o options
	flag.StringVar(&o.DatabaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/keycare_bench?sslmode=disable", "PostgreSQL database to seed and serve from (dropped and recreated with -reset; its name must contain \"bench\")")
	flag.Float64Var(&o.Rate, "rate", 500, "requests per second, fired on a fixed schedule (open loop)")
	flag.DurationVar(&o.Duration, "duration", 30*time.Second, "length of each measured phase (hello, then card)")
	flag.DurationVar(&o.Warmup, "warmup", 5*time.Second, "unrecorded card load before measuring")
	flag.IntVar(&o.Accounts, "accounts", 1000, "accounts to seed")
	flag.BoolVar(&o.Reset, "reset", true, "drop, recreate, migrate and seed the database; false reuses an already seeded one")
	flag.StringVar(&o.As, "as", "admin", "caller: admin (sees all) or manager (each card read with its owner's token)")
	flag.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	flag.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the measured card phase to this file")
	flag.StringVar(&o.MemProfile, "memprofile", "", "write an allocation profile (after the card phase) to this file")
	flag.BoolVar(&o.AccessLog, "access-log", false, "format the request log as JSON like production (written to io.Discard) instead of dropping it")
	flag.IntVar(&o.VerifyEvery, "verify-every", 10, "decode and check the counts of every Nth card response")
	flag.IntVar(&o.Inflight, "max-inflight", 5000, "in-flight requests above which a send counts as an overload error")
	flag.DurationVar(&o.Timeout, "timeout", 10*time.Second, "per-request timeout")
	flag.IntVar(&o.Breakdown, "breakdown", 300, "sequential unloaded calls for the per-step cost breakdown (0: skip)")
	flag.DurationVar(&o.TargetP99, "target-p99", 15*time.Millisecond, "p99 target for the card (SPEC §12)")
	flag.Parse()
	if o.Rate <= 0 || o.Duration <= 0 || o.Accounts <= 0 || (o.As != "admin" && o.As != "manager") {
		fmt.Fprintln(os.Stderr, "keycare-load: -rate, -duration and -accounts must be positive; -as is admin or manager")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "keycare-load:", err)
		os.Exit(1)
	}
	if o.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		rep.print(os.Stdout)
	}
	if !rep.TargetMet {
		os.Exit(3)
	}
}

// Report is everything the run measured.
type Report struct {
	Database        string               `json:"database"`
	PostgresVersion string               `json:"postgres_version"`
	GoVersion       string               `json:"go_version"`
	GOMAXPROCS      int                  `json:"gomaxprocs"`
	CPUs            int                  `json:"cpus"`
	Accounts        int                  `json:"accounts"`
	Shape           string               `json:"shape"`
	Seeded          bool                 `json:"seeded"`
	SeedSeconds     float64              `json:"seed_seconds"`
	SeedRows        int64                `json:"seed_rows"`
	Caller          string               `json:"caller"`
	RateLimit       string               `json:"rate_limit"`
	RequestLog      string               `json:"request_log"`
	Method          string               `json:"method"`
	WarmupSeconds   float64              `json:"warmup_seconds"`
	Hello           benchkit.PhaseResult `json:"hello"`
	Card            benchkit.PhaseResult `json:"card"`
	RatioP50        float64              `json:"ratio_card_hello_p50"`
	RatioP99        float64              `json:"ratio_card_hello_p99"`
	RatioSendP50    float64              `json:"ratio_card_hello_p50_from_actual_send"`
	RatioSendP99    float64              `json:"ratio_card_hello_p99_from_actual_send"`
	TargetP99Ms     float64              `json:"target_p99_ms"`
	TargetMet       bool                 `json:"target_met"`
	Breakdown       *Breakdown           `json:"breakdown,omitempty"`
	CPUProfile      string               `json:"cpu_profile,omitempty"`
	Elapsed         time.Duration        `json:"-"`
}

func run(ctx context.Context, o options) (*Report, error) {
	began := time.Now()
	quiet := discardLog()
	rep := &Report{
		Database: benchkit.Redact(o.DatabaseURL), GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: runtime.NumCPU(),
		Shape:      fmt.Sprintf("%d contacts, %d services (all active), %d notes (%d pinned, 1 revision each), %d months of revenue ending this month; %d open requests with their first-response clocks running", contactsPerAccount, servicesPerAccount, notesPerAccount, pinnedPerAccount, revenueMonths, openRequests),
		Caller:     o.As,
		RateLimit:  "off (api.Config RateLimit=1e6/s, RateBurst=1e6)",
		RequestLog: "dropped (slog.DiscardHandler): logging is not measured",
		Method: "open loop: requests fired on a fixed schedule at -rate regardless of responses; latency from the scheduled send time (no coordinated omission); " +
			"keep-alive net/http client, loopback only; random account per request; exact nearest-rank percentiles over all samples",
		WarmupSeconds: o.Warmup.Seconds(), TargetP99Ms: benchkit.Ms(o.TargetP99),
	}
	apiLog := quiet
	if o.AccessLog {
		apiLog = jsonDiscardLog()
		rep.RequestLog = "formatted as JSON at info level like production, written to io.Discard"
	}

	// 1. Database: reset, migrate, seed.
	if o.Reset {
		if err := benchkit.ResetDatabase(ctx, o.DatabaseURL, true); err != nil {
			return nil, err
		}
	}
	if u, err := url.Parse(o.DatabaseURL); err == nil {
		benchDBName = strings.TrimPrefix(u.Path, "/")
	}
	db, err := database.OpenPostgres(ctx, o.DatabaseURL, quiet)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := migrate(ctx, db); err != nil {
		return nil, err
	}
	_ = db.SQL.QueryRowContext(ctx, "SHOW server_version").Scan(&rep.PostgresVersion)
	var ds *dataset
	if o.Reset {
		progress("seeding %d accounts...", o.Accounts)
		ds, err = seed(ctx, o.DatabaseURL, db, o.Accounts)
		rep.Seeded = true
	} else {
		ds, err = loadExisting(ctx, db)
	}
	if err != nil {
		return nil, err
	}
	rep.Accounts, rep.SeedSeconds, rep.SeedRows = len(ds.AccountIDs), benchkit.Round1(ds.SeedTime.Seconds()), ds.Rows
	progress("seeded in %.1fs (%d rows)", ds.SeedTime.Seconds(), ds.Rows)

	trace := &sqlTrace{by: map[string][]time.Duration{}}
	if err := trace.install(db.Gorm); err != nil {
		return nil, err
	}
	sqlCount := &trace.n

	// 2. The Keycare API as `keycare serve` builds it, and the echo baseline.
	teamSvc := team.NewService(db.Gorm)
	store := accounts.NewStore(db)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	apiSrv := api.New(api.Config{RateLimit: 1e6, RateBurst: 1e6}, api.Deps{
		Log: apiLog, Accounts: store, Team: teamSvc, Audit: audit.NewLog(db.Gorm), Ready: db.Ping, Registry: reg,
	})
	cardH := benchkit.NewTimedHandler(apiSrv.Handler())
	apiURL, closeAPI, err := benchkit.Serve(cardH, quiet)
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

	token := func(i int) string {
		if o.As == "manager" {
			return ds.ManagerTokens[ds.OwnerOf[i]]
		}
		return ds.AdminToken
	}
	cardReq := func(_ int, rng *rand.Rand) *http.Request {
		i := rng.IntN(len(ds.AccountIDs))
		r, _ := http.NewRequest(http.MethodGet, apiURL+api.Prefix+"/accounts/"+ds.AccountIDs[i], nil)
		r.Header.Set("Authorization", "Bearer "+token(i))
		r.Header.Set("Accept", "application/json")
		return r
	}
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

	// Sanity: one card before loading anything.
	if err := benchkit.Check(ctx, client, cardReq(0, rand.New(rand.NewPCG(1, 2))), verifyCard); err != nil {
		return nil, fmt.Errorf("first card request: %w", err)
	}

	mk := func(name string, d time.Duration, h *benchkit.TimedHandler, req func(int, *rand.Rand) *http.Request, verify func([]byte) error) *benchkit.Phase {
		return &benchkit.Phase{Database: benchDBName, Name: name, Rate: o.Rate, Duration: d, Client: client, Server: h, Request: req, Verify: verify, Every: o.VerifyEvery, Inflight: o.Inflight}
	}

	// 3. Warm-up (not recorded), then hello, then the card.
	if o.Warmup > 0 {
		progress("warm-up: %s of card and 1s of hello at %.0f/s (not recorded)", o.Warmup, o.Rate)
		mk("warmup-hello", time.Second, nil, helloReq, nil).Run(ctx, nil)
		w := mk("warmup-card", o.Warmup, nil, cardReq, verifyCard)
		if r := w.Run(ctx, nil); r.Errors > 0 {
			return nil, fmt.Errorf("warm-up: %d errors: %v", r.Errors, r.ErrorKinds)
		}
	}
	runtime.GC()
	progress("hello: %s at %.0f/s", o.Duration, o.Rate)
	rep.Hello = mk("hello", o.Duration, helloH, helloReq, verifyHello).Run(ctx, sqlCount)
	runtime.GC()
	progress("card: %s at %.0f/s", o.Duration, o.Rate)
	cardPhase := mk("card", o.Duration, cardH, cardReq, verifyCard)
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return nil, err
		}
		cardPhase.OnStarted = func() {
			if err := pprof.StartCPUProfile(f); err != nil {
				progress("cpuprofile: %v", err)
			}
		}
		cardPhase.OnStopped = func() { pprof.StopCPUProfile(); f.Close() }
		rep.CPUProfile = o.CPUProfile
	}
	rep.Card = cardPhase.Run(ctx, sqlCount)
	if o.MemProfile != "" {
		if f, err := os.Create(o.MemProfile); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	if rep.Hello.Latency.P50 > 0 {
		rep.RatioP50 = benchkit.Round1(rep.Card.Latency.P50 / rep.Hello.Latency.P50)
		rep.RatioP99 = benchkit.Round1(rep.Card.Latency.P99 / rep.Hello.Latency.P99)
		rep.RatioSendP50 = benchkit.Round1(rep.Card.FromSend.P50 / rep.Hello.FromSend.P50)
		rep.RatioSendP99 = benchkit.Round1(rep.Card.FromSend.P99 / rep.Hello.FromSend.P99)
	}
	rep.TargetMet = rep.Card.Errors == 0 && rep.Card.OK > 0 && rep.Card.Latency.P99 <= rep.TargetP99Ms

	// 4. Where an unloaded card's time goes, step by step.
	if o.Breakdown > 0 {
		progress("breakdown: %d sequential calls", o.Breakdown)
		b, err := breakdown(ctx, o.Breakdown, ds, token, store, teamSvc, client, cardReq, trace, db.SQL)
		if err != nil {
			return nil, err
		}
		rep.Breakdown = b
	}
	rep.Elapsed = time.Since(began)
	return rep, nil
}

// sqlTrace counts every SQL statement gorm sends (one atomic add each) and,
// while on, times each query from before gorm builds it to after it has
// scanned the rows, keyed by what it reads.
type sqlTrace struct {
	n  atomic.Int64
	on atomic.Bool
	mu sync.Mutex
	by map[string][]time.Duration
}

func (t *sqlTrace) install(g *gorm.DB) error {
	inc := func(*gorm.DB) { t.n.Add(1) }
	start := func(tx *gorm.DB) {
		if t.on.Load() {
			tx.InstanceSet("keycare_load:start", time.Now())
		}
	}
	stop := func(tx *gorm.DB) {
		t.n.Add(1)
		if !t.on.Load() {
			return
		}
		v, ok := tx.InstanceGet("keycare_load:start")
		if !ok {
			return
		}
		d := time.Since(v.(time.Time))
		sqlText := tx.Statement.SQL.String()
		label := tx.Statement.Table
		switch {
		case strings.Contains(sqlText, "api_tokens"):
			label += " ⨝ api_tokens (Authenticate)"
		case tx.Statement.Table == "users":
			label += " (owner, backup)"
		case tx.Statement.Table == "accounts":
			label += " (the account, read by authorize)"
		}
		t.mu.Lock()
		t.by[label] = append(t.by[label], d)
		t.mu.Unlock()
	}
	cb := g.Callback()
	return errors.Join(
		cb.Query().Before("gorm:query").Register("keycare_load:start", start),
		cb.Query().Register("keycare_load:count", stop),
		cb.Row().Register("keycare_load:count", inc),
		cb.Raw().Register("keycare_load:count", inc),
		cb.Create().Register("keycare_load:count", inc),
		cb.Update().Register("keycare_load:count", inc),
		cb.Delete().Register("keycare_load:count", inc),
	)
}

// cardShape is what verifyCard checks in a card.
type cardShape struct {
	ID    string `json:"id"`
	Owner *struct {
		ID string `json:"id"`
	} `json:"owner"`
	Contacts []json.RawMessage `json:"contacts"`
	Services []struct {
		Status string `json:"status"`
	} `json:"services"`
	Notes []struct {
		Pinned bool `json:"pinned"`
	} `json:"notes"`
	Revenue []struct {
		Month string `json:"month"`
	} `json:"revenue"`
}

func verifyCard(b []byte) error {
	var c cardShape
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("decode: %v", err)
	}
	var bad []string
	active := 0
	for _, s := range c.Services {
		if s.Status == "active" {
			active++
		}
	}
	pinned := 0
	for _, n := range c.Notes {
		if n.Pinned {
			pinned++
		}
	}
	if !keycare.ValidID(c.ID) || c.Owner == nil {
		bad = append(bad, "id/owner missing")
	}
	if len(c.Contacts) != contactsPerAccount {
		bad = append(bad, fmt.Sprintf("contacts %d", len(c.Contacts)))
	}
	if active != servicesPerAccount || len(c.Services) != servicesPerAccount {
		bad = append(bad, fmt.Sprintf("services %d (%d active)", len(c.Services), active))
	}
	if pinned != pinnedPerAccount || len(c.Notes) != pinnedPerAccount {
		bad = append(bad, fmt.Sprintf("notes %d (%d pinned)", len(c.Notes), pinned))
	}
	if len(c.Revenue) != accounts.CardRevenueMonths {
		bad = append(bad, fmt.Sprintf("revenue %d", len(c.Revenue)))
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, ", "))
	}
	return nil
}

// Breakdown is the median cost of each step of one card, called one at a
// time with nothing else running (service time, not latency under load).
type Breakdown struct {
	Calls          int     `json:"calls"`
	HTTPCardMs     float64 `json:"http_card_p50_ms"`     // whole request over loopback
	AuthenticateMs float64 `json:"authenticate_p50_ms"`  // team.Authenticate: token → user (1 SQL)
	AuthorizeMs    float64 `json:"authorize_p50_ms"`     // authorize reads the account (1 SQL)
	CardMs         float64 `json:"card_p50_ms"`          // accounts.Store.Card
	EncodeMs       float64 `json:"json_encode_p50_ms"`   // encoding/json of the card, as echo's c.JSON
	SQLRoundTripMs float64 `json:"sql_roundtrip_p50_ms"` // SELECT 1 through the same pool
	SQLPerCard     float64 `json:"sql_per_card_request"` // statements per HTTP card request
	SQLInCard      float64 `json:"sql_in_card_call"`     // statements inside Store.Card
	CardBytes      int     `json:"card_bytes"`
	// Statements times each query of the HTTP card request inside gorm: build, round trip, scan.
	Statements []StatementTime `json:"statements"`
}

// StatementTime is the median time of one kind of query.
type StatementTime struct {
	Reads string  `json:"reads"`
	P50   float64 `json:"p50_ms"`
	N     int     `json:"n"`
}

func breakdown(ctx context.Context, n int, ds *dataset, token func(int) string, store *accounts.Store, teamSvc *team.Service,
	client *http.Client, cardReq func(int, *rand.Rand) *http.Request, trace *sqlTrace, sqlDB *sql.DB) (*Breakdown, error) {
	sqlCount := &trace.n
	rng := rand.New(rand.NewPCG(7, 7))
	var tHTTP, tAuth, tAuthorize, tCard, tEnc, tPing []time.Duration
	b := &Breakdown{Calls: n}
	var sqlHTTP, sqlCard int64
	for k := 0; k < n && ctx.Err() == nil; k++ {
		i := rng.IntN(len(ds.AccountIDs))
		id := ds.AccountIDs[i]

		c0 := sqlCount.Load()
		trace.on.Store(true)
		t := time.Now()
		resp, err := client.Do(cardReq(0, rand.New(rand.NewPCG(uint64(k), 1))).WithContext(ctx))
		if err != nil {
			return nil, err
		}
		benchkit.Drain(resp)
		tHTTP = append(tHTTP, time.Since(t))
		trace.on.Store(false)
		sqlHTTP += sqlCount.Load() - c0

		t = time.Now()
		u, err := teamSvc.Authenticate(ctx, token(i))
		if err != nil {
			return nil, err
		}
		tAuth = append(tAuth, time.Since(t))
		actx := keycare.WithActor(ctx, keycare.Actor{Kind: keycare.ActorUser, UserID: u.ID, Role: u.Role})

		t = time.Now()
		a, err := store.Account(actx, id)
		if err != nil {
			return nil, err
		}
		tAuthorize = append(tAuthorize, time.Since(t))

		c0 = sqlCount.Load()
		t = time.Now()
		card, err := store.CardOf(actx, a)
		if err != nil {
			return nil, err
		}
		tCard = append(tCard, time.Since(t))
		sqlCard += sqlCount.Load() - c0

		t = time.Now()
		var sb strings.Builder
		if err := json.NewEncoder(&sb).Encode(card); err != nil {
			return nil, err
		}
		tEnc = append(tEnc, time.Since(t))
		b.CardBytes = sb.Len()

	}
	// A bare round trip through the same pool, for scale.
	for k := 0; k < n && ctx.Err() == nil; k++ {
		t := time.Now()
		var one int
		if err := sqlDB.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return nil, err
		}
		tPing = append(tPing, time.Since(t))
	}
	med := func(d []time.Duration) float64 { return benchkit.Summarize(d).P50 }
	b.HTTPCardMs, b.AuthenticateMs, b.AuthorizeMs, b.CardMs, b.EncodeMs, b.SQLRoundTripMs = med(tHTTP), med(tAuth), med(tAuthorize), med(tCard), med(tEnc), med(tPing)
	b.SQLPerCard = benchkit.Round1(float64(sqlHTTP) / float64(n))
	b.SQLInCard = benchkit.Round1(float64(sqlCard) / float64(n))
	trace.mu.Lock()
	for label, d := range trace.by {
		b.Statements = append(b.Statements, StatementTime{Reads: label, P50: med(d), N: len(d)})
	}
	trace.mu.Unlock()
	slices.SortFunc(b.Statements, func(x, y StatementTime) int { return cmp.Compare(y.P50, x.P50) })
	return b, nil
}

func (r *Report) print(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("keycare-load: the account card under open-loop load (SPEC §12)")
	p("  database     %s (PostgreSQL %s)", r.Database, r.PostgresVersion)
	if r.Seeded {
		p("  seeded       %d accounts in %.1fs (%d rows by COPY, plus users and tokens)", r.Accounts, r.SeedSeconds, r.SeedRows)
	} else {
		p("  reused       %d accounts already in the database (-reset=false)", r.Accounts)
	}
	p("  each account %s", r.Shape)
	p("  server       Keycare API in-process as `keycare serve` builds it (api.New, same http.Server settings); %s, %d CPUs, GOMAXPROCS %d", r.GoVersion, r.CPUs, r.GOMAXPROCS)
	p("  rate limit   %s", r.RateLimit)
	p("  request log  %s", r.RequestLog)
	p("  caller       %s token; GET /api/v1/accounts/{random id}", r.Caller)
	p("  method       %s", r.Method)
	p("  warm-up      %.0fs of card load before measuring, not recorded", r.WarmupSeconds)
	p("")
	row := func(label string, f func(benchkit.PhaseResult) string) {
		p("  %-27s %-30s %s", label, f(r.Hello), f(r.Card))
	}
	row("", func(x benchkit.PhaseResult) string {
		if x.Name == "hello" {
			return "hello (bare echo)"
		}
		return "account card"
	})
	row("rate asked / sent", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%.0f / %.1f per s", x.RateAsked, x.SendRate) })
	row("responses per s", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%.1f", x.Throughput) })
	row("duration", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%.0fs", x.Duration) })
	row("requests", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%d", x.Requests) })
	row("ok (200)", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%d", x.OK) })
	row("errors", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%d", x.Errors) })
	row("bodies checked", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%d, all as expected", x.Verified) })
	row("latency p50", func(x benchkit.PhaseResult) string { return benchkit.FmtMs(x.Latency.P50) })
	row("latency p90", func(x benchkit.PhaseResult) string { return benchkit.FmtMs(x.Latency.P90) })
	row("latency p99", func(x benchkit.PhaseResult) string { return benchkit.FmtMs(x.Latency.P99) })
	row("latency p99.9", func(x benchkit.PhaseResult) string { return benchkit.FmtMs(x.Latency.P999) })
	row("latency max", func(x benchkit.PhaseResult) string { return benchkit.FmtMs(x.Latency.Max) })
	row("latency mean", func(x benchkit.PhaseResult) string { return benchkit.FmtMs(x.Latency.Mean) })
	row("from actual send p50 / p99", func(x benchkit.PhaseResult) string {
		return benchkit.FmtMs(x.FromSend.P50) + " / " + benchkit.FmtMs(x.FromSend.P99)
	})
	row("in server p50 / p99", func(x benchkit.PhaseResult) string {
		return benchkit.FmtMs(x.ServerTime.P50) + " / " + benchkit.FmtMs(x.ServerTime.P99)
	})
	row("generator lag p50/p99/max", func(x benchkit.PhaseResult) string {
		return benchkit.FmtMs(x.SendLag.P50) + " / " + benchkit.FmtMs(x.SendLag.P99) + " / " + benchkit.FmtMs(x.SendLag.Max)
	})
	row("response size", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%d B", x.ResponseBytes) })
	row("SQL statements / request", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%.1f", x.SQLPerRequest) })
	row("CPU: this process (both)", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%.2f cores", x.ProcessCPU) })
	row("CPU wait for a core", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%.2f s/s", x.ProcessWait) })
	row("CPU: postgres backends", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%.2f cores", x.PostgresCPU) })
	row("postgres wait for a core", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%.2f s/s", x.PostgresWait) })
	row("CPU: everything else", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%.2f cores", x.OtherCPU) })
	row("GC cycles / pause total", func(x benchkit.PhaseResult) string {
		return fmt.Sprintf("%d / %s", x.GCs, benchkit.FmtMs(x.GCPauseTotalMs))
	})
	row("allocated / request", func(x benchkit.PhaseResult) string { return fmt.Sprintf("%.1f KB", x.AllocPerReqKB) })
	for _, x := range []benchkit.PhaseResult{r.Hello, r.Card} {
		if len(x.ErrorKinds) > 0 {
			kinds := make([]string, 0, len(x.ErrorKinds))
			for k, v := range x.ErrorKinds {
				kinds = append(kinds, fmt.Sprintf("%s ×%d", k, v))
			}
			slices.Sort(kinds)
			p("  %s errors: %s", x.Name, strings.Join(kinds, "; "))
		}
	}
	if w := max(r.Hello.OtherCPU, r.Card.OtherCPU); w > 0.1 {
		p("  WARNING: other processes used up to %.2f cores during a phase: the machine was not quiet, figures are pessimistic", w)
	}
	p("")
	p("  ratio card / hello        p50 %.1f×, p99 %.1f×   (from the actual send: p50 %.1f×, p99 %.1f×)", r.RatioP50, r.RatioP99, r.RatioSendP50, r.RatioSendP99)
	p("                            hello's scheduled figures are mostly the generator's own timer wake-up (see generator lag)")
	verdict := "MET"
	if !r.TargetMet {
		verdict = "MISSED"
	}
	p("  target                    card p99 ≤ %s at %.0f/s: %s (p99 %s, %d errors)", benchkit.FmtMs(r.TargetP99Ms), r.Card.RateAsked, verdict, benchkit.FmtMs(r.Card.Latency.P99), r.Card.Errors)
	if b := r.Breakdown; b != nil {
		p("")
		p("  unloaded card, one call at a time (median of %d):", b.Calls)
		p("    whole HTTP request      %s  (%.1f SQL statements, %d B)", benchkit.FmtMs(b.HTTPCardMs), b.SQLPerCard, b.CardBytes)
		p("    authenticate (token)    %s", benchkit.FmtMs(b.AuthenticateMs))
		p("    authorize (the account) %s", benchkit.FmtMs(b.AuthorizeMs))
		p("    Store.Card              %s  (%.1f SQL statements)", benchkit.FmtMs(b.CardMs), b.SQLInCard)
		p("    JSON encode             %s", benchkit.FmtMs(b.EncodeMs))
		p("    bare SELECT 1           %s  (one round trip through the same pool)", benchkit.FmtMs(b.SQLRoundTripMs))
		p("    each query of the HTTP card request (gorm build + round trip + scan, median):")
		var sum float64
		for _, st := range b.Statements {
			p("      %-38s %s", st.Reads, benchkit.FmtMs(st.P50))
			sum += st.P50
		}
		p("      %-38s %s", "sum of the medians", benchkit.FmtMs(sum))
	}
	if r.CPUProfile != "" {
		p("")
		p("  CPU profile of the card phase: %s (go tool pprof -top %s)", r.CPUProfile, r.CPUProfile)
	}
	p("  total run time %s", r.Elapsed.Round(time.Second))
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "keycare-load: "+format+"\n", a...)
}

// benchDBName is the database whose PostgreSQL backends the phases measure.
var benchDBName string
