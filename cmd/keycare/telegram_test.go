package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/tg"

	"github.com/keycare/keycare/integrations/telegram/tgfake"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/testdb"
)

// telegramWorld is Keycare started against the fake Telegram, logged in
// through `keycare telegram login` exactly as an operator would.
type telegramWorld struct {
	*service
	fake          *tgfake.Server
	keycare, anna tgfake.User
	ivan          tgfake.User
	teamChat      int64 // the team's internal group, KEYCARE_TEAM_CHAT
}

func startWithTelegram(t *testing.T, dialect string, extraEnv ...string) *telegramWorld {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	fake, err := tgfake.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	w := &telegramWorld{fake: fake}
	w.keycare = fake.AddUser(tgfake.User{Username: "keycare_care", FirstName: "Keycare", Phone: "+15550000001"})
	w.anna = fake.AddUser(tgfake.User{Username: "anna_care", FirstName: "Anna"})
	w.ivan = fake.AddUser(tgfake.User{Username: "ivan_acme", FirstName: "Ivan"})
	w.teamChat = fake.CreateChannel(w.anna.ID, "Care team", w.keycare.ID).ID

	dir := t.TempDir()
	keys := filepath.Join(dir, "telegram.pem")
	if err := os.WriteFile(keys, fake.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"KEYCARE_DATA_DIR": dir, "KEYCARE_LOG_LEVEL": "error", "KEYCARE_COMPANY_NAME": "Northwind",
		"TELEGRAM_APP_ID": "17349", "TELEGRAM_APP_HASH": "344583e45741c457fe1862106095a5eb",
		"TELEGRAM_DC_ADDR": fake.Addr(), "TELEGRAM_PUBLIC_KEYS_FILE": keys,
		"KEYCARE_TEAM_CHAT": strconv.FormatInt(w.teamChat, 10),
	}
	if dialect == database.Postgres {
		u, err := testdb.Schema(t)
		if err != nil {
			t.Fatal(err)
		}
		env["DATABASE_URL"] = u
	}
	for i := 0; i+1 < len(extraEnv); i += 2 {
		env[extraEnv[i]] = extraEnv[i+1]
	}
	// Log in: phone from the flag, then the code, then an empty 2FA line.
	var out bytes.Buffer
	if err := run(ctx, []string{"telegram", "login", "--phone", w.keycare.Phone}, func(k string) string { return env[k] }, strings.NewReader("12345\n\n"), &out, &bytes.Buffer{}); err != nil {
		t.Fatalf("telegram login: %v (%s)", err, out.String())
	}
	if !strings.Contains(out.String(), "Logged in as Keycare") || strings.Contains(out.String(), w.keycare.Phone) {
		t.Errorf("login output: %q", out.String())
	}
	w.service = start(t, dialect, func(c *Config) {
		loaded, err := LoadConfig(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		loaded.Addr, loaded.RateLimit, loaded.RateBurst = c.Addr, c.RateLimit, c.RateBurst
		*c = loaded
	})
	return w
}

// eventually waits for cond, failing the test after a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not waiting for time to pass
	}
}

