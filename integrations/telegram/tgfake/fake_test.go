package tgfake

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"go.uber.org/goleak"
)

var srv *Server

func TestMain(m *testing.M) {
	ctx, cancel := context.WithCancel(context.Background())
	var err error
	srv, err = Start(ctx, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		panic(err)
	}
	code := m.Run()
	srv.Close()
	cancel()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			println("goleak:", err.Error())
			code = 1
		}
	}
	os.Exit(code)
}

// pushes collects updates pushed to a raw gotd client.
type pushes struct {
	mu  sync.Mutex
	got []tg.UpdateClass
	ch  chan struct{}
}

func (p *pushes) Handle(_ context.Context, u tg.UpdatesClass) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u, ok := u.(*tg.Updates); ok {
		p.got = append(p.got, u.Updates...)
	}
	select {
	case p.ch <- struct{}{}:
	default:
	}
	return nil
}

func (p *pushes) waitFor(t *testing.T, cond func([]tg.UpdateClass) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		ok := cond(p.got)
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-p.ch:
		case <-deadline:
			t.Fatal("condition not met in 10s")
		}
	}
}

// run starts a raw gotd client on the fake and calls f once it is connected.
func run(t *testing.T, h telegram.UpdateHandler, f func(ctx context.Context, c *telegram.Client) error) {
	t.Helper()
	opts := srv.ClientOptions()
	opts.SessionStorage = &session.StorageMemory{}
	opts.UpdateHandler = h
	c := telegram.NewClient(1, "hash", opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Run(ctx, func(ctx context.Context) error { return f(ctx, c) }); err != nil {
		t.Fatal(err)
	}
}

func TestLoginAndRequireAuth(t *testing.T) {
	plain := srv.AddUser(User{Phone: "+10000000001", FirstName: "Plain", Code: "11111"})
	twoFA := srv.AddUser(User{Phone: "+10000000002", FirstName: "Guarded", Password: "s3cret"})

	run(t, nil, func(ctx context.Context, c *telegram.Client) error {
		if _, err := c.API().UpdatesGetState(ctx); !auth.IsUnauthorized(err) {
			t.Fatalf("getState before login: %v, want 401", err)
		}
		if _, err := c.Auth().SignIn(ctx, plain.Phone, "00000", "nohash"); err == nil {
			t.Fatal("sign in without sendCode succeeded")
		}
		flow := auth.NewFlow(auth.Constant(plain.Phone, "", auth.CodeAuthenticatorFunc(func(context.Context, *tg.AuthSentCode) (string, error) {
			return plain.Code, nil
		})), auth.SendCodeOptions{})
		if err := c.Auth().IfNecessary(ctx, flow); err != nil {
			t.Fatal(err)
		}
		self, err := c.Self(ctx)
		if err != nil || self.ID != plain.ID {
			t.Fatalf("self = %v, %v", self, err)
		}
		return nil
	})

	// One connection for both attempts: a wrong password, then the right one.
	run(t, nil, func(ctx context.Context, c *telegram.Client) error {
		for _, tc := range []struct {
			password string
			ok       bool
		}{{"nope", false}, {"s3cret", true}} {
			flow := auth.NewFlow(auth.Constant(twoFA.Phone, tc.password, auth.CodeAuthenticatorFunc(func(context.Context, *tg.AuthSentCode) (string, error) {
				return twoFA.Code, nil
			})), auth.SendCodeOptions{})
			err := c.Auth().IfNecessary(ctx, flow)
			if tc.ok != (err == nil) {
				t.Fatalf("login with %q: %v", tc.password, err)
			}
			if !tc.ok && !isPasswordInvalid(err) {
				t.Fatalf("login error = %v, want auth.ErrPasswordInvalid", err)
			}
		}
		self, err := c.Self(ctx)
		if err != nil || self.ID != twoFA.ID {
			t.Fatalf("self = %v, %v", self, err)
		}
		return nil
	})
}

func isPasswordInvalid(err error) bool {
	for e := err; e != nil; {
		if e == auth.ErrPasswordInvalid {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// logIn signs c in as u.
func logIn(ctx context.Context, c *telegram.Client, u User) error {
	return c.Auth().IfNecessary(ctx, auth.NewFlow(auth.Constant(u.Phone, u.Password, auth.CodeAuthenticatorFunc(func(context.Context, *tg.AuthSentCode) (string, error) {
		return u.Code, nil
	})), auth.SendCodeOptions{}))
}

func TestChannelLifecycle(t *testing.T) {
	me := srv.AddUser(User{Phone: "+10000000003", FirstName: "Keycare"})
	client := srv.AddUser(User{FirstName: "Client", Username: "client_one"})
	p := &pushes{ch: make(chan struct{}, 1)}

	run(t, p, func(ctx context.Context, c *telegram.Client) error {
		if err := logIn(ctx, c, me); err != nil {
			t.Fatal(err)
		}
		api := c.API()
		created, err := api.ChannelsCreateChannel(ctx, &tg.ChannelsCreateChannelRequest{Megagroup: true, Title: "Acme × Us"})
		if err != nil {
			t.Fatal(err)
		}
		ch := created.(*tg.Updates).Chats[0].(*tg.Channel)
		in := &tg.InputChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash}
		peer := &tg.InputPeerChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash}

		resolved, err := api.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: "client_one"})
		if err != nil {
			t.Fatal(err)
		}
		cu := resolved.Users[0].(*tg.User)
		invited, err := api.ChannelsInviteToChannel(ctx, &tg.ChannelsInviteToChannelRequest{Channel: in, Users: []tg.InputUserClass{cu.AsInput()}})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(invited.Updates.(*tg.Updates).Updates); n != 1 {
			t.Fatalf("invite updates = %d, want the service message", n)
		}
		if _, err := api.ChannelsEditAdmin(ctx, &tg.ChannelsEditAdminRequest{Channel: in, UserID: cu.AsInput(), AdminRights: tg.ChatAdminRights{InviteUsers: true}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := srv.Channel(ch.ID); !got.Admins[client.ID] {
			t.Fatal("client is not admin")
		}
		link, err := api.MessagesExportChatInvite(ctx, &tg.MessagesExportChatInviteRequest{Peer: peer})
		if err != nil || link.(*tg.ChatInviteExported).Link == "" {
			t.Fatalf("export invite: %v", err)
		}

		// A repeated random_id posts once and answers with the original id.
		var ids []int
		for range 2 {
			res, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer, Message: "hello", RandomID: 42})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range res.(*tg.Updates).Updates {
				if u, ok := u.(*tg.UpdateMessageID); ok {
					ids = append(ids, u.ID)
				}
			}
		}
		if len(ids) != 2 || ids[0] != ids[1] {
			t.Fatalf("message ids = %v, want one id twice", ids)
		}
		if n := len(srv.Messages(ch.ID)); n != 1 {
			t.Fatalf("messages = %d, want 1", n)
		}

		// Pushes: a client post, an edit, a delete, each with its pts.
		id, err := srv.PostFromClient(ctx, ch.ID, client.ID, "hi from client")
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Edit(ctx, ch.ID, id, "edited"); err != nil {
			t.Fatal(err)
		}
		if err := srv.Delete(ctx, ch.ID, id); err != nil {
			t.Fatal(err)
		}
		// gotd hands each incoming message to its own goroutine
		// (mtproto/read.go), so pushes may reach the handler in any order.
		p.waitFor(t, func(us []tg.UpdateClass) bool {
			var n, e, d bool
			for _, u := range us {
				switch u := u.(type) {
				case *tg.UpdateNewChannelMessage:
					n = n || u.Message.GetID() == id
				case *tg.UpdateEditChannelMessage:
					e = e || u.Message.GetID() == id
				case *tg.UpdateDeleteChannelMessages:
					d = d || (len(u.Messages) == 1 && u.Messages[0] == id)
				}
			}
			return n && e && d
		})

		// A dropped push is a real gap: getChannelDifference still has it.
		srv.DropNextPushes(1)
		dropped, _ := srv.PostFromClient(ctx, ch.ID, client.ID, "lost push")
		diff, err := api.UpdatesGetChannelDifference(ctx, &tg.UpdatesGetChannelDifferenceRequest{Channel: in, Filter: &tg.ChannelMessagesFilterEmpty{}, Pts: 2, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		d := diff.(*tg.UpdatesChannelDifference)
		if !d.Final || lastMessageID(d.NewMessages) != dropped || len(d.OtherUpdates) != 2 {
			t.Fatalf("difference = %+v", d)
		}

		hist, err := api.MessagesGetHistory(ctx, &tg.MessagesGetHistoryRequest{Peer: peer, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got := hist.(*tg.MessagesChannelMessages).Messages[0].GetID(); got != dropped {
			t.Fatalf("newest history id = %d, want %d", got, dropped)
		}

		// Injected errors come back as RPC errors, and the connection survives.
		srv.FailNext(tg.MessagesSendMessageRequestTypeID, 1, Err(420, "FLOOD_WAIT_3"))
		_, err = api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer, Message: "x", RandomID: 7})
		if d, ok := tgerr.AsFloodWait(err); !ok || d != 3*time.Second {
			t.Fatalf("err = %v, want FLOOD_WAIT_3", err)
		}
		if _, err := api.UpdatesGetState(ctx); err != nil {
			t.Fatal(err)
		}
		return nil
	})
}

func TestApplyThenCutResendsOnce(t *testing.T) {
	me := srv.AddUser(User{Phone: "+10000000004", FirstName: "Keycare"})
	run(t, nil, func(ctx context.Context, c *telegram.Client) error {
		if err := logIn(ctx, c, me); err != nil {
			t.Fatal(err)
		}
		api := c.API()
		created, err := api.ChannelsCreateChannel(ctx, &tg.ChannelsCreateChannelRequest{Megagroup: true, Title: "T"})
		if err != nil {
			t.Fatal(err)
		}
		ch := created.(*tg.Updates).Chats[0].(*tg.Channel)
		peer := &tg.InputPeerChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash}
		calls := srv.Calls(tg.MessagesSendMessageRequestTypeID)
		srv.ApplyThenCut(tg.MessagesSendMessageRequestTypeID, 1)
		if _, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer, Message: "once", RandomID: 99}); err != nil {
			t.Fatal(err)
		}
		if n := srv.Calls(tg.MessagesSendMessageRequestTypeID) - calls; n < 2 {
			t.Fatalf("sendMessage calls = %d, want a resend", n)
		}
		if n := len(srv.Messages(ch.ID)); n != 1 {
			t.Fatalf("messages = %d, want 1", n)
		}
		return nil
	})
}

