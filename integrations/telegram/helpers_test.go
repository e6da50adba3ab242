package telegram

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/integrations/telegram/tgfake"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/testdb"
)

// fake is the package's one Telegram: key exchange is slow under -race.
var fake *tgfake.Server

// keysFile holds the fake's public key, as TELEGRAM_PUBLIC_KEYS_FILE would.
var keysFile string

func TestMain(m *testing.M) {
	ctx, cancel := context.WithCancel(context.Background())
	var err error
	fake, err = tgfake.Start(ctx, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "tgkeys")
	if err != nil {
		panic(err)
	}
	keysFile = filepath.Join(dir, "keys.pem")
	if err := os.WriteFile(keysFile, fake.PublicKeyPEM(), 0o600); err != nil {
		panic(err)
	}
	code := m.Run()
	fake.Close()
	cancel()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreAnyFunction("database/sql.(*DB).connectionOpener")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// fakeConfig points the integration at the fake through the same settings
// an operator would use.
func fakeConfig(t *testing.T) Config {
	t.Helper()
	cfg, err := ConfigFromEnv(func(k string) string {
		return map[string]string{
			EnvAppID: "17", EnvAppHash: "hash", EnvDCAddr: fake.Addr(), EnvDCID: "2", EnvPublicKeysFile: keysFile,
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const envPostgres = "KEYCARE_TEST_POSTGRES_URL"

// dialects are the databases tests run on here.
func dialects() []string {
	if os.Getenv(envPostgres) != "" {
		return []string{database.SQLite, database.Postgres}
	}
	return []string{database.SQLite}
}

// eachDialect runs fn on every available database, each fresh.
func eachDialect(t *testing.T, fn func(t *testing.T, db *database.DB)) {
	t.Helper()
	for _, d := range dialects() {
		t.Run(d, func(t *testing.T) { fn(t, openDB(t, d)) })
	}
}

// openDB opens a fresh database with the repository's migrations applied,
// so these tests run against the very tables Keycare ships.
func openDB(t *testing.T, dialect string) *database.DB {
	t.Helper()
	return testdb.Open(t, dialect)
}

var phones atomic.Int64

// account is a Keycare Telegram account on the fake, logged in through
// Login with its session in db.
type account struct {
	user     tgfake.User
	sessions *SessionStore
	state    *StateStore
}

func testKeyring(t *testing.T) *Keyring {
	t.Helper()
	k, err := NewKeyring([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var shared struct {
	once    sync.Once
	user    tgfake.User
	session []byte
	err     error
}

// sharedAccount is one Keycare account for the tests that neither revoke
// nor log in: its session bytes are copied into each test's database,
// sparing a key exchange per test. Tests run one at a time.
func sharedAccount(t *testing.T, db *database.DB) account {
	t.Helper()
	shared.once.Do(func() {
		sdb := testdb.Open(t, database.SQLite)
		acct := newAccount(t, sdb)
		shared.user = acct.user
		shared.session, shared.err = acct.sessions.LoadSession(context.Background())
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	store := NewSessionStore(db, "default", testKeyring(t))
	if err := store.StoreSession(context.Background(), shared.session); err != nil {
		t.Fatal(err)
	}
	return account{user: shared.user, sessions: store, state: NewStateStore(db, "default")}
}

func newAccount(t *testing.T, db *database.DB) account {
	t.Helper()
	u := fake.AddUser(tgfake.User{Phone: fmt.Sprintf("+1555%07d", phones.Add(1)), FirstName: "Keycare", Username: fmt.Sprintf("keycare_%d", phones.Load())})
	name := "default"
	store := NewSessionStore(db, name, testKeyring(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := Login(ctx, fakeConfig(t), store, LoginInput{Lines: strings.NewReader(u.Phone + "\n" + u.Code + "\n\n")}, nil); err != nil {
		t.Fatal(err)
	}
	return account{user: u, sessions: store, state: NewStateStore(db, name)}
}

// running is a Client started for a test.
type running struct {
	*Client
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// stop cancels the client and waits for Run to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.stopped {
		return
	}
	r.stopped = true
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		var buf strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		t.Fatalf("client did not stop; goroutines:\n%s", buf.String())
	}
}

func start(t *testing.T, acct account, m chats.Mirror, tweak func(*Options)) *running {
	t.Helper()
	opts := Options{
		Config:         fakeConfig(t),
		Session:        acct.sessions,
		State:          acct.state,
		Mirror:         m,
		Logger:         testLogger(t),
		ReconcileEvery: -1,
		RetryMin:       5 * time.Millisecond,
		RetryMax:       50 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Client: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	select {
	case <-c.Ready():
	case err := <-r.done:
		r.stopped = true
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("client not ready in 30s")
	}
	return r
}

// testLogger writes warnings to the test log, so failures show them.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// recorder is an in-memory chats.Mirror: unique by channel and message id,
// counting redeliveries.
type recorder struct {
	mu          sync.Mutex
	msgs        map[[2]int64]*chats.InboundMessage
	deleted     map[[2]int64]bool
	edits       int
	redelivered int
	members     map[[2]int64]bool
	confirmed   map[int64]int
	channels    []chats.Channel
	failNext    int // fail this many writes, to exercise retries
	failed      int
	changed     chan struct{}
}

func newRecorder() *recorder {
	return &recorder{
		msgs:      map[[2]int64]*chats.InboundMessage{},
		deleted:   map[[2]int64]bool{},
		members:   map[[2]int64]bool{},
		confirmed: map[int64]int{},
		changed:   make(chan struct{}, 1),
	}
}

func (r *recorder) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// fail is called with r.mu held.
func (r *recorder) fail() error {
	if r.failNext > 0 {
		r.failNext--
		r.failed++
		return fmt.Errorf("injected mirror failure")
	}
	return nil
}

func (r *recorder) StoreMessage(_ context.Context, m chats.InboundMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.poke()
	if err := r.fail(); err != nil {
		return err
	}
	k := [2]int64{m.ChannelID, int64(m.MessageID)}
	if _, ok := r.msgs[k]; ok {
		r.redelivered++
		return nil
	}
	r.msgs[k] = &m
	return nil
}

func (r *recorder) StoreEdit(_ context.Context, m chats.InboundMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.poke()
	if err := r.fail(); err != nil {
		return err
	}
	k := [2]int64{m.ChannelID, int64(m.MessageID)}
	r.edits++
	r.msgs[k] = &m
	return nil
}

func (r *recorder) StoreDeletes(_ context.Context, channelID int64, ids []int, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.poke()
	for _, id := range ids {
		r.deleted[[2]int64{channelID, int64(id)}] = true
	}
	return nil
}

func (r *recorder) StoreMembership(_ context.Context, channelID, userID int64, _, _ string, joined bool, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.poke()
	r.members[[2]int64{channelID, userID}] = joined
	return nil
}

func (r *recorder) ConfirmSent(_ context.Context, randomID int64, messageID int, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.poke()
	r.confirmed[randomID] = messageID
	return nil
}

func (r *recorder) KnownMessages(_ context.Context, channelID int64, fromID, toID int) ([]chats.KnownMessage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []chats.KnownMessage
	for k, m := range r.msgs {
		if k[0] == channelID && m.MessageID >= fromID && m.MessageID <= toID {
			out = append(out, chats.KnownMessage{MessageID: m.MessageID, Text: m.Text, EditDate: m.EditDate, Deleted: r.deleted[k]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MessageID < out[j].MessageID })
	return out, nil
}

func (r *recorder) ActiveChannels(context.Context) ([]chats.Channel, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]chats.Channel(nil), r.channels...), nil
}

func (r *recorder) addChannel(g chats.Group) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.channels = append(r.channels, chats.Channel{AccountID: "acc", ChannelID: g.ChannelID, AccessHash: g.AccessHash})
}

func (r *recorder) message(channelID int64, id int) (chats.InboundMessage, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.msgs[[2]int64{channelID, int64(id)}]
	if !ok {
		return chats.InboundMessage{}, false
	}
	return *m, true
}

// waitFor waits until cond holds (checked on every Mirror write), failing
// after timeout with describe's account of what is there.
func (r *recorder) waitFor(t *testing.T, timeout time.Duration, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond(r)
		n := len(r.msgs)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("condition not met in %s (%d messages stored)", timeout, n)
		}
	}
}

// countText counts stored messages in a channel whose text has prefix; the
// caller holds r.mu.
func (r *recorder) countText(channelID int64, prefix string) int {
	n := 0
	for k, m := range r.msgs {
		if k[0] == channelID && strings.HasPrefix(m.Text, prefix) {
			n++
		}
	}
	return n
}