// activeChat creates a manager, an account and its group, and waits until
// the group is active. It returns the account id, the manager's token and
// the group's channel id.
func (w *telegramWorld) activeChat(t *testing.T) (acc, token string, channelID int64) {
	t.Helper()
	s := w.service
	anna := s.must(201, "POST", "/api/v1/users", s.admin, map[string]any{"name": "Anna Petrova", "email": "anna@example.com", "role": "manager", "telegram_username": "anna_care", "telegram_user_id": w.anna.ID})
	token = s.must(201, "POST", "/api/v1/users/"+anna["id"].(string)+"/tokens", s.admin, nil)["token"].(string)
	acc = s.must(201, "POST", "/api/v1/accounts", s.admin, map[string]any{"name": "Acme", "currency": "EUR", "owner_id": anna["id"]})["id"].(string)
	s.must(201, "POST", "/api/v1/accounts/"+acc+"/contacts", token, map[string]any{"name": "Ivan", "telegram_username": "ivan_acme"})
	s.must(202, "POST", "/api/v1/accounts/"+acc+"/chat", token, nil)
	var chat map[string]any
	eventually(t, "the chat to become active", func() bool {
		chat = s.must(200, "GET", "/api/v1/accounts/"+acc+"/chat", token, nil)
		if chat["status"] == "failed" {
			t.Fatalf("chat failed: %v", chat["last_error"])
		}
		return chat["status"] == "active"
	})
	id, err := strconv.ParseInt(chat["telegram_id"].(string), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return acc, token, id
}

// messageStatus returns the status and error of a message by id.
func (w *telegramWorld) messageStatus(acc, token, id string) (status, reason string) {
	for cursor := ""; ; {
		l := w.must(200, "GET", "/api/v1/accounts/"+acc+"/messages?limit=200&cursor="+cursor, token, nil)
		for _, it := range l["items"].([]any) {
			if m := it.(map[string]any); m["id"] == id {
				r, _ := m["error"].(string)
				return m["status"].(string), r
			}
		}
		if cursor, _ = l["next_cursor"].(string); cursor == "" {
			return "", ""
		}
	}
}

func (w *telegramWorld) posts(channelID int64, text string) int {
	n := 0
	for _, m := range w.fake.Messages(channelID) {
		if m.Message == text {
			n++
		}
	}
	return n
}

func TestSendHonoursFloodWait(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		w := startWithTelegram(t, dialect)
		acc, token, channelID := w.activeChat(t)
		w.fake.FailNext(tg.MessagesSendMessageRequestTypeID, 1, tgfake.Err(420, "FLOOD_WAIT_2"))
		before := w.fake.Calls(tg.MessagesSendMessageRequestTypeID)
		start := time.Now()
		id := w.must(202, "POST", "/api/v1/accounts/"+acc+"/messages", token, map[string]any{"text": "after the flood"})["id"].(string)
		eventually(t, "the refused first attempt", func() bool { return w.fake.Calls(tg.MessagesSendMessageRequestTypeID) > before })
		// The wait is the account's: a second reply does not call Telegram during it either.
		other := w.must(202, "POST", "/api/v1/accounts/"+acc+"/messages", token, map[string]any{"text": "during the flood"})["id"].(string)
		eventually(t, "the second reply to be sent", func() bool { st, _ := w.messageStatus(acc, token, other); return st == "sent" })
		if elapsed := time.Since(start); elapsed < 2*time.Second {
			t.Errorf("a second reply was sent %s into a 2 s FLOOD_WAIT", elapsed)
		}
		eventually(t, "the reply to be sent", func() bool { st, _ := w.messageStatus(acc, token, id); return st == "sent" })
		if elapsed := time.Since(start); elapsed < 2*time.Second {
			t.Errorf("sent %s after FLOOD_WAIT_2: the wait was not honoured", elapsed)
		}
		if calls := w.fake.Calls(tg.MessagesSendMessageRequestTypeID) - before; calls != 3 {
			t.Errorf("sendMessage called %d times, want 3 (refused, then both after the wait)", calls)
		}
		if n := w.posts(channelID, "after the flood"); n != 1 {
			t.Errorf("posted %d times", n)
		}
	})
}

