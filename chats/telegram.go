package chats

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// InboundMessage is a message as Telegram delivered it, in the domain's words.
// The integration fills it from tg.Message; the domain never sees gotd types.
type InboundMessage struct {
	ChannelID        int64 // the supergroup's Telegram id (without the -100 prefix)
	MessageID        int
	SenderTelegramID int64 // 0 when the sender is the channel itself
	SenderName       string
	SenderUsername   string
	Out              bool // sent by Keycare's own Telegram account
	Text             string
	ReplyTo          int
	Media            *Media
	Date             time.Time
	EditDate         time.Time // zero if never edited
	Service          string    // non-empty for service messages: "join", "leave", "title", "create", "migrate"
}

// Media is what Keycare keeps of an attachment: enough to list it and to
// fetch the bytes from Telegram on demand.
type Media struct {
	Kind     string `json:"kind"` // photo, document, voice, video, sticker, other
	FileName string `json:"file_name,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
	Size     int64  `json:"size,omitempty"`
}

// Mirror is how the Telegram integration hands what it sees to Keycare. Every
// method is idempotent: a redelivered message, edit or delete changes nothing
// the second time, so the integration may retry freely and replay history.
type Mirror interface {
	// StoreMessage records a new message (or, if known, applies a newer edit).
	StoreMessage(ctx context.Context, m InboundMessage) error
	// StoreEdit records an edit, keeping the previous text as a version.
	StoreEdit(ctx context.Context, m InboundMessage) error
	// StoreDeletes marks messages deleted.
	StoreDeletes(ctx context.Context, channelID int64, messageIDs []int, at time.Time) error
	// StoreMembership records that a Telegram user joined or left a group.
	StoreMembership(ctx context.Context, channelID, telegramUserID int64, name, username string, joined bool, at time.Time) error
	// ConfirmSent marks an outgoing message sent once Telegram has assigned its id.
	ConfirmSent(ctx context.Context, randomID int64, messageID int, at time.Time) error
	// KnownMessages returns the stored state of a channel's messages with ids in
	// [fromID, toID], for the reconciler to compare with Telegram's history.
	KnownMessages(ctx context.Context, channelID int64, fromID, toID int) ([]KnownMessage, error)
	// ActiveChannels lists the channels Keycare mirrors.
	ActiveChannels(ctx context.Context) ([]Channel, error)
}

// KnownMessage is what the reconciler compares with Telegram's history.
type KnownMessage struct {
	MessageID int
	Text      string
	EditDate  time.Time
	Deleted   bool
}

// Channel identifies a mirrored supergroup.
type Channel struct {
	AccountID  string
	ChannelID  int64
	AccessHash int64
}

// Group is a supergroup Telegram created or Keycare joined.
type Group struct {
	ChannelID  int64
	AccessHash int64
	Title      string
}

// Person is a Telegram user Keycare wants in a group, by id or username.
type Person struct {
	TelegramUserID int64
	Username       string
}

// Transport is what the chat domain needs from Telegram. The integration
// implements it; errors are *TransportError when Telegram refused.
type Transport interface {
	// CreateGroup creates a supergroup (megagroup) and returns it.
	CreateGroup(ctx context.Context, title, about string) (Group, error)
	// Invite adds people to a group; people Telegram cannot add are returned, not failed.
	Invite(ctx context.Context, g Group, people []Person) (notAdded []Person, err error)
	// MakeAdmin gives a member admin rights.
	MakeAdmin(ctx context.Context, g Group, p Person) error
	// ExportInvite returns a fresh invite link.
	ExportInvite(ctx context.Context, g Group) (string, error)
	// Send posts text; randomID makes a retry idempotent. It returns the message id.
	Send(ctx context.Context, g Group, text string, replyTo int, randomID int64) (int, error)
	// JoinByInvite joins a group from an invite link (t.me/+hash or t.me/joinchat/hash).
	JoinByInvite(ctx context.Context, link string) (Group, error)
	// ResolveGroup finds a group Keycare's account is already in by its id.
	ResolveGroup(ctx context.Context, channelID int64) (Group, error)
	// History returns up to limit messages older than beforeID (0: newest), newest first.
	History(ctx context.Context, g Group, beforeID, limit int) ([]InboundMessage, error)
}

// TransportError is Telegram's refusal, classified so callers know whether to
// wait, retry, or stop and alert.
type TransportError struct {
	Kind  string        // one of the Err* kinds
	Code  string        // Telegram's error type, e.g. FLOOD_WAIT, PEER_FLOOD
	Wait  time.Duration // for ErrFloodWait
	Cause error
}

// Kinds of TransportError.
const (
	ErrFloodWait    = "flood_wait"   // wait Wait, then retry
	ErrPeerFlood    = "peer_flood"   // the account is limited: stop sending, alert
	ErrUnauthorized = "unauthorized" // session revoked or key unregistered: stop, ask for login
	ErrNoAccess     = "no_access"    // kicked, banned, channel private: flag lost_access
	ErrTooManyChats = "too_many"     // CHANNELS_TOO_MUCH: the account is in too many groups
	ErrBadRequest   = "bad_request"  // invalid input (bad invite link, unknown user)
	ErrTemporary    = "temporary"    // network or server trouble: retry with backoff
)

func (e *TransportError) Error() string {
	if e.Kind == ErrFloodWait {
		return fmt.Sprintf("telegram: %s (wait %s)", e.Code, e.Wait)
	}
	return fmt.Sprintf("telegram: %s: %s", e.Kind, e.Code)
}

func (e *TransportError) Unwrap() error { return e.Cause }

// TransportKind returns the kind of a transport error, or "" for other errors.
func TransportKind(err error) string {
	var te *TransportError
	if errors.As(err, &te) {
		return te.Kind
	}
	return ""
}

// MediaSource streams the attachment of a mirrored message from Telegram.
// Keycare keeps only media metadata; the bytes stay on Telegram.
type MediaSource interface {
	// Download writes the media of message messageID in group g to w and
	// returns its metadata. It fails with ErrBadRequest when the message has no media.
	Download(ctx context.Context, g Group, messageID int, w io.Writer) (Media, error)
}

// AccessWatcher is told when Keycare's account lost a group (kicked, banned,
// the group deleted or made private), so the chat can be flagged.
type AccessWatcher interface {
	MarkInaccessible(ctx context.Context, channelID int64, reason string) error
}

// GroupFinder finds a group Keycare's account created earlier, by the marker
// Keycare put in its description. Creating a group is not idempotent on
// Telegram's side: when an attempt's answer is lost, the next attempt looks
// for the group first, so an account never gets two.
type GroupFinder interface {
	FindGroup(ctx context.Context, title, marker string) (Group, bool, error)
}
