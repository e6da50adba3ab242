package telegram

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/tg"

	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/integrations/telegram/tgfake"
	"github.com/keycare/keycare/internal/database"
)

// watcher is a recorder that is also a chats.AccessWatcher, as
// *chats.Store is. It keeps every reason it is told, per channel, and
// guards them with the recorder's mutex so waitFor sees them.
type watcher struct {
	*recorder
	lost map[int64][]string
}

func newWatcher() *watcher { return &watcher{recorder: newRecorder(), lost: map[int64][]string{}} }

func (w *watcher) MarkInaccessible(_ context.Context, channelID int64, reason string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.poke()
	w.lost[channelID] = append(w.lost[channelID], reason)
	return nil
}

var _ chats.AccessWatcher = (*watcher)(nil)

// reasons returns what the watcher was told about a channel.
func (w *watcher) reasons(channelID int64) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lost[channelID]...)
}

// waitTold waits until the watcher was told n times about a channel.
func (w *watcher) waitTold(t *testing.T, channelID int64, n int) {
	t.Helper()
	w.waitFor(t, 20*time.Second, func(*recorder) bool { return len(w.lost[channelID]) >= n })
}

// quiet gives late reports (a callback after an RPC we waited on, the
// reporting goroutine) time to land before a count is checked.
func quiet() { time.Sleep(300 * time.Millisecond) }

