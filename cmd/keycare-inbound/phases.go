package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/keycare/keycare/internal/benchkit"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotd/td/tg"
	"github.com/jackc/pgx/v5"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/api"
	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/integrations/telegram"
)

// fillers make messages look like what clients write; the text starts with
// the phase prefix and a sequence number the tool parses back.
var fillers = []string{
	"Hello, our invoices for March look wrong, can you check the VAT line?",
	"The cluster in ru-central1-b is slow again since this morning.",
	"Thanks, that worked.",
	"Could you add Pavel from our finance team to this chat?",
	"We need a quote for 20 more VMs of the same plan before Friday.",
	"Is the maintenance window tonight still planned for 01:00 MSK?",
}

func text(prefix string, i int) string {
	return fmt.Sprintf("%s %06d %s", prefix, i, fillers[i%len(fillers)])
}

// seqOf parses the sequence number back from a message text.
func seqOf(prefix, t string) (int, bool) {
	if !strings.HasPrefix(t, prefix+" ") || len(t) < len(prefix)+7 {
		return 0, false
	}
	n, err := strconv.Atoi(t[len(prefix)+1 : len(prefix)+7])
	return n, err == nil
}

// pushRun posts n messages through the fake Telegram: message i goes to chat
// i % chats, and each chat belongs to one pusher goroutine, so a chat's
// messages are posted in order (as one client types them) while different
// chats are posted in parallel.
type pushRun struct {
	prefix  string
	n       int
	rate    float64 // per second, open loop on a fixed schedule; 0: as fast as the fake takes them
	pushers int

	before func(i, chat int, at time.Time) // just before the push (optional)

	pushAt  []time.Time // when PostFromClient was called: the fake stores the message and pushes it to Keycare's session
	lag     []time.Duration
	lastMsg []int // per chat: the Telegram id of the last message posted
	first   time.Time
	last    time.Time // when the last PostFromClient returned
	errs    atomic.Int64
	errOne  atomic.Value
}

func (w *world) push(ctx context.Context, p *pushRun) {
	chats := len(w.channels)
	p.pushAt = make([]time.Time, p.n)
	p.lastMsg = make([]int, chats)
	g := max(1, min(p.pushers, chats))
	lists := make([][]int, g)
	for i := 0; i < p.n; i++ {
		c := i % chats
		lists[c%g] = append(lists[c%g], i)
	}
	lags := make([][]time.Duration, g)
	lasts := make([]time.Time, g)
	start := time.Now().Add(5 * time.Millisecond)
	interval := 0.0
	if p.rate > 0 {
		interval = float64(time.Second) / p.rate
	}
	var wg sync.WaitGroup
	label(ctx, "tgfake push (generator: PostFromClient encode, encrypt, write)", func(ctx context.Context) {
		for k := range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				timer := time.NewTimer(time.Hour)
				defer timer.Stop()
				for _, i := range lists[k] {
					if ctx.Err() != nil {
						return
					}
					if p.rate > 0 {
						at := start.Add(time.Duration(float64(i) * interval))
						if d := time.Until(at); d > 0 {
							timer.Reset(d)
							select {
							case <-timer.C:
							case <-ctx.Done():
								return
							}
						}
						lags[k] = append(lags[k], time.Since(at))
					}
					c := i % chats
					t := time.Now()
					p.pushAt[i] = t
					if p.before != nil {
						p.before(i, c, t)
					}
					id, err := w.fake.PostFromClient(ctx, w.channels[c].ID, w.clients[c].ID, text(p.prefix, i))
					if err != nil {
						p.errs.Add(1)
						p.errOne.CompareAndSwap(nil, err.Error())
						continue
					}
					p.lastMsg[c] = id
				}
				lasts[k] = time.Now()
			}()
		}
		wg.Wait()
	})
	for _, l := range lags {
		p.lag = append(p.lag, l...)
	}
	for _, t := range p.pushAt {
		if !t.IsZero() && (p.first.IsZero() || t.Before(p.first)) {
			p.first = t
		}
	}
	for _, t := range lasts {
		if t.After(p.last) {
			p.last = t
		}
	}
}

