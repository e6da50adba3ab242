// Command keycare-inbound measures Keycare's inbound Telegram path end to
// end: messages a client writes in an account's group, pushed by an
// in-process MTProto server (tgfake) over loopback to Keycare's real gotd
// client, mirrored by chats.Store into PostgreSQL, and read back through the
// HTTP API. It reports messages persisted per second at saturation, push →
// visible in the API at a fixed rate, and PostgreSQL's raw insert rate for
// the same rows measured in the same run as the baseline.
//
//	go run ./cmd/keycare-inbound -database-url 'postgres://postgres@127.0.0.1:5432/keycare_bench_inbound?sslmode=disable'
//
// Everything runs in this process except PostgreSQL; traffic stays on loopback.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/keycare/keycare/internal/benchkit"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type options struct {
	DatabaseURL     string
	Messages        int
	Rate            float64
	Chats           int
	Pushers         int
	Warmup          int
	LatencyRate     float64
	LatencyDuration time.Duration
	SampleEvery     int
	PollInterval    time.Duration
	PollLimit       int
	BaselineRows    int
	CopyRows        int
	MirrorRows      int
	TargetRate      float64
	TargetP99       time.Duration
	Timeout         time.Duration
	JSON            bool
	CPUProfile      string
	Profile         bool
	Keep            bool
	Log             bool
}

func main() {
	time.Local = time.UTC // as cmd/keycare does
	var o options
	flag.StringVar(&o.DatabaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/keycare_bench_inbound?sslmode=disable", "PostgreSQL database to create, use and drop (its name must contain \"bench\")")
	flag.IntVar(&o.Messages, "messages", 20000, "messages pushed in the throughput phase")
	flag.Float64Var(&o.Rate, "rate", 0, "throughput phase push rate per second, open loop; 0: as fast as the fake pushes")
	flag.IntVar(&o.Chats, "chats", 50, "accounts, each with its active group (one Telegram channel) and one client writing in it")
	flag.IntVar(&o.Pushers, "pushers", 2, "goroutines posting through the fake; each owns a share of the chats so a chat's messages stay in order")
	flag.IntVar(&o.Warmup, "warmup", 2, "unmeasured messages per chat before measuring (start gotd's per-channel workers)")
	flag.Float64Var(&o.LatencyRate, "latency-rate", 500, "latency phase push rate per second (open loop)")
	flag.DurationVar(&o.LatencyDuration, "latency-duration", 10*time.Second, "latency phase length")
	flag.IntVar(&o.SampleEvery, "sample-every", 5, "latency phase: watch about one message in N through the API")
	flag.DurationVar(&o.PollInterval, "poll-interval", 2*time.Millisecond, "latency phase: how often an account with a watched message outstanding is polled")
	flag.IntVar(&o.PollLimit, "poll-limit", 20, "latency phase: ?limit= of each GET /accounts/{id}/messages")
	flag.IntVar(&o.BaselineRows, "baseline-rows", 5000, "rows for each single-row INSERT baseline")
	flag.IntVar(&o.CopyRows, "copy-rows", 20000, "rows for the COPY baseline")
	flag.IntVar(&o.MirrorRows, "mirror-rows", 5000, "rows for each direct StoreMessage baseline")
	flag.Float64Var(&o.TargetRate, "target-rate", 2000, "target: messages persisted per second")
	flag.DurationVar(&o.TargetP99, "target-p99", 100*time.Millisecond, "target: p99 push → visible in the API")
	flag.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "give up waiting for a phase's messages after this long")
	flag.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	flag.StringVar(&o.CPUProfile, "cpuprofile", "", "also write the throughput phase's CPU profile to this file (go tool pprof)")
	flag.BoolVar(&o.Profile, "profile", true, "CPU-profile the throughput phase in memory and report where the time went")
	flag.BoolVar(&o.Keep, "keep", false, "keep the database after the run (default: dropped)")
	flag.BoolVar(&o.Log, "log", false, "print Keycare's and gotd's log lines (info and up) to stderr")
	flag.Parse()
	if o.Messages <= 0 || o.Chats <= 0 || o.Pushers <= 0 || o.Rate < 0 || o.LatencyRate <= 0 || o.LatencyDuration <= 0 ||
		o.SampleEvery <= 0 || o.PollInterval <= 0 || o.PollLimit <= 0 || o.PollLimit > 200 || o.BaselineRows <= 0 || o.CopyRows <= 0 || o.MirrorRows <= 0 ||
		o.Messages >= 1_000_000 || int(o.LatencyRate*o.LatencyDuration.Seconds()) >= 1_000_000 {
		fmt.Fprintln(os.Stderr, "keycare-inbound: counts and rates must be positive (-rate may be 0), -poll-limit at most 200, phases under a million messages")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "keycare-inbound:", err)
		os.Exit(1)
	}
	if o.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		rep.print(os.Stdout)
	}
	if !rep.AllMet {
		os.Exit(3)
	}
}