func lastMessageID(ms []tg.MessageClass) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].GetID()
}

func TestDocumentsAndKick(t *testing.T) {
	me := srv.AddUser(User{Phone: "+10000000005", FirstName: "Keycare"})
	owner := srv.AddUser(User{FirstName: "Owner"})
	p := &pushes{ch: make(chan struct{}, 1)}
	run(t, p, func(ctx context.Context, c *telegram.Client) error {
		if err := logIn(ctx, c, me); err != nil {
			t.Fatal(err)
		}
		api := c.API()
		ch := srv.CreateChannel(owner.ID, "Files", me.ID)
		in := &tg.InputChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash}
		peer := &tg.InputPeerChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash}

		data := make([]byte, 1<<20+5000)
		for i := range data {
			data[i] = byte(i * 7)
		}
		id, err := srv.PostDocument(ctx, ch.ID, owner.ID, "see attached", "a.bin", "application/octet-stream", data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := api.ChannelsGetMessages(ctx, &tg.ChannelsGetMessagesRequest{Channel: in, ID: []tg.InputMessageClass{&tg.InputMessageID{ID: id}}})
		if err != nil {
			t.Fatal(err)
		}
		m := got.(*tg.MessagesChannelMessages).Messages[0].(*tg.Message)
		doc := m.Media.(*tg.MessageMediaDocument).Document.(*tg.Document)
		if m.Message != "see attached" || doc.Size != int64(len(data)) || doc.MimeType != "application/octet-stream" || doc.Attributes[0].(*tg.DocumentAttributeFilename).FileName != "a.bin" {
			t.Fatalf("message = %+v, document = %+v", m, doc)
		}
		loc := &tg.InputDocumentFileLocation{ID: doc.ID, AccessHash: doc.AccessHash, FileReference: doc.FileReference}
		part := func(offset int64, limit int, precise bool) ([]byte, error) {
			req := &tg.UploadGetFileRequest{Location: loc, Offset: offset, Limit: limit}
			req.SetPrecise(precise)
			r, err := api.UploadGetFile(ctx, req)
			if err != nil {
				return nil, err
			}
			return r.(*tg.UploadFile).Bytes, nil
		}
		for _, tc := range []struct {
			offset  int64
			limit   int
			precise bool
			want    []byte
			err     string
		}{
			{0, 1 << 20, false, data[:1<<20], ""},
			{1 << 20, 1 << 20, false, data[1<<20:], ""}, // the short tail
			{4096, 512 << 10, false, data[4096 : 4096+512<<10], ""},
			{1024, 3072, true, data[1024:4096], ""},
			{2 << 20, 4096, false, []byte{}, ""}, // past the end: empty
			{0, 2 << 20, false, nil, "LIMIT_INVALID"},
			{0, 3072, false, nil, "LIMIT_INVALID"},            // not 4 KiB without precise
			{1<<20 - 4096, 8192, false, nil, "LIMIT_INVALID"}, // crosses 1 MiB
			{100, 4096, true, nil, "OFFSET_INVALID"},
		} {
			b, err := part(tc.offset, tc.limit, tc.precise)
			if tc.err != "" {
				if !tgerr.Is(err, tc.err) {
					t.Errorf("getFile(%d, %d) = %v, want %s", tc.offset, tc.limit, err, tc.err)
				}
				continue
			}
			if err != nil || string(b) != string(tc.want) {
				t.Errorf("getFile(%d, %d) = %d bytes, %v; want %d bytes", tc.offset, tc.limit, len(b), err, len(tc.want))
			}
		}
		loc.AccessHash++
		if _, err := part(0, 4096, false); !tgerr.Is(err, "FILE_ID_INVALID") {
			t.Errorf("getFile with a wrong access hash: %v", err)
		}

		// Kicked: one last updateChannel, then CHANNEL_PRIVATE everywhere.
		if err := srv.Kick(ctx, ch.ID, me.ID); err != nil {
			t.Fatal(err)
		}
		p.waitFor(t, func(us []tg.UpdateClass) bool {
			for _, u := range us {
				if u, ok := u.(*tg.UpdateChannel); ok && u.ChannelID == ch.ID {
					return true
				}
			}
			return false
		})
		if _, err := api.MessagesGetHistory(ctx, &tg.MessagesGetHistoryRequest{Peer: peer, Limit: 1}); !tgerr.Is(err, "CHANNEL_PRIVATE") {
			t.Errorf("history after kick: %v", err)
		}
		if _, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer, Message: "x", RandomID: 1}); !tgerr.Is(err, "CHANNEL_PRIVATE") {
			t.Errorf("send after kick: %v", err)
		}
		if _, err := api.UpdatesGetChannelDifference(ctx, &tg.UpdatesGetChannelDifferenceRequest{Channel: in, Filter: &tg.ChannelMessagesFilterEmpty{}, Limit: 10}); !tgerr.Is(err, "CHANNEL_PRIVATE") {
			t.Errorf("difference after kick: %v", err)
		}
		chs, err := api.ChannelsGetChannels(ctx, []tg.InputChannelClass{in})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := chs.GetChats()[0].(*tg.ChannelForbidden); !ok {
			t.Errorf("getChannels after kick = %T", chs.GetChats()[0])
		}
		if err := srv.Kick(ctx, ch.ID, me.ID); err == nil {
			t.Error("kicked twice")
		}
		// Nothing more is pushed to the kicked account.
		n := func() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.got) }
		before := n()
		if _, err := srv.PostFromClient(ctx, ch.ID, owner.ID, "after the kick"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		if n() != before {
			t.Error("a kicked account got a push")
		}
		return nil
	})
}

