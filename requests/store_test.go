package requests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/page"
	"github.com/keycare/keycare/internal/testdb"
	"github.com/keycare/keycare/requests/csat"
	kcteam "github.com/keycare/keycare/team"
)

// queued records the jobs a store enqueues, as River would hold them.
type queued struct {
	mu   sync.Mutex
	jobs []river.JobArgs
	at   []time.Time
}

func (q *queued) EnqueueTx(_ context.Context, _ *gorm.DB, args river.JobArgs, opts *river.InsertOpts) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, args)
	var at time.Time
	if opts != nil {
		at = opts.ScheduledAt
	}
	q.at = append(q.at, at)
	return nil
}

func (q *queued) count(kind string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, j := range q.jobs {
		if j.Kind() == kind {
			n++
		}
	}
	return n
}

// notifier records deliveries and fails while failing is set.
type notifier struct {
	mu        sync.Mutex
	delivered []Alert
	failing   bool
}

func (n *notifier) Deliver(_ context.Context, a Alert, _ AlertNames) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failing {
		return errors.New("receiver down")
	}
	n.delivered = append(n.delivered, a)
	return nil
}

type poster struct{ texts []string }

func (p *poster) PostNotice(_ context.Context, _ *gorm.DB, _, text, _ string) error {
	p.texts = append(p.texts, text)
	return nil
}

