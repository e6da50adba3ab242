package chats

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/page"
)

// Enqueuer puts a job in the queue inside the caller's transaction, so the
// job exists exactly when the change that needs it is committed.
type Enqueuer interface {
	EnqueueTx(ctx context.Context, tx *gorm.DB, args river.JobArgs, opts *river.InsertOpts) error
}

// ChatView is GET /accounts/{id}/chat: the chat and how it is doing.
type ChatView struct {
	Chat
	Origin    string `json:"origin"`
	LastError string `json:"last_error"`
}

// Sender says who wrote a message.
type Sender struct {
	Kind string  `json:"kind"` // user, contact, keycare
	ID   *string `json:"id"`
	Name string  `json:"name"`
}

// Message is a message as the API shows it.
type Message struct {
	ID                string        `json:"id"`
	AccountID         string        `json:"account_id"`
	TelegramMessageID *int          `json:"telegram_message_id"`
	Side              string        `json:"side"`
	Sender            Sender        `json:"sender"`
	Text              string        `json:"text"`
	ReplyTo           *int          `json:"reply_to"`
	Media             database.JSON `json:"media"`
	Service           string        `json:"service,omitempty"`
	Status            string        `json:"status"`
	Error             string        `json:"error,omitempty"`
	SentAt            *time.Time    `json:"sent_at"`
	EditedAt          *time.Time    `json:"edited_at"`
	DeletedAt         *time.Time    `json:"deleted_at"`
}

func (r messageRow) message() Message {
	m := Message{
		ID: r.ID, AccountID: r.AccountID, TelegramMessageID: r.TelegramMessageID, Side: r.Side, Text: r.Text,
		ReplyTo: r.ReplyTo, Media: r.Media, Service: r.Service, Status: r.Status, Error: r.Error,
		SentAt: r.SentAt, EditedAt: r.EditedAt, DeletedAt: r.DeletedAt,
		Sender: Sender{Kind: r.SenderKind, Name: r.SenderName},
	}
	switch r.SenderKind {
	case "user":
		m.Sender.ID = r.SenderUserID
	case "contact":
		m.Sender.ID = r.SenderContactID
	}
	return m
}

// Service runs chat lifecycles and replies. Account visibility is checked by
// the caller (the API's per-route rule) before any of these methods run.
type Service struct {
	*Store
	jobs Enqueuer
}

// NewService returns the chat service on store.
func NewService(store *Store, jobs Enqueuer) *Service {
	return &Service{Store: store, jobs: jobs}
}

var errNoChat = keycare.Errorf(keycare.ENOTFOUND, "this account has no chat yet")

// chatOf returns an account's chat, or errNoChat.
func chatOf(ctx context.Context, tx *gorm.DB, accountID string) (*chatRow, error) {
	var c chatRow
	if err := tx.WithContext(ctx).Where("account_id = ?", accountID).Take(&c).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, errNoChat
		}
		return nil, err
	}
	return &c, nil
}

// Chat returns an account's chat with its members.
func (s *Service) Chat(ctx context.Context, accountID string) (*ChatView, error) {
	c, err := chatOf(ctx, s.db, accountID)
	if err != nil {
		return nil, err
	}
	var members []memberRow
	if err := s.db.WithContext(ctx).Where("chat_id = ? AND left_at IS NULL", c.ID).Order("joined_at").Find(&members).Error; err != nil {
		return nil, err
	}
	v := &ChatView{Chat: c.view(), Origin: c.Origin, LastError: c.LastError}
	for _, m := range members {
		v.Members = append(v.Members, Member{TelegramUserID: m.TelegramUserID, Name: m.Name, Username: m.Username, Kind: m.Kind, UserID: m.UserID, ContactID: m.ContactID, JoinedAt: m.JoinedAt, LeftAt: m.LeftAt})
	}
	return v, nil
}

func (c chatRow) view() Chat {
	v := Chat{AccountID: c.AccountID, Status: c.Status, Title: c.Title, InviteLink: c.InviteLink, Members: []Member{}, UpdatedAt: c.UpdatedAt}
	if c.ChannelID != nil {
		v.TelegramID = strconv.FormatInt(*c.ChannelID, 10)
	}
	return v
}

