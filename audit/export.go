package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"
)

// ExportArgs asks for one UTC day of the audit log to be written to a file.
type ExportArgs struct {
	Day string `json:"day"` // YYYY-MM-DD
}

// Kind implements river.JobArgs.
func (ExportArgs) Kind() string { return "audit_export" }

// InsertOpts makes one export per day: re-enqueueing a day is a no-op.
func (ExportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ExportWorker writes a day of audit events as JSON lines into Dir, so a copy
// of the trail lives outside the database (for archiving or a SIEM). The file
// is written whole and renamed into place: a reader never sees half a day.
type ExportWorker struct {
	river.WorkerDefaults[ExportArgs]
	DB  *gorm.DB
	Dir string
}

// Work implements river.Worker.
func (w *ExportWorker) Work(ctx context.Context, job *river.Job[ExportArgs]) error {
	day, err := time.Parse(time.DateOnly, job.Args.Day)
	if err != nil {
		return river.JobCancel(fmt.Errorf("audit export: bad day %q", job.Args.Day))
	}
	return Export(ctx, w.DB, w.Dir, day)
}

// Export writes the events of the UTC day into dir/audit-YYYY-MM-DD.jsonl.
func Export(ctx context.Context, db *gorm.DB, dir string, day time.Time) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	final := filepath.Join(dir, "audit-"+day.Format(time.DateOnly)+".jsonl")
	tmp, err := os.CreateTemp(dir, ".audit-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	enc := json.NewEncoder(tmp)
	start := day.UTC().Truncate(24 * time.Hour)
	var batch []Event
	err = db.WithContext(ctx).Where("at >= ? AND at < ?", start, start.Add(24*time.Hour)).Order("id").
		FindInBatches(&batch, 1000, func(_ *gorm.DB, _ int) error {
			for i := range batch {
				if err := enc.Encode(&batch[i]); err != nil {
					return err
				}
			}
			return nil
		}).Error
	if err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), final)
}

// NightlyExport is the periodic job exporting yesterday's audit log shortly after midnight UTC.
func NightlyExport() *river.PeriodicJob {
	return river.NewPeriodicJob(dailyAt{hour: 0, minute: 10}, func() (river.JobArgs, *river.InsertOpts) {
		return ExportArgs{Day: time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)}, nil
	}, &river.PeriodicJobOpts{RunOnStart: true})
}

// dailyAt fires once a day at a UTC wall time.
type dailyAt struct{ hour, minute int }

func (d dailyAt) Next(t time.Time) time.Time {
	t = t.UTC()
	next := time.Date(t.Year(), t.Month(), t.Day(), d.hour, d.minute, 0, 0, time.UTC)
	if !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next
}
