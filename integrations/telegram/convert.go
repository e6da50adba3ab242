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

// inbound converts a channel message to the domain's words. ok is false for
// messages Keycare does not keep: empty ones, messages outside channels and
// service messages other than join, leave, title, create and migrate.
func inbound(m tg.MessageClass, p people, self int64) (msg chats.InboundMessage, members []membership, ok bool) {
	switch m := m.(type) {
	case *tg.Message:
		ch, isChannel := channelOf(m.PeerID)
		if !isChannel {
			return msg, nil, false
		}
		sender := userOf(m.FromID)
		name, username := p.name(sender)
		msg = chats.InboundMessage{
			ChannelID:        ch,
			MessageID:        m.ID,
			SenderTelegramID: sender,
			SenderName:       name,
			SenderUsername:   username,
			Out:              m.Out || (sender != 0 && sender == self),
			Text:             m.Message,
			Media:            media(m.Media),
			Date:             unix(m.Date),
			EditDate:         unix(m.EditDate),
		}
		if r, ok := m.ReplyTo.(*tg.MessageReplyHeader); ok {
			msg.ReplyTo = r.ReplyToMsgID
		}
		return msg, nil, true
	case *tg.MessageService:
		ch, isChannel := channelOf(m.PeerID)
		if !isChannel {
			return msg, nil, false
		}
		sender := userOf(m.FromID)
		name, username := p.name(sender)
		msg = chats.InboundMessage{
			ChannelID:        ch,
			MessageID:        m.ID,
			SenderTelegramID: sender,
			SenderName:       name,
			SenderUsername:   username,
			Out:              m.Out || (sender != 0 && sender == self),
			Date:             unix(m.Date),
		}
		switch a := m.Action.(type) {
		case *tg.MessageActionChatAddUser:
			msg.Service = "join"
			for _, id := range a.Users {
				members = append(members, membership{userID: id, joined: true})
			}
		case *tg.MessageActionChatJoinedByLink, *tg.MessageActionChatJoinedByRequest:
			msg.Service = "join"
			members = append(members, membership{userID: sender, joined: true})
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

// media keeps what Keycare lists of an attachment.
func media(m tg.MessageMediaClass) *chats.Media {
	switch m := m.(type) {
	case nil, *tg.MessageMediaEmpty:
		return nil
	case *tg.MessageMediaPhoto:
		return &chats.Media{Kind: "photo"}
	case *tg.MessageMediaDocument:
		doc, ok := m.Document.(*tg.Document)
		if !ok {
			return &chats.Media{Kind: "document"}
		}
		out := &chats.Media{Kind: "document", MimeType: doc.MimeType, Size: doc.Size}
		for _, a := range doc.Attributes {
			switch a := a.(type) {
			case *tg.DocumentAttributeFilename:
				out.FileName = a.FileName
			case *tg.DocumentAttributeAudio:
				if a.Voice {
					out.Kind = "voice"
				}
			case *tg.DocumentAttributeVideo:
				out.Kind = "video"
			case *tg.DocumentAttributeSticker:
				out.Kind = "sticker"
			}
		}
		if m.Voice {
			out.Kind = "voice"
		}
		return out
	default:
		return &chats.Media{Kind: "other"}
	}
}
