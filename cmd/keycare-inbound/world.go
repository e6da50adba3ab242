package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/keycare/keycare/internal/benchkit"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/accounts"
	"github.com/keycare/keycare/api"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/integrations/telegram"
	"github.com/keycare/keycare/integrations/telegram/tgfake"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/idempotency"
	"github.com/keycare/keycare/internal/jobs"
	"github.com/keycare/keycare/migrations"
	"github.com/keycare/keycare/requests"
	"github.com/keycare/keycare/team"
)

// sessionName is the one Keycare Telegram account, as cmd/keycare names it.
const sessionName = "default"

// contactsPerAccount: the client who writes plus a few others, so the
// contact lookup runs on a realistic list.
const contactsPerAccount = 5

// world is Keycare running against the in-process fake Telegram.
type world struct {
	dbURL    string
	db       *database.DB
	raw      *pgx.Conn // for seeding, polling and the baselines: no gorm
	trace    *sqlTrace
	fake     *tgfake.Server
	keycare  tgfake.User
	clients  []tgfake.User    // clients[c] writes in chat c
	channels []tgfake.Channel // channels[c] is account c's group
	accounts []string         // accounts[c] owns channels[c]
	chatIDs  []string         // Keycare's chats.id of channels[c]
	token    string           // the bootstrap admin's API token
	apiURL   string
	client   *telegram.Client
	chatSt   *chats.Store
	state    *telegram.StateStore
	logs     *countingHandler
	login    telegram.LoginResult
	dir      string

	stopTelegram context.CancelFunc
	telegramDone chan error
	jobs         *jobs.Queue
	http         *http.Server
	started      time.Time // when the Telegram client started (reconcile timers run from here)
	closeOnce    sync.Once
}

// countingHandler keeps Keycare's and gotd's log lines out of the report but
// counts warnings and errors and keeps the first few, so a run that logged
// problems says so.
type countingHandler struct {
	echo  slog.Handler // optional: also print (-log)
	mu    sync.Mutex
	warns int
	first []string
}

func (h *countingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || (h.echo != nil && h.echo.Enabled(ctx, l))
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.mu.Lock()
		h.warns++
		if len(h.first) < 5 {
			var b strings.Builder
			b.WriteString(r.Message)
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "error" || a.Key == "op" || a.Key == "reason" {
					fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
				}
				return true
			})
			h.first = append(h.first, b.String())
		}
		h.mu.Unlock()
	}
	if h.echo != nil {
		return h.echo.Handle(ctx, r)
	}
	return nil
}

func (h *countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrsHandler{h: h, attrs: as}
}
func (h *countingHandler) WithGroup(string) slog.Handler { return h }

func (h *countingHandler) counts() (int, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.warns, append([]string(nil), h.first...)
}

// attrsHandler forwards to the counting handler, keeping With attributes for -log.
type attrsHandler struct {
	h     *countingHandler
	attrs []slog.Attr
}

func (a *attrsHandler) Enabled(ctx context.Context, l slog.Level) bool { return a.h.Enabled(ctx, l) }
func (a *attrsHandler) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(a.attrs...)
	return a.h.Handle(ctx, r)
}
func (a *attrsHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrsHandler{h: a.h, attrs: append(append([]slog.Attr(nil), a.attrs...), as...)}
}
func (a *attrsHandler) WithGroup(string) slog.Handler { return a }

// label runs f with a pprof label, so every goroutine f starts is charged to
// that component in the CPU profile.
func label(ctx context.Context, component string, f func(context.Context)) {
	pprof.Do(ctx, pprof.Labels("component", component), f)
}