// CreateChatArgs asks for an account's group to be created (or finished).
type CreateChatArgs struct {
	ChatID string `json:"chat_id"`
}

// Kind implements river.JobArgs.
func (CreateChatArgs) Kind() string { return "chat_create" }

// AdoptChatArgs asks for an existing group to be joined and its history imported.
type AdoptChatArgs struct {
	ChatID     string `json:"chat_id"`
	InviteLink string `json:"invite_link,omitempty"`
	ChannelID  int64  `json:"channel_id,omitempty"`
}

// Kind implements river.JobArgs.
func (AdoptChatArgs) Kind() string { return "chat_adopt" }

// SyncTeamArgs asks for an account's owner and backup to be invited to its
// group and made admins, after a reassignment.
type SyncTeamArgs struct {
	ChatID string `json:"chat_id"`
}

// Kind implements river.JobArgs.
func (SyncTeamArgs) Kind() string { return "chat_sync_team" }

// Reassigned is the accounts store's OnReassign hook: when an account with
// an active group gets a new owner or backup, they are invited and made
// admins by a job enqueued in the same transaction. The previous owner stays
// in the group (they may still help); a lead removes them in Telegram if needed.
func (s *Service) Reassigned(ctx context.Context, tx *gorm.DB, accountID string) error {
	c, err := chatOf(ctx, tx, accountID)
	if errors.Is(err, errNoChat) || err == nil && c.Status != StatusActive {
		return nil
	}
	if err != nil {
		return err
	}
	return s.jobs.EnqueueTx(ctx, tx, SyncTeamArgs{ChatID: c.ID}, nil)
}

// SendArgs asks for one pending message to be posted.
type SendArgs struct {
	MessageID string `json:"message_id"`
}

// Kind implements river.JobArgs.
func (SendArgs) Kind() string { return "message_send" }

// RequestChat starts creating an account's group. It is idempotent: a second
// call returns the chat already there (created is false). A failed creation
// is started again.
func (s *Service) RequestChat(ctx context.Context, accountID string) (view *ChatView, created bool, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c chatRow
		err := lockRow(tx).Where("account_id = ?", accountID).Take(&c).Error // two retries must not both start a creation
		switch {
		case err == nil && c.Status != StatusFailed:
			return nil
		case err == nil: // failed before: try again
			c.Status, c.LastError, c.UpdatedAt = StatusCreating, "", time.Now().UTC()
			if err := tx.Model(&chatRow{}).Where("id = ?", c.ID).Updates(map[string]any{"status": c.Status, "last_error": "", "updated_at": c.UpdatedAt}).Error; err != nil {
				return err
			}
		case errors.Is(err, gorm.ErrRecordNotFound):
			now := time.Now().UTC()
			c = chatRow{ID: keycare.NewID(), AccountID: accountID, Status: StatusCreating, Origin: "created", Version: 1, CreatedAt: now, UpdatedAt: now}
			if err := tx.Create(&c).Error; err != nil {
				if database.IsUniqueViolation(err) {
					return keycare.Errorf(keycare.ECONFLICT, "the chat is being created by another request; retry")
				}
				return err
			}
		default:
			return err
		}
		created = true
		if err := s.jobs.EnqueueTx(ctx, tx, CreateChatArgs{ChatID: c.ID}, nil); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "chat.create", "chat", c.ID, nil, c.view())
	})
	if err != nil {
		return nil, false, err
	}
	view, err = s.Chat(ctx, accountID)
	return view, created, err
}

// AdoptInput is the body of POST /accounts/{id}/chat/adopt: one of the two.
type AdoptInput struct {
	InviteLink string `json:"invite_link"`
	TelegramID string `json:"telegram_id"`
}

var inviteLink = regexp.MustCompile(`^(https?://)?(t\.me|telegram\.me)/(\+|joinchat/)[A-Za-z0-9_-]{6,64}$`)