type fixture struct {
	t       *testing.T
	db      *database.DB
	s       *Store
	q       *queued
	n       *notifier
	p       *poster
	now     time.Time
	ctx     context.Context
	account string
	chat    string
	owner   *kcteam.User
	backup  *kcteam.User
	lead    *kcteam.User
	seq     int
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func newFixture(t *testing.T, db *database.DB) *fixture {
	f := &fixture{t: t, db: db, q: &queued{}, n: &notifier{}, p: &poster{}, now: t0}
	f.ctx = keycare.WithActor(context.Background(), keycare.SystemActor)
	tm := kcteam.NewService(db.Gorm)
	var err error
	mk := func(name, role string) *kcteam.User {
		u, err := tm.Create(f.ctx, kcteam.NewUser{Name: name, Email: name + "@example.com", Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	f.owner, f.backup, f.lead = mk("anna", keycare.RoleManager), mk("boris", keycare.RoleManager), mk("lena", keycare.RoleLead)
	f.s = NewStore(db, f.q)
	f.s.Now = func() time.Time { return f.now }
	f.s.Notifiers = map[string]Notifier{NotifyWebhook: f.n}
	f.s.Poster = f.p
	pol, err := f.s.CreatePolicy(f.ctx, NewSLAPolicy{Name: "Key", DefaultFor: []string{"key"}, Policy: Policy{
		Targets: map[Priority]Targets{PriorityNormal: {FirstResponse: 600, FollowUp: 300, Resolution: 86400}}, WarnAt: 0.5,
	}})
	if err != nil {
		t.Fatal(err)
	}
	_ = pol
	// Raw rows: the accounts package imports this one.
	f.account, f.chat = keycare.NewID(), keycare.NewID()
	if err := db.Gorm.Exec(`INSERT INTO accounts (id, name, slug, tier, status, owner_id, backup_id, timezone, currency, created_at, updated_at)
VALUES (?, 'Acme', 'acme', 'key', 'active', ?, ?, 'UTC', 'EUR', ?, ?)`, f.account, f.owner.ID, f.backup.ID, t0, t0).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Gorm.Exec(`INSERT INTO chats (id, account_id, status, origin, channel_id, created_at, updated_at) VALUES (?, ?, 'active', 'created', 1, ?, ?)`,
		f.chat, f.account, t0.Add(-time.Hour), t0.Add(-time.Hour)).Error; err != nil {
		t.Fatal(err)
	}
	return f
}

// post stores a message as the chat store does and files it.
func (f *fixture) post(side, text string) string {
	f.t.Helper()
	f.seq++
	id := keycare.NewID()
	at := f.now
	err := f.db.Gorm.Transaction(func(tx *gorm.DB) error {
		kind := "contact"
		if side == chats.SideTeam {
			kind = "user"
		}
		if err := tx.Exec(`INSERT INTO messages (id, chat_id, account_id, telegram_message_id, side, sender_kind, text, status, sent_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, 'received', ?, ?)`, id, f.chat, f.account, f.seq, side, kind, text, at, at).Error; err != nil {
			return err
		}
		placed, err := f.s.MessagesStored(f.ctx, tx, []chats.StoredMessage{{ID: id, AccountID: f.account, ChatID: f.chat, Side: side, Text: text, At: at}})
		if err != nil {
			return err
		}
		if rid := placed[id]; rid != "" {
			return tx.Exec(`UPDATE messages SET request_id = ? WHERE id = ?`, rid, id).Error
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *fixture) current() *requestRow {
	f.t.Helper()
	r, err := currentRequest(f.ctx, f.db.Gorm, f.account)
	if err != nil || r == nil {
		f.t.Fatalf("no current request: %v", err)
	}
	return r
}

// fire runs the armed check job as River would, at the fake now.
func (f *fixture) fire(id string) {
	f.t.Helper()
	w := &checkWorker{s: f.s}
	if err := w.Work(f.ctx, &river.Job[CheckArgs]{JobRow: &rivertype.JobRow{}, Args: CheckArgs{RequestID: id, At: f.now}}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) alerts(id string) map[string]int {
	f.t.Helper()
	var rows []alertRow
	if err := f.db.Gorm.Where("request_id = ?", id).Find(&rows).Error; err != nil {
		f.t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Event+" "+r.Clock]++
	}
	return out
}

// Warnings and breaches are raised exactly once each however often the
// request is evaluated or its job fires, and each is delivered (retried
// until the receiver takes it) and recorded.
func TestAlertsExactlyOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		f.post(chats.SideClient, "The invoices API answers 500")
		r := f.current()
		if r.OwnerID == nil || *r.OwnerID != f.owner.ID || r.FirstResponseDue == nil || !r.FirstResponseDue.Equal(t0.Add(10*time.Minute)) {
			t.Fatalf("opened: owner %v, due %v", r.OwnerID, r.FirstResponseDue)
		}
		if r.NextEventAt == nil || !r.NextEventAt.Equal(t0.Add(5*time.Minute)) {
			t.Fatalf("armed for %v, want the warning at +5m", r.NextEventAt)
		}

		// Nothing is due before its time.
		f.now = t0.Add(4 * time.Minute)
		f.fire(r.ID)
		if a := f.alerts(r.ID); len(a) != 0 {
			t.Fatalf("alerts before the warning: %v", a)
		}
		// The warning, once, however often the job fires or the client writes.
		f.now = t0.Add(5*time.Minute + time.Second)
		f.fire(r.ID)
		f.fire(r.ID)
		f.post(chats.SideClient, "Hello?")
		if a := f.alerts(r.ID); a["sla.warning first_response"] != 1 || len(a) != 1 {
			t.Fatalf("after the warning: %v", a)
		}
		// The breach, once.
		f.now = t0.Add(10*time.Minute + time.Second)
		f.fire(r.ID)
		f.fire(r.ID)
		f.post(chats.SideClient, "Anyone?")
		if a := f.alerts(r.ID); a["sla.breach first_response"] != 1 || len(a) != 2 {
			t.Fatalf("after the breach: %v", a)
		}
		r = f.current()
		if !r.BreachedAny {
			t.Error("the request does not show the breach")
		}
		// Each alert queued one delivery; a failing receiver gets it again.
		if n := f.q.count("sla_notify"); n != 2 {
			t.Fatalf("%d deliveries queued, want 2", n)
		}
		var ids []string
		if err := db.Gorm.Model(&alertRow{}).Order("at").Pluck("id", &ids).Error; err != nil {
			t.Fatal(err)
		}
		w := &notifyWorker{s: f.s}
		job := func(id string) *river.Job[NotifyArgs] {
			return &river.Job[NotifyArgs]{JobRow: &rivertype.JobRow{}, Args: NotifyArgs{AlertID: id, Channel: NotifyWebhook}}
		}
		f.n.failing = true
		if err := w.Work(f.ctx, job(ids[0])); err == nil {
			t.Fatal("a failed delivery did not fail the job")
		}
		f.n.failing = false
		for _, id := range append(ids, ids...) { // a retry after success delivers nothing more
			if err := w.Work(f.ctx, job(id)); err != nil {
				t.Fatal(err)
			}
		}
		if len(f.n.delivered) != 2 {
			t.Fatalf("delivered %d alerts, want 2", len(f.n.delivered))
		}
		// The warning went to the owner, the breach to the backup and the lead.
		if got := f.n.delivered[0].Recipients; len(got) != 1 || got[0] != f.owner.ID {
			t.Errorf("warning recipients %v", got)
		}
		if got := f.n.delivered[1].Recipients; len(got) != 2 {
			t.Errorf("breach recipients %v, want backup and lead", got)
		}
	})
}

// A resolved request asks for a rating; a rating within the window is the
// CSAT and opens nothing; another message reopens the request within the
// reopen window and opens a new one after it.
func TestResolveRateReopen(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		f.post(chats.SideClient, "Please raise our quota")
		f.now = f.now.Add(time.Minute)
		f.post(chats.SideTeam, "Done")
		r := f.current()
		if r.Touches != 1 || r.FirstRespondedAt == nil {
			t.Fatalf("answered: touches %d, first response %v", r.Touches, r.FirstRespondedAt)
		}
		f.now = f.now.Add(time.Minute)
		if _, err := f.s.Update(f.ctx, r.ID, RequestUpdate{Status: keycare.Some("resolved")}, 0); err != nil {
			t.Fatal(err)
		}
		if len(f.p.texts) != 1 || f.p.texts[0] != csat.Question() {
			t.Fatalf("posted %q", f.p.texts)
		}
		f.now = f.now.Add(time.Minute)
		f.post(chats.SideClient, "5")
		got, err := getRow(f.ctx, db.Gorm, r.ID)
		if err != nil || got.CSAT == nil || *got.CSAT != 5 || got.Status != string(StatusResolved) {
			t.Fatalf("after the rating: %+v, %v", got, err)
		}
		// Within the reopen window: the same request, reopened.
		f.now = f.now.Add(time.Hour)
		f.post(chats.SideClient, "It's back to the old quota")
		got = f.current()
		if got.ID != r.ID || got.ReopenCount != 1 || got.ResolvedAt != nil {
			t.Fatalf("reopen: id %s (want %s), reopen_count %d", got.ID, r.ID, got.ReopenCount)
		}
		if _, err := f.s.Update(f.ctx, r.ID, RequestUpdate{Status: keycare.Some("resolved")}, 0); err != nil {
			t.Fatal(err)
		}
		// After the window: a new request.
		f.now = f.now.Add(DefaultReopenWindow + time.Hour)
		f.post(chats.SideClient, "New question: backups")
		if got = f.current(); got.ID == r.ID || got.ReopenCount != 0 {
			t.Fatalf("after the window the old request %s was reused", got.ID)
		}
	})
}

// The owner is away: new requests go to the backup. A shift handover takes
// what waits for a team reply; only the receiver accepts, once.
func TestAwayOwnerAndHandover(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		if err := db.Gorm.Exec(`UPDATE users SET away = ? WHERE id = ?`, true, f.owner.ID).Error; err != nil {
			t.Fatal(err)
		}
		f.post(chats.SideClient, "Question while Anna is away")
		if r := f.current(); r.OwnerID == nil || *r.OwnerID != f.backup.ID {
			t.Fatalf("owner %v, want the backup", r.OwnerID)
		}
		waiting := f.current().ID
		answered, err := f.s.Create(keycare.WithActor(f.ctx, keycare.Actor{Kind: keycare.ActorUser, UserID: f.backup.ID, Role: keycare.RoleManager}),
			NewRequest{AccountID: f.account, Channel: ChannelPhone, Subject: "Called about the invoice"})
		if err != nil {
			t.Fatal(err)
		}
		boris := keycare.WithActor(f.ctx, keycare.Actor{Kind: keycare.ActorUser, UserID: f.backup.ID, Role: keycare.RoleManager})
		h, err := f.s.CreateHandover(boris, NewHandover{ToUserID: f.lead.ID, Shift: true, Note: "end of shift"})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.RequestIDs) != 1 || h.RequestIDs[0] != waiting {
			t.Fatalf("shift took %v; want only %s (the phone request %s is answered)", h.RequestIDs, waiting, answered.ID)
		}
		anna := keycare.WithActor(f.ctx, keycare.Actor{Kind: keycare.ActorUser, UserID: f.owner.ID, Role: keycare.RoleManager})
		if _, err := f.s.AcceptHandover(anna, h.ID); keycare.ErrorCode(err) != keycare.ENOTFOUND {
			t.Fatalf("a bystander accepted: %v", err)
		}
		if _, err := f.s.AcceptHandover(boris, h.ID); keycare.ErrorCode(err) != keycare.EFORBIDDEN {
			t.Fatalf("the giver accepted: %v", err)
		}
		lena := keycare.WithActor(f.ctx, keycare.Actor{Kind: keycare.ActorUser, UserID: f.lead.ID, Role: keycare.RoleLead})
		if _, err := f.s.AcceptHandover(lena, h.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.AcceptHandover(lena, h.ID); keycare.ErrorCode(err) != keycare.ECONFLICT {
			t.Fatalf("accepted twice: %v", err)
		}
		if r, _ := getRow(f.ctx, db.Gorm, waiting); *r.OwnerID != f.lead.ID {
			t.Errorf("owner after accept: %v", *r.OwnerID)
		}
		var n int64
		db.Gorm.Table("audit_events").Where("action = ? AND entity_id = ?", "handover.accept", waiting).Count(&n)
		if n != 1 {
			t.Errorf("%d handover.accept audit events", n)
		}
	})
}

