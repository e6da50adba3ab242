package telegram

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/tg"

	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/integrations/telegram/tgfake"
	"github.com/keycare/keycare/internal/database"
)

func TestFindGroup(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, database.SQLite)
	acct := newAccount(t, db) // its own dialogs: the filler below stays here
	r := start(t, acct, newRecorder(), nil)
	tr := r.Transport()
	finder, ok := tr.(chats.GroupFinder)
	if !ok {
		t.Fatal("the Transport is not a chats.GroupFinder")
	}

	const title = "Acme × Keycare"
	g, err := tr.CreateGroup(ctx, title, "Keycare chat-1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := tr.CreateGroup(ctx, title, "Keycare chat-2")
	if err != nil {
		t.Fatal(err)
	}
	// Someone else's group with the account in it: same title, a marker.
	owner := newClientUser()
	foreign := fake.CreateChannel(owner.ID, title, acct.user.ID)
	if err := fake.SetAbout(foreign.ID, "Keycare chat-3"); err != nil {
		t.Fatal(err)
	}
	// Newer dialogs, so that the groups are past the first page.
	for range 150 {
		fake.CreateChannel(owner.ID, "Filler", acct.user.ID)
	}

	calls := fake.Calls(tg.MessagesGetDialogsRequestTypeID)
	found, ok, err := finder.FindGroup(ctx, title, "Keycare chat-1")
	if err != nil || !ok || found != g {
		t.Fatalf("FindGroup = %+v, %v, %v; want %+v", found, ok, err, g)
	}
	if n := fake.Calls(tg.MessagesGetDialogsRequestTypeID) - calls; n < 2 {
		t.Errorf("getDialogs called %d times, want a second page", n)
	}
	if found, ok, err := finder.FindGroup(ctx, title, "Keycare chat-2"); err != nil || !ok || found != other {
		t.Fatalf("FindGroup(chat-2) = %+v, %v, %v; want %+v", found, ok, err, other)
	}
	for _, tc := range []struct{ name, title, marker string }{
		{"another marker", title, "Keycare chat-9"},
		{"created by someone else", title, "Keycare chat-3"},
		{"another title", "Globex × Keycare", "Keycare chat-1"},
		{"no marker", title, ""},
	} {
		if found, ok, err := finder.FindGroup(ctx, tc.title, tc.marker); err != nil || ok {
			t.Errorf("%s: FindGroup = %+v, %v, %v; want none", tc.name, found, ok, err)
		}
	}

	// Of two groups with one marker (see TestCreateGroupAnswerLost), the oldest.
	if _, err := tr.CreateGroup(ctx, title, "Keycare chat-2"); err != nil {
		t.Fatal(err)
	}
	if found, ok, err := finder.FindGroup(ctx, title, "Keycare chat-2"); err != nil || !ok || found != other {
		t.Fatalf("FindGroup of two = %+v, %v, %v; want the older %+v", found, ok, err, other)
	}

	// Errors are classified like every Transport call's.
	fake.FailNext(tg.MessagesGetDialogsRequestTypeID, 1, tgfake.Err(420, "FLOOD_WAIT_7"))
	if _, _, err := finder.FindGroup(ctx, title, "Keycare chat-1"); kindOf(err) != chats.ErrFloodWait {
		t.Errorf("getDialogs flood wait: %v", err)
	}
	fake.FailNext(tg.ChannelsGetFullChannelRequestTypeID, 1, tgfake.Err(500, "INTERNAL"))
	if _, _, err := finder.FindGroup(ctx, title, "Keycare chat-1"); kindOf(err) != chats.ErrTemporary {
		t.Errorf("getFullChannel internal error: %v", err)
	}
	// A group the account may no longer see is not the one.
	fake.FailNext(tg.ChannelsGetFullChannelRequestTypeID, 1, tgfake.Err(400, "CHANNEL_PRIVATE"))
	if found, ok, err := finder.FindGroup(ctx, title, "Keycare chat-1"); err != nil || ok {
		t.Errorf("FindGroup with the group private = %+v, %v, %v; want none", found, ok, err)
	}
}

// TestCreateGroupAnswerLost: Telegram creates the group and the connection
// dies before the answer. gotd resends the unacknowledged createChannel on
// the next connection, and Telegram makes a second group: CreateGroup
// returns it and deletes the first. Should gotd ever give up instead, the
// call fails and FindGroup finds the group for the retry.
func TestCreateGroupAnswerLost(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, database.SQLite)
	acct := sharedAccount(t, db)
	logs := &logRecords{t: t}
	r := start(t, acct, newRecorder(), func(o *Options) { o.Logger = slog.New(logs) })
	tr := r.Transport()

	title := fmt.Sprintf("Lost answer %d", time.Now().UnixNano())
	const marker = "Keycare chat-lost"
	calls := fake.Calls(tg.ChannelsCreateChannelRequestTypeID)
	fake.ApplyThenCut(tg.ChannelsCreateChannelRequestTypeID, 1)
	g, err := tr.CreateGroup(ctx, title, marker)

	var made []tgfake.Channel
	for _, ch := range fake.Channels() {
		if ch.Title == title {
			made = append(made, ch)
		}
	}
	if len(made) == 0 || made[0].About != marker || made[0].Creator != acct.user.ID {
		t.Fatalf("groups made = %+v", made)
	}
	sent := fake.Calls(tg.ChannelsCreateChannelRequestTypeID) - calls
	if err != nil {
		t.Logf("gotd did not resend: CreateGroup: %v", err)
		if kindOf(err) != chats.ErrTemporary || sent != 1 || len(made) != 1 {
			t.Fatalf("err = %v, %d calls, %d groups", err, sent, len(made))
		}
	} else {
		// Telegram made two groups; the unused first one was deleted, so the
		// account has exactly the one CreateGroup returned.
		if sent != 2 || len(made) != 1 || g.ChannelID != made[0].ID || made[0].About != marker {
			t.Fatalf("CreateGroup = %+v after %d calls; groups left %+v", g, sent, made)
		}
		// The fake numbers channels in order: the unused one came just before.
		if !logs.has("deleted the unused group", fmt.Sprint(made[0].ID-1)) {
			t.Errorf("no warning about deleting the unused group %d", made[0].ID-1)
		}
	}

	found, ok, err := tr.(chats.GroupFinder).FindGroup(ctx, title, marker)
	if err != nil || !ok || found.ChannelID != made[0].ID || found.AccessHash != made[0].AccessHash || found.Title != title {
		t.Fatalf("FindGroup = %+v, %v, %v; want the one group %+v", found, ok, err, made[0])
	}
}

// logRecords is a slog handler keeping warnings, also shown in the test log.
type logRecords struct {
	t    *testing.T
	mu   sync.Mutex
	msgs []string
}

func (h *logRecords) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.t.Log(b.String())
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, b.String())
	return nil
}

func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecords) WithGroup(string) slog.Handler      { return h }

// has reports whether one record contains every part.
func (h *logRecords) has(parts ...string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.msgs {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(m, p)
		}
		if all {
			return true
		}
	}
	return false
}