func TestPeerFloodStopsSendingAndAlerts(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		w := startWithTelegram(t, dialect)
		acc, token, channelID := w.activeChat(t)
		w.fake.FailNext(tg.MessagesSendMessageRequestTypeID, 1, tgfake.Err(400, "PEER_FLOOD"))
		first := w.must(202, "POST", "/api/v1/accounts/"+acc+"/messages", token, map[string]any{"text": "one"})["id"].(string)
		eventually(t, "the reply to fail", func() bool { st, _ := w.messageStatus(acc, token, first); return st == "failed" })
		calls := w.fake.Calls(tg.MessagesSendMessageRequestTypeID)
		second := w.must(202, "POST", "/api/v1/accounts/"+acc+"/messages", token, map[string]any{"text": "two"})["id"].(string)
		eventually(t, "the next reply to fail without trying", func() bool { st, _ := w.messageStatus(acc, token, second); return st == "failed" })
		if _, why := w.messageStatus(acc, token, second); !strings.Contains(why, "sending is stopped") {
			t.Errorf("second reply failed with %q", why)
		}
		if n := w.fake.Calls(tg.MessagesSendMessageRequestTypeID); n != calls {
			t.Errorf("Telegram was called %d more times after PEER_FLOOD", n-calls)
		}
		alerts := w.must(200, "GET", "/api/v1/audit?entity=chat", w.admin, nil)["items"].([]any)
		found := false
		for _, a := range alerts {
			found = found || a.(map[string]any)["action"] == "telegram.sending_stopped"
		}
		if !found {
			t.Error("no alert recorded for PEER_FLOOD")
		}
		if w.posts(channelID, "one")+w.posts(channelID, "two") != 0 {
			t.Error("a refused reply was posted")
		}
	})
}

func TestMediaAndLostAccess(t *testing.T) {
	w := startWithTelegram(t, database.SQLite)
	acc, token, channelID := w.activeChat(t)
	data := bytes.Repeat([]byte("%PDF-1.7 keycare "), 20000) // 340 KB
	if _, err := w.fake.PostDocument(context.Background(), channelID, w.ivan.ID, "the signed contract", "contract.pdf", "application/pdf", data); err != nil {
		t.Fatal(err)
	}
	var id string
	eventually(t, "the document to be mirrored", func() bool {
		for _, it := range w.must(200, "GET", "/api/v1/accounts/"+acc+"/messages", token, nil)["items"].([]any) {
			if m := it.(map[string]any); m["text"] == "the signed contract" && m["media"] != nil {
				id = m["id"].(string)
				return true
			}
		}
		return false
	})
	res := w.call("GET", "/api/v1/accounts/"+acc+"/messages/"+id+"/media", token, nil)
	if res.Status != 200 || !bytes.Equal(res.Body, data) || res.Header.Get("Content-Type") != "application/pdf" || !strings.Contains(res.Header.Get("Content-Disposition"), "contract.pdf") {
		t.Fatalf("media: %d, %d bytes, %v", res.Status, len(res.Body), res.Header)
	}
	// A viewer never gets client files.
	_, viewer := w.member("Vera", "viewer")
	if r := w.call("GET", "/api/v1/accounts/"+acc+"/messages/"+id+"/media", viewer, nil); r.Status != 403 {
		t.Errorf("viewer: %d", r.Status)
	}

	// The client's admins remove Keycare from the group: the chat is flagged once.
	if err := w.fake.Kick(context.Background(), channelID, w.keycare.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the chat to be flagged lost_access", func() bool {
		return w.must(200, "GET", "/api/v1/accounts/"+acc+"/chat", token, nil)["status"] == "lost_access"
	})
	if r := w.call("POST", "/api/v1/accounts/"+acc+"/messages", token, map[string]any{"text": "hello?"}); r.Status != 409 {
		t.Errorf("send to a lost chat: %d", r.Status)
	}
	var alerts int64
	w.main.DB.Gorm.Table("audit_events").Where("action = 'chat.lost_access'").Count(&alerts)
	if alerts != 1 {
		t.Errorf("%d lost-access alerts", alerts)
	}
}

