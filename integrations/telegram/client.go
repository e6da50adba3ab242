package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/telegram/updates"
	"github.com/gotd/td/telegram/updates/hook"
	"github.com/gotd/td/tg"
	"golang.org/x/sync/errgroup"

	"github.com/keycare/keycare/chats"
)

// Status is the Telegram connection as GET /api/v1/integrations reports it.
type Status string

// Statuses.
const (
	StatusConnected     Status = "connected"      // logged in and connected
	StatusNotConfigured Status = "not_configured" // no app id/hash
	StatusLoggedOut     Status = "logged_out"     // no session, or Telegram revoked it: run keycare telegram login
	StatusError         Status = "error"          // configured and logged in, but not connected (yet)
)

// ErrLoggedOut means the stored session is missing or no longer authorized.
var ErrLoggedOut = errors.New("telegram: not logged in (run keycare telegram login)")

// Options configure a Client.
type Options struct {
	Config Config
	// Session is where the gotd session lives, encrypted (NewSessionStore).
	Session session.Storage
	// State keeps the update state; nil keeps it in memory (tests only:
	// a restart would then replay or miss updates).
	State *StateStore
	// Mirror receives what Telegram delivers; nil mirrors nothing. When it
	// also implements chats.AccessWatcher (as *chats.Store does), it is told
	// when the account lost a mirrored group (see access.go).
	Mirror chats.Mirror
	Logger *slog.Logger
	// ReconcileEvery is how often Reconcile runs besides after every
	// (re)connect; zero means 5 minutes, negative only after connects.
	ReconcileEvery time.Duration
	// ReconcileSettle is how long after a (re)connect Reconcile waits, so
	// the updates manager's own catch-up goes first; zero means 10 s.
	ReconcileSettle time.Duration
	// ReconcileDepth is how many recent messages per channel Reconcile
	// compares; zero means 200. After Telegram answered a channel's
	// difference with "too long", the next pass reads BackfillDepth
	// (zero: 2,000) instead.
	ReconcileDepth int
	BackfillDepth  int
	// RetryMin and RetryMax bound the backoff of failed mirror writes;
	// zero means 100 ms and 30 s.
	RetryMin, RetryMax time.Duration
	// ConnectWait is how long a Transport call waits for the connection
	// before failing with ErrTemporary; zero means 30 s.
	ConnectWait time.Duration
}

// Client is Keycare's Telegram account: the gotd client, its updates
// manager feeding the Mirror, a periodic reconciler and the Transport.
// Run it once.
type Client struct {
	opts    Options
	log     *slog.Logger
	tg      *telegram.Client
	manager *updates.Manager
	handler *mirrorHandler

	ready     chan struct{}
	readyOnce sync.Once
	stopped   chan struct{}
	// reconnected wakes the reconciler after gotd re-established the
	// connection; reconcile asks for a run (e.g. channel difference too long).
	reconnected chan struct{}
	reconcile   chan struct{}
	connected   atomic.Bool // seen ready at least once
	// disconnects counts dead primary connections; CreateGroup compares it
	// around its call (see find.go).
	disconnects atomic.Uint64

	// watcher is Options.Mirror as a chats.AccessWatcher, or nil; lostWake
	// wakes lostLoop.
	watcher  chats.AccessWatcher
	lostWake chan struct{}

	mu      sync.Mutex
	tooLong map[int64]bool // channels to backfill deeper on the next reconcile
	status  Status
	err     error
	self    *tg.User
	// Lost access: reports waiting for lostLoop, and channels reported (at
	// which lostSeq), so each is reported once.
	lostPending  map[int64]lostReport
	lostReported map[int64]uint64
	lostSeq      uint64
}

