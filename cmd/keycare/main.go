// Command keycare runs the Keycare service and its administrative commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // time zones work on machines without a zoneinfo database

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/accounts"
	"github.com/keycare/keycare/api"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/integrations/alertwebhook"
	"github.com/keycare/keycare/integrations/telegram"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/idempotency"
	"github.com/keycare/keycare/internal/jobs"
	"github.com/keycare/keycare/migrations"
	"github.com/keycare/keycare/requests"
	"github.com/keycare/keycare/requests/metrics"
	"github.com/keycare/keycare/team"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "dev"

func main() {
	// Keycare works in UTC everywhere; the database driver then hands back UTC times too.
	time.Local = time.UTC
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "keycare:", err)
		os.Exit(1)
	}
}

const usage = `usage: keycare [command]

commands:
  serve                     run the API and background jobs (default)
  migrate                   apply database migrations and exit
  users add --name N --email E --role R
                            add a team member; prints their API token on the last line
  import revenue FILE       import revenue rows from a CSV or JSON file (all or nothing)
  telegram login [--phone +N]
                            log Keycare's Telegram account in (phone, code, 2FA password; one per line on stdin)
  telegram status           say whether the stored Telegram session works
  healthcheck               exit 0 if the local service answers /readyz (for container probes)
  version                   print the version
`

// run dispatches a command line. It is main without the process: tests call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		m := &Main{Config: cfg, Log: log, Stdout: stdout}
		if err := m.Run(ctx); err != nil {
			m.Close()
			return err
		}
		<-ctx.Done()
		log.Info("shutting down")
		return m.Close()
	case "migrate":
		db, err := openAndMigrate(ctx, cfg, log)
		if err != nil {
			return err
		}
		return db.Close()
	case "users":
		if len(args) == 0 || args[0] != "add" {
			return errors.New("usage: keycare users add --name N --email E --role R")
		}
		return usersAdd(ctx, cfg, log, args[1:], stdout)
	case "telegram":
		return telegramCommand(ctx, cfg, log, args, stdin, stdout)
	case "import":
		if len(args) != 2 || args[0] != "revenue" {
			return errors.New("usage: keycare import revenue FILE")
		}
		return importRevenue(ctx, cfg, log, args[1], stdout)
	case "version":
		fmt.Fprintln(stdout, "keycare", Version)
		return nil
	case "healthcheck":
		return healthcheck(ctx, cfg)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

// Main is a running Keycare: the database, the job queue and the HTTP API.
// Tests start one on 127.0.0.1:0 exactly as production does.
type Main struct {
	Config Config
	Log    *slog.Logger
	Stdout io.Writer // where the first-run admin token is printed

	DB       *database.DB
	Jobs     *jobs.Queue
	API      *api.Server
	Telegram *telegram.Client // nil when Telegram is not configured

	stopTelegram context.CancelFunc
	telegramDone chan error

	http      *http.Server
	listener  net.Listener
	served    chan error
	closeOnce sync.Once
	closeErr  error
}

// Run opens and migrates the database, bootstraps the first admin, starts
// the jobs and starts serving HTTP. It returns once the listener is open.
func (m *Main) Run(ctx context.Context) error {
	if err := os.MkdirAll(m.Config.DataDir, 0o750); err != nil {
		return err
	}
	if _, err := m.Config.secretKey(); err != nil {
		return err
	}
	db, err := openAndMigrate(ctx, m.Config, m.Log)
	if err != nil {
		return err
	}
	m.DB = db

	teamSvc := team.NewService(db.Gorm)
	token, created, err := teamSvc.Bootstrap(ctx, m.Config.AdminEmail)
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	if created {
		fmt.Fprintf(m.Stdout, "Created the first admin (%s). Its API token, shown only this once:\n%s\n", m.Config.AdminEmail, token)
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, &audit.ExportWorker{DB: db.Gorm, Dir: filepath.Join(m.Config.DataDir, "audit-export")})
	chatStore := chats.NewStore(db)
	if m.Telegram, err = m.startTelegram(db, chatStore, chatStore, workers); err != nil {
		return err
	}
	reqStore := requests.NewStore(db, nil) // its queue is set below, once built
	reqStore.ReopenWindow, reqStore.CSATWindow = m.Config.ReopenWindow, m.Config.CSATWindow
	reqStore.Notifiers = m.notifiers()
	reqStore.Register(workers)
	chatStore.Conversations = reqStore
	m.Jobs, err = jobs.New(db, m.Log, jobs.Config{Workers: workers, PeriodicJobs: []*river.PeriodicJob{audit.NightlyExport()}})
	if err != nil {
		return err
	}
	reqStore.Jobs = m.Jobs
	chatSvc := chats.NewService(chatStore, m.Jobs)
	if m.Telegram != nil {
		reqStore.Poster = chatSvc // the rating question after a resolution
	}
	accountStore := accounts.NewStore(db)
	if m.Telegram != nil {
		accountStore.OnReassign = chatSvc.Reassigned // a new owner or backup joins the group
	}
	// The signal cancels ctx; jobs must outlive it so Close can stop them gracefully.
	if err := m.Jobs.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.API = api.New(api.Config{RateLimit: m.Config.RateLimit, RateBurst: m.Config.RateBurst, TrustedProxies: m.Config.TrustedProxies}, api.Deps{
		Log: m.Log, Accounts: accountStore, Team: teamSvc, Audit: audit.NewLog(db.Gorm),
		Ready: db.Ping, Registry: reg,
		Chats: chatSvc, Idempotency: idempotency.NewStore(db), Telegram: telegramStatus(m.Telegram),
		Media: mediaSource(m.Telegram), Requests: reqStore,
		SupportMetrics: func(ctx context.Context, q metrics.Query) (*metrics.Report, error) {
			return metrics.Support(ctx, db.Gorm, q)
		},
	})

	m.listener, err = net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (KEYCARE_ADDR): %w", m.Config.Addr, err)
	}
	m.http = api.HTTPServer(m.API.Handler(), m.Log)
	m.served = make(chan error, 1)
	go func() { m.served <- m.http.Serve(m.listener) }()
	if m.Telegram != nil {
		tgCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		m.stopTelegram = cancel
		m.telegramDone = make(chan error, 1)
		go func() { m.telegramDone <- m.Telegram.Run(tgCtx) }()
	}
	m.Log.Info("keycare started", "addr", m.listener.Addr().String(), "database", db.Dialect, "version", Version)
	return nil
}