func TestRevokedSessionStopsSending(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		w := startWithTelegram(t, dialect)
		acc, token, channelID := w.activeChat(t)
		w.fake.Revoke(w.keycare.ID) // the session is terminated from another device
		id := w.must(202, "POST", "/api/v1/accounts/"+acc+"/messages", token, map[string]any{"text": "are you there?"})["id"].(string)
		eventually(t, "the reply to fail", func() bool { st, _ := w.messageStatus(acc, token, id); return st == "failed" })
		eventually(t, "the integration to report logged_out", func() bool {
			return w.must(200, "GET", "/api/v1/integrations", w.admin, nil)["telegram"].(map[string]any)["status"] == "logged_out"
		})
		if n := w.posts(channelID, "are you there?"); n != 0 {
			t.Errorf("posted %d times with a revoked session", n)
		}
		found := false
		for _, a := range w.must(200, "GET", "/api/v1/audit?entity=chat", w.admin, nil)["items"].([]any) {
			found = found || a.(map[string]any)["action"] == "telegram.sending_stopped"
		}
		if !found {
			t.Error("no alert for the revoked session")
		}
	})
}

// Connections are cut after the server applied some posts and before it
// answered: every reply is retried with its random_id, so each is posted once.
func TestRepliesSurviveCutConnections(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		w := startWithTelegram(t, dialect)
		acc, token, channelID := w.activeChat(t)
		const replies = 200
		w.fake.ApplyThenCut(tg.MessagesSendMessageRequestTypeID, 15)
		ids := make([]string, replies)
		for i := range ids {
			ids[i] = w.must(202, "POST", "/api/v1/accounts/"+acc+"/messages", token, map[string]any{"text": fmt.Sprintf("reply %03d", i)})["id"].(string)
		}
		eventually(t, "every reply to be sent", func() bool {
			var pending int64
			w.main.DB.Gorm.Table("messages").Where("status = 'pending'").Count(&pending)
			return pending == 0
		})
		// The cuts happened: requests whose answer was lost were sent again.
		if calls := w.fake.Calls(tg.MessagesSendMessageRequestTypeID); calls <= replies+1 {
			t.Errorf("sendMessage called %d times for %d replies and a welcome: no connection was cut", calls, replies)
		}
		var failed int64
		w.main.DB.Gorm.Table("messages").Where("status = 'failed'").Count(&failed)
		if failed != 0 {
			t.Errorf("%d replies failed", failed)
		}
		for i := 0; i < replies; i++ {
			if n := w.posts(channelID, fmt.Sprintf("reply %03d", i)); n != 1 {
				t.Errorf("reply %03d posted %d times", i, n)
			}
		}
	})
}

func TestAdoptImportsHistory(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		w := startWithTelegram(t, dialect)
		s := w.service
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("service warnings and errors:\n%s", s.errorLines())
			}
		})
		// The team already talks to the client in a group of its own.
		ch := w.fake.CreateChannel(w.anna.ID, "Acme support", w.ivan.ID)
		ctx := context.Background()
		for i := 0; i < 30; i++ {
			if _, err := w.fake.PostFromClient(ctx, ch.ID, w.ivan.ID, fmt.Sprintf("old question %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		acc := s.must(201, "POST", "/api/v1/accounts", s.admin, map[string]any{"name": "Acme", "currency": "EUR"})["id"].(string)
		if r := s.call("POST", "/api/v1/accounts/"+acc+"/chat/adopt", s.admin, map[string]any{"invite_link": "not a link"}); r.Status != 400 || r.field() != "invite_link" {
			t.Errorf("bad link: %d %s", r.Status, r.Body)
		}
		s.must(202, "POST", "/api/v1/accounts/"+acc+"/chat/adopt", s.admin, map[string]any{"invite_link": w.fake.InviteLink(ch.ID)})
		eventually(t, "the adopted chat to be active with its history", func() bool {
			chat := s.must(200, "GET", "/api/v1/accounts/"+acc+"/chat", s.admin, nil)
			if chat["status"] == "failed" {
				t.Fatalf("adopt failed: %v", chat["last_error"])
			}
			var n int64
			s.main.DB.Gorm.Table("messages").Where("account_id = ? AND text LIKE 'old question %'", acc).Count(&n)
			return chat["status"] == "active" && n == 30
		})
		// The history reads in order, newest first like any message list
		// (Keycare's own join, a service message, may come first).
		var items []any
		for _, it := range s.must(200, "GET", "/api/v1/accounts/"+acc+"/messages?limit=5", s.admin, nil)["items"].([]any) {
			if svc, _ := it.(map[string]any)["service"].(string); svc == "" {
				items = append(items, it)
			}
		}
		if len(items) < 2 || items[0].(map[string]any)["text"] != "old question 29" || items[1].(map[string]any)["text"] != "old question 28" {
			t.Errorf("imported history out of order: %v", items)
		}
		// From now on it is mirrored like any other.
		if _, err := w.fake.PostFromClient(ctx, ch.ID, w.ivan.ID, "new question"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the new message", func() bool {
			var n int64
			s.main.DB.Gorm.Table("messages").Where("account_id = ? AND text = 'new question'", acc).Count(&n)
			return n == 1
		})
		if r := s.call("POST", "/api/v1/accounts/"+acc+"/chat/adopt", s.admin, map[string]any{"telegram_id": "123"}); r.Status != 409 {
			t.Errorf("second adopt: %d", r.Status)
		}
	})
}