// New builds a client. With an unconfigured Config it returns a client
// whose Run returns at once and whose status is not_configured.
func New(opts Options) (*Client, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReconcileEvery == 0 {
		opts.ReconcileEvery = 5 * time.Minute
	}
	if opts.ReconcileSettle <= 0 {
		opts.ReconcileSettle = 10 * time.Second
	}
	if opts.ReconcileDepth <= 0 {
		opts.ReconcileDepth = 200
	}
	if opts.BackfillDepth <= 0 {
		opts.BackfillDepth = 2000
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 100 * time.Millisecond
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 30 * time.Second
	}
	if opts.ConnectWait <= 0 {
		opts.ConnectWait = 30 * time.Second
	}
	c := &Client{
		opts:        opts,
		log:         opts.Logger.With("component", "telegram"),
		ready:       make(chan struct{}),
		stopped:     make(chan struct{}),
		reconnected: make(chan struct{}, 1),
		reconcile:   make(chan struct{}, 1),
		status:      StatusError,
		err:         errors.New("not connected yet"),
		tooLong:     map[int64]bool{},

		lostWake:     make(chan struct{}, 1),
		lostPending:  map[int64]lostReport{},
		lostReported: map[int64]uint64{},
	}
	c.watcher, _ = opts.Mirror.(chats.AccessWatcher)
	if !opts.Config.Configured() {
		c.status, c.err = StatusNotConfigured, nil
		return c, nil
	}
	if opts.Session == nil {
		return nil, errors.New("telegram: Options.Session is required")
	}
	c.handler = &mirrorHandler{mirror: opts.Mirror, log: c.log, retryMin: opts.RetryMin, retryMax: opts.RetryMax, lost: c.noteLost}
	var handler telegram.UpdateHandler = c.handler
	if opts.Mirror == nil {
		handler = telegram.UpdateHandlerFunc(func(context.Context, tg.UpdatesClass) error { return nil })
	}
	ucfg := updates.Config{
		Handler: handler,
		Logger:  newGotdLogger(c.log),
		OnChannelTooLong: func(channelID int64) {
			c.log.Warn("telegram channel difference too long, backfilling from history", "channel_id", channelID)
			c.mu.Lock()
			c.tooLong[channelID] = true
			c.mu.Unlock()
			c.requestReconcile()
		},
		OnChannelInaccessible: func(channelID int64) {
			c.log.Warn("telegram channel inaccessible, updates stopped", "channel_id", channelID)
			c.noteLost(chats.Group{ChannelID: channelID}, "CHANNEL_PRIVATE", "updates.getChannelDifference")
		},
	}
	if opts.State != nil {
		ucfg.Storage, ucfg.AccessHasher, ucfg.UserAccessHasher = opts.State, opts.State, opts.State
	}
	c.manager = updates.New(ucfg)

	tgOpts, err := opts.Config.options()
	if err != nil {
		return nil, err
	}
	tgOpts.SessionStorage = opts.Session
	tgOpts.UpdateHandler = c.manager
	// Updates returned by our own calls (sendMessage, createChannel…) go to
	// the manager too, or it sees their pts as a gap.
	tgOpts.Middlewares = []telegram.Middleware{hook.UpdateHook(c.manager.Handle)}
	tgOpts.Logger = newGotdLogger(c.log)
	tgOpts.OnConnectionState = c.onConnectionState
	tgOpts.Device = telegram.DeviceConfig{DeviceModel: "Keycare", SystemVersion: "server", AppVersion: "1"}
	c.tg = telegram.NewClient(opts.Config.AppID, opts.Config.AppHash, tgOpts)
	return c, nil
}

// Status reports the connection, and the last error when it is "error".
func (c *Client) Status() (Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.err
}

func (c *Client) setStatus(s Status, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status != s {
		c.log.Info("telegram status", "status", string(s))
	}
	c.status, c.err = s, err
}

// Ready is closed once the client is connected and logged in.
func (c *Client) Ready() <-chan struct{} { return c.ready }

// Self is Keycare's own Telegram user, once Ready.
func (c *Client) Self() *tg.User {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.self
}

func (c *Client) onConnectionState(s telegram.ConnectionState) {
	switch s {
	case telegram.ConnectionStateReady:
		if c.connected.Swap(true) {
			c.mu.Lock()
			if c.self != nil && c.status == StatusError {
				c.status, c.err = StatusConnected, nil
			}
			c.mu.Unlock()
			select {
			case c.reconnected <- struct{}{}:
			default:
			}
		}
	case telegram.ConnectionStateDisconnected:
		// gotd reports this before it resends unanswered requests on the
		// next connection.
		c.disconnects.Add(1)
		c.mu.Lock()
		if c.status == StatusConnected {
			c.status, c.err = StatusError, errors.New("disconnected, reconnecting")
		}
		c.mu.Unlock()
	}
}

