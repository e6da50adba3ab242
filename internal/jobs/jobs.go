// Package jobs is Keycare's background job queue: River, running on the same
// database (and the same *sql.DB pool) as the rest of the service, so a job can
// be enqueued in the very transaction whose write makes the job necessary. If
// that transaction rolls back, the job was never enqueued; if it commits, the
// job is there and will be worked.
//
// Both dialects go through database/sql: riverdatabasesql for PostgreSQL and
// riversqlite for SQLite. Neither supports LISTEN/NOTIFY, so the client always
// polls; FetchPollInterval therefore bounds how long a ready job waits.
//
// SQLite runs on a single connection (see database.OpenSQLite). River's own
// goroutines queue for that connection like everyone else, so code holding a
// transaction must enqueue through EnqueueTx with that transaction: calling
// Enqueue (which needs a connection of its own) while a transaction is open on
// the same goroutine would wait forever.
package jobs

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"github.com/keycare/keycare/internal/database"
)

// Defaults applied by New when the corresponding Config field is zero.
const (
	// DefaultFetchPollInterval is short because no dialect we run on gets
	// LISTEN/NOTIFY wake-ups: polling is the only way a producer learns of
	// new or newly due jobs, and a tenth of a second keeps them prompt while
	// costing one cheap indexed query per queue per tick.
	DefaultFetchPollInterval = 100 * time.Millisecond

	// DefaultMaxWorkers bounds concurrently running jobs. On SQLite their
	// database work serializes on the one connection anyway.
	DefaultMaxWorkers = 10

	// hardStopTimeout bounds how long Stop waits for cancelled jobs to return
	// once the graceful stop has run out of time. A job that ignores its
	// context beyond this stays "running" in the database until River's
	// rescuer retries it (RescueStuckJobsAfter, an hour by default).
	hardStopTimeout = 10 * time.Second

	// schedulerLookahead mirrors River's JobSchedulerIntervalDefault
	// (internal/maintenance/job_scheduler.go, not exported or configurable
	// in v0.31.0). See promoteSoonScheduled.
	schedulerLookahead = 5 * time.Second
)

// Config configures a Queue.
type Config struct {
	// Workers holds the registered job workers (river.AddWorker). Required
	// unless InsertOnly; when set in InsertOnly mode it still lets River
	// reject inserts of kinds nobody can work.
	Workers *river.Workers

	// PeriodicJobs are enqueued by whichever Keycare process is River's
	// elected leader, so each fires once per period however many run. The
	// leader starts its maintenance services one by one after random 0-1s
	// staggers, so a RunOnStart job can take several seconds to appear.
	PeriodicJobs []*river.PeriodicJob

	// FetchPollInterval is how often each queue looks for available jobs.
	// Defaults to DefaultFetchPollInterval.
	FetchPollInterval time.Duration

	// MaxWorkers is the number of jobs worked at once. Defaults to
	// DefaultMaxWorkers.
	MaxWorkers int

	// InsertOnly builds a client that can enqueue but never works jobs, for
	// short-lived commands that must not start fetch loops or run for
	// leadership. Start fails on such a Queue.
	InsertOnly bool
}

// Queue is Keycare's job queue: a River client over the service's database.
type Queue struct {
	client     *river.Client[*sql.Tx]
	insertOnly bool
}

// Migrate brings River's own tables (river_job, river_leader, ...) up to date
// using River's migrations for db's dialect. It is idempotent: versions
// already applied are skipped, so it is safe at every start, and concurrent
// callers (replicas starting together, or `keycare migrate` racing `keycare
// serve`) wait for each other instead of failing, which River's migrator
// alone does: each checks the applied versions, then both create the same
// tables.
//
// River's Postgres migrations target the connection's search_path, which is
// how tests isolate themselves in a per-test schema.
func Migrate(ctx context.Context, db *database.DB) error {
	if db == nil || db.SQL == nil {
		return errors.New("jobs: nil database")
	}
	// The migrator logs only progress; failures come back as errors. A nil
	// Logger would make River print to stdout, so discard instead.
	cfg := &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)}
	var err error
	switch db.Dialect {
	case database.Postgres:
		err = migratePostgres(ctx, db.SQL, cfg)
	case database.SQLite:
		err = migrateSQLite(ctx, db.SQL, cfg)
	default:
		return fmt.Errorf("jobs: unsupported dialect %q", db.Dialect)
	}
	if err != nil {
		return fmt.Errorf("jobs: migrate river schema: %w", err)
	}
	return nil
}

