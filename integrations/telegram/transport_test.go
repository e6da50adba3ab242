package telegram

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/integrations/telegram/tgfake"
	"github.com/keycare/keycare/internal/database"
)

func TestTransportCreatesAGroup(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, database.SQLite)
	acct := sharedAccount(t, db)
	rec := newRecorder()
	r := start(t, acct, rec, nil)
	tr := r.Transport()

	g, err := tr.CreateGroup(ctx, "Acme × Keycare", "Key account chat")
	if err != nil {
		t.Fatal(err)
	}
	rec.addChannel(g)
	if g.ChannelID == 0 || g.AccessHash == 0 || g.Title != "Acme × Keycare" {
		t.Fatalf("group = %+v", g)
	}
	// The manager subscribes to the new channel (one getChannelDifference,
	// which delivers the "create" service message). Past that, every pts
	// step must come through in order: no false gap, no further difference.
	rec.waitFor(t, 10*time.Second, func(r *recorder) bool {
		m, ok := r.msgs[[2]int64{g.ChannelID, 1}]
		return ok && m.Service == "create"
	})
	diffs := fake.Calls(tg.UpdatesGetChannelDifferenceRequestTypeID)

	owner := fake.AddUser(tgfake.User{FirstName: "Olga", Username: fmt.Sprintf("owner_%d", time.Now().UnixNano())})
	contact := newClientUser()
	ghost := chats.Person{Username: "nobody_by_this_name"}
	notAdded, err := tr.Invite(ctx, g, []chats.Person{{Username: "@" + owner.Username}, {Username: contact.Username}, ghost})
	if err != nil {
		t.Fatal(err)
	}
	if len(notAdded) != 1 || notAdded[0] != ghost {
		t.Fatalf("not added = %+v, want only the unknown username", notAdded)
	}
	// By id now: the access hash was learnt when the username resolved.
	if err := tr.MakeAdmin(ctx, g, chats.Person{TelegramUserID: owner.ID}); err != nil {
		t.Fatal(err)
	}
	if err := tr.MakeAdmin(ctx, g, chats.Person{TelegramUserID: 424242}); chats.TransportKind(err) != chats.ErrBadRequest {
		t.Fatalf("admin of an unknown user: %v", err)
	}
	link, err := tr.ExportInvite(ctx, g)
	if err != nil || !strings.HasPrefix(link, "https://t.me/+") {
		t.Fatalf("link = %q, %v", link, err)
	}
	welcome, err := tr.Send(ctx, g, "Welcome! Olga is your account manager.", 0, 777)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := fake.PostFromClient(ctx, g.ChannelID, contact.ID, "thanks")
	if err != nil {
		t.Fatal(err)
	}

	rec.waitFor(t, 10*time.Second, func(r *recorder) bool {
		_, replied := r.msgs[[2]int64{g.ChannelID, int64(reply)}]
		return replied && r.confirmed[777] == welcome &&
			r.members[[2]int64{g.ChannelID, owner.ID}] && r.members[[2]int64{g.ChannelID, contact.ID}]
	})
	if got := fake.Calls(tg.UpdatesGetChannelDifferenceRequestTypeID); got != diffs {
		t.Errorf("getChannelDifference called %d more times: a false gap", got-diffs)
	}
	ch, _ := fake.Channel(g.ChannelID)
	if !ch.Admins[owner.ID] || !ch.Members[contact.ID] {
		t.Errorf("channel = %+v", ch)
	}
	if m, _ := rec.message(g.ChannelID, welcome); !m.Out || m.SenderTelegramID != acct.user.ID {
		t.Errorf("welcome = %+v, want an outgoing message", m)
	}
}

func TestSendIsIdempotent(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, database.SQLite)
	acct := sharedAccount(t, db)
	r := start(t, acct, newRecorder(), nil)
	tr := r.Transport()
	g, err := tr.CreateGroup(ctx, "Idempotence", "")
	if err != nil {
		t.Fatal(err)
	}

	// Telegram applies the send and the connection dies before the answer.
	fake.ApplyThenCut(tg.MessagesSendMessageRequestTypeID, 1)
	id, err := tr.Send(ctx, g, "posted once", 0, 31337)
	if err != nil {
		// gotd usually resends by itself after reconnecting; if not, the
		// job retries with the same random_id.
		if chats.TransportKind(err) != chats.ErrTemporary {
			t.Fatal(err)
		}
		id, err = tr.Send(ctx, g, "posted once", 0, 31337)
		if err != nil {
			t.Fatal(err)
		}
	}
	again, err := tr.Send(ctx, g, "posted once", 0, 31337)
	if err != nil || again != id {
		t.Fatalf("retry = %d, %v; want %d", again, err, id)
	}
	n := 0
	for _, m := range fake.Messages(g.ChannelID) {
		if m.Message == "posted once" {
			n++
			if m.ID != id {
				t.Errorf("posted id %d, Send said %d", m.ID, id)
			}
		}
	}
	if n != 1 {
		t.Fatalf("posted %d times, want once", n)
	}
}

