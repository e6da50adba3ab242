// The open-loop HTTP load generator both load tools share.

package benchkit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

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

// TimedHandler measures how long the server spends on each request, from the
// moment net/http hands it over to the moment the handler returns (the body
// written to the socket buffer). It records only while a phase is running.
type TimedHandler struct {
	h   http.Handler
	rec atomic.Pointer[recorder]
}

func (t *TimedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	t.h.ServeHTTP(w, r)
	if rec := t.rec.Load(); rec != nil {
		rec.add(time.Since(start))
	}
}

// NewTimedHandler wraps h to time it.
func NewTimedHandler(h http.Handler) *TimedHandler { return &TimedHandler{h: h} }

// Phase is one open-loop run against one endpoint.
type Phase struct {
	Name      string
	Rate      float64
	Duration  time.Duration
	Client    *http.Client
	Server    *TimedHandler // optional: server-side timing
	Database  string        // the PostgreSQL database whose backends' CPU is measured ("": none)
	Request   func(i int, rng *rand.Rand) *http.Request
	Verify    func(body []byte) error // run after the phase on every VerifyEvery-th body
	Every     int
	Inflight  int // in-flight cap; requests over it are counted as errors ("overload")
	OnStarted func()
	OnStopped func() // after the last response, before bodies are verified
}

// PhaseResult is what one phase measured.
type PhaseResult struct {
	Name           string         `json:"name"`
	RateAsked      float64        `json:"rate_asked"`
	SendRate       float64        `json:"send_rate_achieved"`
	Throughput     float64        `json:"throughput"` // responses/s, first send to last response
	Duration       float64        `json:"duration_s"`
	Requests       int            `json:"requests"`
	OK             int            `json:"ok"`
	Errors         int            `json:"errors"`
	ErrorKinds     map[string]int `json:"error_kinds,omitempty"`
	Verified       int            `json:"verified"`
	Latency        Percentiles    `json:"latency"`                  // from the scheduled send time, successful requests
	FromSend       Percentiles    `json:"latency_from_actual_send"` // what a closed-loop tool would report
	ServerTime     Percentiles    `json:"server_time"`              // inside the server's handler
	SendLag        Percentiles    `json:"send_lag"`                 // how late the generator fired vs. the schedule
	ResponseBytes  int            `json:"response_bytes"`           // of the last successful response
	ProcessCPU     float64        `json:"process_cpu_cores"`        // this process: server and load generator
	ProcessWait    float64        `json:"process_runqueue_wait"`    // seconds per second its threads waited for a CPU
	PostgresCPU    float64        `json:"postgres_cpu_cores"`       // the backends connected to the bench database
	PostgresWait   float64        `json:"postgres_runqueue_wait"`   // seconds per second they waited for a CPU
	OtherCPU       float64        `json:"other_cpu_cores"`          // every other process on the machine (should be ~0)
	StolenCPU      float64        `json:"stolen_cpu_cores"`         // taken by the hypervisor for other guests (/proc/stat steal)
	CPUPressure    float64        `json:"cpu_pressure_some_pct"`    // share of time some task waited for a CPU (/proc/pressure/cpu)
	GCs            uint32         `json:"gc_cycles"`
	GCPauseTotalMs float64        `json:"gc_pause_total_ms"`
	AllocPerReqKB  float64        `json:"alloc_per_request_kb"` // whole process: server and load generator
	SQLPerRequest  float64        `json:"sql_per_request"`
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// run fires p.Rate requests a second for p.Duration on a fixed schedule,
// whether or not earlier requests have answered (open loop), and measures
// each latency from the time the request was scheduled to be sent, so a
// stalled server shows up in the figures instead of slowing the generator.
// Run fires the phase's requests on schedule and measures them; sqlCounter,
// if set, counts the SQL statements the server runs.
func (p *Phase) Run(ctx context.Context, sqlCounter *atomic.Int64) PhaseResult {
	n := int(p.Rate * p.Duration.Seconds())
	lat := make([]time.Duration, n)      // from the scheduled time; 0: not completed or failed
	fromSend := make([]time.Duration, n) // from the actual send
	lag := make([]time.Duration, 0, n)
	var (
		mu        sync.Mutex
		errKinds  = map[string]int{}
		samples   [][]byte
		lastBytes atomic.Int64
		lastDone  atomic.Int64 // unix nanos of the last response
		wg        sync.WaitGroup
	)
	fail := func(kind string) {
		mu.Lock()
		errKinds[kind]++
		mu.Unlock()
	}
	sem := make(chan struct{}, max(p.Inflight, 1))
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))
	srv := &recorder{d: make([]time.Duration, 0, n)}
	if p.Server != nil {
		p.Server.rec.Store(srv)
	}
	before := snapshot(sqlCounter, p.Database)
	if p.OnStarted != nil {
		p.OnStarted()
	}

	interval := float64(time.Second) / p.Rate
	start := time.Now().Add(5 * time.Millisecond)
	timer := time.NewTimer(time.Hour)
	sent := 0
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(float64(i) * interval))
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		lag = append(lag, time.Since(at))
		select {
		case sem <- struct{}{}:
		default:
			fail("overload: in-flight cap reached")
			continue
		}
		req := p.Request(i, rng).WithContext(ctx)
		sample := p.Verify != nil && p.Every > 0 && i%p.Every == 0
		sent++
		wg.Add(1)
		go func(i int, at time.Time) {
			defer wg.Done()
			defer func() { <-sem }()
			sentAt := time.Now()
			resp, err := p.Client.Do(req)
			if err != nil {
				fail(errKind(err))
				return
			}
			buf := bufPool.Get().(*bytes.Buffer)
			buf.Reset()
			_, err = buf.ReadFrom(resp.Body)
			resp.Body.Close()
			d, ds := time.Since(at), time.Since(sentAt)
			lastDone.Store(time.Now().UnixNano())
			switch {
			case err != nil:
				fail("reading body: " + errKind(err))
			case resp.StatusCode != http.StatusOK:
				fail("HTTP " + strconv.Itoa(resp.StatusCode))
			default:
				lat[i], fromSend[i] = d, ds
				lastBytes.Store(int64(buf.Len()))
				if sample {
					b := bytes.Clone(buf.Bytes())
					mu.Lock()
					samples = append(samples, b)
					mu.Unlock()
				}
			}
			bufPool.Put(buf)
		}(i, at)
	}
	sendEnd := time.Now()
	wg.Wait()
	after := snapshot(sqlCounter, p.Database)
	if p.OnStopped != nil {
		p.OnStopped()
	}
	if p.Server != nil {
		p.Server.rec.Store(nil)
	}
	timer.Stop()

	r := PhaseResult{Name: p.Name, RateAsked: p.Rate, Duration: p.Duration.Seconds(), Requests: n, ErrorKinds: errKinds}
	var ok, okSend []time.Duration
	for i, d := range lat {
		if d > 0 {
			ok = append(ok, d)
			okSend = append(okSend, fromSend[i])
		}
	}
	r.OK = len(ok)
	r.Latency = Summarize(ok)
	r.FromSend = Summarize(okSend)
	srv.mu.Lock()
	r.ServerTime = Summarize(srv.d)
	srv.mu.Unlock()
	r.SendLag = Summarize(lag)
	if sent > 1 {
		r.SendRate = Round1(float64(sent-1) / sendEnd.Sub(start).Seconds())
	}
	if last := lastDone.Load(); last > 0 && r.OK > 0 {
		r.Throughput = Round1(float64(r.OK) / time.Unix(0, last).Sub(start).Seconds())
	}
	r.ResponseBytes = int(lastBytes.Load())
	for _, b := range samples {
		if err := p.Verify(b); err != nil {
			errKinds["verify: "+err.Error()]++
			continue
		}
		r.Verified++
	}
	for _, c := range errKinds {
		r.Errors += c
	}
	if len(errKinds) == 0 {
		r.ErrorKinds = nil
	}
	after.fill(&r, before, n)
	return r
}