// migrateLockKey is the Postgres advisory lock serializing Migrate across
// processes. Any fixed value works as long as nothing else in the database
// uses it; this one spells "kcjobmig" in ASCII.
const migrateLockKey int64 = 0x6b636a6f626d6967

// migratePostgres lets River apply each version in its own transaction, as it
// requires on Postgres (a version that adds an enum value cannot share a
// transaction with one that uses it), while a session advisory lock on a
// separate connection keeps other migrators out until it is done.
func migratePostgres(ctx context.Context, sqlDB *sql.DB, cfg *rivermigrate.Config) (err error) {
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// A session lock outlives Close (the connection goes back to the
		// pool), so if unlocking fails the connection is discarded instead,
		// which ends the session and with it the lock.
		if _, uerr := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey); uerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()

	m, err := rivermigrate.New(riverdatabasesql.New(sqlDB), cfg)
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// migrateSQLite runs the whole migration in one transaction. Its BEGIN
// IMMEDIATE (database.OpenSQLite sets _txlock=immediate) takes SQLite's write
// lock before River reads which versions are applied, so another migrator,
// in this process or another, waits and then finds nothing left to do. A
// separate lock connection, as on Postgres, would deadlock the single-
// connection pool.
func migrateSQLite(ctx context.Context, sqlDB *sql.DB, cfg *rivermigrate.Config) error {
	m, err := rivermigrate.New(riversqlite.New(sqlDB), cfg)
	if err != nil {
		return err
	}
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	// MigrateTx is deprecated because on Postgres some versions cannot share
	// a transaction; SQLite has no enums and transactional DDL throughout,
	// and River's SQLite migrations contain no PRAGMA or VACUUM.
	if _, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, nil); err != nil { //nolint:staticcheck // SA1019: see above
		return err
	}
	return tx.Commit()
}

// New builds a Queue on db. It does not touch the database; run Migrate
// first and call Start to begin working jobs.
func New(db *database.DB, log *slog.Logger, cfg Config) (*Queue, error) {
	if db == nil || db.SQL == nil {
		return nil, errors.New("jobs: nil database")
	}
	log = logger(log)

	poll := cfg.FetchPollInterval
	if poll <= 0 {
		poll = DefaultFetchPollInterval
	}
	maxWorkers := cfg.MaxWorkers
	if maxWorkers <= 0 {
		maxWorkers = DefaultMaxWorkers
	}

	rc := &river.Config{
		// River refuses a poll interval shorter than its fetch cooldown
		// (100ms by default), so a faster poll lowers the cooldown with it.
		FetchCooldown:     min(river.FetchCooldownDefault, poll),
		FetchPollInterval: poll,
		Hooks:             []rivertype.Hook{&promoteSoonScheduled{}},
		Logger:            log,
		// Neither database/sql driver can LISTEN; saying so up front keeps
		// River from trying and documents that the elector polls too.
		PollOnly: true,
		Workers:  cfg.Workers,
	}
	if !cfg.InsertOnly {
		if cfg.Workers == nil {
			return nil, errors.New("jobs: Config.Workers is required unless InsertOnly")
		}
		rc.PeriodicJobs = cfg.PeriodicJobs
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}}
	} else if len(cfg.PeriodicJobs) > 0 {
		return nil, errors.New("jobs: PeriodicJobs need a working Queue, not InsertOnly")
	}

	var (
		client *river.Client[*sql.Tx]
		err    error
	)
	switch db.Dialect {
	case database.Postgres:
		client, err = river.NewClient(riverdatabasesql.New(db.SQL), rc)
	case database.SQLite:
		client, err = river.NewClient(riversqlite.New(db.SQL), rc)
	default:
		return nil, fmt.Errorf("jobs: unsupported dialect %q", db.Dialect)
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	return &Queue{client: client, insertOnly: cfg.InsertOnly}, nil
}

// Client exposes the River client for what this package does not wrap
// (subscriptions, job listing, cancellation). Its transaction type is
// *sql.Tx on both dialects; get one from gorm with SQLTx.
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }

