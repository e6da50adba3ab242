package audit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/testdb"
)

func TestExportWritesOneDay(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		ctx := keycare.WithActor(context.Background(), keycare.Actor{Kind: keycare.ActorUser, UserID: "u1", Role: keycare.RoleAdmin, RequestID: "r1"})
		for i := 0; i < 3; i++ {
			if err := audit.Record(ctx, db.Gorm, "account.update", "account", "a1", map[string]int{"v": i}, map[string]int{"v": i + 1}); err != nil {
				t.Fatal(err)
			}
		}
		dir := t.TempDir()
		today := time.Now().UTC()
		if err := audit.Export(context.Background(), db.Gorm, dir, today); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(dir, "audit-"+today.Format(time.DateOnly)+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var n int
		for sc := bufio.NewScanner(f); sc.Scan(); n++ {
			var e audit.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.ActorID != "u1" || e.RequestID != "r1" || string(e.After) == "" {
				t.Errorf("line %d: %s (%v)", n, sc.Bytes(), err)
			}
		}
		if n != 3 {
			t.Errorf("exported %d events, want 3", n)
		}
		// Yesterday had nothing: the file exists and is empty.
		if err := audit.Export(context.Background(), db.Gorm, dir, today.AddDate(0, 0, -1)); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(filepath.Join(dir, "audit-"+today.AddDate(0, 0, -1).Format(time.DateOnly)+".jsonl")); err != nil || st.Size() != 0 {
			t.Errorf("empty day: %v %v", st, err)
		}
	})
}