// Split moves messages into a new request and re-measures both; merge
// brings them back and closes the merged request.
func TestSplitAndMerge(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		f.post(chats.SideClient, "Invoices are wrong")
		f.now = f.now.Add(time.Minute)
		f.post(chats.SideTeam, "Checking")
		f.now = f.now.Add(time.Minute)
		second := f.post(chats.SideClient, "Also: how do I add a user?")
		r := f.current()
		n, err := f.s.Split(f.ctx, r.ID, SplitInput{MessageIDs: []string{second}})
		if err != nil {
			t.Fatal(err)
		}
		if n.Subject != "Also: how do I add a user?" || !n.AwaitingTeam || !n.OpenedAt.Equal(f.now) {
			t.Fatalf("split off: %+v", n)
		}
		old, _ := getRow(f.ctx, db.Gorm, r.ID)
		if old.AwaitingTeam || old.Touches != 1 {
			t.Errorf("left behind: awaiting %v, touches %d", old.AwaitingTeam, old.Touches)
		}
		if _, err := f.s.Split(f.ctx, r.ID, SplitInput{MessageIDs: []string{second}}); keycare.ErrorCode(err) != keycare.EINVALID {
			t.Errorf("splitting a message of another request: %v", err)
		}
		merged, err := f.s.Merge(f.ctx, n.ID, MergeInput{Into: r.ID})
		if err != nil {
			t.Fatal(err)
		}
		if !merged.AwaitingTeam || merged.ID != r.ID {
			t.Errorf("merged: %+v", merged)
		}
		gone, _ := getRow(f.ctx, db.Gorm, n.ID)
		if gone.MergedIntoID == nil || gone.Status != string(StatusResolved) {
			t.Errorf("the merged request: %+v", gone)
		}
		var left int64
		db.Gorm.Table("messages").Where("request_id = ?", n.ID).Count(&left)
		if left != 0 {
			t.Errorf("%d messages left on the merged request", left)
		}
	})
}