// Start begins fetching and working jobs in the background and returns.
//
// ctx is the parent of every job's context: cancelling it is a hard stop that
// cancels running jobs. Pass a context that lives as long as the service and
// use Stop for shutdown.
func (q *Queue) Start(ctx context.Context) error {
	if q.insertOnly {
		return errors.New("jobs: Start on an InsertOnly queue")
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	return nil
}

// Stop shuts the queue down gracefully: no new jobs are fetched and running
// ones are allowed to finish. If ctx ends first, running jobs are cancelled
// (River records them as errored and retries them), Stop waits a bounded time
// for them to return, and the error says the stop was not graceful. Stop on a
// queue that never started returns nil.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	hardCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hardStopTimeout)
	defer cancel()
	if herr := q.client.StopAndCancel(hardCtx); herr != nil {
		return fmt.Errorf("jobs: graceful stop timed out (%w) and cancelled jobs did not return in %s: %w", err, hardStopTimeout, herr)
	}
	return fmt.Errorf("jobs: graceful stop timed out, running jobs were cancelled: %w", err)
}

// EnqueueTx enqueues a job inside tx, a gorm handle within a transaction
// (the tx argument of gorm's Transaction callback, or the result of Begin).
// The job becomes visible to workers only when tx commits and vanishes if it
// rolls back, which is the point: no job for a write that never happened, no
// write without its job.
func (q *Queue) EnqueueTx(ctx context.Context, tx *gorm.DB, args river.JobArgs, opts *river.InsertOpts) error {
	sqlTx, err := SQLTx(tx)
	if err != nil {
		return err
	}
	if _, err := q.client.InsertTx(ctx, sqlTx, args, opts); err != nil {
		return fmt.Errorf("jobs: enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

// Enqueue enqueues a job in its own transaction. Use it only where there is
// no surrounding write to be atomic with; on SQLite it must not be called
// while the caller holds an open transaction (see the package comment).
func (q *Queue) Enqueue(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := q.client.Insert(ctx, args, opts); err != nil {
		return fmt.Errorf("jobs: enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

// SQLTx returns the *sql.Tx underneath a gorm transaction handle, for
// calling River's *Tx methods directly. It fails, rather than silently using
// the pool, when tx is not inside a transaction: that would break atomicity
// and, on single-connection SQLite, deadlock.
func SQLTx(tx *gorm.DB) (*sql.Tx, error) {
	if tx == nil || tx.Statement == nil {
		return nil, errors.New("jobs: nil gorm handle; pass the transaction's *gorm.DB")
	}
	switch p := tx.Statement.ConnPool.(type) {
	case *sql.Tx:
		return p, nil
	case *gorm.PreparedStmtTX:
		// gorm's PrepareStmt mode wraps the transaction; unwrap it.
		if st, ok := p.Tx.(*sql.Tx); ok {
			return st, nil
		}
	}
	return nil, fmt.Errorf("jobs: gorm handle is not inside a transaction (connection pool is %T); use db.Transaction and pass its tx", tx.Statement.ConnPool)
}

// promoteSoonScheduled inserts jobs due within River's scheduler interval as
// already "available" (keeping their future scheduled_at) instead of
// "scheduled".
//
// Why: River only moves scheduled jobs to available in its leader's
// JobScheduler, which runs every 5s and is not configurable in v0.31.0. Each
// pass promotes jobs due within the next 5s, so a job scheduled further out
// is promoted in time, but one inserted just after a pass and due sooner than
// the next would wait up to 5s past its time. The fetch query only takes
// available jobs whose scheduled_at has passed, so promoting such a job at
// insert leaves it in exactly the state the next pass would have produced,
// just earlier, and it runs within FetchPollInterval of its time. River does
// the same itself for retries and snoozes due within the scheduler interval
// (internal/jobexecutor/job_executor.go), just not for inserts.
type promoteSoonScheduled struct{ river.HookDefaults }

// InsertBegin implements rivertype.HookInsertBegin.
func (*promoteSoonScheduled) InsertBegin(_ context.Context, p *rivertype.JobInsertParams) error {
	if p.State == rivertype.JobStateScheduled && p.ScheduledAt != nil && time.Until(*p.ScheduledAt) < schedulerLookahead {
		p.State = rivertype.JobStateAvailable
	}
	return nil
}

// logger tags River's lines so they can be told apart from the service's own,
// and tolerates a nil logger in tools and tests.
func logger(log *slog.Logger) *slog.Logger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return log.With(slog.String("component", "jobs"))
}