// setup builds the world: fresh database, fake Telegram with one channel per
// account, Keycare logged in and mirroring, the HTTP API on loopback.
func setup(ctx context.Context, o options, rep *Report) (*world, error) {
	w := &world{dbURL: o.DatabaseURL, trace: newSQLTrace()}
	var echo slog.Handler
	if o.Log {
		echo = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})
	}
	w.logs = &countingHandler{echo: echo}
	log := slog.New(w.logs)

	var err error
	if w.dir, err = os.MkdirTemp("", "keycare-inbound-"); err != nil {
		return nil, err
	}

	// 1. Database.
	if err := benchkit.ResetDatabase(ctx, o.DatabaseURL, true); err != nil {
		return w, err
	}
	if u, err := url.Parse(o.DatabaseURL); err == nil {
		benchDBName = strings.TrimPrefix(u.Path, "/")
	}
	if w.db, err = database.OpenPostgres(ctx, o.DatabaseURL, log); err != nil {
		return w, err
	}
	if _, err := migrations.Up(ctx, w.db.SQL, w.db.Dialect); err != nil {
		return w, err
	}
	if err := jobs.Migrate(ctx, w.db); err != nil {
		return w, err
	}
	if err := w.trace.install(w.db.Gorm); err != nil {
		return w, err
	}
	if w.raw, err = pgx.Connect(ctx, o.DatabaseURL); err != nil {
		return w, err
	}
	_ = w.raw.QueryRow(ctx, "SHOW server_version").Scan(&rep.PostgresVersion)
	for _, s := range []string{"synchronous_commit", "fsync", "wal_sync_method", "shared_buffers"} {
		var v string
		if w.raw.QueryRow(ctx, "SELECT current_setting('"+s+"')").Scan(&v) == nil {
			rep.PostgresSettings = append(rep.PostgresSettings, s+"="+v)
		}
	}

	// 2. Fake Telegram: Keycare's account, one client per chat, one
	// supergroup per account with both in it.
	label(ctx, "tgfake server (RPCs, connection)", func(ctx context.Context) {
		w.fake, err = tgfake.Start(context.WithoutCancel(ctx), nil)
	})
	if err != nil {
		return w, err
	}
	w.keycare = w.fake.AddUser(tgfake.User{Username: "keycare_care", FirstName: "Keycare", Phone: "+15550000001"})
	for c := 0; c < o.Chats; c++ {
		cl := w.fake.AddUser(tgfake.User{Username: fmt.Sprintf("client_%03d", c+1), FirstName: "Client", LastName: fmt.Sprintf("%03d", c+1)})
		w.clients = append(w.clients, cl)
		w.channels = append(w.channels, w.fake.CreateChannel(w.keycare.ID, fmt.Sprintf("Inbound %03d × Northwind", c+1), cl.ID))
	}

	// 3. Seed Keycare: the first admin (through team.Service, as serve
	// bootstraps it), managers, accounts, contacts and active chats.
	teamSvc := team.NewService(w.db.Gorm)
	token, created, err := teamSvc.Bootstrap(ctx, "admin@bench.keycare.local")
	if err != nil || !created {
		return w, fmt.Errorf("bootstrap admin: created=%v: %v", created, err)
	}
	w.token = token
	if err := w.seed(ctx, o.Chats); err != nil {
		return w, fmt.Errorf("seed: %w", err)
	}

	// 4. Log Keycare in against the fake, as `keycare telegram login` does:
	// phone from the flag, then the code, then an empty 2FA line.
	keyFile := filepath.Join(w.dir, "telegram.pem")
	if err := os.WriteFile(keyFile, w.fake.PublicKeyPEM(), 0o600); err != nil {
		return w, err
	}
	env := map[string]string{
		telegram.EnvAppID: "17349", telegram.EnvAppHash: "344583e45741c457fe1862106095a5eb",
		telegram.EnvDCAddr: w.fake.Addr(), telegram.EnvPublicKeysFile: keyFile,
	}
	tgCfg, err := telegram.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		return w, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return w, err
	}
	keys, err := telegram.NewKeyring(secret)
	if err != nil {
		return w, err
	}
	sessions := telegram.NewSessionStore(w.db, sessionName, keys)
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	w.login, err = telegram.Login(lctx, tgCfg, sessions, telegram.LoginInput{Phone: w.keycare.Phone, Lines: strings.NewReader("12345\n\n")}, log)
	cancel()
	if err != nil {
		return w, err
	}

	// 5. Keycare as `keycare serve` builds it (cmd/keycare Main.Run and
	// startTelegram): the chat store as the Telegram mirror, the gorm state
	// store, the chat workers on the job queue, the API.
	workers := river.NewWorkers()
	river.AddWorker(workers, &audit.ExportWorker{DB: w.db.Gorm, Dir: filepath.Join(w.dir, "audit-export")})
	w.chatSt = chats.NewStore(w.db)
	reqs := requests.NewStore(w.db, nil)
	reqs.Register(workers)
	w.chatSt.Conversations = reqs // messages are applied to requests, as in serve
	w.state = telegram.NewStateStore(w.db, sessionName)
	w.client, err = telegram.New(telegram.Options{
		Config: tgCfg, Session: sessions, State: w.state,
		Mirror: w.chatSt, Logger: log.With("component", "telegram"),
	})
	if err != nil {
		return w, err
	}
	(&chats.Workers{
		Store: w.chatSt, Transport: w.client.Transport(), Log: log.With("component", "chats"),
		CompanyName: "Northwind", DailyCap: 50, HistoryCap: 1000,
	}).Register(workers)
	if w.jobs, err = jobs.New(w.db, log, jobs.Config{Workers: workers, PeriodicJobs: []*river.PeriodicJob{audit.NightlyExport()}}); err != nil {
		return w, err
	}
	reqs.Jobs = w.jobs
	chatSvc := chats.NewService(w.chatSt, w.jobs)
	label(ctx, "keycare jobs (River)", func(ctx context.Context) {
		err = w.jobs.Start(context.WithoutCancel(ctx))
	})
	if err != nil {
		return w, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := api.New(api.Config{RateLimit: 1e6, RateBurst: 1e6}, api.Deps{
		Log: log, Accounts: accounts.NewStore(w.db), Team: teamSvc, Audit: audit.NewLog(w.db.Gorm),
		Ready: w.db.Ping, Registry: reg,
		Chats: chatSvc, Idempotency: idempotency.NewStore(w.db), Telegram: telegramStatus(w.client), Requests: reqs,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return w, err
	}
	w.apiURL = "http://" + ln.Addr().String()
	w.http = api.HTTPServer(srv.Handler(), log)
	label(ctx, "keycare API (HTTP server)", func(context.Context) {
		go func() { _ = w.http.Serve(ln) }()
	})
	tgCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	w.stopTelegram = stop
	w.telegramDone = make(chan error, 1)
	w.started = time.Now()
	label(tgCtx, "keycare telegram (gotd client, updates manager, mirror)", func(tgCtx context.Context) {
		go func() { w.telegramDone <- w.client.Run(tgCtx) }()
	})
	select {
	case <-w.client.Ready():
	case err := <-w.telegramDone:
		return w, fmt.Errorf("telegram client stopped before it was ready: %v", err)
	case <-time.After(time.Minute):
		return w, errors.New("telegram client not ready after a minute")
	case <-ctx.Done():
		return w, ctx.Err()
	}
	return w, nil
}

// seed writes managers, accounts, contacts and the active chats that match
// the fake's channels.
func (w *world) seed(ctx context.Context, n int) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	const managers = 5
	var mgr []string
	rows := [][]any{}
	for i := 0; i < managers; i++ {
		id := keycare.NewID()
		mgr = append(mgr, id)
		rows = append(rows, []any{id, fmt.Sprintf("Manager %02d", i+1), fmt.Sprintf("manager%02d@bench.keycare.local", i+1), keycare.RoleManager, fmt.Sprintf("care_manager_%02d", i+1), true, false, 1, now, now})
	}
	if _, err := w.raw.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "name", "email", "role", "telegram_username", "active", "away", "version", "created_at", "updated_at"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	var accRows, contactRows, chatRows [][]any
	for c := 0; c < n; c++ {
		acc, chat := keycare.NewID(), keycare.NewID()
		w.accounts = append(w.accounts, acc)
		w.chatIDs = append(w.chatIDs, chat)
		accRows = append(accRows, []any{acc, fmt.Sprintf("Inbound %03d", c+1), fmt.Sprintf("inbound-%03d", c+1), "key", "active", mgr[c%managers], mgr[(c+1)%managers], "Europe/Moscow", "EUR", "{}", `["bench"]`, 1, now, now})
		for j := 0; j < contactsPerAccount; j++ {
			var tgID, username any = nil, fmt.Sprintf("other_%03d_%d", c+1, j)
			name := fmt.Sprintf("Contact %d of %03d", j+1, c+1)
			if j == 0 { // the one who writes in the group
				tgID, username, name = w.clients[c].ID, w.clients[c].Username, "Client "+fmt.Sprintf("%03d", c+1)
			}
			contactRows = append(contactRows, []any{keycare.NewID(), acc, name, username, tgID, j == 0, true, 1, now, now})
		}
		ch := w.channels[c]
		chatRows = append(chatRows, []any{chat, acc, chats.StatusActive, "adopted", ch.ID, ch.AccessHash, ch.Title, "", 1, now, now})
	}
	if _, err := w.raw.CopyFrom(ctx, pgx.Identifier{"accounts"}, []string{"id", "name", "slug", "tier", "status", "owner_id", "backup_id", "timezone", "currency", "external_ids", "tags", "version", "created_at", "updated_at"}, pgx.CopyFromRows(accRows)); err != nil {
		return err
	}
	if _, err := w.raw.CopyFrom(ctx, pgx.Identifier{"contacts"}, []string{"id", "account_id", "name", "telegram_username", "telegram_user_id", "is_primary", "verified", "version", "created_at", "updated_at"}, pgx.CopyFromRows(contactRows)); err != nil {
		return err
	}
	if _, err := w.raw.CopyFrom(ctx, pgx.Identifier{"chats"}, []string{"id", "account_id", "status", "origin", "channel_id", "access_hash", "title", "invite_link", "version", "created_at", "updated_at"}, pgx.CopyFromRows(chatRows)); err != nil {
		return err
	}
	_, err := w.raw.Exec(ctx, "ANALYZE")
	return err
}

