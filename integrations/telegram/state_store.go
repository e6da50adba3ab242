package telegram

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gotd/td/telegram/updates"
	"gorm.io/gorm"

	"github.com/keycare/keycare/internal/database"
)

// StateStore persists the update state gotd's updates manager keeps: the
// account's pts/qts/date/seq (telegram_state), each channel's pts and
// access hash (telegram_channels) and the access hashes of users seen
// (telegram_users), all keyed by session name so several Telegram accounts
// can share a database.
//
// pts is saved after the handler stored the updates it covers, so a crash
// replays rather than skips; the mirror is idempotent by (channel, message).
type StateStore struct {
	db      *database.DB
	session string

	// hashes caches access hashes, which never change once learnt: gotd
	// looks them up for every update it handles, on its single updates
	// goroutine, and the database round trips were its main cost.
	mu     sync.Mutex
	hashes map[hashKey]int64

	// Channel pts are written behind (see SetChannelPts): pending holds the
	// newest pts per channel not yet written, and flushing says a writer
	// goroutine is on it.
	pmu      sync.Mutex
	pending  map[channelKey]int
	flushing bool
	flushed  *sync.Cond
}

type channelKey struct{ userID, channelID int64 }

// ptsFlushDelay is how long channel pts saves gather before one transaction
// writes them all.
const ptsFlushDelay = 50 * time.Millisecond

// hashKey names one cached access hash: a user's or a channel's, as seen by userID.
type hashKey struct {
	channel        bool
	userID, target int64
}

func (s *StateStore) cached(k hashKey) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hashes[k]
	return h, ok
}

func (s *StateStore) remember(k hashKey, h int64) {
	s.mu.Lock()
	s.hashes[k] = h
	s.mu.Unlock()
}

var (
	_ updates.StateStorage        = (*StateStore)(nil)
	_ updates.ChannelAccessHasher = (*StateStore)(nil)
	_ updates.UserAccessHasher    = (*StateStore)(nil)
)

// NewStateStore returns the update state of the named session.
func NewStateStore(db *database.DB, session string) *StateStore {
	s := &StateStore{db: db, session: session, hashes: map[hashKey]int64{}, pending: map[channelKey]int{}}
	s.flushed = sync.NewCond(&s.pmu)
	return s
}

// exec writes even when ctx was just cancelled: gotd saves pts after the
// handler stored the updates it covers, and losing that last save at
// shutdown means redelivering a whole batch on restart.
func (s *StateStore) exec(ctx context.Context, q string, args ...any) (int64, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	res := s.db.Gorm.WithContext(ctx).Exec(q, args...)
	return res.RowsAffected, res.Error
}

// GetState implements updates.StateStorage.
func (s *StateStore) GetState(ctx context.Context, userID int64) (updates.State, bool, error) {
	var st updates.State
	err := s.db.Gorm.WithContext(ctx).Raw(`SELECT pts, qts, date, seq FROM telegram_state WHERE session = ? AND user_id = ?`, s.session, userID).
		Row().Scan(&st.Pts, &st.Qts, &st.Date, &st.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return updates.State{}, false, nil
	}
	if err != nil {
		return updates.State{}, false, fmt.Errorf("telegram state: %w", err)
	}
	return st, true, nil
}

// SetState implements updates.StateStorage.
func (s *StateStore) SetState(ctx context.Context, userID int64, st updates.State) error {
	_, err := s.exec(ctx, `INSERT INTO telegram_state (session, user_id, pts, qts, date, seq) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (session, user_id) DO UPDATE SET pts = excluded.pts, qts = excluded.qts, date = excluded.date, seq = excluded.seq`,
		s.session, userID, st.Pts, st.Qts, st.Date, st.Seq)
	return err
}

// setColumns updates columns of an existing state row; gotd requires an
// error when there is none.
func (s *StateStore) setColumns(ctx context.Context, userID int64, set string, args ...any) error {
	n, err := s.exec(ctx, `UPDATE telegram_state SET `+set+` WHERE session = ? AND user_id = ?`, append(args, s.session, userID)...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("telegram state of user %d not found", userID)
	}
	return nil
}

