package chats

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/database"
)

// Workers are the chat jobs: creating and adopting groups and sending replies.
type Workers struct {
	Store       *Store
	Transport   Transport
	Log         *slog.Logger
	CompanyName string        // the group title is "{account} × {company}"
	DailyCap    int           // group creations per day (SPEC §7: about 50)
	HistoryCap  int           // messages imported when adopting a group
	Pause       time.Duration // how long sending stops after PEER_FLOOD or a revoked session

	mu          sync.Mutex
	pausedUntil time.Time
	pauseReason string
	holdRead    time.Time // when telegram_holds was last read
	floodUntil  time.Time // Telegram's FLOOD_WAIT applies to the account, not to one call
}

// holdName is the telegram_holds row that stops sending on every replica.
const holdName = "sending"

// holdRecheck is how often a replica rereads the shared stop.
const holdRecheck = 2 * time.Second

// flood records a FLOOD_WAIT and returns the snooze for the job that got it.
func (cw *Workers) flood(wait time.Duration) error {
	until := time.Now().Add(wait)
	cw.mu.Lock()
	if until.After(cw.floodUntil) {
		cw.floodUntil = until
	}
	cw.mu.Unlock()
	return river.JobSnooze(wait + time.Second)
}

// flooded returns a snooze while a FLOOD_WAIT is running, so no job calls
// Telegram before it ends; nil otherwise.
func (cw *Workers) flooded() error {
	cw.mu.Lock()
	left := time.Until(cw.floodUntil)
	cw.mu.Unlock()
	if left <= 0 {
		return nil
	}
	return river.JobSnooze(left + 100*time.Millisecond)
}

// Register adds the chat workers to w.
func (cw *Workers) Register(w *river.Workers) {
	river.AddWorker(w, &sendWorker{cw: cw})
	river.AddWorker(w, &createWorker{cw: cw})
	river.AddWorker(w, &adoptWorker{cw: cw})
	river.AddWorker(w, &syncTeamWorker{cw: cw})
}

// paused reports whether sending is stopped, and why. The stop is kept in
// the database (telegram_holds), so a restart or another replica honours it.
func (cw *Workers) paused(ctx context.Context) (bool, string) {
	now := time.Now()
	cw.mu.Lock()
	stopped, why, stale := now.Before(cw.pausedUntil), cw.pauseReason, now.Sub(cw.holdRead) > holdRecheck
	cw.mu.Unlock()
	if stopped || !stale {
		return stopped, why
	}
	var holds []struct {
		Reason string
		Until  time.Time
	}
	if err := cw.Store.db.WithContext(ctx).Table("telegram_holds").Select("reason, until").Where("name = ? AND until > ?", holdName, now.UTC()).Find(&holds).Error; err != nil {
		cw.Log.Warn("telegram: reading the shared sending stop failed", "error", err)
		return false, ""
	}
	cw.mu.Lock()
	defer cw.mu.Unlock()
	cw.holdRead = now
	if len(holds) == 1 {
		cw.pausedUntil, cw.pauseReason = holds[0].Until, holds[0].Reason
	}
	return now.Before(cw.pausedUntil), cw.pauseReason
}

// stop halts all sending for cw.Pause and raises an alert: no wait helps
// PEER_FLOOD or a revoked session, so retrying would only dig deeper.
func (cw *Workers) stop(ctx context.Context, err error) {
	pause := cw.Pause
	if pause <= 0 {
		pause = time.Hour
	}
	until := time.Now().Add(pause)
	cw.mu.Lock()
	cw.pausedUntil, cw.pauseReason = until, err.Error()
	cw.mu.Unlock()
	hold := map[string]any{"name": holdName, "kind": TransportKind(err), "reason": err.Error(), "until": until.UTC(), "created_at": time.Now().UTC()}
	if werr := cw.Store.db.WithContext(context.WithoutCancel(ctx)).Table("telegram_holds").
		Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}}, DoUpdates: clause.AssignmentColumns([]string{"kind", "reason", "until", "created_at"})}).
		Create(hold).Error; werr != nil {
		cw.Log.Error("telegram: the sending stop is not shared (this process still honours it)", "error", werr)
	}
	cw.alert(ctx, "telegram.sending_stopped", "", err)
}