// Report is everything the run measured.
type Report struct {
	Database         string           `json:"database"`
	PostgresVersion  string           `json:"postgres_version"`
	PostgresSettings []string         `json:"postgres_settings"`
	GoVersion        string           `json:"go_version"`
	CPUs             int              `json:"cpus"`
	GOMAXPROCS       int              `json:"gomaxprocs"`
	Chats            int              `json:"chats"`
	Path             string           `json:"path"`
	SetupSeconds     float64          `json:"setup_seconds"`
	Settle           SettleResult     `json:"settle"`
	Throughput       ThroughputResult `json:"throughput"`
	Latency          LatencyResult    `json:"latency"`
	Baselines        []Baseline       `json:"baselines"`
	RatioInsert      float64          `json:"ratio_persisted_to_single_insert"`
	RatioMirror      float64          `json:"ratio_persisted_to_direct_mirror_concurrent"`
	Profile          *ProfileSummary  `json:"profile,omitempty"`
	CPUProfile       string           `json:"cpu_profile_file,omitempty"`
	LogWarnings      int              `json:"log_warnings"`
	LogFirst         []string         `json:"log_first_warnings,omitempty"`
	ReconcileOverlap bool             `json:"periodic_reconcile_overlapped"`
	TargetRate       float64          `json:"target_rate"`
	TargetP99Ms      float64          `json:"target_p99_ms"`
	ThroughputMet    bool             `json:"throughput_met"`
	LatencyMet       bool             `json:"latency_met"`
	Correct          bool             `json:"correct"`
	Problems         []string         `json:"problems,omitempty"`
	AllMet           bool             `json:"all_met"`
	TotalSeconds     float64          `json:"total_seconds"`
}