// Run connects and mirrors until ctx ends (nil) or the session is refused
// (ErrLoggedOut). gotd reconnects by itself in between.
func (c *Client) Run(ctx context.Context) error {
	defer close(c.stopped)
	if c.tg == nil {
		return nil
	}
	// Without a stored session there is nothing to connect as; connecting
	// anyway would only make Telegram mint an unused auth key.
	if s, ok := c.opts.Session.(interface {
		Exists(context.Context) (bool, error)
	}); ok {
		if exists, err := s.Exists(ctx); err == nil && !exists {
			c.setStatus(StatusLoggedOut, ErrLoggedOut)
			return ErrLoggedOut
		}
	}
	err := c.tg.Run(ctx, c.connectedRun)
	if f := c.opts.State; f != nil {
		// Channel pts are written behind; write the last ones before the
		// database closes, so a restart replays as little as possible.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if ferr := f.Flush(fctx); ferr != nil {
			c.log.Warn("telegram: channel pts not all saved at shutdown; a restart replays those updates", "error", ferr)
		}
		cancel()
	}
	if ctx.Err() != nil {
		return nil
	}
	switch {
	case errors.Is(err, ErrLoggedOut):
		c.setStatus(StatusLoggedOut, err)
	case auth.IsUnauthorized(err), isUnauthorized(err):
		c.setStatus(StatusLoggedOut, err)
		err = fmt.Errorf("%w: %v", ErrLoggedOut, err)
	case err != nil:
		c.setStatus(StatusError, err)
	}
	return err
}

func (c *Client) connectedRun(ctx context.Context) error {
	st, err := c.tg.Auth().Status(ctx)
	if err != nil {
		c.setStatus(StatusError, err)
		return fmt.Errorf("telegram auth status: %w", err)
	}
	if !st.Authorized {
		return ErrLoggedOut
	}
	c.mu.Lock()
	c.self = st.User
	c.mu.Unlock()
	if c.handler != nil {
		c.handler.self.Store(st.User.ID)
	}
	c.setStatus(StatusConnected, nil)
	c.log.Info("telegram connected", "user_id", st.User.ID)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return c.manager.Run(ctx, c.tg.API(), st.User.ID, updates.AuthOptions{
			OnStart: func(context.Context) { c.readyOnce.Do(func() { close(c.ready) }) },
		})
	})
	g.Go(func() error {
		c.reconcileLoop(ctx)
		return nil
	})
	g.Go(func() error {
		c.lostLoop(ctx)
		return nil
	})
	err = g.Wait()
	if ctx.Err() != nil && err != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (c *Client) requestReconcile() {
	select {
	case c.reconcile <- struct{}{}:
	default:
	}
}

// reconcileLoop runs Reconcile a little after every (re)connect (first
// asking the updates manager to fetch what a dropped connection missed), on
// a timer, and when the manager gives up on a channel (difference too long).
func (c *Client) reconcileLoop(ctx context.Context) {
	if c.opts.Mirror == nil {
		<-ctx.Done()
		return
	}
	var tick <-chan time.Time
	if c.opts.ReconcileEvery > 0 {
		t := time.NewTicker(c.opts.ReconcileEvery)
		defer t.Stop()
		tick = t.C
	}
	settle := time.NewTimer(c.opts.ReconcileSettle)
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.reconnected:
			c.catchUp(ctx)
			settle.Reset(c.opts.ReconcileSettle)
			continue
		case <-settle.C:
		case <-tick:
		case <-c.reconcile:
		}
		c.runReconcile(ctx)
	}
}

func (c *Client) runReconcile(ctx context.Context) {
	if err := c.Reconcile(ctx); err != nil && ctx.Err() == nil {
		c.log.Warn("telegram reconcile incomplete", "error", err)
	}
}

// catchUp asks the updates manager for the differences a dropped
// connection may have hidden: the common box and every mirrored channel.
func (c *Client) catchUp(ctx context.Context) {
	if err := c.manager.Handle(ctx, &tg.UpdatesTooLong{}); err != nil {
		return
	}
	channels, err := c.opts.Mirror.ActiveChannels(ctx)
	if err != nil {
		c.log.Warn("telegram catch-up: listing channels failed", "error", err)
		return
	}
	for _, ch := range channels {
		// Without pts, UpdateChannelTooLong makes the channel's worker call
		// getChannelDifference from its stored pts.
		if err := c.manager.Handle(ctx, &tg.Updates{Updates: []tg.UpdateClass{&tg.UpdateChannelTooLong{ChannelID: ch.ChannelID}}}); err != nil {
			return
		}
	}
}