// Keycare is stopped in the middle of a burst whose pushes are partly lost,
// then started again on the same database: every message is stored exactly once.
func TestRestartMidBurstLosesNothing(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		w := startWithTelegram(t, dialect)
		acc, _, channelID := w.activeChat(t)
		cfg := w.main.Config
		w.fake.SetDropRatio(0.05, 7)
		ctx := context.Background()
		const total = 600
		for i := 0; i < total; i++ {
			if i == total/2 {
				if err := w.main.Close(); err != nil { // the service goes down mid-burst
					t.Fatal(err)
				}
			}
			if _, err := w.fake.PostFromClient(ctx, channelID, w.ivan.ID, fmt.Sprintf("burst %04d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if w.fake.Dropped() == 0 {
			t.Fatal("no push was dropped: the test proves nothing")
		}
		m := &Main{Config: cfg, Log: w.main.Log, Stdout: io.Discard}
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		count := func(q string) int64 {
			var n int64
			m.DB.Gorm.Raw(q, acc).Scan(&n)
			return n
		}
		eventually(t, "every message after the restart", func() bool {
			return count("SELECT count(*) FROM messages WHERE account_id = ? AND text LIKE 'burst %'") == total
		})
		if d := count("SELECT count(*) - count(DISTINCT text) FROM messages WHERE account_id = ? AND text LIKE 'burst %'"); d != 0 {
			t.Errorf("%d duplicates", d)
		}
	})
}

func TestNewOwnerJoinsTheGroup(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		w := startWithTelegram(t, dialect)
		acc, _, channelID := w.activeChat(t)
		boris := w.fake.AddUser(tgfake.User{Username: "boris_care", FirstName: "Boris"})
		b := w.must(201, "POST", "/api/v1/users", w.admin, map[string]any{"name": "Boris", "email": "boris@example.com", "role": "manager", "telegram_username": "boris_care", "telegram_user_id": boris.ID})
		w.must(200, "PATCH", "/api/v1/accounts/"+acc, w.admin, map[string]any{"owner_id": b["id"]})
		eventually(t, "the new owner to be an admin of the group", func() bool {
			ch, _ := w.fake.Channel(channelID)
			return ch.Members[boris.ID] && ch.Admins[boris.ID]
		})
		if ch, _ := w.fake.Channel(channelID); !ch.Members[w.anna.ID] {
			t.Error("the previous owner was removed")
		}
	})
}

