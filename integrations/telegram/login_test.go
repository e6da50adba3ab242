package telegram

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/session"

	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/integrations/telegram/tgfake"
	"github.com/keycare/keycare/internal/database"
)

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string // the variable the error must name
	}{
		{name: "nothing set is not configured", env: nil, want: Config{}},
		{name: "app id and hash", env: map[string]string{EnvAppID: "123", EnvAppHash: "abc"}, want: Config{AppID: 123, AppHash: "abc", DCID: 2}},
		{name: "test dc", env: map[string]string{EnvAppID: "1", EnvAppHash: "h", EnvTestDC: "1"}, want: Config{AppID: 1, AppHash: "h", TestDC: true, DCID: 2}},
		{name: "custom server", env: map[string]string{EnvAppID: "1", EnvAppHash: "h", EnvDCAddr: "127.0.0.1:443", EnvDCID: "4"}, want: Config{AppID: 1, AppHash: "h", DCAddr: "127.0.0.1:443", DCID: 4}},
		{name: "hash without id", env: map[string]string{EnvAppHash: "h"}, wantErr: EnvAppID},
		{name: "id without hash", env: map[string]string{EnvAppID: "1"}, wantErr: EnvAppHash},
		{name: "id not a number", env: map[string]string{EnvAppID: "x", EnvAppHash: "h"}, wantErr: EnvAppID},
		{name: "bad test dc", env: map[string]string{EnvAppID: "1", EnvAppHash: "h", EnvTestDC: "maybe"}, wantErr: EnvTestDC},
		{name: "bad dc id", env: map[string]string{EnvAppID: "1", EnvAppHash: "h", EnvDCID: "-2"}, wantErr: EnvDCID},
		{name: "bad address", env: map[string]string{EnvAppID: "1", EnvAppHash: "h", EnvDCAddr: "nohost"}, wantErr: EnvDCAddr},
		{name: "missing keys file", env: map[string]string{EnvAppID: "1", EnvAppHash: "h", EnvPublicKeysFile: "/nonexistent/keys.pem"}, wantErr: EnvPublicKeysFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestSessionStoreEncrypts(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		oldKey := bytes.Repeat([]byte{1}, 32)
		newKey := bytes.Repeat([]byte{2}, 32)
		k1, err := NewKeyring(oldKey)
		if err != nil {
			t.Fatal(err)
		}
		store := NewSessionStore(db, "default", k1)
		if _, err := store.LoadSession(ctx); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("empty store: %v, want session.ErrNotFound", err)
		}
		secret := []byte(`{"Version":1,"Data":{"AuthKey":"c2VjcmV0LWF1dGgta2V5"}}`)
		if err := store.StoreSession(ctx, secret); err != nil {
			t.Fatal(err)
		}

		var keyID string
		var raw []byte
		if err := db.Gorm.Raw(`SELECT key_id, data FROM telegram_sessions WHERE name = ?`, "default").Row().Scan(&keyID, &raw); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("AuthKey")) || bytes.Contains(raw, []byte("c2VjcmV0")) {
			t.Fatal("stored bytes contain the plaintext")
		}
		if keyID != KeyID(oldKey) {
			t.Fatalf("key_id = %q, want %q", keyID, KeyID(oldKey))
		}
		got, err := store.LoadSession(ctx)
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("load = %q, %v", got, err)
		}

		t.Run("wrong key fails clearly", func(t *testing.T) {
			k2, _ := NewKeyring(newKey)
			_, err := NewSessionStore(db, "default", k2).LoadSession(ctx)
			if !errors.Is(err, ErrSessionKey) || !strings.Contains(err.Error(), KeyID(oldKey)) {
				t.Fatalf("err = %v, want ErrSessionKey naming key %s", err, KeyID(oldKey))
			}
		})
		t.Run("tampered row fails", func(t *testing.T) {
			bad := append([]byte(nil), raw...)
			bad[len(bad)-1] ^= 1
			if err := db.Gorm.Exec(`UPDATE telegram_sessions SET data = ? WHERE name = ?`, bad, "default").Error; err != nil {
				t.Fatal(err)
			}
			if _, err := store.LoadSession(ctx); !errors.Is(err, ErrSessionKey) {
				t.Fatalf("err = %v, want ErrSessionKey", err)
			}
			if err := db.Gorm.Exec(`UPDATE telegram_sessions SET data = ? WHERE name = ?`, raw, "default").Error; err != nil {
				t.Fatal(err)
			}
		})
		t.Run("rotation", func(t *testing.T) {
			k2, _ := NewKeyring(newKey, oldKey)
			rotated := NewSessionStore(db, "default", k2)
			if err := rotated.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := rotated.LoadSession(ctx)
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("load after rotate = %q, %v", got, err)
			}
			if _, err := store.LoadSession(ctx); !errors.Is(err, ErrSessionKey) {
				t.Fatalf("old key after rotation: %v, want ErrSessionKey", err)
			}
		})
		if _, err := NewKeyring([]byte("short")); err == nil {
			t.Fatal("a short key was accepted")
		}
	})
}