// alert records a Telegram problem people must act on: in the log at error
// level and in the audit log, where leads look.
func (cw *Workers) alert(ctx context.Context, action, chatID string, err error) {
	cw.Log.Error("telegram alert", "action", action, "chat_id", chatID, "error", err)
	ctx = keycare.WithActor(ctx, keycare.Actor{Kind: keycare.ActorTelegram})
	_ = audit.Record(ctx, cw.Store.db, action, "chat", chatID, nil, map[string]string{"error": err.Error()})
}

type sendWorker struct {
	river.WorkerDefaults[SendArgs]
	cw *Workers
}

// Work posts one pending message. Its random_id was fixed when it was
// queued, so a retry after a lost answer cannot post it twice.
func (w *sendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	db := w.cw.Store.db.WithContext(ctx)
	var m messageRow
	if err := db.Where("id = ?", job.Args.MessageID).Take(&m).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return river.JobCancel(fmt.Errorf("message %s is gone", job.Args.MessageID))
		}
		return err
	}
	if m.Status != MessagePending {
		return nil
	}
	var c chatRow
	if err := db.Where("id = ?", m.ChatID).Take(&c).Error; err != nil {
		return err
	}
	if c.Status != StatusActive || c.ChannelID == nil {
		return w.fail(ctx, &m, fmt.Sprintf("the chat is %s", c.Status))
	}
	if stopped, why := w.cw.paused(ctx); stopped {
		return w.fail(ctx, &m, "sending is stopped: "+why)
	}
	if err := w.cw.flooded(); err != nil {
		return err
	}
	g := Group{ChannelID: *c.ChannelID}
	if c.AccessHash != nil {
		g.AccessHash = *c.AccessHash
	}
	replyTo := 0
	if m.ReplyTo != nil {
		replyTo = *m.ReplyTo
	}
	id, err := w.cw.Transport.Send(ctx, g, m.Text, replyTo, *m.RandomID)
	if err == nil {
		return w.cw.Store.ConfirmSent(ctx, *m.RandomID, id, time.Now())
	}
	var te *TransportError
	errors.As(err, &te)
	if alreadyPosted(err) {
		return nil // posted by an earlier attempt: the push or the reconciler attaches its id
	}
	switch TransportKind(err) {
	case ErrFloodWait:
		return w.cw.flood(te.Wait)
	case ErrPeerFlood, ErrUnauthorized:
		w.cw.stop(ctx, err)
		return w.fail(ctx, &m, err.Error())
	case ErrNoAccess:
		// The integration usually reports the loss first; MarkInaccessible alerts once either way.
		if err := w.cw.Store.MarkInaccessible(ctx, *c.ChannelID, err.Error()); err != nil {
			return err
		}
		return w.fail(ctx, &m, err.Error())
	case ErrBadRequest:
		return w.fail(ctx, &m, err.Error())
	}
	if job.Attempt >= job.MaxAttempts {
		return w.fail(ctx, &m, err.Error())
	}
	return err // temporary: River retries with backoff, same random_id
}

func (w *sendWorker) fail(ctx context.Context, m *messageRow, reason string) error {
	return w.cw.Store.db.WithContext(ctx).Model(&messageRow{}).Where("id = ? AND status = ?", m.ID, MessagePending).
		Updates(map[string]any{"status": MessageFailed, "error": reason}).Error
}

type createWorker struct {
	river.WorkerDefaults[CreateChatArgs]
	cw *Workers
}