func run(ctx context.Context, o options) (*Report, error) {
	began := time.Now()
	rep := &Report{
		Database: benchkit.Redact(o.DatabaseURL), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Chats: o.Chats, TargetRate: o.TargetRate, TargetP99Ms: benchkit.Ms(o.TargetP99),
		Path: "tgfake.PostFromClient → MTProto over 127.0.0.1 (gotd tgtest server, real encryption) → telegram.Client (gotd, updates manager, gorm StateStore) → chats.Store (Mirror) → PostgreSQL → GET /api/v1/accounts/{id}/messages",
	}
	progress("setting up: database, fake Telegram with %d groups, login, Keycare client and API", o.Chats)
	w, err := setup(ctx, o, rep)
	if w != nil {
		defer w.close(o.Keep)
	}
	if err != nil {
		return nil, err
	}
	rep.SetupSeconds = round2(time.Since(began).Seconds())

	progress("settling: %d warm-up messages per chat, then the first reconcile (10 s after connecting)", o.Warmup)
	if rep.Settle, err = w.settle(ctx, o); err != nil {
		return nil, err
	}

	var windows [][2]time.Time
	var prof *bytes.Buffer
	if o.Profile || o.CPUProfile != "" {
		prof = &bytes.Buffer{}
	}
	progress("throughput: %d messages across %d chats, %s", o.Messages, o.Chats, rateWord(o.Rate))
	t0 := time.Now()
	if rep.Throughput, err = w.throughput(ctx, o, prof); err != nil {
		return nil, err
	}
	windows = append(windows, [2]time.Time{t0, time.Now()})
	if prof != nil && prof.Len() > 0 {
		if o.CPUProfile != "" {
			if err := os.WriteFile(o.CPUProfile, prof.Bytes(), 0o644); err != nil {
				return nil, err
			}
			rep.CPUProfile = o.CPUProfile
		}
		if o.Profile {
			if rep.Profile, err = summarizeProfile(prof.Bytes(), 15); err != nil {
				progress("reading the CPU profile: %v", err)
				rep.Profile = nil
			}
		}
	}
	time.Sleep(time.Second)

	progress("latency: %.0f messages/s for %s, watching ~1 in %d through the API every %s", o.LatencyRate, o.LatencyDuration, o.SampleEvery, o.PollInterval)
	t0 = time.Now()
	if rep.Latency, err = w.latency(ctx, o); err != nil {
		return nil, err
	}
	windows = append(windows, [2]time.Time{t0, time.Now()})
	time.Sleep(time.Second)

	if rep.Baselines, err = w.baselines(ctx, o); err != nil {
		return nil, err
	}
	for _, b := range rep.Baselines {
		switch {
		case strings.HasPrefix(b.Name, "INSERT, autocommit"):
			rep.RatioInsert = round2(rep.Throughput.PersistRate / b.PerSec)
		case b.Workers > 1:
			rep.RatioMirror = round2(rep.Throughput.PersistRate / b.PerSec)
		}
	}
	rep.LogWarnings, rep.LogFirst = w.logs.counts()
	// The client reconciles every 5 minutes from its start: say whether
	// that fell inside a measured phase.
	for tick := w.started.Add(5 * time.Minute); tick.Before(time.Now()); tick = tick.Add(5 * time.Minute) {
		for _, win := range windows {
			if !tick.Before(win[0]) && !tick.After(win[1]) {
				rep.ReconcileOverlap = true
			}
		}
	}

	tp, lat := rep.Throughput, rep.Latency
	rep.ThroughputMet = tp.PersistRate >= o.TargetRate
	rep.LatencyMet = lat.Unresolved == 0 && lat.PushToVisible.N > 0 && lat.PushToVisible.P99 <= rep.TargetP99Ms
	problem := func(ok bool, format string, a ...any) {
		if !ok {
			rep.Problems = append(rep.Problems, fmt.Sprintf(format, a...))
		}
	}
	problem(tp.PushErrors == 0, "throughput: %d pushes failed (%s)", tp.PushErrors, tp.PushError)
	problem(tp.Stored == int64(tp.Messages), "throughput: %d stored, %d pushed", tp.Stored, tp.Messages)
	problem(tp.Duplicates == 0, "throughput: %d duplicates", tp.Duplicates)
	problem(lat.PushErrors == 0, "latency: %d pushes failed", lat.PushErrors)
	problem(lat.Stored == int64(lat.Messages), "latency: %d stored, %d pushed", lat.Stored, lat.Messages)
	problem(lat.Duplicates == 0, "latency: %d duplicates", lat.Duplicates)
	problem(lat.Unresolved == 0, "latency: %d watched messages never became visible in the API", lat.Unresolved)
	problem(lat.PollErrors == 0, "latency: %d API polls failed", lat.PollErrors)
	rep.Correct = len(rep.Problems) == 0
	rep.AllMet = rep.ThroughputMet && rep.LatencyMet && rep.Correct
	rep.TotalSeconds = benchkit.Round1(time.Since(began).Seconds())
	return rep, nil
}

func rateWord(r float64) string {
	if r <= 0 {
		return "as fast as the fake pushes"
	}
	return fmt.Sprintf("%.0f/s open loop", r)
}

func verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}

