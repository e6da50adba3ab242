package telegram

import (
	"strings"
	"time"

	"github.com/gotd/td/tg"

	"github.com/keycare/keycare/chats"
)

// people indexes the users an update or history page mentions.
type people map[int64]*tg.User

func peopleOf(users []tg.UserClass) people {
	p := make(people, len(users))
	for _, u := range users {
		if u, ok := u.(*tg.User); ok {
			p[u.ID] = u
		}
	}
	return p
}

func (p people) name(id int64) (name, username string) {
	u, ok := p[id]
	if !ok {
		return "", ""
	}
	return strings.TrimSpace(u.FirstName + " " + u.LastName), u.Username
}

func unix(sec int) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(int64(sec), 0).UTC()
}

func channelOf(p tg.PeerClass) (int64, bool) {
	c, ok := p.(*tg.PeerChannel)
	if !ok {
		return 0, false
	}
	return c.ChannelID, true
}

func userOf(p tg.PeerClass) int64 {
	if u, ok := p.(*tg.PeerUser); ok {
		return u.UserID
	}
	return 0
}

// membership is a join or leave a service message records.
type membership struct {
	userID int64
	joined bool
}

// header fills what every channel message has: where, who, when. ok is
// false outside channels.
func header(peer, from tg.PeerClass, id int, out bool, date int, p people, self int64) (chats.InboundMessage, bool) {
	ch, isChannel := channelOf(peer)
	if !isChannel {
		return chats.InboundMessage{}, false
	}
	sender := userOf(from)
	name, username := p.name(sender)
	return chats.InboundMessage{
		ChannelID: ch, MessageID: id, SenderTelegramID: sender, SenderName: name, SenderUsername: username,
		Out: out || (sender != 0 && sender == self), Date: unix(date),
	}, true
}

// inbound converts a channel message to the domain's words. ok is false for
// messages Keycare does not keep: empty ones, messages outside channels and
// service messages other than join, leave, title, create and migrate.
func inbound(m tg.MessageClass, p people, self int64) (msg chats.InboundMessage, members []membership, ok bool) {
	switch m := m.(type) {
	case *tg.Message:
		msg, ok = header(m.PeerID, m.FromID, m.ID, m.Out, m.Date, p, self)
		if !ok {
			return msg, nil, false
		}
		msg.Text, msg.Media, msg.EditDate = m.Message, media(m.Media), unix(m.EditDate)
		if r, ok := m.ReplyTo.(*tg.MessageReplyHeader); ok {
			msg.ReplyTo = r.ReplyToMsgID
		}
		return msg, nil, true
	case *tg.MessageService:
		msg, ok = header(m.PeerID, m.FromID, m.ID, m.Out, m.Date, p, self)
		if !ok {
			return msg, nil, false
		}
		switch a := m.Action.(type) {
		case *tg.MessageActionChatAddUser:
			msg.Service = "join"
			for _, id := range a.Users {
				members = append(members, membership{userID: id, joined: true})
			}
		case *tg.MessageActionChatJoinedByLink, *tg.MessageActionChatJoinedByRequest:
			msg.Service = "join"
			members = append(members, membership{userID: msg.SenderTelegramID, joined: true})
		case *tg.MessageActionChatDeleteUser:
			msg.Service = "leave"
			members = append(members, membership{userID: a.UserID, joined: false})
		case *tg.MessageActionChatEditTitle:
			msg.Service = "title"
			msg.Text = a.Title
		case *tg.MessageActionChannelCreate:
			msg.Service = "create"
			msg.Text = a.Title
		case *tg.MessageActionChatCreate:
			msg.Service = "create"
			msg.Text = a.Title
		case *tg.MessageActionChannelMigrateFrom, *tg.MessageActionChatMigrateTo:
			msg.Service = "migrate"
		default:
			return msg, nil, false
		}
		return msg, members, true
	}
	return msg, nil, false
}

// Media kinds, as chats.Media.Kind names them.
const (
	kindPhoto    = "photo"
	kindDocument = "document"
	kindVoice    = "voice"
	kindVideo    = "video"
	kindSticker  = "sticker"
	kindOther    = "other"
)

// media keeps what Keycare lists of an attachment: kind, file name (from
// DocumentAttributeFilename), mime type and size (of a photo, its largest
// size). A link preview is not an attachment: nil.
func media(m tg.MessageMediaClass) *chats.Media {
	switch m := m.(type) {
	case nil, *tg.MessageMediaEmpty, *tg.MessageMediaWebPage:
		return nil
	case *tg.MessageMediaPhoto:
		out := &chats.Media{Kind: kindPhoto}
		if p, ok := m.Photo.(*tg.Photo); ok {
			out.MimeType = "image/jpeg" // Telegram recompresses photos to JPEG
			if s, ok := largestPhotoSize(p); ok {
				out.Size = int64(s.size)
			}
		}
		return out
	case *tg.MessageMediaDocument:
		doc, ok := m.Document.(*tg.Document)
		if !ok {
			return &chats.Media{Kind: kindDocument}
		}
		out := &chats.Media{Kind: kindDocument, MimeType: doc.MimeType, Size: doc.Size}
		sticker := false
		for _, a := range doc.Attributes {
			switch a := a.(type) {
			case *tg.DocumentAttributeFilename:
				out.FileName = a.FileName
			case *tg.DocumentAttributeAudio:
				if a.Voice {
					out.Kind = kindVoice
				}
			case *tg.DocumentAttributeVideo:
				out.Kind = kindVideo
			case *tg.DocumentAttributeSticker:
				sticker = true
			}
		}
		switch {
		case sticker: // video stickers carry a video attribute too
			out.Kind = kindSticker
		case m.Voice:
			out.Kind = kindVoice
		case m.Video || m.Round:
			out.Kind = kindVideo
		}
		return out
	default:
		return &chats.Media{Kind: kindOther}
	}
}

// photoSize is one downloadable size of a photo.
type photoSize struct {
	typ  string // the thumb_size of its InputPhotoFileLocation
	area int
	size int
}

// largestPhotoSize picks the biggest size of a photo Telegram stores as a
// file: the original, more or less. Inline (cached, stripped) and vector
// outlines are not files.
func largestPhotoSize(p *tg.Photo) (photoSize, bool) {
	var (
		best  photoSize
		found bool
	)
	for _, s := range p.Sizes {
		var c photoSize
		switch s := s.(type) {
		case *tg.PhotoSize:
			c = photoSize{typ: s.Type, area: s.W * s.H, size: s.Size}
		case *tg.PhotoSizeProgressive:
			c = photoSize{typ: s.Type, area: s.W * s.H}
			for _, n := range s.Sizes { // progressive prefixes: the last is the whole
				c.size = max(c.size, n)
			}
		default:
			continue
		}
		if !found || c.area > best.area || c.area == best.area && c.size > best.size {
			best, found = c, true
		}
	}
	return best, found
}