// Work creates an account's group step by step. Each step is saved as it
// succeeds, so a retry resumes where the last attempt stopped; the group id
// is saved right after creation, so a retry never makes a second group.
func (w *createWorker) Work(ctx context.Context, job *river.Job[CreateChatArgs]) error {
	db := w.cw.Store.db.WithContext(ctx)
	c, err := creatingChat(ctx, db, job.Args.ChatID)
	if err != nil || c == nil {
		return err
	}
	if err := w.cw.flooded(); err != nil {
		return err
	}
	acc, err := w.cw.account(ctx, c.AccountID)
	if err != nil {
		return err
	}
	if c.ChannelID == nil {
		if n, err := w.createdToday(ctx); err != nil {
			return err
		} else if w.cw.DailyCap > 0 && n >= w.cw.DailyCap {
			tomorrow := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
			return river.JobSnooze(time.Until(tomorrow) + time.Minute)
		}
		title := acc.Name
		if w.cw.CompanyName != "" {
			title = acc.Name + " × " + w.cw.CompanyName
		}
		marker := "Keycare " + c.ID
		g, found, err := w.earlierGroup(ctx, job.Attempt, title, marker)
		if err == nil && !found {
			g, err = w.cw.Transport.CreateGroup(ctx, title, marker)
		}
		if err != nil {
			return transportFailure(ctx, w.cw, job.Attempt >= job.MaxAttempts, c, err)
		}
		c.ChannelID, c.AccessHash, c.Title = &g.ChannelID, &g.AccessHash, g.Title
		now := time.Now().UTC()
		if err := db.Model(&chatRow{}).Where("id = ?", c.ID).Updates(map[string]any{"channel_id": g.ChannelID, "access_hash": g.AccessHash, "title": g.Title, "group_created_at": now, "updated_at": now}).Error; err != nil {
			return err
		}
	}
	g := Group{ChannelID: *c.ChannelID, AccessHash: deref(c.AccessHash), Title: c.Title}
	if err := w.cw.inviteTeam(ctx, g, acc, true); err != nil {
		return transportFailure(ctx, w.cw, job.Attempt >= job.MaxAttempts, c, err)
	}
	link := c.InviteLink
	if link == "" {
		if link, err = w.cw.Transport.ExportInvite(ctx, g); err != nil {
			return transportFailure(ctx, w.cw, job.Attempt >= job.MaxAttempts, c, err)
		}
		if err := db.Model(&chatRow{}).Where("id = ?", c.ID).Update("invite_link", link).Error; err != nil {
			return err
		}
	}
	// The welcome's random_id derives from the chat, so every retry is the same post.
	if _, err := w.cw.Transport.Send(ctx, g, welcome(acc), 0, stableID("welcome:"+c.ID)); err != nil && !alreadyPosted(err) {
		return transportFailure(ctx, w.cw, job.Attempt >= job.MaxAttempts, c, err)
	}
	now := time.Now().UTC()
	if err := db.Model(&chatRow{}).Where("id = ?", c.ID).Updates(map[string]any{"status": StatusActive, "last_error": "", "updated_at": now}).Error; err != nil {
		return err
	}
	return audit.Record(keycare.WithActor(ctx, keycare.SystemActor), db, "chat.active", "chat", c.ID, nil, map[string]any{"channel_id": *c.ChannelID})
}

// earlierGroup looks, on a retry, for the group an earlier attempt may have
// created without learning its id (the answer was lost in a cut or crash).
func (w *createWorker) earlierGroup(ctx context.Context, attempt int, title, marker string) (Group, bool, error) {
	finder, ok := w.cw.Transport.(GroupFinder)
	if attempt <= 1 || !ok {
		return Group{}, false, nil
	}
	return finder.FindGroup(ctx, title, marker)
}

type adoptWorker struct {
	river.WorkerDefaults[AdoptChatArgs]
	cw *Workers
}