func TestTransportErrors(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, database.SQLite)
	acct := sharedAccount(t, db)
	r := start(t, acct, newRecorder(), nil)
	tr := r.Transport()
	g, err := tr.CreateGroup(ctx, "Errors", "")
	if err != nil {
		t.Fatal(err)
	}
	send := func() error { _, err := tr.Send(ctx, g, "x", 0, time.Now().UnixNano()); return err }

	for _, tc := range []struct {
		method uint32
		err    *tgerr.Error
		call   func() error
		kind   string
		wait   time.Duration
	}{
		{tg.MessagesSendMessageRequestTypeID, tgfake.Err(420, "FLOOD_WAIT_3"), send, chats.ErrFloodWait, 3 * time.Second},
		{tg.MessagesSendMessageRequestTypeID, tgfake.Err(400, "PEER_FLOOD"), send, chats.ErrPeerFlood, 0},
		{tg.MessagesSendMessageRequestTypeID, tgfake.Err(403, "CHAT_WRITE_FORBIDDEN"), send, chats.ErrNoAccess, 0},
		{tg.MessagesSendMessageRequestTypeID, tgfake.Err(500, "INTERNAL"), send, chats.ErrTemporary, 0},
		{tg.ChannelsCreateChannelRequestTypeID, tgfake.Err(400, "CHANNELS_TOO_MUCH"), func() error { _, err := tr.CreateGroup(ctx, "One too many", ""); return err }, chats.ErrTooManyChats, 0},
		{tg.MessagesExportChatInviteRequestTypeID, tgfake.Err(400, "CHANNEL_PRIVATE"), func() error { _, err := tr.ExportInvite(ctx, g); return err }, chats.ErrNoAccess, 0},
	} {
		t.Run(tc.err.Message, func(t *testing.T) {
			fake.FailNext(tc.method, 1, tc.err)
			started := time.Now()
			err := tc.call()
			var te *chats.TransportError
			if !errors.As(err, &te) || te.Kind != tc.kind || te.Wait != tc.wait {
				t.Fatalf("err = %#v, want kind %s wait %s", err, tc.kind, tc.wait)
			}
			if time.Since(started) > 2*time.Second {
				t.Errorf("the call waited %s: flood waits are the caller's to honour", time.Since(started))
			}
		})
	}
	// The connection survived every refusal.
	if err := send(); err != nil {
		t.Fatal(err)
	}
}

func TestJoinResolveHistory(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, database.SQLite)
	acct := sharedAccount(t, db)
	r := start(t, acct, newRecorder(), nil)
	tr := r.Transport()
	owner := newClientUser()

	existing := fake.CreateChannel(owner.ID, "Existing client chat")
	link := fake.InviteLink(existing.ID)
	g, err := tr.JoinByInvite(ctx, link)
	if err != nil {
		t.Fatal(err)
	}
	if g.ChannelID != existing.ID || g.AccessHash != existing.AccessHash || g.Title != existing.Title {
		t.Fatalf("joined %+v, want %+v", g, existing)
	}
	again, err := tr.JoinByInvite(ctx, strings.Replace(link, "https://t.me/+", "t.me/joinchat/", 1))
	if err != nil || again != g {
		t.Fatalf("joining again = %+v, %v", again, err)
	}
	for _, bad := range []string{"https://t.me/+0000dead", "https://t.me/some_public_name", ""} {
		if _, err := tr.JoinByInvite(ctx, bad); chats.TransportKind(err) != chats.ErrBadRequest {
			t.Errorf("join %q: %v, want bad_request", bad, err)
		}
	}

	// A group the account is already in but never saw an update from.
	adopted := fake.CreateChannel(owner.ID, "Adopted", acct.user.ID)
	rg, err := tr.ResolveGroup(ctx, adopted.ID)
	if err != nil || rg.AccessHash != adopted.AccessHash {
		t.Fatalf("resolve = %+v, %v", rg, err)
	}
	// It is tracked from now on: its pts is stored for gotd's updates
	// manager, which then sees a gap at the first push instead of skipping.
	if pts, found, err := acct.state.GetChannelPts(ctx, acct.user.ID, adopted.ID); err != nil || !found || pts != adopted.Pts {
		t.Errorf("tracked pts = %d, %v, %v; want %d", pts, found, err, adopted.Pts)
	}
	if _, err := tr.ResolveGroup(ctx, 987654321); chats.TransportKind(err) != chats.ErrBadRequest {
		t.Fatalf("resolve unknown: %v", err)
	}

	var ids []int
	for i := range 5 {
		id, err := fake.PostFromClient(ctx, g.ChannelID, owner.ID, fmt.Sprintf("history %d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	page, err := tr.History(ctx, g, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 3 || page[0].MessageID != ids[4] || page[0].Text != "history 4" || page[0].SenderTelegramID != owner.ID {
		t.Fatalf("newest page = %+v", page)
	}
	older, err := tr.History(ctx, g, page[2].MessageID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(older) == 0 || older[0].MessageID != ids[1] {
		t.Fatalf("older page = %+v", older)
	}
}