func TestApplyThenCutCreatesTwoChannels(t *testing.T) {
	me := srv.AddUser(User{Phone: "+10000000011", FirstName: "Keycare"})
	run(t, nil, func(ctx context.Context, c *telegram.Client) error {
		if err := logIn(ctx, c, me); err != nil {
			t.Fatal(err)
		}
		calls := srv.Calls(tg.ChannelsCreateChannelRequestTypeID)
		srv.ApplyThenCut(tg.ChannelsCreateChannelRequestTypeID, 1)
		res, err := c.API().ChannelsCreateChannel(ctx, &tg.ChannelsCreateChannelRequest{Megagroup: true, Title: "Lost", About: "marker"})
		if err != nil {
			t.Fatal(err)
		}
		// gotd resent the unacknowledged request on the new connection.
		if n := srv.Calls(tg.ChannelsCreateChannelRequestTypeID) - calls; n != 2 {
			t.Fatalf("createChannel calls = %d, want 2", n)
		}
		var mine []Channel
		for _, ch := range srv.Channels() {
			if ch.Creator == me.ID {
				mine = append(mine, ch)
			}
		}
		got := res.(*tg.Updates).Chats[0].(*tg.Channel)
		if len(mine) != 2 || mine[1].ID != got.ID || mine[0].About != "marker" {
			t.Fatalf("channels = %+v, answered %d", mine, got.ID)
		}
		return nil
	})
}