// errKind shortens a transport error into a bucket name.
func errKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// usage is a snapshot of what the process and machine spent.
type usage struct {
	at           time.Time
	procCPU      time.Duration
	self         Sched
	pg           Sched // the database's backends, exited ones included (pgSampler)
	all          map[string]int64
	machine      float64 // busy CPU seconds from /proc/stat (tick-sampled, but includes exited processes)
	steal        float64 // CPU seconds stolen by the hypervisor, from /proc/stat
	pressure     int64   // µs some task waited for a CPU, from /proc/pressure/cpu
	gc           uint32
	pause        uint64
	alloc        uint64
	sqlStatement int64
}

func snapshot(sqlCounter *atomic.Int64, db string) usage {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u := usage{at: time.Now(), gc: ms.NumGC, pause: ms.PauseTotalNs, alloc: ms.TotalAlloc, self: SelfSched(), pg: postgresTotal(db), all: AllTasks(), machine: MachineBusy(), steal: stealSeconds(), pressure: cpuPressure()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.procCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if sqlCounter != nil {
		u.sqlStatement = sqlCounter.Load()
	}
	return u
}

func (u usage) fill(r *PhaseResult, before usage, n int) {
	wall := u.at.Sub(before.at).Seconds()
	r.ProcessCPU = math.Round((u.procCPU-before.procCPU).Seconds()/wall*100) / 100
	per := func(ns int64) float64 { return math.Round(float64(ns)/1e9/wall*100) / 100 }
	r.ProcessWait = per(u.self.Wait - before.self.Wait)
	pg := Sched{Run: u.pg.Run - before.pg.Run, Wait: u.pg.Wait - before.pg.Wait}
	r.PostgresCPU = per(pg.Run)
	r.PostgresWait = per(pg.Wait)
	// Two estimates, each blind to something: per-thread times miss threads
	// that exited during the phase (compilers, test binaries); /proc/stat
	// is sampled on ticks and undercounts short bursts. Take the larger.
	mine := (u.self.Run - before.self.Run) + pg.Run
	byTask := per(max(CPUSince(before.all, u.all)-mine, 0))
	byTick := 0.0
	if u.machine > 0 {
		byTick = max(math.Round(((u.machine-before.machine)-float64(mine)/1e9)/wall*100)/100, 0)
	}
	r.OtherCPU = max(byTask, byTick)
	r.StolenCPU = math.Round((u.steal-before.steal)/wall*100) / 100
	r.CPUPressure = math.Round(float64(u.pressure-before.pressure)/1e6/wall*1000) / 10
	r.GCs = u.gc - before.gc
	r.GCPauseTotalMs = Ms(time.Duration(u.pause - before.pause))
	if n > 0 {
		r.AllocPerReqKB = Round1(float64(u.alloc-before.alloc) / float64(n) / 1024)
		r.SQLPerRequest = Round1(float64(u.sqlStatement-before.sqlStatement) / float64(n))
	}
}

// Drain discards a response body so the connection is reused.
func Drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
