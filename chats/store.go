package chats

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/database"
)

// chatRow is how a chat is stored.
type chatRow struct {
	ID         string
	AccountID  string
	Status     string
	Origin     string
	ChannelID  *int64
	AccessHash *int64
	Title      string
	InviteLink string
	LastError  string
	Version    int
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ArchivedAt *time.Time
}

func (chatRow) TableName() string { return "chats" }

// messageRow is how a message is stored.
type messageRow struct {
	ID                string
	ChatID            string
	AccountID         string
	TelegramMessageID *int
	RandomID          *int64
	Side              string
	SenderKind        string
	SenderUserID      *string
	SenderContactID   *string
	SenderTelegramID  *int64
	SenderName        string
	Text              string
	ReplyTo           *int
	RequestID         *string
	Media             database.JSON
	Service           string
	Status            string
	Error             string
	SentAt            *time.Time
	EditedAt          *time.Time
	DeletedAt         *time.Time
	CreatedAt         time.Time
}

func (messageRow) TableName() string { return "messages" }

type messageVersion struct {
	ID         string
	MessageID  string
	Text       string
	EditedAt   *time.Time
	ReplacedAt time.Time
}

func (messageVersion) TableName() string { return "message_versions" }

type memberRow struct {
	ChatID         string
	TelegramUserID int64
	Name           string
	Username       string
	Kind           string
	UserID         *string
	ContactID      *string
	JoinedAt       time.Time
	LeftAt         *time.Time
}

func (memberRow) TableName() string { return "chat_members" }

// Message statuses.
const (
	MessageReceived = "received"
	MessagePending  = "pending"
	MessageSent     = "sent"
	MessageFailed   = "failed"
)

// Store keeps chats and their messages. It implements Mirror.
type Store struct {
	db *gorm.DB

	// Conversations, when set, files new messages under requests in the
	// transaction that stores them. Set it before the store is used.
	Conversations Conversations

	// The batch writers (batch.go).
	writers [writerShards]writer

	// team caches Keycare users by Telegram id, and contacts caches
	// (account, Telegram id) → contact, for senderTTL: a burst from one
	// group then classifies its senders without a query per message.
	team     map[int64]string
	teamAt   time.Time
	contacts map[contactKey]cachedContact

	// chats caches which chat mirrors a channel for a moment: a burst of
	// messages into one group then costs one lookup, and an archive made
	// elsewhere (another replica) stops mirroring within chatCacheTTL.
	mu    sync.Mutex
	chats map[int64]cachedChat
}

type cachedChat struct {
	chat    chatRow
	expires time.Time
}

type contactKey struct {
	accountID string
	tgID      int64
}

type cachedContact struct {
	id      string
	expires time.Time
}

// senderTTL bounds how long a cached sender classification is trusted: a
// user's or contact's new Telegram id takes effect within it.
const senderTTL = 2 * time.Second

// chatCacheTTL bounds how long a cached channel → chat answer is trusted.
const chatCacheTTL = 2 * time.Second

// NewStore returns a chat store on db.
func NewStore(db *database.DB) *Store {
	return &Store{db: db.Gorm, chats: map[int64]cachedChat{}, contacts: map[contactKey]cachedContact{}}
}

// mirroredChat is chatByChannel through the cache.
func (s *Store) mirroredChat(ctx context.Context, tx *gorm.DB, channelID int64) (*chatRow, error) {
	now := time.Now()
	s.mu.Lock()
	hit, ok := s.chats[channelID]
	s.mu.Unlock()
	if ok && now.Before(hit.expires) {
		c := hit.chat
		return &c, nil
	}
	c, err := chatByChannel(ctx, tx, channelID)
	if err == nil && c != nil {
		s.mu.Lock()
		s.chats[channelID] = cachedChat{chat: *c, expires: now.Add(chatCacheTTL)}
		s.mu.Unlock()
	}
	return c, err
}

// forget drops a channel from the cache after its chat changed here.
func (s *Store) forget(channelID *int64) {
	if channelID == nil {
		return
	}
	s.mu.Lock()
	delete(s.chats, *channelID)
	s.mu.Unlock()
}