func TestDialogsPageAndFullChannel(t *testing.T) {
	me := srv.AddUser(User{Phone: "+10000000012", FirstName: "Keycare"})
	owner := srv.AddUser(User{FirstName: "Owner"})
	run(t, nil, func(ctx context.Context, c *telegram.Client) error {
		if err := logIn(ctx, c, me); err != nil {
			t.Fatal(err)
		}
		api := c.API()
		want := map[int64]bool{}
		for range 7 {
			want[srv.CreateChannel(owner.ID, "Dialog", me.ID).ID] = true
		}
		srv.CreateChannel(owner.ID, "Not a member") // not among the dialogs
		last := srv.CreateChannel(owner.ID, "Newest", me.ID)
		want[last.ID] = true
		if _, err := srv.PostFromClient(ctx, last.ID, owner.ID, "hi"); err != nil {
			t.Fatal(err)
		}

		got := map[int64]bool{}
		req := &tg.MessagesGetDialogsRequest{OffsetPeer: &tg.InputPeerEmpty{}, Limit: 3}
		for page := 0; ; page++ {
			if page == 10 {
				t.Fatal("paging does not end")
			}
			res, err := api.MessagesGetDialogs(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			slice, ok := res.(*tg.MessagesDialogsSlice)
			if !ok {
				t.Fatalf("page %d is %T, want a slice", page, res)
			}
			if slice.Count != len(want) || len(slice.Chats) != len(slice.Dialogs) || len(slice.Messages) != len(slice.Dialogs) {
				t.Fatalf("page %d = %d of %d dialogs, %d chats, %d messages", page, len(slice.Dialogs), slice.Count, len(slice.Chats), len(slice.Messages))
			}
			if len(slice.Dialogs) == 0 {
				break
			}
			if page == 0 && slice.Chats[0].GetID() != last.ID {
				t.Fatalf("first dialog %d, want the one with the newest message %d", slice.Chats[0].GetID(), last.ID)
			}
			for _, ch := range slice.Chats {
				if got[ch.GetID()] {
					t.Fatalf("channel %d on two pages", ch.GetID())
				}
				got[ch.GetID()] = true
			}
			d := slice.Dialogs[len(slice.Dialogs)-1].(*tg.Dialog)
			ch := slice.Chats[len(slice.Chats)-1].(*tg.Channel)
			m := slice.Messages[len(slice.Messages)-1].(*tg.MessageService)
			if d.TopMessage != m.ID {
				t.Fatalf("dialog top message %d, message %d", d.TopMessage, m.ID)
			}
			req.OffsetID, req.OffsetDate = m.ID, m.Date
			req.OffsetPeer = &tg.InputPeerChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash}
		}
		if len(got) != len(want) {
			t.Fatalf("dialogs = %v, want %v", got, want)
		}
		if all, err := api.MessagesGetDialogs(ctx, &tg.MessagesGetDialogsRequest{OffsetPeer: &tg.InputPeerEmpty{}, Limit: 100}); err != nil {
			t.Fatal(err)
		} else if d, ok := all.(*tg.MessagesDialogs); !ok || len(d.Dialogs) != len(want) {
			t.Fatalf("one page = %T", all)
		}

		if err := srv.SetAbout(last.ID, "Keycare chat-1"); err != nil {
			t.Fatal(err)
		}
		full, err := api.ChannelsGetFullChannel(ctx, &tg.InputChannel{ChannelID: last.ID, AccessHash: last.AccessHash})
		if err != nil {
			t.Fatal(err)
		}
		if f := full.FullChat.(*tg.ChannelFull); f.ID != last.ID || f.About != "Keycare chat-1" {
			t.Fatalf("full channel = %+v", f)
		}
		outsider := srv.CreateChannel(owner.ID, "Private")
		if _, err := api.ChannelsGetFullChannel(ctx, &tg.InputChannel{ChannelID: outsider.ID, AccessHash: outsider.AccessHash}); !tgerr.Is(err, "CHANNEL_PRIVATE") {
			t.Fatalf("full channel of a stranger's group: %v", err)
		}
		return nil
	})
}