func TestChatCreationLimits(t *testing.T) {
	w := startWithTelegram(t, database.SQLite, "KEYCARE_CHAT_DAILY_CAP", "1")
	s := w.service
	mk := func(name string) string {
		return s.must(201, "POST", "/api/v1/accounts", s.admin, map[string]any{"name": name, "currency": "EUR"})["id"].(string)
	}
	// Telegram refuses: the account is in too many groups. The chat fails with the reason; no retry loop.
	w.fake.FailNext(tg.ChannelsCreateChannelRequestTypeID, 1, tgfake.Err(400, "CHANNELS_TOO_MUCH"))
	full := mk("Full")
	s.must(202, "POST", "/api/v1/accounts/"+full+"/chat", s.admin, nil)
	eventually(t, "the chat to fail", func() bool {
		return s.must(200, "GET", "/api/v1/accounts/"+full+"/chat", s.admin, nil)["status"] == "failed"
	})
	if c := s.must(200, "GET", "/api/v1/accounts/"+full+"/chat", s.admin, nil); !strings.Contains(c["last_error"].(string), "CHANNELS_TOO_MUCH") {
		t.Errorf("last_error = %v", c["last_error"])
	}
	// Asking again retries the failed creation.
	s.must(202, "POST", "/api/v1/accounts/"+full+"/chat", s.admin, nil)
	eventually(t, "the retried chat to become active", func() bool {
		return s.must(200, "GET", "/api/v1/accounts/"+full+"/chat", s.admin, nil)["status"] == "active"
	})

	// The daily cap of 1 is used: the next group waits for tomorrow.
	capped := mk("Capped")
	s.must(202, "POST", "/api/v1/accounts/"+capped+"/chat", s.admin, nil)
	calls := w.fake.Calls(tg.ChannelsCreateChannelRequestTypeID)
	eventually(t, "the job to be snoozed to tomorrow", func() bool {
		var n int64
		s.main.DB.Gorm.Table("river_job").Where("kind = 'chat_create' AND state = 'scheduled'").Count(&n)
		return n == 1
	})
	if c := s.must(200, "GET", "/api/v1/accounts/"+capped+"/chat", s.admin, nil); c["status"] != "creating" || w.fake.Calls(tg.ChannelsCreateChannelRequestTypeID) != calls {
		t.Errorf("over the cap: status %v, createChannel calls %d → %d", c["status"], calls, w.fake.Calls(tg.ChannelsCreateChannelRequestTypeID))
	}
}

