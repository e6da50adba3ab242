package telegram

import (
	"errors"
	"testing"
	"time"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/keycare/keycare/chats"
)

func TestInbound(t *testing.T) {
	p := peopleOf([]tg.UserClass{&tg.User{ID: 7, FirstName: "Ann", LastName: "Lee", Username: "ann"}, &tg.User{ID: 9, FirstName: "Bo"}})
	peer := &tg.PeerChannel{ChannelID: 100}
	from := func(id int64) tg.PeerClass { return &tg.PeerUser{UserID: id} }
	doc := func(attrs ...tg.DocumentAttributeClass) tg.MessageMediaClass {
		return &tg.MessageMediaDocument{Document: &tg.Document{MimeType: "application/pdf", Size: 1234, Attributes: attrs}}
	}
	for _, tc := range []struct {
		name    string
		in      tg.MessageClass
		ok      bool
		want    chats.InboundMessage
		members []membership
	}{
		{
			name: "text with reply, edited",
			in:   &tg.Message{ID: 5, FromID: from(7), PeerID: peer, Message: "hi", Date: 1000, EditDate: 1010, ReplyTo: &tg.MessageReplyHeader{ReplyToMsgID: 4}},
			ok:   true,
			want: chats.InboundMessage{ChannelID: 100, MessageID: 5, SenderTelegramID: 7, SenderName: "Ann Lee", SenderUsername: "ann", Text: "hi", ReplyTo: 4, Date: unix(1000), EditDate: unix(1010)},
		},
		{
			name: "own message",
			in:   &tg.Message{ID: 6, FromID: from(1), PeerID: peer, Message: "from keycare", Date: 1000},
			ok:   true,
			want: chats.InboundMessage{ChannelID: 100, MessageID: 6, SenderTelegramID: 1, Out: true, Text: "from keycare", Date: unix(1000)},
		},
		{
			name: "posted as the channel",
			in:   &tg.Message{ID: 8, FromID: peer, PeerID: peer, Message: "anon admin", Date: 1000},
			ok:   true,
			want: chats.InboundMessage{ChannelID: 100, MessageID: 8, Text: "anon admin", Date: unix(1000)},
		},
		{
			name: "document with file name",
			in:   &tg.Message{ID: 10, FromID: from(9), PeerID: peer, Date: 1000, Media: doc(&tg.DocumentAttributeFilename{FileName: "offer.pdf"})},
			ok:   true,
			want: chats.InboundMessage{ChannelID: 100, MessageID: 10, SenderTelegramID: 9, SenderName: "Bo", Date: unix(1000), Media: &chats.Media{Kind: "document", FileName: "offer.pdf", MimeType: "application/pdf", Size: 1234}},
		},
		{
			name: "voice",
			in:   &tg.Message{ID: 11, FromID: from(9), PeerID: peer, Date: 1000, Media: doc(&tg.DocumentAttributeAudio{Voice: true})},
			ok:   true,
			want: chats.InboundMessage{ChannelID: 100, MessageID: 11, SenderTelegramID: 9, SenderName: "Bo", Date: unix(1000), Media: &chats.Media{Kind: "voice", MimeType: "application/pdf", Size: 1234}},
		},
		{
			name: "photo",
			in:   &tg.Message{ID: 12, FromID: from(9), PeerID: peer, Date: 1000, Media: &tg.MessageMediaPhoto{}},
			ok:   true,
			want: chats.InboundMessage{ChannelID: 100, MessageID: 12, SenderTelegramID: 9, SenderName: "Bo", Date: unix(1000), Media: &chats.Media{Kind: "photo"}},
		},
		{
			name:    "members added",
			in:      &tg.MessageService{ID: 13, FromID: from(1), PeerID: peer, Date: 1000, Action: &tg.MessageActionChatAddUser{Users: []int64{7, 9}}},
			ok:      true,
			want:    chats.InboundMessage{ChannelID: 100, MessageID: 13, SenderTelegramID: 1, Out: true, Date: unix(1000), Service: "join"},
			members: []membership{{7, true}, {9, true}},
		},
		{
			name:    "joined by link",
			in:      &tg.MessageService{ID: 14, FromID: from(7), PeerID: peer, Date: 1000, Action: &tg.MessageActionChatJoinedByLink{InviterID: 1}},
			ok:      true,
			want:    chats.InboundMessage{ChannelID: 100, MessageID: 14, SenderTelegramID: 7, SenderName: "Ann Lee", SenderUsername: "ann", Date: unix(1000), Service: "join"},
			members: []membership{{7, true}},
		},
		{
			name:    "left",
			in:      &tg.MessageService{ID: 15, FromID: from(9), PeerID: peer, Date: 1000, Action: &tg.MessageActionChatDeleteUser{UserID: 9}},
			ok:      true,
			want:    chats.InboundMessage{ChannelID: 100, MessageID: 15, SenderTelegramID: 9, SenderName: "Bo", Date: unix(1000), Service: "leave"},
			members: []membership{{9, false}},
		},
		{
			name: "title",
			in:   &tg.MessageService{ID: 16, FromID: from(1), PeerID: peer, Date: 1000, Action: &tg.MessageActionChatEditTitle{Title: "New"}},
			ok:   true,
			want: chats.InboundMessage{ChannelID: 100, MessageID: 16, SenderTelegramID: 1, Out: true, Date: unix(1000), Service: "title", Text: "New"},
		},
		{name: "pinned: not kept", in: &tg.MessageService{ID: 17, PeerID: peer, Action: &tg.MessageActionPinMessage{}}},
		{name: "private chat: not kept", in: &tg.Message{ID: 18, PeerID: &tg.PeerUser{UserID: 7}, Message: "dm"}},
		{name: "empty", in: &tg.MessageEmpty{ID: 19}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, members, ok := inbound(tc.in, p, 1)
			if ok != tc.ok {
				t.Fatalf("ok = %v", ok)
			}
			if !ok {
				return
			}
			if (got.Media == nil) != (tc.want.Media == nil) || (got.Media != nil && *got.Media != *tc.want.Media) {
				t.Fatalf("media = %+v, want %+v", got.Media, tc.want.Media)
			}
			got.Media, tc.want.Media = nil, nil
			if got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			if len(members) != len(tc.members) {
				t.Fatalf("members = %v, want %v", members, tc.members)
			}
			for i := range members {
				if members[i] != tc.members[i] {
					t.Fatalf("members = %v, want %v", members, tc.members)
				}
			}
		})
	}
}

