package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"go.uber.org/goleak"
	"gorm.io/gorm"

	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/jobs"
	"github.com/keycare/keycare/internal/testdb"
)

// TestMain checks the whole run for goroutines left behind by River, the
// drivers or the tests; TestStopLeavesNoGoroutines checks one client closely.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// eachDialect runs fn on a fresh database of every dialect available here:
// SQLite always, PostgreSQL (its own schema) when KEYCARE_TEST_POSTGRES_URL is set.
func eachDialect(t *testing.T, fn func(t *testing.T, db *database.DB)) {
	t.Helper()
	testdb.Each(t, fn)
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// recordArgs is a job that reports its tag (and when it ran) to the test.
type recordArgs struct {
	Tag string `json:"tag"`
}

func (recordArgs) Kind() string { return "jobs_test_record" }

type ran struct {
	tag string
	at  time.Time
}

type recordWorker struct {
	river.WorkerDefaults[recordArgs]
	ran chan ran
}

func (w *recordWorker) Work(ctx context.Context, job *river.Job[recordArgs]) error {
	w.ran <- ran{tag: job.Args.Tag, at: time.Now()}
	return nil
}

// startQueue migrates db and starts a Queue whose jobs report on the
// returned channel. The queue is stopped in cleanup, before db is closed.
func startQueue(t *testing.T, db *database.DB) (*jobs.Queue, chan ran) {
	t.Helper()
	if err := jobs.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	done := make(chan ran, 16)
	workers := river.NewWorkers()
	river.AddWorker(workers, &recordWorker{ran: done})
	q, err := jobs.New(db, testLogger(t), jobs.Config{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	// Not t.Context: it is cancelled before cleanups run, which would turn
	// the graceful Stop below into a hard stop.
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return q, done
}

func TestMigrateIsIdempotent(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		for i := range 2 {
			if err := jobs.Migrate(t.Context(), db); err != nil {
				t.Fatalf("migrate #%d: %v", i+1, err)
			}
		}
		var n int64
		if err := db.Gorm.Raw("SELECT count(*) FROM river_job").Scan(&n).Error; err != nil {
			t.Fatalf("river_job after migrate: %v", err)
		}
	})
}

// TestMigrateConcurrently: River's migrator alone fails here (both callers
// see no versions applied and create the same tables); Migrate serializes.
func TestMigrateConcurrently(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = jobs.Migrate(t.Context(), db) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("migrator %d: %v", i, err)
			}
		}
	})
}

// TestMigrateSQLiteTwoHandles stands in for two processes migrating one
// SQLite file (`keycare migrate` while `keycare serve` starts): separate
// pools, so only SQLite's own write lock keeps them apart.
func TestMigrateSQLiteTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	dbs := make([]*database.DB, 2)
	for i := range dbs {
		db, err := database.OpenSQLite(t.Context(), path, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
	}
	var wg sync.WaitGroup
	errs := make([]error, len(dbs))
	for i, db := range dbs {
		wg.Go(func() { errs[i] = jobs.Migrate(t.Context(), db) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
}

func TestEnqueueTxFollowsTransaction(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		if err := db.Gorm.Exec("CREATE TABLE jobs_test_widget (name TEXT PRIMARY KEY)").Error; err != nil {
			t.Fatal(err)
		}
		q, done := startQueue(t, db)
		completed, unsubscribe := q.Client().Subscribe(river.EventKindJobCompleted)
		defer unsubscribe()

		// Outside a transaction there is nothing to be atomic with; refuse.
		if err := q.EnqueueTx(ctx, db.Gorm, recordArgs{Tag: "no-tx"}, nil); err == nil {
			t.Fatal("EnqueueTx outside a transaction succeeded")
		}

		errRollback := errors.New("roll back")
		err := db.Gorm.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("INSERT INTO jobs_test_widget (name) VALUES (?)", "rolled-back").Error; err != nil {
				return err
			}
			if err := q.EnqueueTx(ctx, tx, recordArgs{Tag: "rolled-back"}, nil); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("rolled-back transaction: %v", err)
		}

		err = db.Gorm.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("INSERT INTO jobs_test_widget (name) VALUES (?)", "committed").Error; err != nil {
				return err
			}
			return q.EnqueueTx(ctx, tx, recordArgs{Tag: "committed"}, nil)
		})
		if err != nil {
			t.Fatalf("committed transaction: %v", err)
		}

		select {
		case r := <-done:
			if r.tag != "committed" {
				t.Fatalf("worked job %q, want only %q", r.tag, "committed")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("committed job was not worked within 5s")
		}
		// Wait until River has recorded the completion, so the table below
		// is final rather than racing the completer.
		select {
		case ev := <-completed:
			if ev.Job.Kind != (recordArgs{}).Kind() {
				t.Fatalf("completed %q", ev.Job.Kind)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("completion not recorded within 5s")
		}

		// The rolled-back job never existed, so it cannot be worked later,
		// and the committed one was worked exactly once.
		var rows []struct {
			State   string
			Attempt int
		}
		if err := db.Gorm.Raw("SELECT state, attempt FROM river_job WHERE kind = ?", (recordArgs{}).Kind()).Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].State != "completed" || rows[0].Attempt != 1 {
			t.Fatalf("river_job rows = %+v, want one completed after one attempt", rows)
		}
		var names []string
		if err := db.Gorm.Raw("SELECT name FROM jobs_test_widget").Scan(&names).Error; err != nil {
			t.Fatal(err)
		}
		if len(names) != 1 || names[0] != "committed" {
			t.Fatalf("widgets = %v, want [committed]", names)
		}
		select {
		case r := <-done:
			t.Fatalf("unexpected extra run of %q", r.tag)
		default:
		}
	})
}