func TestTelegramEndToEnd(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		w := startWithTelegram(t, dialect)
		s := w.service
		if st := s.must(200, "GET", "/api/v1/integrations", s.admin, nil)["telegram"].(map[string]any)["status"]; st != "connected" {
			eventually(t, "telegram connected", func() bool {
				return s.must(200, "GET", "/api/v1/integrations", s.admin, nil)["telegram"].(map[string]any)["status"] == "connected"
			})
		}
		anna := s.must(201, "POST", "/api/v1/users", s.admin, map[string]any{"name": "Anna Petrova", "email": "anna@example.com", "role": "manager", "telegram_username": "anna_care", "telegram_user_id": w.anna.ID})
		annaTok := s.must(201, "POST", "/api/v1/users/"+anna["id"].(string)+"/tokens", s.admin, nil)["token"].(string)
		acc := s.must(201, "POST", "/api/v1/accounts", s.admin, map[string]any{"name": "Acme", "currency": "EUR", "owner_id": anna["id"]})["id"].(string)
		s.must(201, "POST", "/api/v1/accounts/"+acc+"/contacts", annaTok, map[string]any{"name": "Ivan", "telegram_username": "ivan_acme"})

		// Create the group: 202, and a repeat does not make a second one.
		s.must(202, "POST", "/api/v1/accounts/"+acc+"/chat", annaTok, nil)
		var chat map[string]any
		eventually(t, "the chat to become active", func() bool {
			chat = s.must(200, "GET", "/api/v1/accounts/"+acc+"/chat", annaTok, nil)
			if chat["status"] == "failed" {
				t.Fatalf("chat failed: %v", chat["last_error"])
			}
			return chat["status"] == "active"
		})
		s.must(200, "POST", "/api/v1/accounts/"+acc+"/chat", annaTok, nil)
		if n := w.fake.Calls(tg.ChannelsCreateChannelRequestTypeID); n != 1 {
			t.Errorf("createChannel called %d times", n)
		}
		var channelID int64
		for _, c := range []byte(chat["telegram_id"].(string)) {
			channelID = channelID*10 + int64(c-'0')
		}
		ch, ok := w.fake.Channel(channelID)
		if !ok || ch.Title != "Acme × Northwind" || !ch.Members[w.anna.ID] || !ch.Admins[w.anna.ID] || !ch.Members[w.ivan.ID] {
			t.Fatalf("group on Telegram: %+v", ch)
		}
		if !strings.HasPrefix(chat["invite_link"].(string), "https://t.me/+") {
			t.Errorf("invite link %v", chat["invite_link"])
		}
		msgs := w.fake.Messages(channelID)
		if len(msgs) != 1 || !strings.Contains(msgs[0].Message, "Anna Petrova") {
			t.Fatalf("welcome: %+v", msgs)
		}

		// A client writes in Telegram: the message is mirrored and classified.
		if _, err := w.fake.PostFromClient(context.Background(), channelID, w.ivan.ID, "Hello, our invoices are wrong"); err != nil {
			t.Fatal(err)
		}
		var items []any
		eventually(t, "the client's message to be mirrored", func() bool {
			items = s.must(200, "GET", "/api/v1/accounts/"+acc+"/messages", annaTok, nil)["items"].([]any)
			for _, it := range items {
				if it.(map[string]any)["text"] == "Hello, our invoices are wrong" {
					return true
				}
			}
			return false
		})
		for _, it := range items {
			m := it.(map[string]any)
			if m["text"] == "Hello, our invoices are wrong" && (m["side"] != "client" || m["sender"].(map[string]any)["kind"] != "contact") {
				t.Errorf("client message classified as %v", m)
			}
		}

		// Anna answers through the API, twice with one Idempotency-Key: one post.
		body := map[string]any{"text": "We are on it, Ivan."}
		first := s.call("POST", "/api/v1/accounts/"+acc+"/messages", annaTok, body, "Idempotency-Key", "reply-1")
		second := s.call("POST", "/api/v1/accounts/"+acc+"/messages", annaTok, body, "Idempotency-Key", "reply-1")
		if first.Status != 202 || second.Status != 202 || !bytes.Equal(first.Body, second.Body) || second.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("idempotent send: %d %s / %d %s", first.Status, first.Body, second.Status, second.Body)
		}
		if r := s.call("POST", "/api/v1/accounts/"+acc+"/messages", annaTok, map[string]any{"text": "other"}, "Idempotency-Key", "reply-1"); r.Status != 422 {
			t.Errorf("same key, other body: %d", r.Status)
		}
		id := first.json(t)["id"].(string)
		eventually(t, "the reply to be sent", func() bool {
			for _, it := range s.must(200, "GET", "/api/v1/accounts/"+acc+"/messages", annaTok, nil)["items"].([]any) {
				if m := it.(map[string]any); m["id"] == id {
					if m["status"] == "failed" {
						t.Fatalf("send failed: %v", m["error"])
					}
					return m["status"] == "sent"
				}
			}
			return false
		})
		posted := 0
		for _, m := range w.fake.Messages(channelID) {
			if m.Message == "We are on it, Ivan." {
				posted++
			}
		}
		if posted != 1 {
			t.Errorf("the reply was posted %d times", posted)
		}

		// Archive: the group stays, Keycare stops mirroring and sending.
		if st := s.must(200, "POST", "/api/v1/accounts/"+acc+"/chat/archive", s.admin, nil)["status"]; st != "archived" {
			t.Errorf("archive: %v", st)
		}
		if r := s.call("POST", "/api/v1/accounts/"+acc+"/messages", annaTok, map[string]any{"text": "still there?"}); r.Status != 409 {
			t.Errorf("send to archived chat: %d", r.Status)
		}
	})
}