func TestLostAccessIsReportedOnce(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		acct := sharedAccount(t, db)
		w := newWatcher()
		r := start(t, acct, w, nil)
		tr := r.Transport()
		owner := newClientUser()

		// adopt mirrors a client's group Keycare's account is in, and has
		// the client post, so the updates manager follows the channel.
		adopt := func(title string) chats.Group {
			t.Helper()
			ch := fake.CreateChannel(owner.ID, title, acct.user.ID)
			g, err := tr.ResolveGroup(ctx, ch.ID)
			if err != nil {
				t.Fatal(err)
			}
			w.addChannel(g)
			id, err := fake.PostFromClient(ctx, ch.ID, owner.ID, "hello")
			if err != nil {
				t.Fatal(err)
			}
			w.waitFor(t, 10*time.Second, func(r *recorder) bool { _, ok := r.msgs[[2]int64{ch.ID, int64(id)}]; return ok })
			return g
		}
		kick := func(g chats.Group) {
			t.Helper()
			if err := fake.Kick(ctx, g.ChannelID, acct.user.ID); err != nil {
				t.Fatal(err)
			}
		}
		send := func(g chats.Group) error {
			_, err := tr.Send(ctx, g, "anyone there?", 0, time.Now().UnixNano())
			return err
		}
		told := func(g chats.Group, n int, reason string) {
			t.Helper()
			quiet()
			got := w.reasons(g.ChannelID)
			if len(got) != n || !strings.Contains(got[n-1], reason) {
				t.Fatalf("watcher told %q, want %d report(s), the last naming %q", got, n, reason)
			}
		}

		t.Run("kick pushed, then every other sighting", func(t *testing.T) {
			g := adopt("Kicked while connected")
			kick(g) // Telegram pushes updateChannel with the group forbidden
			w.waitTold(t, g.ChannelID, 1)
			told(g, 1, "CHANNEL_PRIVATE")

			// The updates manager finds out too, on the catch-up after a
			// reconnect (CHANNEL_PRIVATE on getChannelDifference)…
			diffs := fake.Calls(tg.UpdatesGetChannelDifferenceRequestTypeID)
			fake.CutConnections()
			eventually(t, 20*time.Second, "channel difference asked after reconnect", func() bool {
				return fake.Calls(tg.UpdatesGetChannelDifferenceRequestTypeID) > diffs
			})
			// …and so do Reconcile and every Transport call about the group.
			if _, err := r.ReconcileChannel(ctx, chats.Channel{ChannelID: g.ChannelID, AccessHash: g.AccessHash}); kindOf(err) != chats.ErrNoAccess {
				t.Fatalf("reconcile: %v, want no_access", err)
			}
			if err := r.Reconcile(ctx); err == nil {
				t.Fatal("reconcile of all channels succeeded")
			}
			if err := send(g); kindOf(err) != chats.ErrNoAccess {
				t.Fatalf("send: %v, want no_access", err)
			}
			if _, err := tr.History(ctx, g, 0, 10); kindOf(err) != chats.ErrNoAccess {
				t.Fatalf("history: %v, want no_access", err)
			}
			if _, err := tr.ResolveGroup(ctx, g.ChannelID); kindOf(err) != chats.ErrNoAccess {
				t.Fatalf("resolve: %v, want no_access", err)
			}
			told(g, 1, "CHANNEL_PRIVATE")

			// Back in the group, reconciled, and out again: a new loss.
			if err := fake.Join(ctx, g.ChannelID, acct.user.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := r.ReconcileChannel(ctx, chats.Channel{ChannelID: g.ChannelID, AccessHash: g.AccessHash}); err != nil {
				t.Fatal(err)
			}
			kick(g)
			w.waitTold(t, g.ChannelID, 2)
			told(g, 2, "CHANNEL_PRIVATE")
		})

		t.Run("push lost, found by the updates manager", func(t *testing.T) {
			g := adopt("Kicked while away")
			fake.DropNextPushes(2) // the service message and the updateChannel
			kick(g)
			fake.CutConnections()
			w.waitTold(t, g.ChannelID, 1)
			told(g, 1, "CHANNEL_PRIVATE (updates.getChannelDifference)")
		})

		t.Run("push lost, found by a send", func(t *testing.T) {
			g := adopt("Kicked, then written to")
			fake.DropNextPushes(2)
			kick(g)
			if err := send(g); kindOf(err) != chats.ErrNoAccess {
				t.Fatalf("send: %v, want no_access", err)
			}
			w.waitTold(t, g.ChannelID, 1)
			told(g, 1, "CHANNEL_PRIVATE (messages.sendMessage)")
		})

		t.Run("missing rights are not lost access", func(t *testing.T) {
			g := adopt("Muted, still a member")
			checks := fake.Calls(tg.ChannelsGetChannelsRequestTypeID)
			fake.FailNext(tg.MessagesSendMessageRequestTypeID, 1, tgfake.Err(403, "CHAT_WRITE_FORBIDDEN"))
			if err := send(g); kindOf(err) != chats.ErrNoAccess {
				t.Fatalf("send: %v, want no_access", err)
			}
			eventually(t, 10*time.Second, "membership checked", func() bool {
				return fake.Calls(tg.ChannelsGetChannelsRequestTypeID) > checks
			})
			quiet()
			if got := w.reasons(g.ChannelID); len(got) != 0 {
				t.Fatalf("watcher told %q about a group the account is in", got)
			}

			// The same refusal once the account is out: confirmed, reported.
			fake.DropNextPushes(2)
			kick(g)
			fake.FailNext(tg.MessagesSendMessageRequestTypeID, 1, tgfake.Err(403, "CHAT_WRITE_FORBIDDEN"))
			if err := send(g); kindOf(err) != chats.ErrNoAccess {
				t.Fatalf("send: %v, want no_access", err)
			}
			w.waitTold(t, g.ChannelID, 1)
			told(g, 1, "CHAT_WRITE_FORBIDDEN (messages.sendMessage), confirmed by channels.getChannels: CHANNEL_PRIVATE")
		})

		t.Run("groups not mirrored are not reported", func(t *testing.T) {
			ch := fake.CreateChannel(owner.ID, "Not mirrored", acct.user.ID)
			g, err := tr.ResolveGroup(ctx, ch.ID)
			if err != nil {
				t.Fatal(err)
			}
			kick(g)
			if err := send(g); kindOf(err) != chats.ErrNoAccess {
				t.Fatalf("send: %v, want no_access", err)
			}
			quiet()
			if got := w.reasons(g.ChannelID); len(got) != 0 {
				t.Fatalf("watcher told %q about a group Keycare does not mirror", got)
			}
		})
	})
}