// Adopt links an existing Telegram group to the account; a job joins it and
// imports its history.
func (s *Service) Adopt(ctx context.Context, accountID string, in AdoptInput) (*ChatView, error) {
	in.InviteLink, in.TelegramID = strings.TrimSpace(in.InviteLink), strings.TrimSpace(in.TelegramID)
	args := AdoptChatArgs{InviteLink: in.InviteLink}
	switch {
	case in.InviteLink != "" && in.TelegramID != "":
		return nil, keycare.Invalid("invite_link", "give invite_link or telegram_id, not both")
	case in.InviteLink != "":
		if !inviteLink.MatchString(in.InviteLink) {
			return nil, keycare.Invalid("invite_link", "must be an invite link such as https://t.me/+AbCdEf123")
		}
	case in.TelegramID != "":
		id, err := strconv.ParseInt(strings.TrimPrefix(in.TelegramID, "-100"), 10, 64)
		if err != nil || id <= 0 {
			return nil, keycare.Invalid("telegram_id", "must be the group's numeric Telegram id")
		}
		args.ChannelID = id
	default:
		return nil, keycare.Invalid("invite_link", "invite_link or telegram_id is required")
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&chatRow{}).Where("account_id = ? AND status <> ?", accountID, StatusFailed).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return keycare.Errorf(keycare.ECONFLICT, "this account already has a chat; archive it first")
		}
		now := time.Now().UTC()
		c := chatRow{ID: keycare.NewID(), AccountID: accountID, Status: StatusCreating, Origin: "adopted", Version: 1, CreatedAt: now, UpdatedAt: now}
		var failed chatRow
		if err := tx.Where("account_id = ? AND status = ?", accountID, StatusFailed).Take(&failed).Error; err == nil {
			// A failed creation keeps its row (its messages point at it); the adoption takes it over.
			c.ID, c.CreatedAt, c.Version = failed.ID, failed.CreatedAt, failed.Version+1
			if err := tx.Where("chat_id = ?", c.ID).Delete(&memberRow{}).Error; err != nil {
				return err
			}
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		if args.ChannelID != 0 {
			c.ChannelID = &args.ChannelID
		}
		if err := tx.Save(&c).Error; err != nil {
			if database.IsUniqueViolation(err) {
				return keycare.Errorf(keycare.ECONFLICT, "that group is already linked to an account")
			}
			return err
		}
		args.ChatID = c.ID
		if err := s.jobs.EnqueueTx(ctx, tx, args, nil); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "chat.adopt", "chat", c.ID, nil, c.view())
	})
	if err != nil {
		return nil, err
	}
	return s.Chat(ctx, accountID)
}

// Archive stops mirroring an account's group; the group itself is kept.
func (s *Service) Archive(ctx context.Context, accountID string) (*ChatView, error) {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		c, err := chatOf(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if c.Status == StatusArchived {
			return nil
		}
		now := time.Now().UTC()
		if err := tx.Model(&chatRow{}).Where("id = ?", c.ID).Updates(map[string]any{"status": StatusArchived, "archived_at": now, "updated_at": now}).Error; err != nil {
			return err
		}
		s.forget(c.ChannelID)
		after := *c
		after.Status = StatusArchived
		return audit.Record(ctx, tx, "chat.archive", "chat", c.ID, c.view(), after.view())
	})
	if err != nil {
		return nil, err
	}
	return s.Chat(ctx, accountID)
}

// Messages lists an account's messages, newest first.
func (s *Service) Messages(ctx context.Context, accountID string, p page.Request) (page.List[Message], error) {
	keys, err := p.Keys(1)
	if err != nil {
		return page.List[Message]{}, err
	}
	q := s.db.WithContext(ctx).Where("account_id = ?", accountID)
	if keys != nil {
		q = q.Where("id < ?", keys[0])
	}
	var rows []messageRow
	if err := q.Order("id DESC").Limit(p.Size() + 1).Find(&rows).Error; err != nil {
		return page.List[Message]{}, err
	}
	out := make([]Message, len(rows))
	for i, r := range rows {
		out[i] = r.message()
	}
	return page.Trim(out, p.Size(), func(m Message) []string { return []string{m.ID} }), nil
}