func (r *Report) print(out io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }
	tp, lat := r.Throughput, r.Latency
	p("keycare-inbound: Telegram inbound path, push → PostgreSQL → API")
	p("  database      %s (PostgreSQL %s; %s)", r.Database, r.PostgresVersion, strings.Join(r.PostgresSettings, ", "))
	p("  machine       %d CPUs, GOMAXPROCS %d, %s; fake Telegram, Keycare, the load generator and PostgreSQL share them", r.CPUs, r.GOMAXPROCS, r.GoVersion)
	p("  path          %s", r.Path)
	p("  wiring        as `keycare serve`: telegram.New{Config from TELEGRAM_* (DC_ADDR = the fake), SessionStore (encrypted), NewStateStore (gorm), Mirror: chats.NewStore}, River jobs with the chat workers, api.New (rate limit off); logged in with telegram.Login, lines \"12345\\n\\n\"")
	p("  data          %d accounts, each: an active chat (channel_id, access_hash of a fake supergroup with Keycare and one client), %d contacts (the client by telegram_user_id)", r.Chats, contactsPerAccount)
	p("  setup         %.1fs; settle %.1fs (%d warm-up messages stored in %.1fs; first reconcile done: %v, %d groups' creation messages stored)",
		r.SetupSeconds, r.Settle.Seconds, r.Settle.WarmupMessages, r.Settle.WarmupSeconds, r.Settle.ReconcileDone, r.Settle.ReconcileStored)
	if s := r.Settle; s.WarmupLate > 0 {
		p("  FINDING       %d of the %d warm-up messages (the first into each channel gotd did not track yet) were stored only by the reconciler,", s.WarmupLate, s.WarmupMessages)
		p("                up to %.1fs after their push: a later push reached gotd's updates manager first, it started the channel after it", s.WarmupLateMax)
		p("                and dropped the earlier one as outdated (not measured below: every channel is tracked before measuring)")
	}
	p("")
	p("  THROUGHPUT  %d messages, %s, %d pusher goroutines (a chat's messages in order)", tp.Messages, rateWord(tp.RateAsked), tp.Pushers)
	p("    pushed by the fake         %.2fs  (%.0f/s)", tp.PushSeconds, tp.PushRate)
	p("    persisted                  %.2fs from the first push until PostgreSQL held all %d (%.2fs after the last push)", tp.PersistSeconds, tp.Messages, tp.DrainSeconds)
	p("    messages persisted per s   %.0f   target ≥ %.0f: %s", tp.PersistRate, r.TargetRate, verdict(r.ThroughputMet))
	p("    stored / distinct / dups   %d / %d / %d   (push errors %d)", tp.Stored, tp.DistinctTexts, tp.Duplicates, tp.PushErrors)
	p("    detection                  each chat's last message looked up every %.0f ms (query p50 %s), then an exact count (%d fallback polls)", tp.DetectionInterval, benchkit.FmtMs(tp.DetectionQueryMs), tp.DetectionFallbacks)
	p("    push → row built (all)     %s", tp.PushToRow)
	p("                               (messages.created_at, set inside StoreMessage's transaction before the sender lookups, INSERT and COMMIT: at saturation this is queueing)")
	p("    SQL per message            %.1f statements through gorm, plus BEGIN and COMMIT of StoreMessage's transaction:", tp.StatementsPerMsg)
	for _, s := range tp.Statements {
		p("      %-28s %5.2f/msg  p50 %-9s p99 %-9s total %.1fs", s.Statement, s.PerMsg, benchkit.FmtMs(s.P50), benchkit.FmtMs(s.P99), s.TotalS)
	}
	p("    gotd updates loop          had processed %d of the %d pushes when all were stored (%d after draining); it spent %.0f%% of the wall time",
		tp.PushesViaLoop, tp.Messages, tp.PushesViaLoopAll, 100*tp.UpdatesLoopBusy)
	p("                               in the 2 SELECT telegram_users it makes per push (one goroutine for all chats, before any channel worker sees the push)")
	p("    getChannelDifference calls %d (gap recovery: a channel worker that saw a later pts waits 500 ms, then fetches up to 100 events)", tp.ChannelDiffCalls)
	if tp.PushesViaLoop < int64(tp.Messages) {
		p("                               so ≥ %d messages reached the database through getChannelDifference, not through their push", int64(tp.Messages)-tp.PushesViaLoop)
	}
	p("    peak goroutines            %d (gotd reads each incoming message on a goroutine of its own; they wait for the updates loop)", tp.PeakGoroutines)
	p("    backlog                    gotd worked through its queued pushes %.2fs after all were stored (drained: %v)", tp.BacklogSeconds, tp.BacklogDrained)
	printCPU(p, tp.CPU)
	p("")
	p("  LATENCY  %.0f messages/s for %.0fs, open loop (%d messages), ~1 in %d watched through the API", lat.Rate, lat.Seconds, lat.Messages, lat.SampleEvery)
	p("    measured                   from just before PostFromClient (the fake stores the message and pushes it to Keycare's session)")
	p("                               to the GET /api/v1/accounts/{id}/messages?limit=%d response that first lists it (or a later message of the", lat.PollLimit)
	p("                               same chat, which Keycare stores after it): %d of %d watched, %d inferred that way", lat.Resolved, lat.Sampled, lat.Inferred)
	p("    push → visible in the API  %s", lat.PushToVisible)
	p("                               target p99 ≤ %s: %s", benchkit.FmtMs(r.TargetP99Ms), verdict(r.LatencyMet))
	p("    resolution                 an account with a watched message outstanding is polled every max(%s, 5%% of that message's age, ≤ 250 ms);", benchkit.FmtMs(lat.PollInterval))
	p("                               one poll takes %s", lat.PollRequest)
	p("                               %d polls (%.0f/s), %d failed; a figure overstates by up to one interval plus one poll", lat.Polls, float64(lat.Polls)/max(lat.Seconds, 1), lat.PollErrors)
	p("    push → row built (all)     %s", lat.PushToRow)
	var tl []string
	for _, t := range lat.Timeline {
		tl = append(tl, fmt.Sprintf("%ds %s/%s", t.Second, fmtMsShort(t.P50), fmtMsShort(t.Max)))
	}
	for i := 0; i < len(tl); i += 5 {
		head := "  by second (p50/max ms)"
		if i > 0 {
			head = ""
		}
		p("    %-27s%s", head, strings.Join(tl[i:min(i+5, len(tl))], "  "))
	}
	p("    generator lag              %s (how late pushes left vs the schedule)", lat.GeneratorLag)
	p("    stored / distinct / dups   %d / %d / %d; getChannelDifference calls %d; drained %.2fs after the last push", lat.Stored, lat.DistinctTexts, lat.Duplicates, lat.ChannelDiffs, lat.DrainSeconds)
	printCPU(p, lat.CPU)
	p("")
	p("  BASELINE  PostgreSQL for the same rows (all 21 columns gorm writes for an inbound message), same run, same table (rows deleted after):")
	for _, b := range r.Baselines {
		extra := ""
		if b.PerRow.N > 0 {
			extra = fmt.Sprintf("  per row p50 %s p99 %s", benchkit.FmtMs(b.PerRow.P50), benchkit.FmtMs(b.PerRow.P99))
		}
		p("    %-32s %7.0f rows/s  (%d rows in %.2fs)%s", b.Name, b.PerSec, b.Rows, b.Seconds, extra)
		p("      %s", b.What)
	}
	p("    Keycare persisted / single-row INSERT rate: %.2f×;  / direct Keycare DB work at %d workers: %.2f×", r.RatioInsert, r.Chats, r.RatioMirror)
	if pr := r.Profile; pr != nil {
		p("")
		p("  WHERE THE TIME WENT (CPU profile of the throughput phase, %.1f CPU-seconds in this process; PostgreSQL is the separate figure above)", pr.Seconds)
		p("    by component:")
		for _, c := range pr.ByComponent {
			p("      %5.1f%%  %s", c.Percent, c.Name)
		}
		p("    by kind of work (first matching frame on the stack):")
		for _, c := range pr.ByWork {
			p("      %5.1f%%  %s", c.Percent, c.Name)
		}
		p("    top functions, self time:")
		for _, c := range pr.TopFlat {
			p("      %5.1f%%  %s", c.Percent, c.Name)
		}
		p("    steps of the path, with everything they call (overlapping):")
		for _, c := range pr.Focus {
			p("      %5.1f%%  %s", c.Percent, c.Name)
		}
	}
	if r.CPUProfile != "" {
		p("    profile written to %s (go tool pprof -top %s)", r.CPUProfile, r.CPUProfile)
	}
	p("")
	p("  log warnings  %d", r.LogWarnings)
	for _, l := range r.LogFirst {
		p("    %s", l)
	}
	if r.ReconcileOverlap {
		p("  NOTE: the client's 5-minute reconcile fell inside a measured phase")
	}
	for _, pr := range r.Problems {
		p("  PROBLEM: %s", pr)
	}
	p("  verdict       throughput %s (%.0f/s vs ≥ %.0f/s), latency %s (p99 %s vs ≤ %s), correctness %s",
		verdict(r.ThroughputMet), tp.PersistRate, r.TargetRate, verdict(r.LatencyMet), benchkit.FmtMs(lat.PushToVisible.P99), benchkit.FmtMs(r.TargetP99Ms), map[bool]string{true: "OK", false: "FAILED"}[r.Correct])
	p("  total run time %.0fs", r.TotalSeconds)
}

func fmtMsShort(f float64) string {
	if f >= 10 {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

func printCPU(p func(string, ...any), c CPU) {
	p("    CPU                        this process %.2f cores (waited %.2f s/s for a core), PostgreSQL backends %.2f cores (waited %.2f s/s), other %.2f",
		c.Process, c.ProcessWait, c.Postgres, c.PostgresWait, c.Other)
	p("                               GC %d cycles, %s paused; %.1f KB allocated per message", c.GCs, benchkit.FmtMs(c.GCPauseMs), c.AllocPerMsg)
	if c.Other > 0.1 {
		p("    WARNING: other processes used %.2f cores: the machine was not quiet", c.Other)
	}
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "keycare-inbound: "+format+"\n", a...)
}
