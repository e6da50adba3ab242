package chats

import (
	"context"
	"sync"
	"time"

	"gorm.io/gorm"
)

// Mirror writes are group-committed: messages arriving from many groups at
// once share one transaction, so the commit — the bulk of a single-message
// write on PostgreSQL — is paid once per batch instead of once per message.
// Each caller still returns only after its write has committed, so the
// Telegram integration saves its pts exactly as before.

// maxBatch bounds how many writes share one transaction.
const maxBatch = 256

// writerShards is how many batch writers run at once. A group's writes
// always go to the same writer, in order; several writers keep both the
// database's cores and its group commit busy.
const writerShards = 4

// writer is one batch writer: a queue, and whether a goroutine drains it.
type writer struct {
	mu      sync.Mutex
	queue   []*write
	running bool
}

// batchTimeout bounds one batch transaction. Writes do not inherit their
// callers' cancellation: one caller giving up must not fail the others.
const batchTimeout = 15 * time.Second

// batchTx is the transaction a batch of writes runs in, and the new
// messages they gathered.
type batchTx struct {
	ctx     context.Context
	tx      *gorm.DB
	inserts []pendingInsert // new messages not yet inserted: flush writes them in one INSERT
	keys    map[msgKey]bool // the (chat, Telegram id) of inserts
}

type msgKey struct {
	chatID    string
	messageID int
}

type pendingInsert struct {
	row  *messageRow
	m    InboundMessage
	chat *chatRow
}

type write struct {
	ctx  context.Context
	fn   func(*batchTx) error
	done chan error
}

// write queues fn on the writer of channelID's shard and waits for its
// commit. A writer's goroutine runs while writes are queued and exits when
// none are.
func (s *Store) write(ctx context.Context, channelID int64, fn func(*batchTx) error) error {
	w := &write{ctx: ctx, fn: fn, done: make(chan error, 1)}
	wr := &s.writers[uint64(channelID)%writerShards]
	wr.mu.Lock()
	wr.queue = append(wr.queue, w)
	if !wr.running {
		wr.running = true
		go s.writeLoop(wr)
	}
	wr.mu.Unlock()
	return <-w.done
}

func (s *Store) writeLoop(wr *writer) {
	for {
		wr.mu.Lock()
		n := min(len(wr.queue), maxBatch)
		if n == 0 {
			wr.running = false
			wr.queue = nil
			wr.mu.Unlock()
			return
		}
		batch := make([]*write, n)
		copy(batch, wr.queue)
		wr.queue = wr.queue[n:]
		wr.mu.Unlock()
		s.runBatch(batch)
	}
}

// runBatch commits the writes together; if that fails, each is retried in a
// transaction of its own so one bad write fails alone.
func (s *Store) runBatch(batch []*write) {
	live := batch[:0]
	for _, w := range batch {
		if err := w.ctx.Err(); err != nil {
			w.done <- err
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return
	}
	err := s.commit(live)
	if err == nil || len(live) == 1 {
		for _, w := range live {
			w.done <- err
		}
		return
	}
	for _, w := range live {
		w.done <- s.commit([]*write{w})
	}
}

func (s *Store) commit(ws []*write) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ws[0].ctx), batchTimeout)
	defer cancel()
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		b := &batchTx{ctx: ctx, tx: tx}
		for _, w := range ws {
			if err := w.fn(b); err != nil {
				return err
			}
		}
		return s.flush(b)
	})
}
