package telegram

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gotd/td/tg"

	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/integrations/telegram/tgfake"
	"github.com/keycare/keycare/internal/database"
)

// eventually polls cond, for state gotd writes after the Mirror call we
// can wait on (e.g. the channel pts saved once a dispatch returns).
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in %s", what, timeout)
		}
		<-tick.C
	}
}

var clients = 0

// newClientUser is a customer who writes in the group from their own app.
func newClientUser() tgfake.User {
	clients++
	return fake.AddUser(tgfake.User{FirstName: "Client", LastName: fmt.Sprint(clients), Username: fmt.Sprintf("client_%d", clients)})
}

// groupWithClient creates a mirrored group through the Transport and lets
// a client join it.
func groupWithClient(t *testing.T, r *running, rec *recorder) (chats.Group, tgfake.User) {
	t.Helper()
	ctx := context.Background()
	g, err := r.Transport().CreateGroup(ctx, "Acme × Keycare", "")
	if err != nil {
		t.Fatal(err)
	}
	rec.addChannel(g)
	client := newClientUser()
	if err := fake.Join(ctx, g.ChannelID, client.ID); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 10*time.Second, func(r *recorder) bool { return r.members[[2]int64{g.ChannelID, client.ID}] })
	return g, client
}

func TestMirrorBurstWithDroppedPushes(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		acct := sharedAccount(t, db)
		rec := newRecorder()
		r := start(t, acct, rec, nil)
		g, client := groupWithClient(t, r, rec)

		rec.mu.Lock()
		rec.failNext = 5 // the first writes fail: the handler retries them
		rec.mu.Unlock()
		dropped := fake.Dropped()
		fake.SetDropRatio(0.05, 1)
		const n = 1000
		for i := range n {
			if i == n-1 {
				// A lost push is found through the next one's pts gap; nothing
				// follows the last, so it must arrive (Reconcile covers a lost
				// tail: TestReconcileRepairs).
				fake.SetDropRatio(0, 0)
			}
			if _, err := fake.PostFromClient(ctx, g.ChannelID, client.ID, fmt.Sprintf("msg %04d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if d := fake.Dropped() - dropped; d < n/40 {
			t.Fatalf("only %d pushes dropped", d)
		} else {
			t.Logf("%d of %d pushes dropped", d, n)
		}
		rec.waitFor(t, 60*time.Second, func(r *recorder) bool { return r.countText(g.ChannelID, "msg ") == n })

		rec.mu.Lock()
		redelivered, failed := rec.redelivered, rec.failed
		rec.mu.Unlock()
		if redelivered != 0 {
			t.Errorf("%d messages delivered twice", redelivered)
		}
		if failed != 5 {
			t.Errorf("failed writes = %d, want 5 (retried)", failed)
		}
		ch, _ := fake.Channel(g.ChannelID)
		eventually(t, 10*time.Second, "channel pts persisted", func() bool {
			pts, ok, err := acct.state.GetChannelPts(ctx, acct.user.ID, g.ChannelID)
			return err == nil && ok && pts == ch.Pts
		})
		m, _ := rec.message(g.ChannelID, 3)
		if m.SenderTelegramID != client.ID || m.SenderUsername != client.Username || m.Out {
			t.Errorf("message 3 = %+v", m)
		}
	})
}

func TestMirrorSurvivesRestart(t *testing.T) {
	eachDialect(t, testMirrorSurvivesRestart)
}

func testMirrorSurvivesRestart(t *testing.T, db *database.DB) {
	ctx := context.Background()
	acct := sharedAccount(t, db)
	rec := newRecorder()
	first := start(t, acct, rec, nil)
	g, client := groupWithClient(t, first, rec)

	const n = 1000
	posted := make(chan error, 1)
	halfway := make(chan struct{})
	resume := make(chan struct{})
	fake.SetDropRatio(0.05, 2)
	go func() {
		for i := range n {
			if i == n/2 {
				close(halfway)
				<-resume
			}
			if i == n-1 {
				fake.SetDropRatio(0, 0)
			}
			if _, err := fake.PostFromClient(ctx, g.ChannelID, client.ID, fmt.Sprintf("msg %04d", i)); err != nil {
				posted <- err
				return
			}
		}
		posted <- nil
	}()

	// Stop the client while messages are flowing: after some, not all, of
	// the first half are stored.
	rec.waitFor(t, 30*time.Second, func(r *recorder) bool { return r.countText(g.ChannelID, "msg ") >= n/4 })
	first.stop(t)
	<-halfway
	close(resume) // the second half arrives while Keycare is down

	second := start(t, acct, rec, nil)
	if err := <-posted; err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 60*time.Second, func(r *recorder) bool { return r.countText(g.ChannelID, "msg ") == n })
	second.stop(t)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	// Stored once each (the recorder is unique by channel and id). A
	// restart redelivers some: gotd's manager hands updates that arrive
	// before its Run straight to the handler (telegram/updates/manager.go,
	// Handle with no state), and the channel difference from the stored pts
	// then delivers them again. The Mirror absorbs them.
	t.Logf("%d messages redelivered after restart", rec.redelivered)

}