var _ Mirror = (*Store)(nil)

// chatByChannel finds the mirrored chat of a Telegram channel; nil if Keycare
// does not mirror it (unknown, or archived: archived chats are not mirrored).
func chatByChannel(ctx context.Context, tx *gorm.DB, channelID int64) (*chatRow, error) {
	var c chatRow
	err := tx.WithContext(ctx).Where("channel_id = ? AND status IN ?", channelID, []string{StatusActive, StatusCreating, StatusLostAccess}).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &c, err
}

// StoreMessage implements Mirror.
func (s *Store) StoreMessage(ctx context.Context, m InboundMessage) error {
	return s.write(ctx, m.ChannelID, func(b *batchTx) error { return s.storeMessage(b, m) })
}

func (s *Store) storeMessage(b *batchTx, m InboundMessage) error {
	ctx, tx := b.ctx, b.tx
	c, err := s.mirroredChat(ctx, tx, m.ChannelID)
	if err != nil || c == nil {
		return err
	}
	key := msgKey{c.ID, m.MessageID}
	if _, dup := b.keys[key]; dup || m.Out {
		// The same message twice in one batch (an edit right after it), or
		// our own post, which must see what the batch stored so far.
		if err := s.flush(b); err != nil {
			return err
		}
	}
	if m.Out {
		// Keycare's own post whose push came before the send job saw its id:
		// attach the id to the pending row instead of storing it twice.
		res := tx.Model(&messageRow{}).
			Where("id = (SELECT id FROM messages WHERE chat_id = ? AND telegram_message_id IS NULL AND status = ? AND text = ? ORDER BY id LIMIT 1)", c.ID, MessagePending, m.Text).
			Where("NOT EXISTS (SELECT 1 FROM messages WHERE chat_id = ? AND telegram_message_id = ?)", c.ID, m.MessageID).
			Updates(map[string]any{"telegram_message_id": m.MessageID, "status": MessageSent, "sent_at": m.Date.UTC()})
		if res.Error != nil || res.RowsAffected > 0 {
			return res.Error
		}
	}
	row, err := s.newInbound(ctx, tx, c, m)
	if err != nil {
		return err
	}
	if b.keys == nil {
		b.keys = map[msgKey]bool{}
	}
	b.keys[key] = true
	b.inserts = append(b.inserts, pendingInsert{row: row, m: m, chat: c})
	return nil
}

// flush writes the messages the batch gathered: it finds which it has
// already (redeliveries, edits), files the new ones under their requests
// (Conversations), inserts them in one statement with their request, and
// applies edits, joins and leaves.
func (s *Store) flush(b *batchTx) error {
	if len(b.inserts) == 0 {
		return nil
	}
	ins := b.inserts
	b.inserts, b.keys = nil, nil
	known, err := knownKeys(b.tx, ins)
	if err != nil {
		return err
	}
	var fresh []*messageRow
	var stored []StoredMessage
	for _, p := range ins {
		if known[msgKey{p.chat.ID, p.m.MessageID}] {
			continue
		}
		fresh = append(fresh, p.row)
		// Messages older than the chat are history an adoption imported:
		// filed, but they open and answer no request.
		if r := p.row; r.Service == "" && r.SenderKind != "keycare" && !r.SentAt.Before(p.chat.CreatedAt.Truncate(time.Second)) {
			stored = append(stored, StoredMessage{
				ID: r.ID, AccountID: r.AccountID, ChatID: r.ChatID, Side: r.Side,
				SenderUserID: r.SenderUserID, Text: r.Text, At: WrittenAt(r.Status, r.SentAt, r.CreatedAt),
			})
		}
	}
	if s.Conversations != nil && len(stored) > 0 {
		placed, err := s.Conversations.MessagesStored(b.ctx, b.tx, stored)
		if err != nil {
			return err
		}
		for _, r := range fresh {
			if rid, ok := placed[r.ID]; ok && rid != "" {
				r.RequestID = &rid
			}
		}
	}
	if len(fresh) > 0 {
		rows := make([]messageRow, len(fresh))
		for i, r := range fresh {
			rows[i] = *r
		}
		// Nothing else inserts Telegram messages of this channel meanwhile:
		// its writes all go through this shard's writer.
		if err := b.tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
			return err
		}
	}
	for _, p := range ins {
		m, c := p.m, p.chat
		if known[msgKey{c.ID, m.MessageID}] {
			// Known already: a redelivery, or a newer edit of a known message.
			var existing messageRow
			if err := b.tx.Where("chat_id = ? AND telegram_message_id = ?", c.ID, m.MessageID).Take(&existing).Error; err != nil {
				return err
			}
			if err := applyEdit(b.ctx, b.tx, &existing, m); err != nil {
				return err
			}
			continue
		}
		if m.Service == "join" || m.Service == "leave" {
			if err := s.upsertMember(b.ctx, b.tx, c, m.SenderTelegramID, m.SenderName, m.SenderUsername, m.Service == "join", m.Date); err != nil {
				return err
			}
		}
	}
	return nil
}

