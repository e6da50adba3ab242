// Package tgfake is a small in-process Telegram for tests: gotd's tgtest
// MTProto server (real key exchange and encryption) on a loopback listener,
// answering the RPCs Keycare uses from an in-memory model of users,
// supergroups and their messages.
//
// The model follows Telegram where Keycare depends on it: every channel event
// (new message, edit, delete) advances the channel's pts, pushes carry
// pts/pts_count plus the Users and Chats they mention, getChannelDifference
// replays events after a pts, and a repeated random_id returns the original
// message instead of posting twice. Test hooks post as a client (text or a
// document, whose bytes upload.getFile serves), edit, delete, kick a member,
// drop pushes (a real gap: stored and pts advanced, not sent), cut
// connections, and inject errors per method.
//
// Start one Server per test package (key exchange costs about a second under
// -race) and register a fresh user per test.
package tgfake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgtest"
	"github.com/gotd/td/transport"
)

// DC is the data centre id the fake claims to be.
const DC = 2

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
	keyErr  error
)

// privateKey returns the server key, generated once per process: RSA
// generation is slow and every Server may share it.
func privateKey() (*rsa.PrivateKey, error) {
	keyOnce.Do(func() { key, keyErr = rsa.GenerateKey(rand.Reader, 2048) })
	return key, keyErr
}

// Server is the fake Telegram. Its zero value is not usable: call Start.
type Server struct {
	srv    *tgtest.Server
	ln     net.Listener
	key    *rsa.PrivateKey
	cancel context.CancelFunc
	done   chan struct{}
	log    *slog.Logger
	disp   *tg.ServerDispatcher

	mu         sync.Mutex
	users      map[int64]*User
	byPhone    map[string]int64
	byUsername map[string]int64
	accounts   map[int64]*account         // per logged-in user update state
	authorized map[[8]byte]int64          // auth key id → user id
	sessions   map[[8]byte]tgtest.Session // latest MTProto session per auth key
	logins     map[[8]byte]*login         // sign-in in progress per auth key
	channels   map[int64]*Channel
	invites    map[string]int64 // invite hash → channel id
	files      map[int64]*file  // document id → bytes
	nextID     int64
	faults     map[uint32][]fault
	drop       dropper
	calls      map[uint32]int
	tooLong    int // getChannelDifference from further back than this answers "too long"
}

// Start listens on 127.0.0.1:0 and serves until ctx ends or Close.
func Start(ctx context.Context, log *slog.Logger) (*Server, error) {
	k, err := privateKey()
	if err != nil {
		return nil, fmt.Errorf("tgfake: rsa key: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tgfake: listen: %w", err)
	}
	s := &Server{
		ln:         ln,
		key:        k,
		done:       make(chan struct{}),
		log:        log,
		users:      map[int64]*User{},
		byPhone:    map[string]int64{},
		byUsername: map[string]int64{},
		accounts:   map[int64]*account{},
		authorized: map[[8]byte]int64{},
		sessions:   map[[8]byte]tgtest.Session{},
		logins:     map[[8]byte]*login{},
		channels:   map[int64]*Channel{},
		invites:    map[string]int64{},
		files:      map[int64]*file{},
		nextID:     1000,
		faults:     map[uint32][]fault{},
		calls:      map[uint32]int{},
	}
	s.disp = tg.NewServerDispatcher(func(ctx context.Context, b *bin.Buffer) (bin.Encoder, error) {
		id, _ := b.PeekID()
		return nil, errNotImplemented(id)
	})
	s.register()
	s.srv = tgtest.NewServer(tgtest.NewPrivateKey(k), tgtest.UnpackInvoke(tgtest.HandlerFunc(s.onMessage)), tgtest.ServerOptions{
		DC: DC,
		// gotd pings every minute; an hour keeps idle clients connected
		// through long tests.
		ReadTimeout: time.Hour,
	})
	ctx, s.cancel = context.WithCancel(ctx)
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ctx, transport.ListenCodec(nil, ln))
	}()
	return s, nil
}

// Close stops serving and closes every connection.
func (s *Server) Close() {
	s.cancel()
	<-s.done
}

// Addr is the host:port clients dial.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// PublicKeyPEM is the server's RSA public key, PKCS#1 PEM, as
// TELEGRAM_PUBLIC_KEYS_FILE holds it.
func (s *Server) PublicKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&s.key.PublicKey)})
}

// ClientOptions returns the telegram.Options fields that point a gotd client
// at this server: DC, DCList and PublicKeys. Callers add the rest.
func (s *Server) ClientOptions() telegram.Options {
	return telegram.Options{
		DC:         DC,
		DCList:     dcs.List{Options: []tg.DCOption{s.dcOption()}},
		PublicKeys: []telegram.PublicKey{exchange.PublicKey{RSA: &s.key.PublicKey}},
	}
}

func (s *Server) dcOption() tg.DCOption {
	addr := s.ln.Addr().(*net.TCPAddr)
	return tg.DCOption{ID: DC, IPAddress: addr.IP.String(), Port: addr.Port, Static: true}
}

// Calls reports how many times a method (by TL type id, e.g.
// tg.MessagesSendMessageRequestTypeID) was called.
func (s *Server) Calls(typeID uint32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[typeID]
}

func errNotImplemented(id uint32) error {
	return tgErr(400, "METHOD_NOT_IMPLEMENTED_0X"+strings.ToUpper(strconv.FormatUint(uint64(id), 16)))
}
