package telegram

import (
	"context"
	"testing"

	"github.com/gotd/td/telegram/updates"

	"github.com/keycare/keycare/internal/database"
)

func TestStateStore(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		s := NewStateStore(db, "default")
		other := NewStateStore(db, "second-account")
		const me = int64(1)

		if _, found, err := s.GetState(ctx, me); found || err != nil {
			t.Fatalf("empty state: found %v, %v", found, err)
		}
		if err := s.SetPts(ctx, me, 5); err == nil {
			t.Fatal("SetPts without a state must fail (gotd relies on it)")
		}
		if err := s.SetState(ctx, me, updates.State{Pts: 1, Qts: 2, Date: 3, Seq: 4}); err != nil {
			t.Fatal(err)
		}
		for _, set := range []func() error{
			func() error { return s.SetPts(ctx, me, 10) },
			func() error { return s.SetQts(ctx, me, 20) },
			func() error { return s.SetDateSeq(ctx, me, 30, 40) },
		} {
			if err := set(); err != nil {
				t.Fatal(err)
			}
		}
		if st, found, err := s.GetState(ctx, me); !found || err != nil || st != (updates.State{Pts: 10, Qts: 20, Date: 30, Seq: 40}) {
			t.Fatalf("state = %+v, %v, %v", st, found, err)
		}
		if _, found, _ := other.GetState(ctx, me); found {
			t.Fatal("sessions share state")
		}

		// A channel whose hash is known but pts not yet is not "found".
		if err := s.SetChannelAccessHash(ctx, me, 100, -77); err != nil {
			t.Fatal(err)
		}
		if _, found, err := s.GetChannelPts(ctx, me, 100); found || err != nil {
			t.Fatalf("pts of a hash-only channel: found %v, %v", found, err)
		}
		if err := s.SetChannelPts(ctx, me, 100, 9); err != nil {
			t.Fatal(err)
		}
		if err := s.SetChannelPts(ctx, me, 200, 3); err != nil {
			t.Fatal(err)
		}
		if pts, found, err := s.GetChannelPts(ctx, me, 100); !found || err != nil || pts != 9 {
			t.Fatalf("pts = %d, %v, %v", pts, found, err)
		}
		if hash, found, err := s.GetChannelAccessHash(ctx, me, 100); !found || err != nil || hash != -77 {
			t.Fatalf("hash = %d, %v, %v", hash, found, err)
		}
		if _, found, _ := s.GetChannelAccessHash(ctx, me, 200); found {
			t.Fatal("hash of a pts-only channel found")
		}
		seen := map[int64]int{}
		if err := s.ForEachChannels(ctx, me, func(_ context.Context, id int64, pts int) error {
			seen[id] = pts
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 2 || seen[100] != 9 || seen[200] != 3 {
			t.Fatalf("channels = %v", seen)
		}

		if err := s.SetUserAccessHash(ctx, me, 7, 1234); err != nil {
			t.Fatal(err)
		}
		if err := s.SetUserAccessHash(ctx, me, 7, 5678); err != nil {
			t.Fatal(err)
		}
		if hash, found, err := s.GetUserAccessHash(ctx, me, 7); !found || err != nil || hash != 5678 {
			t.Fatalf("user hash = %d, %v, %v", hash, found, err)
		}
		if _, found, _ := s.GetUserAccessHash(ctx, me, 8); found {
			t.Fatal("unknown user found")
		}

		// Writes land even when the caller's context has just ended: gotd
		// saves pts right after a handler returns, also at shutdown.
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.SetChannelPts(cancelled, me, 100, 10); err != nil {
			t.Fatal(err)
		}
		if pts, _, _ := s.GetChannelPts(ctx, me, 100); pts != 10 {
			t.Fatalf("pts after cancelled write = %d", pts)
		}

		// Channel pts are written behind; Flush writes them, and a new
		// store (a restart) reads them from the database.
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		restarted := NewStateStore(db, "default")
		if pts, found, err := restarted.GetChannelPts(ctx, me, 100); !found || err != nil || pts != 10 {
			t.Fatalf("pts after restart = %d, %v, %v", pts, found, err)
		}
	})
}