// ThroughputResult is the saturation phase.
type ThroughputResult struct {
	Messages       int     `json:"messages"`
	RateAsked      float64 `json:"rate_asked"` // 0: as fast as possible
	Pushers        int     `json:"pushers"`
	PushSeconds    float64 `json:"push_seconds"`    // first push to last push returned
	PushRate       float64 `json:"push_rate"`       // what the fake pushed per second
	PersistSeconds float64 `json:"persist_seconds"` // first push to the DB holding all of them
	PersistRate    float64 `json:"persisted_per_second"`
	DrainSeconds   float64 `json:"drain_seconds_after_last_push"`
	Stored         int64   `json:"stored"`
	DistinctTexts  int64   `json:"distinct_texts"`
	Duplicates     int64   `json:"duplicates"`
	PushErrors     int64   `json:"push_errors"`
	PushError      string  `json:"push_error,omitempty"`
	// PushToRow is, for every message, push → the moment Keycare's
	// StoreMessage built its row (messages.created_at, set after the
	// chat and duplicate lookups and before the sender lookups, INSERT and
	// COMMIT). Under saturation it is mostly queueing.
	PushToRow          benchkit.Percentiles `json:"push_to_row_built"`
	Statements         []StatementStats     `json:"statements"`
	StatementsPerMsg   float64              `json:"statements_per_message"`
	UpdatesLoopBusy    float64              `json:"updates_loop_db_busy"` // share of the wall time gotd's single updates goroutine spent in its per-push SELECTs
	ChannelDiffCalls   int                  `json:"get_channel_difference_calls"`
	PeakGoroutines     int                  `json:"peak_goroutines"`
	CPU                CPU                  `json:"cpu"`
	DetectionInterval  float64              `json:"detection_interval_ms"`
	DetectionQueryMs   float64              `json:"detection_query_p50_ms"`
	DetectionFallbacks int                  `json:"detection_count_fallbacks"`
	// PushesViaLoop is how many pushes gotd's updates loop had processed
	// when the database held every message (2 user access-hash reads
	// each); the rest reached the database through getChannelDifference
	// (gap recovery) while their pushes still waited in gotd.
	PushesViaLoop    int64   `json:"pushes_processed_by_updates_loop_when_all_stored"`
	PushesViaLoopAll int64   `json:"pushes_processed_by_updates_loop_after_drain"`
	BacklogSeconds   float64 `json:"backlog_drain_seconds_after_all_stored"`
	BacklogDrained   bool    `json:"backlog_drained"`
}

// drain waits until gotd has worked through the pushes still queued in it:
// the goroutine count is back near g0 and no gorm statement ran for 500 ms
// (River and the tool's own queries do not go through gorm). It returns
// when the last statement was seen, within 50 ms.
func (w *world) drain(ctx context.Context, g0 int, timeout time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	last, quietSince := w.trace.n.Load(), time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		if n := w.trace.n.Load(); n != last {
			last, quietSince = n, time.Now()
			continue
		}
		if runtime.NumGoroutine() <= g0+50 && time.Since(quietSince) >= 500*time.Millisecond {
			return quietSince, true
		}
	}
	return quietSince, false
}

