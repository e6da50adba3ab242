// Package benchkit holds what Keycare's load tools share: exact
// percentiles, CPU accounting from /proc (Linux), and resetting a benchmark
// database. It is tooling, not part of the service.
package benchkit

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Percentiles are exact nearest-rank Summarize over every sample, in milliseconds.
type Percentiles struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
	Max  float64 `json:"max_ms"`
}

func Summarize(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return Ms(s[max(i, 0)])
	}
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	return Percentiles{N: len(s), Mean: Ms(sum / time.Duration(len(s))), P50: rank(.50), P90: rank(.90), P99: rank(.99), P999: rank(.999), Max: Ms(s[len(s)-1])}
}

func (p Percentiles) String() string {
	if p.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  (n=%d)", FmtMs(p.P50), FmtMs(p.P90), FmtMs(p.P99), FmtMs(p.Max), p.N)
}

func Ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 } // Ms with µs precision

func Round1(f float64) float64 { return math.Round(f*10) / 10 }

func FmtMs(f float64) string {
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0f ms", f)
	case f >= 10:
		return fmt.Sprintf("%.1f ms", f)
	}
	return fmt.Sprintf("%.2f ms", f)
}

// Sched is CPU time and run-queue wait from /proc/*/schedstat (Linux;
// exact, unlike the tick-sampled /proc/stat), in nanoseconds.
type Sched struct{ Run, Wait int64 }

func readSched(path string) (Sched, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Sched{}, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return Sched{}, false
	}
	run, _ := strconv.ParseInt(f[0], 10, 64)
	wait, _ := strconv.ParseInt(f[1], 10, 64)
	return Sched{Run: run, Wait: wait}, true
}

// SelfSched sums every thread of this process.
func SelfSched() Sched {
	var s Sched
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, t := range tasks {
		if x, ok := readSched("/proc/self/task/" + t.Name() + "/schedstat"); ok {
			s.Run += x.Run
			s.Wait += x.Wait
		}
	}
	return s
}

// AllTasks returns the CPU time of every thread on the machine by "pid/tid".
func AllTasks() map[string]int64 {
	m := map[string]int64{}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if c := p.Name()[0]; c < '0' || c > '9' {
			continue
		}
		tasks, _ := os.ReadDir("/proc/" + p.Name() + "/task")
		for _, t := range tasks {
			if x, ok := readSched("/proc/" + p.Name() + "/task/" + t.Name() + "/schedstat"); ok {
				m[p.Name()+"/"+t.Name()] = x.Run
			}
		}
	}
	return m
}

// CPUSince is the CPU time every thread spent between two AllTasks
// snapshots; threads that exited in between are missed.
func CPUSince(before, after map[string]int64) int64 {
	var n int64
	for k, v := range after {
		n += v - before[k]
	}
	return n
}

// PostgresSched sums the PostgreSQL backends connected to database db, and
// their parallel workers (see postgresBackends). Backends that exit between
// two snapshots are lost; the pool keeps its connections open.
func PostgresSched(db string) Sched {
	var s Sched
	for _, x := range postgresBackends(db) {
		s.Run += x.Run
		s.Wait += x.Wait
	}
	return s
}

// MachineBusy returns busy CPU seconds over all cores since boot (Linux), or 0.
func MachineBusy() float64 {
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

// Redact drops a password from a database URL before it is printed.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxx")
	}
	u.RawQuery = ""
	return u.String()
}

// ResetDatabase drops and recreates the database named in dbURL through the
// server's "postgres" maintenance database. It refuses names without "bench".
func ResetDatabase(ctx context.Context, dbURL string, create bool) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return fmt.Errorf("-database-url: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || !strings.Contains(name, "bench") {
		return fmt.Errorf("-database-url: refusing to drop database %q: its name must contain \"bench\" (or reuse a seeded one without resetting it)", name)
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("connect to the postgres maintenance database: %w", err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return err
	}
	if create {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+ident)
	}
	return err
}