// Policies: every bad field named, a tier has one default policy.
func TestPolicyValidationAndTiers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		_, err := f.s.CreatePolicy(f.ctx, NewSLAPolicy{Name: "", DefaultFor: []string{"gold"}, Policy: Policy{
			Targets: map[Priority]Targets{"asap": {}, PriorityHigh: {FirstResponse: -1, FollowUp: 60, Resolution: 60}}, WarnAt: 2,
		}})
		var ke *keycare.Error
		if !errors.As(err, &ke) || ke.Code != keycare.EINVALID {
			t.Fatalf("bad policy: %v", err)
		}
		fields := map[string]bool{}
		for _, fe := range ke.Fields {
			fields[fe.Field] = true
		}
		for _, want := range []string{"name", "default_for[0]", "targets.asap", "targets.high.first_response", "warn_at"} {
			if !fields[want] {
				t.Errorf("no error for %s in %v", want, ke.Fields)
			}
		}
		second, err := f.s.CreatePolicy(f.ctx, NewSLAPolicy{Name: "Key v2", DefaultFor: []string{"key"}, Policy: Policy{
			Targets: map[Priority]Targets{PriorityNormal: {FirstResponse: 60, FollowUp: 60, Resolution: 600}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		ps, err := f.s.Policies(f.ctx, pageAll)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps.Items {
			if p.ID != second.ID && len(p.DefaultFor) != 0 {
				t.Errorf("policy %s still claims %v", p.Name, p.DefaultFor)
			}
		}
		if _, err := f.s.CreatePolicy(f.ctx, NewSLAPolicy{Name: "key V2", Policy: second.Policy}); keycare.ErrorCode(err) != keycare.ECONFLICT {
			t.Errorf("duplicate name: %v", err)
		}
	})
}

var pageAll = page.Request{Limit: page.MaxLimit}

// The queue: nearest due first, nothing due last, and a cursor that walks
// it one by one across that boundary.
func TestQueueOrderAndCursor(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		var ids []string
		for i, ago := range []time.Duration{time.Hour, 3 * time.Hour, 2 * time.Hour} {
			opened := f.now.Add(-ago)
			r, err := f.s.Create(f.ctx, NewRequest{AccountID: f.account, Channel: ChannelEmail, Subject: fmt.Sprintf("mail %d", i), OpenedAt: &opened})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
		// The first one waits on the client: its clocks pause, nothing is due.
		if _, err := f.s.Update(f.ctx, ids[0], RequestUpdate{Status: keycare.Some("waiting_on_client")}, 0); err != nil {
			t.Fatal(err)
		}
		want := []string{ids[1], ids[2], ids[0]} // resolution due 21h, 22h from now; then none
		var got []string
		p := page.Request{Limit: 1}
		for range 5 {
			l, err := f.s.List(f.ctx, Filter{}, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range l.Items {
				got = append(got, r.ID)
			}
			if l.NextCursor == "" {
				break
			}
			p.Cursor = l.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Fatalf("queue order %v, want %v", got, want)
		}
	})
}

// QA reviews: the request carries the average of its scores (kept on the
// request as the reviews are added) wherever it is shown.
func TestQAReviewsAverage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		f.post(chats.SideClient, "The export is empty")
		r := f.current()
		d, err := f.s.Get(f.ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.QA != nil {
			t.Fatalf("QA before any review: %v", *d.QA)
		}
		lead := keycare.WithActor(f.ctx, keycare.Actor{Kind: keycare.ActorUser, UserID: f.lead.ID, Role: keycare.RoleLead})
		for _, score := range []int{4, 5, 5} {
			if _, err := f.s.AddReview(lead, r.ID, QAInput{Score: score}); err != nil {
				t.Fatal(err)
			}
		}
		want := 4.67 // (4 + 5 + 5) / 3, rounded to 2 decimals
		if d, err = f.s.Get(f.ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		if d.QA == nil || *d.QA != want || len(d.Reviews) != 3 {
			t.Errorf("detail: QA %v, %d reviews", d.QA, len(d.Reviews))
		}
		list, err := f.s.List(f.ctx, Filter{AccountID: f.account}, page.Request{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || list.Items[0].QA == nil || *list.Items[0].QA != want {
			t.Errorf("queue: %+v", list.Items)
		}
		open, err := OpenForAccount(f.ctx, db.Gorm, f.account)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 1 || open[0].QA == nil || *open[0].QA != want {
			t.Errorf("card: %+v", open)
		}
	})
}

// Reviews added while the client's messages keep arriving are never lost:
// a batch of messages saves its requests whole, so it locks them first.
func TestReviewsSurviveConcurrentMessages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		f.post(chats.SideClient, "The export is empty")
		r := f.current()
		lead := keycare.WithActor(f.ctx, keycare.Actor{Kind: keycare.ActorUser, UserID: f.lead.ID, Role: keycare.RoleLead})
		// The reviews run beside the messages, so the store's clock is read
		// from two goroutines: an atomic one, moved a minute per message.
		var elapsed atomic.Int64
		f.s.Now = func() time.Time { return t0.Add(time.Duration(elapsed.Load())) }
		const reviews = 40
		reviewed := make(chan error, 1)
		go func() {
			for i := range reviews {
				if _, err := f.s.AddReview(lead, r.ID, QAInput{Score: 1 + i%5}); err != nil {
					reviewed <- err
					return
				}
			}
			reviewed <- nil
		}()
		for i := range reviews {
			side := chats.SideClient
			if i%2 == 1 {
				side = chats.SideTeam
			}
			f.now = f.now.Add(time.Minute)
			elapsed.Store(int64(f.now.Sub(t0)))
			f.post(side, fmt.Sprintf("message %d", i))
		}
		if err := <-reviewed; err != nil {
			t.Fatal(err)
		}
		got, err := getRow(f.ctx, db.Gorm, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.QAReviews != reviews || got.QAScoreSum != 3*reviews {
			t.Errorf("the request counts %d reviews summing to %d; %d were added, summing to %d", got.QAReviews, got.QAScoreSum, reviews, 3*reviews)
		}
	})
}