// Work joins (or finds) an existing group and imports its recent history,
// then mirrors it like a group Keycare created.
func (w *adoptWorker) Work(ctx context.Context, job *river.Job[AdoptChatArgs]) error {
	db := w.cw.Store.db.WithContext(ctx)
	c, err := creatingChat(ctx, db, job.Args.ChatID)
	if err != nil || c == nil {
		return err
	}
	// Join (or find) the group once; a retry after that resumes the import.
	var g Group
	if c.ChannelID != nil && c.AccessHash != nil {
		g = Group{ChannelID: *c.ChannelID, AccessHash: *c.AccessHash, Title: c.Title}
	} else {
		if job.Args.InviteLink != "" {
			g, err = w.cw.Transport.JoinByInvite(ctx, job.Args.InviteLink)
		} else {
			g, err = w.cw.Transport.ResolveGroup(ctx, job.Args.ChannelID)
		}
		if err != nil {
			return transportFailure(ctx, w.cw, job.Attempt >= job.MaxAttempts, c, err)
		}
		res := db.Model(&chatRow{}).Where("id = ?", c.ID).Updates(map[string]any{"channel_id": g.ChannelID, "access_hash": g.AccessHash, "title": g.Title, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			if database.IsUniqueViolation(res.Error) {
				return markFailed(ctx, w.cw, c, "that group is already linked to another account")
			}
			return res.Error
		}
	}
	// The chat mirrors while it imports (status creating is mirrored), so
	// nothing posted meanwhile is missed; StoreMessage makes overlaps harmless.
	limit := w.cw.HistoryCap
	if limit <= 0 {
		limit = 1000
	}
	// Telegram pages history newest first; it is stored oldest first so the
	// conversation reads in order (message ids follow insertion).
	var history []InboundMessage
	for before := 0; len(history) < limit; {
		batch, err := w.cw.Transport.History(ctx, g, before, min(100, limit-len(history)))
		if err != nil {
			return err // the chat is still creating: the retry joins nothing and imports again
		}
		if len(batch) == 0 {
			break
		}
		history = append(history, batch...)
		before = batch[len(batch)-1].MessageID
	}
	for i := len(history) - 1; i >= 0; i-- {
		if err := w.cw.Store.StoreMessage(ctx, history[i]); err != nil {
			return err
		}
	}
	if err := db.Model(&chatRow{}).Where("id = ?", c.ID).Updates(map[string]any{"status": StatusActive, "updated_at": time.Now().UTC()}).Error; err != nil {
		return err
	}
	return audit.Record(keycare.WithActor(ctx, keycare.SystemActor), db, "chat.active", "chat", c.ID, nil, map[string]any{"channel_id": g.ChannelID, "origin": "adopted"})
}

// transportFailure decides what a refused step means for a chat being set
// up: wait out a flood, give up at once on what no retry fixes, retry the rest.
func transportFailure(ctx context.Context, cw *Workers, last bool, c *chatRow, err error) error {
	var te *TransportError
	errors.As(err, &te)
	switch TransportKind(err) {
	case ErrFloodWait:
		return cw.flood(te.Wait)
	case ErrPeerFlood, ErrUnauthorized, ErrTooManyChats, ErrBadRequest, ErrNoAccess:
		cw.alert(ctx, "chat.failed", c.ID, err)
		return markFailed(ctx, cw, c, err.Error())
	}
	if last {
		return markFailed(ctx, cw, c, err.Error())
	}
	return err
}

// creatingChat loads a chat still being set up; nil when it is done or gone.
func creatingChat(ctx context.Context, db *gorm.DB, id string) (*chatRow, error) {
	var c chatRow
	if err := db.WithContext(ctx).Where("id = ?", id).Take(&c).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, nil
		}
		return nil, err
	}
	if c.Status != StatusCreating {
		return nil, nil
	}
	return &c, nil
}

func markFailed(ctx context.Context, cw *Workers, c *chatRow, reason string) error {
	return cw.Store.db.WithContext(ctx).Model(&chatRow{}).Where("id = ?", c.ID).
		Updates(map[string]any{"status": StatusFailed, "last_error": reason, "updated_at": time.Now().UTC()}).Error
}

type accountInfo struct {
	ID, Name  string
	OwnerID   *string
	BackupID  *string
	OwnerName *string
}

// inviteTeam invites the owner and backup (and, with clients, the contacts
// who have Telegram) and makes the owner and backup admins. Telegram treats
// inviting a member again as done, so a retry is harmless.
func (cw *Workers) inviteTeam(ctx context.Context, g Group, acc *accountInfo, clients bool) error {
	team, contacts, err := cw.people(ctx, acc)
	if err != nil {
		return err
	}
	people := team
	if clients {
		people = append(append([]Person{}, team...), contacts...)
	}
	if _, err := cw.Transport.Invite(ctx, g, people); err != nil {
		return err
	}
	for _, p := range team {
		if err := cw.Transport.MakeAdmin(ctx, g, p); err != nil {
			return err
		}
	}
	return nil
}

type syncTeamWorker struct {
	river.WorkerDefaults[SyncTeamArgs]
	cw *Workers
}