// knownKeys finds which of the gathered messages are stored already, in one query.
func knownKeys(tx *gorm.DB, ins []pendingInsert) (map[msgKey]bool, error) {
	byChat := map[string][]int{}
	for _, p := range ins {
		byChat[p.chat.ID] = append(byChat[p.chat.ID], p.m.MessageID)
	}
	q := tx.Model(&messageRow{}).Select("chat_id, telegram_message_id")
	cond := tx.Where("1 = 0")
	for chat, ids := range byChat {
		cond = cond.Or("chat_id = ? AND telegram_message_id IN ?", chat, ids)
	}
	var rows []struct {
		ChatID            string
		TelegramMessageID int
	}
	if err := q.Where(cond).Find(&rows).Error; err != nil {
		return nil, err
	}
	known := make(map[msgKey]bool, len(rows))
	for _, r := range rows {
		known[msgKey{r.ChatID, r.TelegramMessageID}] = true
	}
	return known, nil
}

// newInbound builds the row for a message Telegram delivered, classifying its sender.
func (s *Store) newInbound(ctx context.Context, tx *gorm.DB, c *chatRow, m InboundMessage) (*messageRow, error) {
	id := m.MessageID
	row := &messageRow{
		ID: keycare.NewID(), ChatID: c.ID, AccountID: c.AccountID, TelegramMessageID: &id,
		SenderName: m.SenderName, Text: m.Text, Service: m.Service, Status: MessageReceived, CreatedAt: time.Now().UTC(),
	}
	sent := m.Date.UTC()
	row.SentAt = &sent
	if !m.EditDate.IsZero() {
		e := m.EditDate.UTC()
		row.EditedAt = &e
	}
	if m.ReplyTo != 0 {
		r := m.ReplyTo
		row.ReplyTo = &r
	}
	if m.Media != nil {
		row.Media = database.NewJSON(m.Media)
	}
	if m.SenderTelegramID != 0 {
		tg := m.SenderTelegramID
		row.SenderTelegramID = &tg
	}
	kind, userID, contactID, err := s.classify(ctx, tx, c.AccountID, m)
	if err != nil {
		return nil, err
	}
	row.SenderKind, row.SenderUserID, row.SenderContactID = kind, userID, contactID
	row.Side = SideClient
	if kind != "contact" {
		row.Side = SideTeam
	}
	return row, nil
}

