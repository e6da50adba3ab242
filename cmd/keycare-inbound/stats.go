package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gorm.io/gorm"
)

// Percentiles are exact nearest-rank percentiles over every sample, in milliseconds.
type Percentiles struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
	Max  float64 `json:"max_ms"`
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return ms(s[max(i, 0)])
	}
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	return Percentiles{N: len(s), Mean: ms(sum / time.Duration(len(s))), P50: rank(.50), P90: rank(.90), P99: rank(.99), P999: rank(.999), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 } // ms with µs precision

func round1(f float64) float64 { return math.Round(f*10) / 10 }
func round2(f float64) float64 { return math.Round(f*100) / 100 }

func fmtMs(f float64) string {
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0f ms", f)
	case f >= 10:
		return fmt.Sprintf("%.1f ms", f)
	}
	return fmt.Sprintf("%.2f ms", f)
}

func (p Percentiles) String() string {
	if p.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  (n=%d)", fmtMs(p.P50), fmtMs(p.P90), fmtMs(p.P99), fmtMs(p.Max), p.N)
}

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
	self    schedStat
	pg      schedStat
	all     map[string]int64
	machine float64
	gc      uint32
	pause   uint64
	alloc   uint64
}

func snapshot() usage {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	u := usage{at: time.Now(), gc: m.NumGC, pause: m.PauseTotalNs, alloc: m.TotalAlloc, self: selfSched(), pg: postgresSched(benchDBName), all: allTasks(), machine: machineBusy()}
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
		ProcessWait:  per(u.self.wait - before.self.wait),
		Postgres:     per(u.pg.run - before.pg.run),
		PostgresWait: per(u.pg.wait - before.pg.wait),
		GCs:          u.gc - before.gc,
		GCPauseMs:    ms(time.Duration(u.pause - before.pause)),
	}
	// Two estimates, each blind to something: per-thread times miss threads
	// that exited during the phase; /proc/stat is tick-sampled. Take the larger.
	mine := (u.self.run - before.self.run) + (u.pg.run - before.pg.run)
	byTask := per(max(cpuSince(before.all, u.all)-mine, 0))
	byTick := 0.0
	if u.machine > 0 {
		byTick = max(round2(((u.machine-before.machine)-float64(mine)/1e9)/wall), 0)
	}
	c.Other = max(byTask, byTick)
	if messages > 0 {
		c.AllocPerMsg = round1(float64(u.alloc-before.alloc) / float64(messages) / 1024)
	}
	return c
}

// schedStat is CPU time and run-queue wait from /proc/*/schedstat (Linux), in nanoseconds.
type schedStat struct{ run, wait int64 }

func readSched(path string) (schedStat, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return schedStat{}, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return schedStat{}, false
	}
	run, _ := strconv.ParseInt(f[0], 10, 64)
	wait, _ := strconv.ParseInt(f[1], 10, 64)
	return schedStat{run, wait}, true
}

// selfSched sums every thread of this process.
func selfSched() schedStat {
	var s schedStat
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, t := range tasks {
		if x, ok := readSched("/proc/self/task/" + t.Name() + "/schedstat"); ok {
			s.run += x.run
			s.wait += x.wait
		}
	}
	return s
}

// allTasks returns the CPU time of every thread on the machine by "pid/tid".
func allTasks() map[string]int64 {
	m := map[string]int64{}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if c := p.Name()[0]; c < '0' || c > '9' {
			continue
		}
		tasks, _ := os.ReadDir("/proc/" + p.Name() + "/task")
		for _, t := range tasks {
			if x, ok := readSched("/proc/" + p.Name() + "/task/" + t.Name() + "/schedstat"); ok {
				m[p.Name()+"/"+t.Name()] = x.run
			}
		}
	}
	return m
}

func cpuSince(before, after map[string]int64) int64 {
	var n int64
	for k, v := range after {
		n += v - before[k]
	}
	return n
}

// benchDBName is the database whose backends postgresSched sums.
var benchDBName string

// postgresSched sums the PostgreSQL backends connected to database db (their
// process title is "postgres: [CLUSTER: ]USER DB HOST(PORT) STATE").
func postgresSched(db string) schedStat {
	var s schedStat
	if db == "" {
		return s
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if c := p.Name()[0]; c < '0' || c > '9' {
			continue
		}
		comm, err := os.ReadFile("/proc/" + p.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if err != nil {
			continue
		}
		f := strings.Fields(strings.ReplaceAll(string(cmd), "\x00", " "))
		if len(f) > 0 && f[0] == "postgres:" {
			f = f[1:]
		} else {
			continue
		}
		if len(f) > 0 && strings.HasSuffix(f[0], ":") {
			f = f[1:]
		}
		if len(f) < 2 || f[1] != db {
			continue
		}
		if x, ok := readSched("/proc/" + p.Name() + "/schedstat"); ok {
			s.run += x.run
			s.wait += x.wait
		}
	}
	return s
}

// machineBusy returns busy CPU seconds over all cores since boot (Linux), or 0.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for i, s := range f[1:8] { // user nice system idle iowait irq softirq
		if i == 3 || i == 4 {
			continue
		}
		v, _ := strconv.ParseFloat(s, 64)
		busy += v
	}
	return busy / 100 // USER_HZ
}

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
