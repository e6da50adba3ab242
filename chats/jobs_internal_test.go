package chats

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/testdb"
)

// A PEER_FLOOD stop outlives the process that saw it: a restarted (or
// another) replica reads it from the database and does not send either.
func TestSendingStopIsShared(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		ctx := keycare.WithActor(context.Background(), keycare.SystemActor)
		store := NewStore(db)
		first := &Workers{Store: store, Log: slog.New(slog.DiscardHandler), Pause: time.Hour}
		if stopped, _ := first.paused(ctx); stopped {
			t.Fatal("paused before any stop")
		}
		first.stop(ctx, &TransportError{Kind: ErrPeerFlood, Code: "PEER_FLOOD"})

		restarted := &Workers{Store: NewStore(db), Log: slog.New(slog.DiscardHandler), Pause: time.Hour}
		stopped, why := restarted.paused(ctx)
		if !stopped || why == "" {
			t.Fatalf("restarted replica: paused = %v, %q", stopped, why)
		}

		// An expired stop holds nobody.
		if err := db.Gorm.Exec("UPDATE telegram_holds SET until = ?", time.Now().Add(-time.Minute).UTC()).Error; err != nil {
			t.Fatal(err)
		}
		later := &Workers{Store: NewStore(db), Log: slog.New(slog.DiscardHandler)}
		if stopped, _ := later.paused(ctx); stopped {
			t.Fatal("an expired stop still holds")
		}
	})
}