// telegramStatus reports the client's state for GET /integrations, as cmd/keycare does.
func telegramStatus(c *telegram.Client) func(context.Context) api.IntegrationStatus {
	return func(context.Context) api.IntegrationStatus {
		st, err := c.Status()
		out := api.IntegrationStatus{Status: string(st)}
		if err != nil {
			out.Detail = err.Error()
		}
		return out
	}
}

// count runs a count query on the raw connection.
func (w *world) count(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	err := w.raw.QueryRow(ctx, q, args...).Scan(&n)
	return n, err
}

// waitCount polls q every interval until it returns want or the deadline passes.
func (w *world) waitCount(ctx context.Context, want int64, interval, timeout time.Duration, q string, args ...any) (int64, error) {
	deadline := time.Now().Add(timeout)
	for {
		n, err := w.count(ctx, q, args...)
		if err != nil || n >= want {
			return n, err
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("timed out after %s: %d of %d", timeout, n, want)
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(interval):
		}
	}
}

// close stops everything in the order `keycare serve` does, and drops the
// database unless keep.
func (w *world) close(keep bool) {
	w.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if w.http != nil {
			_ = w.http.Shutdown(ctx)
		}
		if w.jobs != nil {
			_ = w.jobs.Stop(ctx)
		}
		if w.stopTelegram != nil {
			w.stopTelegram()
			select {
			case <-w.telegramDone:
			case <-ctx.Done():
			}
		}
		if w.fake != nil {
			w.fake.Close()
		}
		if w.raw != nil {
			_ = w.raw.Close(ctx)
		}
		if w.db != nil {
			_ = w.db.Close()
		}
		if w.dir != "" {
			_ = os.RemoveAll(w.dir)
		}
		if !keep && w.dbURL != "" {
			if err := benchkit.ResetDatabase(ctx, w.dbURL, false); err != nil {
				progress("dropping the bench database: %v", err)
			}
		}
	})
}