func TestReconcileRepairs(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, database.SQLite)
	acct := sharedAccount(t, db)
	rec := newRecorder()
	r := start(t, acct, rec, nil)
	g, client := groupWithClient(t, r, rec)

	var ids []int
	for i := range 3 {
		id, err := fake.PostFromClient(ctx, g.ChannelID, client.ID, fmt.Sprintf("text %d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rec.waitFor(t, 10*time.Second, func(r *recorder) bool { return r.countText(g.ChannelID, "text ") == 3 })

	// Pushes lost, and nothing after them to reveal a gap.
	fake.DropNextPushes(1)
	if err := fake.Edit(ctx, g.ChannelID, ids[0], "text 0, edited"); err != nil {
		t.Fatal(err)
	}
	fake.DropNextPushes(1)
	if err := fake.Delete(ctx, g.ChannelID, ids[1]); err != nil {
		t.Fatal(err)
	}
	fake.DropNextPushes(1)
	hole, err := fake.PostFromClient(ctx, g.ChannelID, client.ID, "never pushed")
	if err != nil {
		t.Fatal(err)
	}

	ch := chats.Channel{ChannelID: g.ChannelID, AccessHash: g.AccessHash}
	res, err := r.ReconcileChannel(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	if res != (ReconcileResult{Stored: 1, Edited: 1, Deleted: 1}) {
		t.Fatalf("reconcile = %+v, want 1 stored, 1 edited, 1 deleted", res)
	}
	if m, _ := rec.message(g.ChannelID, ids[0]); m.Text != "text 0, edited" || m.EditDate.IsZero() {
		t.Errorf("edit not repaired: %+v", m)
	}
	rec.mu.Lock()
	deleted := rec.deleted[[2]int64{g.ChannelID, int64(ids[1])}]
	rec.mu.Unlock()
	if !deleted {
		t.Error("delete not repaired")
	}
	if _, ok := rec.message(g.ChannelID, hole); !ok {
		t.Error("hole not filled")
	}
	if res, err := r.ReconcileChannel(ctx, ch); err != nil || res != (ReconcileResult{}) {
		t.Fatalf("second reconcile = %+v, %v; want nothing to do", res, err)
	}
	// Without the access hash, the update state supplies it.
	if _, err := r.ReconcileChannel(ctx, chats.Channel{ChannelID: g.ChannelID}); err != nil {
		t.Fatal(err)
	}
}

func TestReconnectCatchesUp(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, database.SQLite)
	acct := sharedAccount(t, db)
	rec := newRecorder()
	r := start(t, acct, rec, nil)
	g, client := groupWithClient(t, r, rec)

	// A message whose push is lost, then the connection drops: after gotd
	// reconnects, the client fetches the channel difference and reconciles.
	fake.DropNextPushes(1)
	id, err := fake.PostFromClient(ctx, g.ChannelID, client.ID, "while the line was down")
	if err != nil {
		t.Fatal(err)
	}
	fake.CutConnections()
	rec.waitFor(t, 30*time.Second, func(r *recorder) bool {
		_, ok := r.msgs[[2]int64{g.ChannelID, int64(id)}]
		return ok
	})
	eventually(t, 10*time.Second, "status connected again", func() bool {
		st, _ := r.Status()
		return st == StatusConnected
	})
}

// TestTooLongBackfillsFromHistory: after downtime Telegram may answer the
// channel difference with "too long"; Keycare then reads history.
func TestTooLongBackfillsFromHistory(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, database.SQLite)
	acct := sharedAccount(t, db)
	rec := newRecorder()
	first := start(t, acct, rec, nil)
	g, client := groupWithClient(t, first, rec)
	first.stop(t)

	const n = 60
	for i := range n {
		if _, err := fake.PostFromClient(ctx, g.ChannelID, client.ID, fmt.Sprintf("offline %02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	fake.SetDifferenceTooLong(20)
	defer fake.SetDifferenceTooLong(0)
	calls := fake.Calls(tg.MessagesGetHistoryRequestTypeID)
	// ReconcileDepth is below what was missed: the too-long answer makes
	// the next pass read deeper.
	start(t, acct, rec, func(o *Options) { o.ReconcileDepth = 10 })
	rec.waitFor(t, 30*time.Second, func(r *recorder) bool { return r.countText(g.ChannelID, "offline ") == n })
	if fake.Calls(tg.MessagesGetHistoryRequestTypeID) == calls {
		t.Fatal("history was not read")
	}
}