// StatementStats is one kind of SQL statement during a phase.
type StatementStats struct {
	Statement string  `json:"statement"`
	PerMsg    float64 `json:"per_message"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	TotalS    float64 `json:"total_seconds"`
}

func statementStats(by map[string][]time.Duration, messages int) ([]StatementStats, float64) {
	var out []StatementStats
	total := 0
	for k, d := range by {
		p := benchkit.Summarize(d)
		var sum time.Duration
		for _, x := range d {
			sum += x
		}
		total += len(d)
		out = append(out, StatementStats{Statement: k, PerMsg: round2(float64(len(d)) / float64(messages)), P50: p.P50, P99: p.P99, TotalS: round2(sum.Seconds())})
	}
	slices.SortFunc(out, func(a, b StatementStats) int { return strings.Compare(a.Statement, b.Statement) })
	return out, benchkit.Round1(float64(total) / float64(messages))
}

// throughput pushes o.Messages as fast as the fake takes them (or at
// o.Rate) and measures until the database holds every one.
func (w *world) throughput(ctx context.Context, o options, profile *bytes.Buffer) (ThroughputResult, error) {
	r := ThroughputResult{Messages: o.Messages, RateAsked: o.Rate, Pushers: o.Pushers, DetectionInterval: 10}
	g0 := runtime.NumGoroutine()
	hash0 := w.trace.userHashReads.Load()
	w.trace.collect()
	w.trace.on.Store(true)
	diff0 := w.fake.Calls(tg.UpdatesGetChannelDifferenceRequestTypeID)
	before := snapshot()
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			progress("cpu profile: %v", err)
			profile = nil
		}
	}

	// Peak goroutines and a progress line, while pushing and draining.
	stopWatch := make(chan struct{})
	var peak atomic.Int64
	var watchWG sync.WaitGroup
	watchWG.Add(1)
	label(ctx, "db poller and progress", func(ctx context.Context) {
		go func() {
			defer watchWG.Done()
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			lastLine := time.Now()
			for {
				select {
				case <-stopWatch:
					return
				case <-t.C:
				}
				if g := int64(runtime.NumGoroutine()); g > peak.Load() {
					peak.Store(g)
				}
				if time.Since(lastLine) > 2*time.Second {
					lastLine = time.Now()
					if n, err := w.countOn(ctx, `SELECT count(*) FROM messages WHERE text LIKE 'tp %'`); err == nil {
						progress("  … %d of %d stored", n, o.Messages)
					}
				}
			}
		}()
	})

	p := &pushRun{prefix: "tp", n: o.Messages, rate: o.Rate, pushers: o.Pushers}
	w.push(ctx, p)
	r.PushErrors = p.errs.Load()
	if v, ok := p.errOne.Load().(string); ok {
		r.PushError = v
	}
	r.PushSeconds = round2(p.last.Sub(p.first).Seconds())
	if r.PushSeconds > 0 {
		r.PushRate = benchkit.Round1(float64(o.Messages) / p.last.Sub(p.first).Seconds())
	}
	progress("  pushed %d in %.2fs (%.0f/s); waiting for the database to hold them all", o.Messages, r.PushSeconds, r.PushRate)

	// Detection: a chat's messages are stored in order (gotd applies a
	// channel's updates in pts order, one at a time), so the database holds
	// them all once it holds each chat's last one. That check is one indexed
	// query; it is confirmed by an exact count, which is polled instead if
	// it ever disagrees.
	var chatIDs []string
	var lastIDs []int32
	for c, id := range p.lastMsg {
		if id > 0 {
			chatIDs, lastIDs = append(chatIDs, w.chatIDs[c]), append(lastIDs, int32(id))
		}
	}
	var (
		doneAt time.Time
		qtimes []time.Duration
	)
	deadline := time.Now().Add(o.Timeout)
	for {
		t := time.Now()
		n, err := w.count(ctx, `SELECT count(*) FROM messages m JOIN unnest($1::text[], $2::int[]) AS t(chat_id, mid) ON m.chat_id = t.chat_id AND m.telegram_message_id = t.mid`, chatIDs, lastIDs)
		if err != nil {
			close(stopWatch)
			return r, err
		}
		qtimes = append(qtimes, time.Since(t))
		if n == int64(len(chatIDs)) {
			doneAt = time.Now()
			break
		}
		if time.Now().After(deadline) {
			close(stopWatch)
			return r, fmt.Errorf("throughput: after %s only %d of %d chats have their last message stored", o.Timeout, n, len(chatIDs))
		}
		time.Sleep(10 * time.Millisecond)
	}
	countQ := `SELECT count(*) FROM messages WHERE text LIKE 'tp %'`
	for {
		n, err := w.count(ctx, countQ)
		if err != nil {
			close(stopWatch)
			return r, err
		}
		if n >= int64(o.Messages-int(r.PushErrors)) || time.Now().After(deadline) {
			break
		}
		r.DetectionFallbacks++
		time.Sleep(10 * time.Millisecond)
		doneAt = time.Now()
	}
	after := snapshot()
	if profile != nil {
		pprof.StopCPUProfile()
	}
	w.trace.on.Store(false)
	close(stopWatch)
	watchWG.Wait()

	r.PushesViaLoop = (w.trace.userHashReads.Load() - hash0) / 2
	var idleAt time.Time
	idleAt, r.BacklogDrained = w.drain(ctx, g0, o.Timeout)
	r.BacklogSeconds = round2(max(idleAt.Sub(doneAt), 0).Seconds())
	r.PushesViaLoopAll = (w.trace.userHashReads.Load() - hash0) / 2

	r.PersistSeconds = round2(doneAt.Sub(p.first).Seconds())
	r.PersistRate = benchkit.Round1(float64(o.Messages) / doneAt.Sub(p.first).Seconds())
	r.DrainSeconds = round2(max(doneAt.Sub(p.last), 0).Seconds())
	r.DetectionQueryMs = benchkit.Summarize(qtimes).P50
	r.ChannelDiffCalls = w.fake.Calls(tg.UpdatesGetChannelDifferenceRequestTypeID) - diff0
	r.PeakGoroutines = int(peak.Load())
	r.CPU = after.since(before, o.Messages)
	by := w.trace.collect()
	r.Statements, r.StatementsPerMsg = statementStats(by, o.Messages)
	var loop time.Duration
	for _, d := range by["SELECT telegram_users"] {
		loop += d
	}
	r.UpdatesLoopBusy = round2(loop.Seconds() / doneAt.Sub(p.first).Seconds())

	var err error
	r.Stored, r.DistinctTexts, r.Duplicates, r.PushToRow, err = w.verify(ctx, "tp", p.pushAt)
	return r, err
}

// verify counts a phase's rows, its duplicates, and push → row built for each.
func (w *world) verify(ctx context.Context, prefix string, pushAt []time.Time) (stored, distinct, dups int64, toRow benchkit.Percentiles, err error) {
	stored, distinct, dups, toRow, _, err = w.verifyEach(ctx, prefix, pushAt)
	return
}

// verifyEach is verify, also returning push → row built of each message by
// sequence number (0 when not stored).
func (w *world) verifyEach(ctx context.Context, prefix string, pushAt []time.Time) (stored, distinct, dups int64, toRow benchkit.Percentiles, each []time.Duration, err error) {
	each = make([]time.Duration, len(pushAt))
	like := prefix + " %"
	err = w.raw.QueryRow(ctx, `SELECT count(*), count(DISTINCT text), count(*) - count(DISTINCT (chat_id, telegram_message_id)) FROM messages WHERE text LIKE $1`, like).Scan(&stored, &distinct, &dups)
	if err != nil {
		return
	}
	dups = max(dups, stored-distinct)
	rows, err := w.raw.Query(ctx, `SELECT text, created_at FROM messages WHERE text LIKE $1`, like)
	if err != nil {
		return
	}
	defer rows.Close()
	var d []time.Duration
	for rows.Next() {
		var t string
		var at time.Time
		if err = rows.Scan(&t, &at); err != nil {
			return
		}
		if i, ok := seqOf(prefix, t); ok && i < len(pushAt) && !pushAt[i].IsZero() {
			d = append(d, at.Sub(pushAt[i]))
			each[i] = at.Sub(pushAt[i])
		}
	}
	err = rows.Err()
	return stored, distinct, dups, benchkit.Summarize(d), each, err
}

// countOn runs a count through Keycare's pool, for the progress line that
// runs beside the main goroutine (which owns the raw connection).
func (w *world) countOn(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	err := w.db.SQL.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// LatencyResult is the fixed-rate phase.
type LatencyResult struct {
	Rate          float64              `json:"rate"`
	Seconds       float64              `json:"seconds"`
	Messages      int                  `json:"messages"`
	SampleEvery   int                  `json:"sample_every"`
	Sampled       int                  `json:"sampled"`
	Resolved      int                  `json:"resolved"`
	Unresolved    int                  `json:"unresolved"`
	Inferred      int                  `json:"inferred_from_a_newer_message"`
	PushToVisible benchkit.Percentiles `json:"push_to_visible_in_api"`
	PushToRow     benchkit.Percentiles `json:"push_to_row_built_all_messages"`
	PollInterval  float64              `json:"poll_interval_ms"`
	PollLimit     int                  `json:"poll_limit"`
	Polls         int64                `json:"polls"`
	PollErrors    int64                `json:"poll_errors"`
	PollRequest   benchkit.Percentiles `json:"poll_request"` // one GET /messages, client side
	GeneratorLag  benchkit.Percentiles `json:"generator_lag"`
	PushErrors    int64                `json:"push_errors"`
	Stored        int64                `json:"stored"`
	DistinctTexts int64                `json:"distinct_texts"`
	Duplicates    int64                `json:"duplicates"`
	ChannelDiffs  int                  `json:"get_channel_difference_calls"`
	CPU           CPU                  `json:"cpu"`
	DrainSeconds  float64              `json:"drain_seconds_after_last_push"`
	Timeline      []TimelinePoint      `json:"push_to_row_built_by_second"`
}

// poller watches one account's messages through the API while it has
// sampled messages outstanding, and sleeps otherwise.
type poller struct {
	acc     string
	mu      sync.Mutex
	pending map[int]time.Time // seq → push time
	wake    chan struct{}
}

func (p *poller) add(seq int, at time.Time) {
	p.mu.Lock()
	p.pending[seq] = at
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

type pollStats struct {
	visible  recorder
	request  recorder
	polls    atomic.Int64
	errs     atomic.Int64
	inferred atomic.Int64
}

// run polls GET /accounts/{id}/messages?limit=N (newest first) every
// interval while samples are pending. A sample is visible when it is in the
// page, or when a later message of the same chat is: Keycare stores a
// chat's messages one at a time in order, so a later one visible means this
// one committed before it.
func (p *poller) run(ctx context.Context, hc *http.Client, url, token string, interval time.Duration, st *pollStats) {
	type page struct {
		Items []struct {
			Text string `json:"text"`
		} `json:"items"`
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		p.mu.Lock()
		n := len(p.pending)
		p.mu.Unlock()
		if n == 0 {
			select {
			case <-p.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		t0 := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		var pg page
		if err == nil {
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			} else {
				err = json.NewDecoder(resp.Body).Decode(&pg)
			}
			resp.Body.Close()
		}
		t1 := time.Now()
		st.polls.Add(1)
		st.request.add(t1.Sub(t0))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			st.errs.Add(1)
		} else {
			seen := map[int]bool{}
			newest := -1
			for _, it := range pg.Items {
				if s, ok := seqOf("lat", it.Text); ok {
					seen[s] = true
					newest = max(newest, s)
				}
			}
			p.mu.Lock()
			for s, at := range p.pending {
				if seen[s] || s < newest {
					st.visible.add(t1.Sub(at))
					if !seen[s] {
						st.inferred.Add(1)
					}
					delete(p.pending, s)
				}
			}
			p.mu.Unlock()
		}
		// Poll more slowly the longer the oldest watched message has waited:
		// the resolution stays a few percent of the figure and the polling
		// cannot grow into the load it measures.
		next := interval
		p.mu.Lock()
		for _, at := range p.pending {
			next = max(next, min(time.Since(at)/20, 250*time.Millisecond))
		}
		p.mu.Unlock()
		if d := time.Until(t0.Add(next)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (p *poller) outstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// latency pushes at a fixed rate (open loop) and, for a sample of the
// messages, measures push → visible through the API.
func (w *world) latency(ctx context.Context, o options) (LatencyResult, error) {
	n := int(o.LatencyRate * o.LatencyDuration.Seconds())
	r := LatencyResult{Rate: o.LatencyRate, Seconds: o.LatencyDuration.Seconds(), Messages: n, SampleEvery: o.SampleEvery,
		PollInterval: benchkit.Ms(o.PollInterval), PollLimit: o.PollLimit}
	rng := rand.New(rand.NewPCG(7, 11))
	sampled := make([]bool, n)
	for i := range sampled {
		sampled[i] = rng.IntN(max(o.SampleEvery, 1)) == 0
		if sampled[i] {
			r.Sampled++
		}
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: nil, MaxIdleConnsPerHost: 200, IdleConnTimeout: time.Minute, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
	defer hc.CloseIdleConnections()
	st := &pollStats{}
	pollers := make([]*poller, len(w.channels))
	pctx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	var pwg sync.WaitGroup
	label(pctx, "latency pollers (API client side)", func(pctx context.Context) {
		for c := range pollers {
			pollers[c] = &poller{acc: w.accounts[c], pending: map[int]time.Time{}, wake: make(chan struct{}, 1)}
			url := fmt.Sprintf("%s%s/accounts/%s/messages?limit=%d", w.apiURL, api.Prefix, w.accounts[c], o.PollLimit)
			pwg.Add(1)
			go func() {
				defer pwg.Done()
				pollers[c].run(pctx, hc, url, w.token, o.PollInterval, st)
			}()
		}
	})
	g0 := runtime.NumGoroutine()
	diff0 := w.fake.Calls(tg.UpdatesGetChannelDifferenceRequestTypeID)
	before := snapshot()
	p := &pushRun{prefix: "lat", n: n, rate: o.LatencyRate, pushers: o.Pushers, before: func(i, c int, at time.Time) {
		if sampled[i] {
			pollers[c].add(i, at)
		}
	}}
	w.push(ctx, p)
	r.PushErrors = p.errs.Load()
	r.GeneratorLag = benchkit.Summarize(p.lag)
	// Wait for every sample to be seen (bounded).
	deadline := time.Now().Add(o.Timeout)
	for {
		out := 0
		for _, pl := range pollers {
			out += pl.outstanding()
		}
		if out == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			r.Unresolved = out
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.DrainSeconds = round2(max(time.Since(p.last), 0).Seconds())
	after := snapshot()
	stopPolling()
	pwg.Wait()
	r.CPU = after.since(before, n)
	r.ChannelDiffs = w.fake.Calls(tg.UpdatesGetChannelDifferenceRequestTypeID) - diff0
	r.PushToVisible = benchkit.Summarize(st.visible.get())
	r.Resolved = r.PushToVisible.N
	r.Inferred = int(st.inferred.Load())
	r.Polls, r.PollErrors = st.polls.Load(), st.errs.Load()
	r.PollRequest = benchkit.Summarize(st.request.get())

	if _, err := w.waitCount(ctx, int64(n)-r.PushErrors, 10*time.Millisecond, o.Timeout, `SELECT count(*) FROM messages WHERE text LIKE 'lat %'`); err != nil {
		return r, fmt.Errorf("latency phase: %w", err)
	}
	var each []time.Duration
	var err error
	r.Stored, r.DistinctTexts, r.Duplicates, r.PushToRow, each, err = w.verifyEach(ctx, "lat", p.pushAt)
	// Push → row built by second of the phase: a stall at the start and a
	// queue that grows look the same in percentiles, not here.
	secs := int(math.Ceil(o.LatencyDuration.Seconds()))
	buckets := make([][]time.Duration, secs)
	for i, d := range each {
		if d == 0 || p.pushAt[i].IsZero() {
			continue
		}
		b := min(int(p.pushAt[i].Sub(p.first).Seconds()), secs-1)
		buckets[b] = append(buckets[b], d)
	}
	for s, b := range buckets {
		pc := benchkit.Summarize(b)
		r.Timeline = append(r.Timeline, TimelinePoint{Second: s + 1, N: pc.N, P50: pc.P50, Max: pc.Max})
	}
	w.drain(ctx, g0, o.Timeout)
	return r, err
}

// TimelinePoint is push → row built of the messages pushed in one second.
type TimelinePoint struct {
	Second int     `json:"second"`
	N      int     `json:"n"`
	P50    float64 `json:"p50_ms"`
	Max    float64 `json:"max_ms"`
}

// Baseline is a raw insert rate measured in the same run.
type Baseline struct {
	Name    string               `json:"name"`
	What    string               `json:"what"`
	Rows    int                  `json:"rows"`
	Seconds float64              `json:"seconds"`
	PerSec  float64              `json:"rows_per_second"`
	PerRow  benchkit.Percentiles `json:"per_row,omitempty"`
	Workers int                  `json:"workers"`
}

// messageColumns are the columns gorm writes for one inbound message
// (chats.messageRow), in its order.
var messageColumns = []string{"id", "chat_id", "account_id", "telegram_message_id", "random_id", "side", "sender_kind", "sender_user_id",
	"sender_contact_id", "sender_telegram_id", "sender_name", "text", "reply_to", "media", "service", "status", "error", "sent_at", "edited_at", "deleted_at", "created_at"}

// baselineID is where baseline rows' Telegram ids start, far above anything
// the fake assigns; they are deleted after each baseline.
const baselineID = 10_000_000

// baselines measures what PostgreSQL itself takes for the same rows.
func (w *world) baselines(ctx context.Context, o options) ([]Baseline, error) {
	contact := make([]string, len(w.channels))
	for c := range w.channels {
		if err := w.raw.QueryRow(ctx, `SELECT id FROM contacts WHERE telegram_user_id = $1`, w.clients[c].ID).Scan(&contact[c]); err != nil {
			return nil, err
		}
	}
	row := func(k int) []any {
		c := k % len(w.channels)
		now := time.Now().UTC()
		return []any{keycare.NewID(), w.chatIDs[c], w.accounts[c], baselineID + k, nil, chats.SideClient, "contact", nil,
			contact[c], w.clients[c].ID, "Client " + fmt.Sprintf("%03d", c+1), text("base", k), nil, nil, "", chats.MessageReceived, "", now, nil, nil, now}
	}
	cols := strings.Join(messageColumns, ", ")
	ph := make([]string, len(messageColumns))
	for i := range ph {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	insert := "INSERT INTO messages (" + cols + ") VALUES (" + strings.Join(ph, ", ") + ") ON CONFLICT DO NOTHING"
	cleanup := func() error {
		if _, err := w.raw.Exec(ctx, `DELETE FROM messages WHERE telegram_message_id >= $1`, baselineID); err != nil {
			return err
		}
		_, err := w.raw.Exec(ctx, `VACUUM ANALYZE messages`)
		return err
	}
	var out []Baseline
	timed := func(b Baseline, f func(k int) error) (Baseline, error) {
		per := make([]time.Duration, 0, b.Rows)
		start := time.Now()
		for k := 0; k < b.Rows; k++ {
			t := time.Now()
			if err := f(k); err != nil {
				return b, fmt.Errorf("%s: %w", b.Name, err)
			}
			per = append(per, time.Since(t))
		}
		el := time.Since(start)
		b.Seconds, b.PerSec, b.PerRow, b.Workers = round2(el.Seconds()), benchkit.Round1(float64(b.Rows)/el.Seconds()), benchkit.Summarize(per), 1
		return b, cleanup()
	}

	progress("baseline 1/6: %d single-row INSERTs, autocommit, one connection", o.BaselineRows)
	b, err := timed(Baseline{Name: "INSERT, autocommit", What: "one INSERT … ON CONFLICT DO NOTHING per row, its own transaction (1 round trip, 1 WAL flush); pgx, one connection, prepared", Rows: o.BaselineRows},
		func(k int) error { _, err := w.raw.Exec(ctx, insert, row(k)...); return err })
	if err != nil {
		return out, err
	}
	out = append(out, b)

	progress("baseline 2/6: %d × BEGIN; INSERT; COMMIT", o.BaselineRows)
	b, err = timed(Baseline{Name: "BEGIN; INSERT; COMMIT", What: "the mirror's transaction shape without its lookups (3 round trips, 1 WAL flush); pgx, one connection", Rows: o.BaselineRows},
		func(k int) error {
			tx, err := w.raw.Begin(ctx)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, insert, row(k)...); err != nil {
				_ = tx.Rollback(ctx)
				return err
			}
			return tx.Commit(ctx)
		})
	if err != nil {
		return out, err
	}
	out = append(out, b)

	progress("baseline 3/6: COPY of %d rows", o.CopyRows)
	rows := make([][]any, o.CopyRows)
	for k := range rows {
		rows[k] = row(k)
	}
	start := time.Now()
	if _, err := w.raw.CopyFrom(ctx, pgx.Identifier{"messages"}, messageColumns, pgx.CopyFromRows(rows)); err != nil {
		return out, fmt.Errorf("copy: %w", err)
	}
	el := time.Since(start)
	out = append(out, Baseline{Name: "COPY", What: "all rows in one COPY, one transaction (for reference: the ceiling of batching)", Rows: o.CopyRows, Seconds: round2(el.Seconds()), PerSec: benchkit.Round1(float64(o.CopyRows) / el.Seconds()), Workers: 1})
	if err := cleanup(); err != nil {
		return out, err
	}

	// Keycare's own per-message database work, without Telegram: the two
	// user access-hash reads gotd's updates loop makes for each push,
	// chats.Store.StoreMessage, and gotd's SetChannelPts. The state store
	// is a second session name, so Keycare's real update state is untouched.
	state := telegram.NewStateStore(w.db, "bench-baseline")
	self := w.login.UserID
	mirror := func(k int) error {
		c := k % len(w.channels)
		if _, _, err := state.GetUserAccessHash(ctx, self, self); err != nil {
			return err
		}
		if _, _, err := state.GetUserAccessHash(ctx, self, w.clients[c].ID); err != nil {
			return err
		}
		err := w.chatSt.StoreMessage(ctx, chats.InboundMessage{
			ChannelID: w.channels[c].ID, MessageID: baselineID + k, SenderTelegramID: w.clients[c].ID,
			SenderName: "Client " + fmt.Sprintf("%03d", c+1), SenderUsername: w.clients[c].Username,
			Text: text("base", k), Date: time.Now().UTC().Truncate(time.Second),
		})
		if err != nil {
			return err
		}
		return state.SetChannelPts(ctx, self, w.channels[c].ID, k)
	}
	progress("baseline 4/6: %d × Keycare's per-message DB work (StoreMessage + state), one goroutine", o.MirrorRows)
	b, err = timed(Baseline{Name: "Keycare DB work, 1 worker", What: "2× GetUserAccessHash + chats.Store.StoreMessage + SetChannelPts, called directly (no Telegram), one goroutine", Rows: o.MirrorRows}, mirror)
	if err != nil {
		return out, err
	}
	out = append(out, b)

	concurrent := func(workers int, b Baseline) (Baseline, error) {
		var next atomic.Int64
		var firstErr atomic.Value
		per := &recorder{}
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					k := int(next.Add(1) - 1)
					if k >= o.MirrorRows || ctx.Err() != nil {
						return
					}
					t := time.Now()
					if err := mirror(k); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					per.add(time.Since(t))
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		if e, ok := firstErr.Load().(error); ok {
			return b, e
		}
		b.Seconds, b.PerSec, b.PerRow, b.Workers = round2(el.Seconds()), benchkit.Round1(float64(b.Rows)/el.Seconds()), benchkit.Summarize(per.get()), workers
		return b, cleanup()
	}
	few := 2 * runtime.NumCPU()
	progress("baseline 5/6: %d × the same, %d goroutines (2 per CPU)", o.MirrorRows, few)
	b, err = concurrent(few, Baseline{Name: fmt.Sprintf("Keycare DB work, %d workers", few), What: "the same, concurrently, 2 goroutines per CPU", Rows: o.MirrorRows})
	if err != nil {
		return out, err
	}
	out = append(out, b)
	workers := len(w.channels)
	progress("baseline 6/6: %d × the same, %d goroutines (one per chat, as gotd's per-channel workers)", o.MirrorRows, workers)
	b, err = concurrent(workers, Baseline{Name: fmt.Sprintf("Keycare DB work, %d workers", workers), What: "the same, one goroutine per chat as gotd's per-channel workers: the mirror without Telegram in front", Rows: o.MirrorRows})
	if err != nil {
		return out, err
	}
	out = append(out, b)
	if _, err := w.raw.Exec(ctx, `DELETE FROM telegram_channels WHERE session = 'bench-baseline'`); err != nil {
		return out, err
	}
	return out, nil
}

// settle waits until Keycare is in its steady state: every channel's worker
// started by a first push, and the reconcile that runs 10 s after connecting
// done (it stores each group's "channel created" service message).
func (w *world) settle(ctx context.Context, o options) (SettleResult, error) {
	var r SettleResult
	start := time.Now()
	p := &pushRun{prefix: "warm", n: o.Warmup * len(w.channels), pushers: o.Pushers}
	w.push(ctx, p)
	if p.errs.Load() > 0 {
		return r, fmt.Errorf("warm-up push failed: %v", p.errOne.Load())
	}
	if _, err := w.waitCount(ctx, int64(p.n), 20*time.Millisecond, o.Timeout, `SELECT count(*) FROM messages WHERE text LIKE 'warm %'`); err != nil {
		return r, fmt.Errorf("warm-up: %w", err)
	}
	r.WarmupMessages = p.n
	r.WarmupSeconds = round2(time.Since(start).Seconds())
	// A first push into a channel gotd does not track yet can reach its
	// updates manager after a later one (gotd reads each incoming message on
	// its own goroutine); the manager then starts the channel after it and
	// drops it as outdated, and only Keycare's reconciler stores it.
	rows, err := w.raw.Query(ctx, `SELECT text, created_at FROM messages WHERE text LIKE 'warm %'`)
	if err != nil {
		return r, err
	}
	for rows.Next() {
		var t string
		var at time.Time
		if err := rows.Scan(&t, &at); err != nil {
			rows.Close()
			return r, err
		}
		if i, ok := seqOf("warm", t); ok && i < len(p.pushAt) && at.Sub(p.pushAt[i]) > 3*time.Second {
			r.WarmupLate++
			r.WarmupLateMax = max(r.WarmupLateMax, benchkit.Round1(at.Sub(p.pushAt[i]).Seconds()))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, err
	}
	n, err := w.waitCount(ctx, int64(len(w.channels)), 50*time.Millisecond, time.Minute, `SELECT count(*) FROM messages WHERE service = 'create'`)
	r.ReconcileDone = err == nil
	r.ReconcileStored = n
	if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		progress("the first reconcile did not finish in time (%v); measuring anyway", err)
	}
	time.Sleep(time.Second) // let the reconcile's last writes and River's start-up jobs pass
	r.Seconds = round2(time.Since(start).Seconds())
	return r, ctx.Err()
}

// SettleResult is the unmeasured start-up.
type SettleResult struct {
	WarmupMessages  int     `json:"warmup_messages"`
	WarmupSeconds   float64 `json:"warmup_seconds"`
	WarmupLate      int     `json:"warmup_stored_late"` // stored more than 3 s after their push: by the reconciler, not the update stream
	WarmupLateMax   float64 `json:"warmup_late_max_seconds"`
	ReconcileDone   bool    `json:"first_reconcile_done"`
	ReconcileStored int64   `json:"first_reconcile_stored"`
	Seconds         float64 `json:"seconds"`
}