// ReplyInput is the body of POST /accounts/{id}/messages.
type ReplyInput struct {
	Text    string `json:"text" validate:"required,max=4096"`
	ReplyTo *int   `json:"reply_to" validate:"omitempty,min=1,max=2147483647"`
}

// QueueReply stores a pending reply and enqueues its send job in the same
// transaction. The random_id Telegram uses to drop duplicates is fixed here,
// before the first attempt, so no retry can post twice.
func (s *Service) QueueReply(ctx context.Context, accountID string, in ReplyInput) (*Message, error) {
	in.Text = strings.TrimSpace(in.Text)
	if err := keycare.Validate(in); err != nil {
		return nil, err
	}
	actor := keycare.ActorFrom(ctx)
	var out Message
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		c, err := chatOf(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if c.Status != StatusActive {
			return keycare.Errorf(keycare.ECONFLICT, "the chat is %s: nothing can be sent", c.Status)
		}
		rid := randomID()
		row := messageRow{
			ID: keycare.NewID(), ChatID: c.ID, AccountID: accountID, RandomID: &rid, Side: SideTeam,
			SenderKind: "user", Text: in.Text, ReplyTo: in.ReplyTo, Status: MessagePending, CreatedAt: time.Now().UTC(),
		}
		if actor.UserID != "" {
			row.SenderUserID = &actor.UserID
			var names []string
			if err := tx.Table("users").Where("id = ?", actor.UserID).Pluck("name", &names).Error; err != nil {
				return err
			}
			if len(names) == 1 {
				row.SenderName = names[0]
			}
		} else {
			row.SenderKind = "keycare"
		}
		if s.Conversations != nil && row.SenderKind == "user" {
			// The reply answers the request now, when the manager sent it;
			// Telegram's confirmation only follows.
			placed, err := s.Conversations.MessagesStored(ctx, tx, []StoredMessage{{
				ID: row.ID, AccountID: accountID, ChatID: c.ID, Side: SideTeam, SenderUserID: row.SenderUserID, Text: row.Text, At: row.CreatedAt,
			}})
			if err != nil {
				return err
			}
			if rid := placed[row.ID]; rid != "" {
				row.RequestID = &rid
			}
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if err := s.jobs.EnqueueTx(ctx, tx, SendArgs{MessageID: row.ID}, nil); err != nil {
			return err
		}
		out = row.message()
		return audit.Record(ctx, tx, "message.send", "message", row.ID, nil, map[string]any{"account_id": accountID, "chars": len([]rune(in.Text))})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// PostNotice posts Keycare's own notice (kind names it: "csat" for the
// rating question) into an account's active group, in the caller's
// transaction. A notice answers no request. ECONFLICT if the chat is not active.
func (s *Service) PostNotice(ctx context.Context, tx *gorm.DB, accountID, text, kind string) error {
	c, err := chatOf(ctx, tx, accountID)
	if err != nil {
		return keycare.Errorf(keycare.ECONFLICT, "the account has no chat")
	}
	if c.Status != StatusActive {
		return keycare.Errorf(keycare.ECONFLICT, "the chat is %s: nothing can be sent", c.Status)
	}
	rid := randomID()
	row := messageRow{
		ID: keycare.NewID(), ChatID: c.ID, AccountID: accountID, RandomID: &rid, Side: SideTeam, SenderKind: "keycare",
		SenderName: "Keycare", Text: text, Service: kind, Status: MessagePending, CreatedAt: time.Now().UTC(),
	}
	if err := tx.WithContext(ctx).Create(&row).Error; err != nil {
		return err
	}
	return s.jobs.EnqueueTx(ctx, tx, SendArgs{MessageID: row.ID}, nil)
}

// randomID is a non-zero random int64 for Telegram's duplicate detection.
func randomID() int64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if v := int64(binary.LittleEndian.Uint64(b[:]) &^ (1 << 63)); v != 0 {
			return v
		}
	}
}