// notifiers are the configured SLA alert channels.
func (m *Main) notifiers() map[string]requests.Notifier {
	out := map[string]requests.Notifier{}
	if m.Config.AlertWebhookURL != "" {
		out[requests.NotifyWebhook] = &alertwebhook.Notifier{URL: m.Config.AlertWebhookURL, Secret: []byte(m.Config.AlertWebhookSecret)}
	}
	if m.Config.TeamChat != 0 && m.Telegram != nil {
		out[requests.NotifyTeamChat] = &requests.TeamChat{Transport: m.Telegram.Transport(), ChannelID: m.Config.TeamChat}
	}
	return out
}

// Addr is the address the API listens on.
func (m *Main) Addr() string { return m.listener.Addr().String() }

// Close shuts down in order: stop taking requests and finish those in
// flight, let running jobs finish (or hand them back), close the database.
// Calling it again returns the first result.
func (m *Main) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Main) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	var errs []error
	if m.http != nil {
		if err := m.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		if err := <-m.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if m.Jobs != nil {
		if err := m.Jobs.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("jobs stop: %w", err))
		}
	}
	if m.stopTelegram != nil {
		m.stopTelegram()
		select {
		case err := <-m.telegramDone:
			if err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, fmt.Errorf("telegram: %w", err))
			}
		case <-ctx.Done():
			errs = append(errs, errors.New("telegram: did not stop in time"))
		}
	}
	if m.DB != nil {
		if err := m.DB.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func openAndMigrate(ctx context.Context, cfg Config, log *slog.Logger) (*database.DB, error) {
	db, err := database.Open(ctx, cfg.DatabaseURL, cfg.DataDir, log)
	if err != nil {
		return nil, err
	}
	n, err := migrations.Up(ctx, db.SQL, db.Dialect)
	if err == nil {
		err = jobs.Migrate(ctx, db)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	if n > 0 {
		log.Info("migrated", "database", db.Dialect, "applied", n)
	}
	return db, nil
}

func usersAdd(ctx context.Context, cfg Config, log *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("users add", flag.ContinueOnError)
	var in team.NewUser
	var tg string
	fs.StringVar(&in.Name, "name", "", "full name")
	fs.StringVar(&in.Email, "email", "", "email address")
	fs.StringVar(&in.Role, "role", keycare.RoleManager, "admin, lead, manager, product or viewer")
	fs.StringVar(&tg, "telegram", "", "Telegram username (optional)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if tg != "" {
		in.TelegramUsername = &tg
	}
	db, err := openAndMigrate(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx = keycare.WithActor(ctx, keycare.SystemActor)
	svc := team.NewService(db.Gorm)
	u, err := svc.Create(ctx, in)
	if err != nil {
		return cliError(err)
	}
	token, err := svc.IssueToken(ctx, u.ID, "cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Added %s <%s> as %s (id %s). API token:\n%s\n", u.Name, u.Email, u.Role, u.ID, token)
	return nil
}

func importRevenue(ctx context.Context, cfg Config, log *slog.Logger, path string, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var rows []accounts.ImportRow
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		err = api.DecodeJSON(f, &rows)
	} else {
		rows, err = api.DecodeImportCSV(f)
	}
	if err != nil {
		return cliError(err)
	}
	db, err := openAndMigrate(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := accounts.NewStore(db).ImportRevenue(keycare.WithActor(ctx, keycare.SystemActor), rows)
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintf(stdout, "imported %d rows: %d created, %d updated, %d unchanged\n", res.Rows, res.Created, res.Updated, res.Unchanged)
	return nil
}

// cliError spells out every field error, one per line.
func cliError(err error) error {
	var kerr *keycare.Error
	if !errors.As(err, &kerr) || len(kerr.Fields) == 0 {
		return err
	}
	var b strings.Builder
	b.WriteString("refused, nothing written:")
	for _, f := range kerr.Fields {
		fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Message)
	}
	return errors.New(b.String())
}

// healthcheck asks the service on KEYCARE_ADDR whether it is ready; container
// images have no curl, so the binary probes itself.
func healthcheck(ctx context.Context, cfg Config) error {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("KEYCARE_ADDR: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/readyz", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s", res.Status)
	}
	return nil
}
