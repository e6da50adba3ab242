package main

import (
	"github.com/keycare/keycare/internal/benchkit"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gorm.io/gorm"
)

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// recorder collects durations from many goroutines.
type recorder struct {
	mu sync.Mutex
	d  []time.Duration
}

func (r *recorder) add(d time.Duration) {
	r.mu.Lock()
	r.d = append(r.d, d)
	r.mu.Unlock()
}

func (r *recorder) get() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.d)
}

// CPU is where the machine's CPU went during a phase (from /proc/*/schedstat).
type CPU struct {
	Process      float64 `json:"process_cores"`          // this process: fake Telegram, Keycare, generator, pollers
	ProcessWait  float64 `json:"process_runqueue_wait"`  // seconds per second its threads waited for a core
	Postgres     float64 `json:"postgres_cores"`         // the backends connected to the bench database
	PostgresWait float64 `json:"postgres_runqueue_wait"` // seconds per second they waited for a core
	Other        float64 `json:"other_cores"`            // everything else on the machine (should be ~0)
	GCs          uint32  `json:"gc_cycles"`
	GCPauseMs    float64 `json:"gc_pause_total_ms"`
	AllocPerMsg  float64 `json:"alloc_per_message_kb"` // whole process
}

// usage is a snapshot of what the process and machine spent.
type usage struct {
	at      time.Time
	procCPU time.Duration
	self    benchkit.Sched
	pg      benchkit.Sched
	all     map[string]int64
	machine float64
	gc      uint32
	pause   uint64
	alloc   uint64
}

func snapshot() usage {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	u := usage{at: time.Now(), gc: m.NumGC, pause: m.PauseTotalNs, alloc: m.TotalAlloc, self: benchkit.SelfSched(), pg: benchkit.PostgresSched(benchDBName), all: benchkit.AllTasks(), machine: benchkit.MachineBusy()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.procCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return u
}

// since is the CPU spent between before and u, per second of wall time.
func (u usage) since(before usage, messages int) CPU {
	wall := u.at.Sub(before.at).Seconds()
	per := func(ns int64) float64 { return round2(float64(ns) / 1e9 / wall) }
	c := CPU{
		Process:      round2((u.procCPU - before.procCPU).Seconds() / wall),
		ProcessWait:  per(u.self.Wait - before.self.Wait),
		Postgres:     per(u.pg.Run - before.pg.Run),
		PostgresWait: per(u.pg.Wait - before.pg.Wait),
		GCs:          u.gc - before.gc,
		GCPauseMs:    benchkit.Ms(time.Duration(u.pause - before.pause)),
	}
	// Two estimates, each blind to something: per-thread times miss threads
	// that exited during the phase; /proc/stat is tick-sampled. Take the larger.
	mine := (u.self.Run - before.self.Run) + (u.pg.Run - before.pg.Run)
	byTask := per(max(benchkit.CPUSince(before.all, u.all)-mine, 0))
	byTick := 0.0
	if u.machine > 0 {
		byTick = max(round2(((u.machine-before.machine)-float64(mine)/1e9)/wall), 0)
	}
	c.Other = max(byTask, byTick)
	if messages > 0 {
		c.AllocPerMsg = benchkit.Round1(float64(u.alloc-before.alloc) / float64(messages) / 1024)
	}
	return c
}

// benchDBName is the database whose backends postgresSched sums.
var benchDBName string

// sqlTrace counts and times every statement gorm sends (Keycare's mirror and
// gotd's state store both go through gorm), keyed by verb and table. It does
// not see BEGIN and COMMIT, which gorm's Transaction issues without callbacks.
type sqlTrace struct {
	n atomic.Int64
	// userHashReads counts gotd's GetUserAccessHash reads, always: its
	// updates loop makes one per user of every push it processes (two here:
	// Keycare and the client), and nothing else on this path does.
	userHashReads atomic.Int64
	on            atomic.Bool
	start         sync.Map // *gorm.Statement → time.Time
	mu            sync.Mutex
	by            map[string][]time.Duration
}

func newSQLTrace() *sqlTrace { return &sqlTrace{by: map[string][]time.Duration{}} }

func (t *sqlTrace) install(g *gorm.DB) error {
	begin := func(tx *gorm.DB) {
		if t.on.Load() {
			t.start.Store(tx.Statement, time.Now())
		}
	}
	end := func(tx *gorm.DB) {
		t.n.Add(1)
		if sql := tx.Statement.SQL.String(); strings.HasPrefix(sql, "SELECT") && strings.Contains(sql, "FROM telegram_users") {
			t.userHashReads.Add(1)
		}
		v, ok := t.start.LoadAndDelete(tx.Statement)
		if !ok {
			return
		}
		d := time.Since(v.(time.Time))
		label := statementLabel(tx.Statement.SQL.String())
		t.mu.Lock()
		t.by[label] = append(t.by[label], d)
		t.mu.Unlock()
	}
	cb := g.Callback()
	return joinErrs(
		cb.Query().Before("gorm:query").Register("inbound:begin", begin),
		cb.Query().After("gorm:query").Register("inbound:end", end),
		cb.Row().Before("gorm:row").Register("inbound:begin", begin),
		cb.Row().After("gorm:row").Register("inbound:end", end),
		cb.Raw().Before("gorm:raw").Register("inbound:begin", begin),
		cb.Raw().After("gorm:raw").Register("inbound:end", end),
		cb.Create().Before("gorm:create").Register("inbound:begin", begin),
		cb.Create().After("gorm:create").Register("inbound:end", end),
		cb.Update().Before("gorm:update").Register("inbound:begin", begin),
		cb.Update().After("gorm:update").Register("inbound:end", end),
		cb.Delete().Before("gorm:delete").Register("inbound:begin", begin),
		cb.Delete().After("gorm:delete").Register("inbound:end", end),
	)
}

// collect returns what was timed since the last reset and resets.
func (t *sqlTrace) collect() map[string][]time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.by
	t.by = map[string][]time.Duration{}
	return out
}

func joinErrs(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// statementLabel names a statement by its verb and first table, e.g.
// "SELECT chats" or "INSERT telegram_channels". Values are never part of it
// (gorm's SQL is parameterized).
func statementLabel(sql string) string {
	s := strings.TrimSpace(sql)
	verb, _, _ := strings.Cut(s, " ")
	verb = strings.ToUpper(verb)
	up := strings.ToUpper(s)
	var after string
	switch verb {
	case "SELECT", "DELETE":
		if i := strings.Index(up, " FROM "); i >= 0 {
			after = s[i+6:]
		}
	case "INSERT":
		if i := strings.Index(up, " INTO "); i >= 0 {
			after = s[i+6:]
		}
	case "UPDATE":
		after = s[len("UPDATE"):]
	}
	table, _, _ := strings.Cut(strings.TrimSpace(after), " ")
	table = strings.Trim(table, `"(`)
	if table == "" {
		return verb
	}
	return verb + " " + table
}