// classify says who wrote a message: Keycare's own account, a team member
// (by Telegram id), or a client contact (by Telegram id or username). An
// unknown sender becomes an unverified contact of the account, so every
// client message has a person behind it.
func (s *Store) classify(ctx context.Context, tx *gorm.DB, accountID string, m InboundMessage) (kind string, userID, contactID *string, err error) {
	if m.Out {
		return "keycare", nil, nil, nil
	}
	if m.SenderTelegramID != 0 {
		id, ok, err := s.teamMember(ctx, tx, m.SenderTelegramID)
		if err != nil {
			return "", nil, nil, err
		}
		if ok {
			return "user", &id, nil, nil
		}
		key := contactKey{accountID, m.SenderTelegramID}
		s.mu.Lock()
		hit, cached := s.contacts[key]
		s.mu.Unlock()
		if cached && time.Now().Before(hit.expires) {
			return "contact", nil, &hit.id, nil
		}
		defer func() {
			if err == nil && contactID != nil {
				s.mu.Lock()
				if len(s.contacts) > 10000 {
					clear(s.contacts)
				}
				s.contacts[key] = cachedContact{id: *contactID, expires: time.Now().Add(senderTTL)}
				s.mu.Unlock()
			}
		}()
	}
	q := tx.WithContext(ctx).Table("contacts").Where("account_id = ? AND removed_at IS NULL", accountID)
	username := strings.TrimPrefix(m.SenderUsername, "@")
	switch {
	case m.SenderTelegramID != 0 && username != "":
		q = q.Where("(telegram_user_id = ? OR (telegram_user_id IS NULL AND lower(telegram_username) = lower(?)))", m.SenderTelegramID, username)
	case m.SenderTelegramID != 0:
		q = q.Where("telegram_user_id = ?", m.SenderTelegramID)
	default:
		q = q.Where("1 = 0")
	}
	var found []struct {
		ID             string
		TelegramUserID *int64
	}
	if err := q.Select("id, telegram_user_id").Order("telegram_user_id IS NULL, id").Limit(1).Find(&found).Error; err != nil {
		return "", nil, nil, err
	}
	if len(found) == 1 {
		if found[0].TelegramUserID == nil && m.SenderTelegramID != 0 {
			// Learn the Telegram id of a contact known only by username.
			if err := tx.WithContext(ctx).Table("contacts").Where("id = ? AND telegram_user_id IS NULL", found[0].ID).Update("telegram_user_id", m.SenderTelegramID).Error; err != nil {
				return "", nil, nil, err
			}
		}
		return "contact", nil, &found[0].ID, nil
	}
	now := time.Now().UTC()
	name := strings.TrimSpace(m.SenderName)
	if name == "" {
		name = "Telegram user"
	}
	c := map[string]any{
		"id": keycare.NewID(), "account_id": accountID, "name": name, "telegram_username": username,
		"verified": false, "version": 1, "created_at": now, "updated_at": now,
	}
	if m.SenderTelegramID != 0 {
		c["telegram_user_id"] = m.SenderTelegramID
	}
	if err := tx.WithContext(ctx).Table("contacts").Create(c).Error; err != nil {
		return "", nil, nil, err
	}
	id := c["id"].(string)
	return "contact", nil, &id, nil
}

// teamMember finds the Keycare user with a Telegram id, through a cache of
// all of them refreshed every senderTTL.
func (s *Store) teamMember(ctx context.Context, tx *gorm.DB, tgID int64) (string, bool, error) {
	s.mu.Lock()
	team, fresh := s.team, time.Since(s.teamAt) < senderTTL
	s.mu.Unlock()
	if !fresh {
		var rows []struct {
			ID             string
			TelegramUserID int64
		}
		if err := tx.WithContext(ctx).Table("users").Select("id, telegram_user_id").Where("telegram_user_id IS NOT NULL").Find(&rows).Error; err != nil {
			return "", false, err
		}
		team = make(map[int64]string, len(rows))
		for _, r := range rows {
			team[r.TelegramUserID] = r.ID
		}
		s.mu.Lock()
		s.team, s.teamAt = team, time.Now()
		s.mu.Unlock()
	}
	id, ok := team[tgID]
	return id, ok, nil
}

// StoreEdit implements Mirror.
func (s *Store) StoreEdit(ctx context.Context, m InboundMessage) error {
	return s.StoreMessage(ctx, m) // a known message gets the edit; an unknown one is stored as it is now
}

// applyEdit replaces a stored message's text when m is newer, keeping the
// old text as a version. Replays of the same or an older state change nothing.
func applyEdit(ctx context.Context, tx *gorm.DB, row *messageRow, m InboundMessage) error {
	if m.EditDate.IsZero() || m.Text == row.Text {
		return nil
	}
	if row.EditedAt != nil && !m.EditDate.After(*row.EditedAt) {
		return nil
	}
	if err := tx.WithContext(ctx).Create(&messageVersion{ID: keycare.NewID(), MessageID: row.ID, Text: row.Text, EditedAt: row.EditedAt, ReplacedAt: time.Now().UTC()}).Error; err != nil {
		return err
	}
	edited := m.EditDate.UTC()
	return tx.WithContext(ctx).Model(&messageRow{}).Where("id = ?", row.ID).Updates(map[string]any{"text": m.Text, "edited_at": edited}).Error
}