// TestScheduledJobRunsOnTime enqueues two jobs 1s ahead: one right after
// start and one a second later, after River's scheduler has (by then
// normally) made its first pass, which is the case River alone would leave
// waiting for its next 5s pass.
func TestScheduledJobRunsOnTime(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		q, done := startQueue(t, db)
		for _, tag := range []string{"first", "second"} {
			at := time.Now().Add(time.Second)
			err := db.Gorm.Transaction(func(tx *gorm.DB) error {
				return q.EnqueueTx(t.Context(), tx, recordArgs{Tag: tag}, &river.InsertOpts{ScheduledAt: at})
			})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case r := <-done:
				// SQLite keeps milliseconds, so allow that much rounding.
				if early := at.Sub(r.at); early > time.Millisecond {
					t.Fatalf("%s job ran %s before its time", tag, early)
				}
				if late := r.at.Sub(at); late > 2*time.Second {
					t.Fatalf("%s job ran %s after its time", tag, late)
				}
				t.Logf("%s job ran %s after its time", tag, r.at.Sub(at))
			case <-time.After(time.Until(at) + 2*time.Second):
				t.Fatalf("%s job scheduled at %s did not run within 2s of it", tag, at.Format(time.StampMilli))
			}
		}
	})
}

// blockingArgs is a job that runs until its context is cancelled, to force
// Stop past its graceful phase.
type blockingArgs struct{}

func (blockingArgs) Kind() string { return "jobs_test_blocking" }

type blockingWorker struct {
	river.WorkerDefaults[blockingArgs]
	started   chan struct{}
	cancelled chan struct{}
}

func (w *blockingWorker) Work(ctx context.Context, job *river.Job[blockingArgs]) error {
	close(w.started)
	<-ctx.Done()
	close(w.cancelled)
	return ctx.Err()
}

func TestStopLeavesNoGoroutines(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		// Everything alive now (the pool, earlier subtests' leftovers if
		// any) is not this client's doing.
		ignore := goleak.IgnoreCurrent()
		ctx := t.Context()
		if err := jobs.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}

		done := make(chan ran, 1)
		bw := &blockingWorker{started: make(chan struct{}), cancelled: make(chan struct{})}
		workers := river.NewWorkers()
		river.AddWorker(workers, &recordWorker{ran: done})
		river.AddWorker(workers, bw)
		q, err := jobs.New(db, testLogger(t), jobs.Config{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(context.Background()); err != nil {
			t.Fatal(err)
		}

		// A graceful stop with nothing running returns promptly.
		if err := q.Enqueue(ctx, recordArgs{Tag: "plain"}, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("job not worked within 5s")
		}
		stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := q.Stop(stopCtx); err != nil {
			t.Fatalf("graceful stop: %v", err)
		}

		// A job that will not finish by itself: Stop's graceful phase
		// times out, it cancels the job and still returns.
		if err := q.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := q.Enqueue(ctx, blockingArgs{}, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-bw.started:
		case <-time.After(5 * time.Second):
			t.Fatal("blocking job not started within 5s")
		}
		shortCtx, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancelShort()
		err = q.Stop(shortCtx)
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "cancelled") {
			t.Fatalf("stop with a stuck job = %v, want a timed-out graceful stop", err)
		}
		select {
		case <-bw.cancelled:
		default:
			t.Fatal("Stop returned but the running job was not cancelled")
		}

		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		goleak.VerifyNone(t, ignore)
	})
}

func TestInsertOnly(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		if err := jobs.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		q, err := jobs.New(db, testLogger(t), jobs.Config{InsertOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err == nil {
			t.Fatal("Start on an InsertOnly queue succeeded")
		}
		if err := q.Enqueue(ctx, recordArgs{Tag: "later"}, nil); err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := db.Gorm.Raw("SELECT count(*) FROM river_job WHERE state = 'available'").Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("available jobs = %d, want 1", n)
		}
		if err := q.Stop(ctx); err != nil {
			t.Fatalf("Stop on a never-started queue: %v", err)
		}
	})
}

// TestPeriodicJobRuns checks PeriodicJobs reach River: this client must win
// the (polled) leader election before the periodic enqueuer runs.
func TestPeriodicJobRuns(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		if err := jobs.Migrate(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		done := make(chan ran, 4)
		workers := river.NewWorkers()
		river.AddWorker(workers, &recordWorker{ran: done})
		periodic := river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
			return recordArgs{Tag: "periodic"}, nil
		}, &river.PeriodicJobOpts{RunOnStart: true})
		q, err := jobs.New(db, testLogger(t), jobs.Config{Workers: workers, PeriodicJobs: []*river.PeriodicJob{periodic}})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := q.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := q.Stop(ctx); err != nil {
				t.Errorf("stop: %v", err)
			}
		})
		select {
		case r := <-done:
			if r.tag != "periodic" {
				t.Fatalf("worked %q", r.tag)
			}
			t.Logf("periodic job ran %s after start", r.at.Sub(start))
		// River starts its leader-only services one after another, each
		// after a random 0-1s stagger (TestOnly would skip it, but this is
		// the production configuration), so with six of them the periodic
		// enqueuer may begin up to ~6s after leadership is won.
		case <-time.After(8 * time.Second):
			t.Fatal("periodic job with RunOnStart did not run within 8s of start")
		}
	})
}