// SetPts implements updates.StateStorage.
func (s *StateStore) SetPts(ctx context.Context, userID int64, pts int) error {
	return s.setColumns(ctx, userID, "pts = ?", pts)
}

// SetQts implements updates.StateStorage.
func (s *StateStore) SetQts(ctx context.Context, userID int64, qts int) error {
	return s.setColumns(ctx, userID, "qts = ?", qts)
}

// SetDate implements updates.StateStorage.
func (s *StateStore) SetDate(ctx context.Context, userID int64, date int) error {
	return s.setColumns(ctx, userID, "date = ?", date)
}

// SetSeq implements updates.StateStorage.
func (s *StateStore) SetSeq(ctx context.Context, userID int64, seq int) error {
	return s.setColumns(ctx, userID, "seq = ?", seq)
}

// SetDateSeq implements updates.StateStorage.
func (s *StateStore) SetDateSeq(ctx context.Context, userID int64, date, seq int) error {
	return s.setColumns(ctx, userID, "date = ?, seq = ?", date, seq)
}

// GetChannelPts implements updates.StateStorage. A channel whose access
// hash is known but whose pts is not yet (NULL) is not found.
func (s *StateStore) GetChannelPts(ctx context.Context, userID, channelID int64) (int, bool, error) {
	s.pmu.Lock()
	p, ok := s.pending[channelKey{userID, channelID}]
	s.pmu.Unlock()
	if ok {
		return p, true, nil
	}
	var pts sql.NullInt64
	err := s.db.Gorm.WithContext(ctx).Raw(`SELECT pts FROM telegram_channels WHERE session = ? AND user_id = ? AND channel_id = ?`, s.session, userID, channelID).
		Row().Scan(&pts)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !pts.Valid) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("telegram channel pts: %w", err)
	}
	return int(pts.Int64), true, nil
}

// SetChannelPts implements updates.StateStorage. The write is deferred by
// up to ptsFlushDelay and shared with every other channel's: gotd saves a
// channel's pts after each update it handled, and a commit per message was
// the inbound path's largest cost. Losing the last few saves in a crash is
// safe: pts is saved only after the handler stored the updates it covers,
// so a restart replays them, and the mirror ignores what it already has.
func (s *StateStore) SetChannelPts(ctx context.Context, userID, channelID int64, pts int) error {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	s.pending[channelKey{userID, channelID}] = pts
	if !s.flushing {
		s.flushing = true
		go s.flushLoop()
	}
	return nil
}

// flushLoop writes pending channel pts until none are left, then exits.
func (s *StateStore) flushLoop() {
	for {
		time.Sleep(ptsFlushDelay)
		s.pmu.Lock()
		batch := s.pending
		if len(batch) == 0 {
			s.flushing = false
			s.flushed.Broadcast()
			s.pmu.Unlock()
			return
		}
		s.pending = map[channelKey]int{}
		s.pmu.Unlock()
		if err := s.writeChannelPts(batch); err != nil {
			s.pmu.Lock()
			for k, v := range batch {
				if _, newer := s.pending[k]; !newer {
					s.pending[k] = v // retried with the next flush
				}
			}
			s.pmu.Unlock()
		}
		s.flushed.Broadcast()
	}
}

func (s *StateStore) writeChannelPts(batch map[channelKey]int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.db.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for k, pts := range batch {
			err := tx.Exec(`INSERT INTO telegram_channels (session, user_id, channel_id, pts) VALUES (?, ?, ?, ?)
ON CONFLICT (session, user_id, channel_id) DO UPDATE SET pts = excluded.pts`, s.session, k.userID, k.channelID, pts).Error
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Flush waits until every channel pts saved so far is written (or ctx ends).
// The client calls it when it stops, before the database closes.
func (s *StateStore) Flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		s.pmu.Lock()
		s.flushed.Broadcast()
		s.pmu.Unlock()
	})
	defer stop()
	s.pmu.Lock()
	defer s.pmu.Unlock()
	for s.flushing && ctx.Err() == nil {
		s.flushed.Wait()
	}
	return ctx.Err()
}