// StoreDeletes implements Mirror.
func (s *Store) StoreDeletes(ctx context.Context, channelID int64, ids []int, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	return s.write(ctx, channelID, func(b *batchTx) error {
		if err := s.flush(b); err != nil {
			return err
		}
		ctx, tx := b.ctx, b.tx
		c, err := chatByChannel(ctx, tx, channelID)
		if err != nil || c == nil {
			return err
		}
		return tx.Model(&messageRow{}).Where("chat_id = ? AND telegram_message_id IN ? AND deleted_at IS NULL", c.ID, ids).Update("deleted_at", at.UTC()).Error
	})
}

// StoreMembership implements Mirror.
func (s *Store) StoreMembership(ctx context.Context, channelID, telegramUserID int64, name, username string, joined bool, at time.Time) error {
	return s.write(ctx, channelID, func(b *batchTx) error {
		if err := s.flush(b); err != nil {
			return err
		}
		ctx, tx := b.ctx, b.tx
		c, err := chatByChannel(ctx, tx, channelID)
		if err != nil || c == nil {
			return err
		}
		return s.upsertMember(ctx, tx, c, telegramUserID, name, username, joined, at)
	})
}

func (s *Store) upsertMember(ctx context.Context, tx *gorm.DB, c *chatRow, tgID int64, name, username string, joined bool, at time.Time) error {
	if tgID == 0 {
		return nil
	}
	at = at.UTC()
	var existing memberRow
	err := tx.WithContext(ctx).Where("chat_id = ? AND telegram_user_id = ?", c.ID, tgID).Take(&existing).Error
	if err == nil {
		if joined {
			return tx.Model(&memberRow{}).Where("chat_id = ? AND telegram_user_id = ?", c.ID, tgID).Updates(map[string]any{"left_at": nil, "joined_at": at}).Error
		}
		return tx.Model(&memberRow{}).Where("chat_id = ? AND telegram_user_id = ?", c.ID, tgID).Update("left_at", at).Error
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return err
	}
	kind, userID, contactID, err := s.classify(ctx, tx, c.AccountID, InboundMessage{SenderTelegramID: tgID, SenderName: name, SenderUsername: username})
	if err != nil {
		return err
	}
	if kind == "user" {
		kind = "team"
	} else {
		kind = "client"
	}
	m := memberRow{ChatID: c.ID, TelegramUserID: tgID, Name: name, Username: username, Kind: kind, UserID: userID, ContactID: contactID, JoinedAt: at}
	if !joined {
		m.LeftAt = &at
	}
	return tx.Create(&m).Error
}

// ConfirmSent implements Mirror.
func (s *Store) ConfirmSent(ctx context.Context, randomID int64, messageID int, at time.Time) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row messageRow
		// Lock the row (PostgreSQL): the mirror may be attaching the same id to
		// it from the push right now; the two must not interleave.
		if err := lockRow(tx).Where("random_id = ?", randomID).Take(&row).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil // not one of ours
			}
			return err
		}
		if row.TelegramMessageID != nil {
			return nil
		}
		// The push may already have stored this message as Keycare's own post.
		var dup messageRow
		err := tx.Where("chat_id = ? AND telegram_message_id = ? AND id <> ?", row.ChatID, messageID, row.ID).Take(&dup).Error
		if err == nil {
			// The push stored our post before we learnt its id (its text did not
			// match the pending row). Keep the row the API handed out and drop
			// the pushed copy: it is a mirror artefact seconds old, not history.
			if err := tx.Where("message_id = ?", dup.ID).Delete(&messageVersion{}).Error; err != nil {
				return err
			}
			if err := tx.Where("id = ?", dup.ID).Delete(&messageRow{}).Error; err != nil {
				return err
			}
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		return tx.Model(&messageRow{}).Where("id = ?", row.ID).Updates(map[string]any{"telegram_message_id": messageID, "status": MessageSent, "sent_at": at.UTC(), "error": ""}).Error
	})
}