// Work brings a reassigned account's new owner and backup into its group.
func (w *syncTeamWorker) Work(ctx context.Context, job *river.Job[SyncTeamArgs]) error {
	var c chatRow
	if err := w.cw.Store.db.WithContext(ctx).Where("id = ?", job.Args.ChatID).Take(&c).Error; err != nil {
		return err
	}
	if c.Status != StatusActive || c.ChannelID == nil {
		return nil
	}
	acc, err := w.cw.account(ctx, c.AccountID)
	if err != nil {
		return err
	}
	err = w.cw.inviteTeam(ctx, Group{ChannelID: *c.ChannelID, AccessHash: deref(c.AccessHash), Title: c.Title}, acc, false)
	var te *TransportError
	switch {
	case err == nil:
		return audit.Record(keycare.WithActor(ctx, keycare.SystemActor), w.cw.Store.db.WithContext(ctx), "chat.team_synced", "chat", c.ID, nil, map[string]any{"owner_id": acc.OwnerID, "backup_id": acc.BackupID})
	case errors.As(err, &te) && te.Kind == ErrFloodWait:
		return w.cw.flood(te.Wait)
	case TransportKind(err) == ErrTemporary || TransportKind(err) == "":
		return err
	}
	w.cw.alert(ctx, "chat.team_sync_failed", c.ID, err)
	return river.JobCancel(err)
}

func (cw *Workers) account(ctx context.Context, id string) (*accountInfo, error) {
	var a accountInfo
	err := cw.Store.db.WithContext(ctx).Table("accounts").
		Select("accounts.id, accounts.name, accounts.owner_id, accounts.backup_id, users.name AS owner_name").
		Joins("LEFT JOIN users ON users.id = accounts.owner_id").Where("accounts.id = ?", id).Take(&a).Error
	return &a, err
}

// people are whom the group needs: the owner and backup (made admins) and
// the account's contacts who have a Telegram username or id.
func (cw *Workers) people(ctx context.Context, a *accountInfo) (team, clients []Person, err error) {
	db := cw.Store.db.WithContext(ctx)
	for _, id := range []*string{a.OwnerID, a.BackupID} {
		if id == nil {
			continue
		}
		var u struct {
			TelegramUsername *string
			TelegramUserID   *int64
		}
		if err := db.Table("users").Select("telegram_username, telegram_user_id").Where("id = ?", *id).Take(&u).Error; err != nil {
			return nil, nil, err
		}
		if p := person(u.TelegramUserID, u.TelegramUsername); p != nil {
			team = append(team, *p)
		}
	}
	var cs []struct {
		TelegramUsername string
		TelegramUserID   *int64
	}
	if err := db.Table("contacts").Select("telegram_username, telegram_user_id").Where("account_id = ? AND removed_at IS NULL", a.ID).Find(&cs).Error; err != nil {
		return nil, nil, err
	}
	for _, c := range cs {
		u := c.TelegramUsername
		if p := person(c.TelegramUserID, &u); p != nil {
			clients = append(clients, *p)
		}
	}
	return team, clients, nil
}

func person(id *int64, username *string) *Person {
	p := Person{}
	if id != nil {
		p.TelegramUserID = *id
	}
	if username != nil {
		p.Username = *username
	}
	if p.TelegramUserID == 0 && p.Username == "" {
		return nil
	}
	return &p
}

func (w *createWorker) createdToday(ctx context.Context) (int, error) {
	var n int64
	err := w.cw.Store.db.WithContext(ctx).Model(&chatRow{}).
		Where("group_created_at >= ?", time.Now().UTC().Truncate(24*time.Hour)).Count(&n).Error
	return int(n), err
}

// welcome introduces the account's owner, so the client knows who answers.
func welcome(a *accountInfo) string {
	if a.OwnerName != nil && *a.OwnerName != "" {
		return fmt.Sprintf("Welcome! This is %s's dedicated support group. %s is your personal manager and will answer you right here; write any time.", a.Name, *a.OwnerName)
	}
	return fmt.Sprintf("Welcome! This is %s's dedicated support group. Write any time: our team answers right here.", a.Name)
}

// alreadyPosted reports Telegram's answer to a repeated random_id: the post
// exists (an earlier attempt made it), so there is nothing to do again.
func alreadyPosted(err error) bool {
	var te *TransportError
	return errors.As(err, &te) && te.Code == "RANDOM_ID_DUPLICATE"
}

// stableID derives a random_id from a key, so one logical post keeps one id.
func stableID(key string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	v := int64(h.Sum64() &^ (1 << 63))
	if v == 0 {
		v = 1
	}
	return v
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