func TestInviteHash(t *testing.T) {
	for link, want := range map[string]string{
		"https://t.me/+AbC_d-1":          "AbC_d-1",
		"t.me/+AbC":                      "AbC",
		"https://t.me/joinchat/AbC":      "AbC",
		"http://telegram.me/joinchat/X/": "X",
		"tg://join?invite=AbC":           "AbC",
		"AbCdEf":                         "AbCdEf",
		"+AbCdEf":                        "AbCdEf",
		"https://t.me/+AbC?start=1":      "AbC",
		"https://t.me/public_group":      "",
		"https://example.com/+AbC":       "",
		"":                               "",
	} {
		got, ok := inviteHash(link)
		if got != want || ok != (want != "") {
			t.Errorf("inviteHash(%q) = %q, %v; want %q", link, got, ok, want)
		}
	}
}

func TestTransportErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind string
		wait time.Duration
	}{
		{tgerr.New(420, "FLOOD_WAIT_17"), chats.ErrFloodWait, 17 * time.Second},
		{tgerr.New(400, "PEER_FLOOD"), chats.ErrPeerFlood, 0},
		{tgerr.New(401, "AUTH_KEY_UNREGISTERED"), chats.ErrUnauthorized, 0},
		{tgerr.New(401, "SESSION_REVOKED"), chats.ErrUnauthorized, 0},
		{tgerr.New(401, "USER_DEACTIVATED"), chats.ErrUnauthorized, 0},
		{tgerr.New(400, "CHANNEL_PRIVATE"), chats.ErrNoAccess, 0},
		{tgerr.New(403, "CHAT_WRITE_FORBIDDEN"), chats.ErrNoAccess, 0},
		{tgerr.New(400, "USER_BANNED_IN_CHANNEL"), chats.ErrNoAccess, 0},
		{tgerr.New(400, "CHANNELS_TOO_MUCH"), chats.ErrTooManyChats, 0},
		{tgerr.New(400, "INVITE_HASH_EXPIRED"), chats.ErrBadRequest, 0},
		{tgerr.New(400, "INVITE_HASH_INVALID"), chats.ErrBadRequest, 0},
		{tgerr.New(400, "USERNAME_NOT_OCCUPIED"), chats.ErrBadRequest, 0},
		{tgerr.New(500, "INTERNAL"), chats.ErrTemporary, 0},
		{errors.New("dial tcp: connection refused"), chats.ErrTemporary, 0},
		{ErrLoggedOut, chats.ErrUnauthorized, 0},
	} {
		var te *chats.TransportError
		if err := transportError(tc.err); !errors.As(err, &te) || te.Kind != tc.kind || te.Wait != tc.wait || !errors.Is(err, tc.err) {
			t.Errorf("transportError(%v) = %#v, want kind %s wait %s wrapping the cause", tc.err, err, tc.kind, tc.wait)
		}
	}
	if transportError(nil) != nil {
		t.Error("nil error classified")
	}
}