// lockRow adds FOR UPDATE on PostgreSQL; SQLite's single writer needs none.
func lockRow(tx *gorm.DB) *gorm.DB {
	if tx.Dialector.Name() == "postgres" {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

// KnownMessages implements Mirror.
func (s *Store) KnownMessages(ctx context.Context, channelID int64, fromID, toID int) ([]KnownMessage, error) {
	c, err := chatByChannel(ctx, s.db, channelID)
	if err != nil || c == nil {
		return nil, err
	}
	var rows []messageRow
	if err := s.db.WithContext(ctx).Where("chat_id = ? AND telegram_message_id BETWEEN ? AND ?", c.ID, fromID, toID).Order("telegram_message_id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]KnownMessage, len(rows))
	for i, r := range rows {
		out[i] = KnownMessage{MessageID: *r.TelegramMessageID, Text: r.Text, Deleted: r.DeletedAt != nil}
		if r.EditedAt != nil {
			out[i].EditDate = *r.EditedAt
		}
	}
	return out, nil
}

// ActiveChannels implements Mirror.
func (s *Store) ActiveChannels(ctx context.Context) ([]Channel, error) {
	var rows []chatRow
	if err := s.db.WithContext(ctx).Where("status = ? AND channel_id IS NOT NULL", StatusActive).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Channel, 0, len(rows))
	for _, r := range rows {
		ch := Channel{AccountID: r.AccountID, ChannelID: *r.ChannelID}
		if r.AccessHash != nil {
			ch.AccessHash = *r.AccessHash
		}
		out = append(out, ch)
	}
	return out, nil
}

var _ AccessWatcher = (*Store)(nil)

// MarkInaccessible implements AccessWatcher: the chat is flagged lost_access
// with the reason, mirroring stops, and leads see an alert in the audit log.
func (s *Store) MarkInaccessible(ctx context.Context, channelID int64, reason string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		c, err := chatByChannel(ctx, tx, channelID)
		if err != nil || c == nil || c.Status == StatusLostAccess {
			return err
		}
		now := time.Now().UTC()
		if err := tx.Model(&chatRow{}).Where("id = ?", c.ID).Updates(map[string]any{"status": StatusLostAccess, "last_error": reason, "updated_at": now}).Error; err != nil {
			return err
		}
		s.forget(c.ChannelID)
		ctx := keycare.WithActor(ctx, keycare.Actor{Kind: keycare.ActorTelegram})
		return audit.Record(ctx, tx, "chat.lost_access", "chat", c.ID, map[string]string{"status": c.Status}, map[string]string{"status": StatusLostAccess, "reason": reason})
	})
}

// MessageMedia returns the group, Telegram message id and stored media
// metadata of a message with media, for streaming it.
func (s *Store) MessageMedia(ctx context.Context, accountID, messageID string) (Group, int, Media, error) {
	var m messageRow
	err := s.db.WithContext(ctx).Where("id = ? AND account_id = ?", messageID, accountID).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || err == nil && (len(m.Media) == 0 || string(m.Media) == "null" || m.TelegramMessageID == nil) {
		return Group{}, 0, Media{}, keycare.Errorf(keycare.ENOTFOUND, "this message has no media")
	}
	if err != nil {
		return Group{}, 0, Media{}, err
	}
	var media Media
	if err := m.Media.Decode(&media); err != nil {
		return Group{}, 0, Media{}, err
	}
	var c chatRow
	if err := s.db.WithContext(ctx).Where("id = ?", m.ChatID).Take(&c).Error; err != nil {
		return Group{}, 0, Media{}, err
	}
	if c.ChannelID == nil {
		return Group{}, 0, Media{}, keycare.Errorf(keycare.ENOTFOUND, "this message has no media")
	}
	return Group{ChannelID: *c.ChannelID, AccessHash: deref(c.AccessHash), Title: c.Title}, *m.TelegramMessageID, media, nil
}