func TestLoginFromLines(t *testing.T) {
	db := openDB(t, database.SQLite)
	cfg := fakeConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	guarded := fake.AddUser(tgfake.User{Phone: "+15550000001", FirstName: "Key", LastName: "Care", Username: "keycare_bot_account", Code: "24680", Password: "correct horse"})

	// One store for every attempt, as an operator retrying would have: the
	// auth key survives a failed attempt.
	store := NewSessionStore(db, "default", testKeyring(t))
	t.Run("wrong code", func(t *testing.T) {
		_, err := Login(ctx, cfg, store, LoginInput{Lines: strings.NewReader(guarded.Phone + "\n11111\n")}, nil)
		if err == nil || !strings.Contains(err.Error(), "code is wrong") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("2FA account given no password", func(t *testing.T) {
		_, err := Login(ctx, cfg, store, LoginInput{Phone: guarded.Phone, Lines: strings.NewReader(guarded.Code + "\n\n")}, nil)
		if !errors.Is(err, errNoPassword) {
			t.Fatalf("err = %v, want errNoPassword", err)
		}
	})

	var prompts bytes.Buffer
	res, err := Login(ctx, cfg, store, LoginInput{
		Lines:   strings.NewReader(guarded.Phone + "\n" + guarded.Code + "\n" + guarded.Password + "\n"),
		Prompts: &prompts,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.UserID != guarded.ID || res.Name != "Key Care" || res.Already {
		t.Fatalf("result = %+v", res)
	}
	if strings.Contains(prompts.String(), guarded.Phone) {
		t.Fatal("the phone number was echoed")
	}
	if n := strings.Count(prompts.String(), "\n"); n != 0 || !strings.Contains(prompts.String(), "2FA password") {
		t.Fatalf("prompts = %q", prompts.String())
	}

	// The session was stored, encrypted; the next login reuses it.
	again, err := Login(ctx, cfg, store, LoginInput{}, nil)
	if err != nil || !again.Already || again.UserID != guarded.ID {
		t.Fatalf("second login = %+v, %v", again, err)
	}
	st, err := Probe(ctx, cfg, store, nil)
	if err != nil || st != StatusConnected {
		t.Fatalf("probe = %s, %v", st, err)
	}

	// Telegram revokes the session: logged out.
	fake.Revoke(guarded.ID)
	st, err = Probe(ctx, cfg, store, nil)
	if st != StatusLoggedOut {
		t.Fatalf("probe after revoke = %s, %v", st, err)
	}
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, database.SQLite)

	t.Run("not configured", func(t *testing.T) {
		c, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if st, _ := c.Status(); st != StatusNotConfigured {
			t.Fatalf("status = %s", st)
		}
		if st, _ := Probe(ctx, Config{}, nil, nil); st != StatusNotConfigured {
			t.Fatalf("probe = %s", st)
		}
		_, err = c.Transport().Send(ctx, chatsGroup(1, 1), "x", 0, 1)
		if kindOf(err) != "unauthorized" {
			t.Fatalf("send err = %v", err)
		}
	})
	t.Run("no session", func(t *testing.T) {
		store := NewSessionStore(db, "nobody", testKeyring(t))
		if st, err := Probe(ctx, fakeConfig(t), store, nil); st != StatusLoggedOut || err != nil {
			t.Fatalf("probe = %s, %v", st, err)
		}
		c, err := New(Options{Config: fakeConfig(t), Session: store, Mirror: newRecorder()})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Run(ctx); !errors.Is(err, ErrLoggedOut) {
			t.Fatalf("Run = %v, want ErrLoggedOut", err)
		}
		if st, _ := c.Status(); st != StatusLoggedOut {
			t.Fatalf("status = %s", st)
		}
		if _, err := c.Transport().CreateGroup(ctx, "x", ""); kindOf(err) != "unauthorized" {
			t.Fatalf("create group: %v, want unauthorized", err)
		}
	})
	t.Run("connected, then revoked", func(t *testing.T) {
		acct := newAccount(t, db)
		r := start(t, acct, newRecorder(), nil)
		if st, err := r.Status(); st != StatusConnected {
			t.Fatalf("status = %s, %v", st, err)
		}
		fake.Revoke(acct.user.ID)
		_, err := r.Transport().ExportInvite(ctx, chatsGroup(1, 1))
		if kindOf(err) != "unauthorized" {
			t.Fatalf("err = %v, want unauthorized", err)
		}
		if st, _ := r.Status(); st != StatusLoggedOut {
			t.Fatalf("status = %s, want logged_out", st)
		}
	})
}

// TestLogsCarryNoSecrets runs a login and some traffic with every log at
// debug level, and looks for the phone number, the code and message text.
func TestLogsCarryNoSecrets(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, database.SQLite)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	u := fake.AddUser(tgfake.User{Phone: "+15557770123", FirstName: "Secretive", Code: "97531"})
	store := NewSessionStore(db, "default", testKeyring(t))
	if _, err := Login(ctx, fakeConfig(t), store, LoginInput{Lines: strings.NewReader(u.Phone + "\n" + u.Code + "\n\n")}, log); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	rec.failNext = 2 // failed writes are logged, with their error
	r := start(t, account{user: u, sessions: store, state: NewStateStore(db, "default")}, rec, func(o *Options) { o.Logger = log })
	g, client := groupWithClient(t, r, rec)
	if _, err := r.Transport().Send(ctx, g, "outgoing secret text", 0, 5); err != nil {
		t.Fatal(err)
	}
	id, err := fake.PostFromClient(ctx, g.ChannelID, client.ID, "incoming secret text")
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 10*time.Second, func(r *recorder) bool { _, ok := r.msgs[[2]int64{g.ChannelID, int64(id)}]; return ok })
	if _, err := r.ReconcileChannel(ctx, chats.Channel{ChannelID: g.ChannelID, AccessHash: g.AccessHash}); err != nil {
		t.Fatal(err)
	}
	r.stop(t)
	out := logs.String()
	if !strings.Contains(out, "retrying") {
		t.Fatal("expected the failed writes to be logged")
	}
	for _, secret := range []string{u.Phone, strings.TrimPrefix(u.Phone, "+"), u.Code, "secret text"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