// ForEachChannels implements updates.StateStorage.
func (s *StateStore) ForEachChannels(ctx context.Context, userID int64, f func(ctx context.Context, channelID int64, pts int) error) error {
	type row struct {
		ChannelID int64
		Pts       int
	}
	var rows []row
	if err := s.db.Gorm.WithContext(ctx).Raw(`SELECT channel_id, pts FROM telegram_channels WHERE session = ? AND user_id = ? AND pts IS NOT NULL ORDER BY channel_id`, s.session, userID).
		Scan(&rows).Error; err != nil {
		return fmt.Errorf("telegram channels: %w", err)
	}
	// Saves not yet written are newer than the rows.
	s.pmu.Lock()
	for k, p := range s.pending {
		if k.userID != userID {
			continue
		}
		i := slices.IndexFunc(rows, func(r row) bool { return r.ChannelID == k.channelID })
		if i < 0 {
			rows = append(rows, row{ChannelID: k.channelID})
			i = len(rows) - 1
		}
		rows[i].Pts = p
	}
	s.pmu.Unlock()
	// Rows are read first: f may query, and SQLite has one connection.
	for _, r := range rows {
		if err := f(ctx, r.ChannelID, r.Pts); err != nil {
			return err
		}
	}
	return nil
}

// SetChannelAccessHash implements updates.ChannelAccessHasher.
func (s *StateStore) SetChannelAccessHash(ctx context.Context, userID, channelID, accessHash int64) error {
	k := hashKey{channel: true, userID: userID, target: channelID}
	if h, ok := s.cached(k); ok && h == accessHash {
		return nil
	}
	_, err := s.exec(ctx, `INSERT INTO telegram_channels (session, user_id, channel_id, access_hash) VALUES (?, ?, ?, ?)
ON CONFLICT (session, user_id, channel_id) DO UPDATE SET access_hash = excluded.access_hash`, s.session, userID, channelID, accessHash)
	if err == nil {
		s.remember(k, accessHash) // only what the database holds
	}
	return err
}

// GetChannelAccessHash implements updates.ChannelAccessHasher.
func (s *StateStore) GetChannelAccessHash(ctx context.Context, userID, channelID int64) (int64, bool, error) {
	k := hashKey{channel: true, userID: userID, target: channelID}
	if h, ok := s.cached(k); ok {
		return h, true, nil
	}
	var hash sql.NullInt64
	err := s.db.Gorm.WithContext(ctx).Raw(`SELECT access_hash FROM telegram_channels WHERE session = ? AND user_id = ? AND channel_id = ?`, s.session, userID, channelID).
		Row().Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !hash.Valid) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("telegram channel access hash: %w", err)
	}
	s.remember(k, hash.Int64)
	return hash.Int64, true, nil
}

// SetUserAccessHash implements updates.UserAccessHasher.
func (s *StateStore) SetUserAccessHash(ctx context.Context, userID, targetID, accessHash int64) error {
	k := hashKey{userID: userID, target: targetID}
	if h, ok := s.cached(k); ok && h == accessHash {
		return nil
	}
	_, err := s.exec(ctx, `INSERT INTO telegram_users (session, user_id, target_id, access_hash) VALUES (?, ?, ?, ?)
ON CONFLICT (session, user_id, target_id) DO UPDATE SET access_hash = excluded.access_hash`, s.session, userID, targetID, accessHash)
	if err == nil {
		s.remember(k, accessHash) // only what the database holds
	}
	return err
}

// GetUserAccessHash implements updates.UserAccessHasher.
func (s *StateStore) GetUserAccessHash(ctx context.Context, userID, targetID int64) (int64, bool, error) {
	k := hashKey{userID: userID, target: targetID}
	if h, ok := s.cached(k); ok {
		return h, true, nil
	}
	var hash int64
	err := s.db.Gorm.WithContext(ctx).Raw(`SELECT access_hash FROM telegram_users WHERE session = ? AND user_id = ? AND target_id = ?`, s.session, userID, targetID).
		Row().Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("telegram user access hash: %w", err)
	}
	s.remember(k, hash)
	return hash, true, nil
}
