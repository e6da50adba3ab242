package tgfake

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"github.com/gotd/td/tgtest"
)

type sessionKey struct{}

// onMessage is the tgtest handler: it records the caller's session, applies
// injected faults, and answers through the dispatcher. Every error goes back
// as rpc_error: any other error would close the connection.
func (s *Server) onMessage(srv *tgtest.Server, req *tgtest.Request) error {
	id, err := req.Buf.PeekID()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.sessions[req.Session.AuthKey.ID] = req.Session
	s.calls[id]++
	f, faulty := s.takeFault(id)
	s.mu.Unlock()

	if faulty && f.err != nil {
		return srv.SendErr(req, f.err)
	}
	ctx := context.WithValue(req.RequestCtx, sessionKey{}, req.Session)
	res, err := s.disp.Handle(ctx, req.Buf)
	if faulty && f.cut {
		srv.ForceDisconnect(req.Session)
		return nil
	}
	if err != nil {
		var rpcErr *tgerr.Error
		if !errors.As(err, &rpcErr) {
			s.log.Warn("tgfake rpc failed", "type_id", id, "error", err)
			rpcErr = tgErr(500, "INTERNAL")
		}
		return srv.SendErr(req, rpcErr)
	}
	return srv.SendResult(req, res)
}

func sessionOf(ctx context.Context) tgtest.Session {
	sess, _ := ctx.Value(sessionKey{}).(tgtest.Session)
	return sess
}

// self returns the user logged in on the caller's auth key; the caller
// holds s.mu.
func (s *Server) self(ctx context.Context) (*User, error) {
	uid, ok := s.authorized[sessionOf(ctx).AuthKey.ID]
	if !ok {
		return nil, tgErr(401, "AUTH_KEY_UNREGISTERED")
	}
	return s.users[uid], nil
}

// memberChannel resolves an input channel the caller belongs to; the caller
// holds s.mu.
func (s *Server) memberChannel(in tg.InputChannelClass, uid int64) (*Channel, error) {
	ic, ok := in.(*tg.InputChannel)
	if !ok {
		return nil, tgErr(400, "CHANNEL_INVALID")
	}
	return s.memberChannelID(ic.ChannelID, ic.AccessHash, uid)
}

func (s *Server) memberChannelID(id, hash, uid int64) (*Channel, error) {
	ch, ok := s.channels[id]
	if !ok || ch.AccessHash != hash {
		return nil, tgErr(400, "CHANNEL_INVALID")
	}
	if !ch.Members[uid] {
		return nil, tgErr(400, "CHANNEL_PRIVATE")
	}
	return ch, nil
}

func (s *Server) peerChannel(in tg.InputPeerClass, uid int64) (*Channel, error) {
	p, ok := in.(*tg.InputPeerChannel)
	if !ok {
		return nil, tgErr(400, "PEER_ID_INVALID")
	}
	return s.memberChannelID(p.ChannelID, p.AccessHash, uid)
}

// banned reports whether uid was kicked from the channel in; the caller
// holds s.mu.
func (s *Server) banned(in tg.InputPeerClass, uid int64) bool {
	p, ok := in.(*tg.InputPeerChannel)
	if !ok {
		return false
	}
	ch, ok := s.channels[p.ChannelID]
	return ok && ch.banned[uid]
}

// inputUser resolves an input user; the caller holds s.mu.
func (s *Server) inputUser(in tg.InputUserClass, self *User) (*User, error) {
	switch in := in.(type) {
	case *tg.InputUserSelf:
		return self, nil
	case *tg.InputUser:
		u, ok := s.users[in.UserID]
		if !ok || u.AccessHash != in.AccessHash {
			return nil, tgErr(400, "USER_ID_INVALID")
		}
		return u, nil
	}
	return nil, tgErr(400, "USER_ID_INVALID")
}

// result wraps channel events caused by the caller into the Updates its RPC
// returns, and prepares the pushes for every other member session.
func (s *Server) result(ctx context.Context, ch *Channel, viewer int64, evs []event, extra ...tg.UpdateClass) (*tg.Updates, []push) {
	var (
		updates = append([]tg.UpdateClass(nil), extra...)
		msgs    []tg.MessageClass
		pushes  []push
	)
	for _, ev := range evs {
		u := ch.update(ev, viewer)
		if m, ok := u.(*tg.UpdateNewChannelMessage); ok {
			msgs = append(msgs, m.Message)
		}
		updates = append(updates, u)
		pushes = append(pushes, s.preparePush(ch, ev, sessionOf(ctx).AuthKey.ID)...)
	}
	return &tg.Updates{
		Updates: updates,
		Users:   s.usersOf(viewer, msgs...),
		Chats:   []tg.ChatClass{ch.tg(viewer)},
		Date:    now(),
	}, pushes
}

func (s *Server) register() {
	d := s.disp
	d.OnHelpGetConfig(func(ctx context.Context) (*tg.Config, error) {
		return &tg.Config{
			ThisDC:                  DC,
			DCOptions:               []tg.DCOption{s.dcOption()},
			Date:                    now(),
			Expires:                 now() + 3600,
			ChatSizeMax:             200,
			MegagroupSizeMax:        200000,
			ForwardedCountMax:       100,
			OnlineUpdatePeriodMs:    120000,
			OfflineBlurTimeoutMs:    5000,
			OfflineIdleTimeoutMs:    30000,
			OnlineCloudTimeoutMs:    300000,
			NotifyCloudDelayMs:      30000,
			NotifyDefaultDelayMs:    1500,
			PushChatPeriodMs:        60000,
			PushChatLimit:           2,
			EditTimeLimit:           172800,
			RevokeTimeLimit:         172800,
			RevokePmTimeLimit:       172800,
			RatingEDecay:            2419200,
			StickersRecentLimit:     200,
			ChannelsReadMediaPeriod: 604800,
			CallReceiveTimeoutMs:    20000,
			CallRingTimeoutMs:       90000,
			CallConnectTimeoutMs:    30000,
			CallPacketTimeoutMs:     10000,
			MeURLPrefix:             "https://t.me/",
			CaptionLengthMax:        1024,
			MessageLengthMax:        4096,
			WebfileDCID:             DC,
		}, nil
	})
	s.registerLogin()
	s.registerFiles()

	d.OnUsersGetUsers(func(ctx context.Context, ids []tg.InputUserClass) ([]tg.UserClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		var out []tg.UserClass
		for _, in := range ids {
			u, err := s.inputUser(in, self)
			if err != nil {
				continue
			}
			out = append(out, u.tg(self.ID))
		}
		return out, nil
	})

	d.OnUpdatesGetState(func(ctx context.Context) (*tg.UpdatesState, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		a := s.accounts[self.ID]
		return &tg.UpdatesState{Pts: a.pts, Qts: a.qts, Seq: a.seq, Date: now()}, nil
	})

	d.OnUpdatesGetDifference(func(ctx context.Context, req *tg.UpdatesGetDifferenceRequest) (tg.UpdatesDifferenceClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		// Only channels are modelled, and their events travel through
		// getChannelDifference: the common box never has news.
		return &tg.UpdatesDifferenceEmpty{Date: now(), Seq: s.accounts[self.ID].seq}, nil
	})

	d.OnUpdatesGetChannelDifference(func(ctx context.Context, req *tg.UpdatesGetChannelDifferenceRequest) (tg.UpdatesChannelDifferenceClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := s.memberChannel(req.Channel, self.ID)
		if err != nil {
			return nil, err
		}
		return s.channelDifference(ch, self.ID, req.Pts, req.Limit), nil
	})

	d.OnChannelsCreateChannel(func(ctx context.Context, req *tg.ChannelsCreateChannelRequest) (tg.UpdatesClass, error) {
		s.mu.Lock()
		self, err := s.self(ctx)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if !req.Megagroup {
			s.mu.Unlock()
			return nil, tgErr(400, "CHANNELS_ADMIN_PUBLIC_TOO_MUCH") // only megagroups are modelled
		}
		if strings.TrimSpace(req.Title) == "" {
			s.mu.Unlock()
			return nil, tgErr(400, "CHAT_TITLE_EMPTY")
		}
		ch := s.newChannel(self.ID, req.Title, req.About)
		_, ev := ch.addMessage(&tg.MessageService{FromID: &tg.PeerUser{UserID: self.ID}, Date: now(), Action: &tg.MessageActionChannelCreate{Title: req.Title}})
		res, pushes := s.result(ctx, ch, self.ID, []event{ev}, &tg.UpdateChannel{ChannelID: ch.ID})
		s.mu.Unlock()
		s.send(ctx, pushes)
		return res, nil
	})

	d.OnChannelsDeleteChannel(func(ctx context.Context, in tg.InputChannelClass) (tg.UpdatesClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := s.memberChannel(in, self.ID)
		if err != nil {
			return nil, err
		}
		if ch.Creator != self.ID {
			return nil, tgErr(403, "CHAT_ADMIN_REQUIRED")
		}
		delete(s.channels, ch.ID) // gone for everyone: later calls answer CHANNEL_INVALID
		return &tg.Updates{Date: now()}, nil
	})

	d.OnChannelsInviteToChannel(func(ctx context.Context, req *tg.ChannelsInviteToChannelRequest) (*tg.MessagesInvitedUsers, error) {
		s.mu.Lock()
		self, err := s.self(ctx)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		ch, err := s.memberChannel(req.Channel, self.ID)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if !ch.Admins[self.ID] {
			s.mu.Unlock()
			return nil, tgErr(403, "CHAT_ADMIN_REQUIRED")
		}
		var added []int64
		for _, in := range req.Users {
			u, err := s.inputUser(in, self)
			if err != nil {
				s.mu.Unlock()
				return nil, err
			}
			if !ch.Members[u.ID] {
				ch.Members[u.ID] = true
				delete(ch.banned, u.ID)
				added = append(added, u.ID)
			}
		}
		var evs []event
		if len(added) > 0 {
			_, ev := ch.addMessage(&tg.MessageService{FromID: &tg.PeerUser{UserID: self.ID}, Date: now(), Action: &tg.MessageActionChatAddUser{Users: added}})
			evs = append(evs, ev)
		}
		res, pushes := s.result(ctx, ch, self.ID, evs)
		s.mu.Unlock()
		s.send(ctx, pushes)
		return &tg.MessagesInvitedUsers{Updates: res}, nil
	})

	d.OnChannelsEditAdmin(func(ctx context.Context, req *tg.ChannelsEditAdminRequest) (tg.UpdatesClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := s.memberChannel(req.Channel, self.ID)
		if err != nil {
			return nil, err
		}
		if ch.Creator != self.ID && !ch.Admins[self.ID] {
			return nil, tgErr(403, "CHAT_ADMIN_REQUIRED")
		}
		u, err := s.inputUser(req.UserID, self)
		if err != nil {
			return nil, err
		}
		if !ch.Members[u.ID] {
			return nil, tgErr(400, "USER_NOT_PARTICIPANT")
		}
		if req.AdminRights.Zero() {
			delete(ch.Admins, u.ID)
		} else {
			ch.Admins[u.ID] = true
		}
		res, _ := s.result(ctx, ch, self.ID, nil)
		return res, nil
	})

	d.OnChannelsGetChannels(func(ctx context.Context, ids []tg.InputChannelClass) (tg.MessagesChatsClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		out := &tg.MessagesChats{}
		for _, in := range ids {
			ic, ok := in.(*tg.InputChannel)
			if !ok {
				return nil, tgErr(400, "CHANNEL_INVALID")
			}
			ch, ok := s.channels[ic.ChannelID]
			if !ok || ch.AccessHash != ic.AccessHash {
				return nil, tgErr(400, "CHANNEL_INVALID")
			}
			if !ch.Members[self.ID] {
				out.Chats = append(out.Chats, ch.forbidden())
				continue
			}
			out.Chats = append(out.Chats, ch.tg(self.ID))
		}
		return out, nil
	})

	d.OnMessagesGetDialogs(func(ctx context.Context, req *tg.MessagesGetDialogsRequest) (tg.MessagesDialogsClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		return s.dialogs(self.ID, req), nil
	})

	d.OnChannelsGetFullChannel(func(ctx context.Context, in tg.InputChannelClass) (*tg.MessagesChatFull, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := s.memberChannel(in, self.ID)
		if err != nil {
			return nil, err
		}
		return &tg.MessagesChatFull{
			FullChat: &tg.ChannelFull{
				ID:                ch.ID,
				About:             ch.About,
				ParticipantsCount: len(ch.Members),
				AdminsCount:       len(ch.Admins),
				ChatPhoto:         &tg.PhotoEmpty{},
				Pts:               ch.Pts,
			},
			Chats: []tg.ChatClass{ch.tg(self.ID)},
			Users: s.usersOf(self.ID),
		}, nil
	})

	d.OnMessagesExportChatInvite(func(ctx context.Context, req *tg.MessagesExportChatInviteRequest) (tg.ExportedChatInviteClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := s.peerChannel(req.Peer, self.ID)
		if err != nil {
			return nil, err
		}
		if !ch.Admins[self.ID] {
			return nil, tgErr(403, "CHAT_ADMIN_REQUIRED")
		}
		hash := randHex(8)
		s.invites[hash] = ch.ID
		return &tg.ChatInviteExported{Link: "https://t.me/+" + hash, AdminID: self.ID, Date: now()}, nil
	})

	d.OnMessagesCheckChatInvite(func(ctx context.Context, hash string) (tg.ChatInviteClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		ch, ok := s.channels[s.invites[hash]]
		if !ok {
			return nil, tgErr(400, "INVITE_HASH_INVALID")
		}
		if ch.Members[self.ID] {
			return &tg.ChatInviteAlready{Chat: ch.tg(self.ID)}, nil
		}
		return &tg.ChatInvite{Megagroup: true, Title: ch.Title, Photo: &tg.PhotoEmpty{}, ParticipantsCount: len(ch.Members), Color: 0}, nil
	})

	d.OnMessagesImportChatInvite(func(ctx context.Context, hash string) (tg.MessagesChatInviteJoinResultClass, error) {
		s.mu.Lock()
		self, err := s.self(ctx)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		ch, ok := s.channels[s.invites[hash]]
		if !ok {
			s.mu.Unlock()
			return nil, tgErr(400, "INVITE_HASH_INVALID")
		}
		if ch.Members[self.ID] {
			s.mu.Unlock()
			return nil, tgErr(400, "USER_ALREADY_PARTICIPANT")
		}
		if ch.banned[self.ID] {
			s.mu.Unlock()
			return nil, tgErr(400, "CHANNEL_PRIVATE")
		}
		ch.Members[self.ID] = true
		_, ev := ch.addMessage(&tg.MessageService{FromID: &tg.PeerUser{UserID: self.ID}, Date: now(), Action: &tg.MessageActionChatJoinedByLink{InviterID: ch.Creator}})
		res, pushes := s.result(ctx, ch, self.ID, []event{ev})
		s.mu.Unlock()
		s.send(ctx, pushes)
		return &tg.MessagesChatInviteJoinResultOk{Updates: res}, nil
	})

	d.OnMessagesSendMessage(func(ctx context.Context, req *tg.MessagesSendMessageRequest) (tg.UpdatesClass, error) {
		s.mu.Lock()
		self, err := s.self(ctx)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		ch, err := s.peerChannel(req.Peer, self.ID)
		if err != nil {
			// A member who left may not write; a kicked one may not see the group.
			if tgerr.Is(err, "CHANNEL_PRIVATE") && !s.banned(req.Peer, self.ID) {
				err = tgErr(403, "CHAT_WRITE_FORBIDDEN")
			}
			s.mu.Unlock()
			return nil, err
		}
		if req.Message == "" {
			s.mu.Unlock()
			return nil, tgErr(400, "MESSAGE_EMPTY")
		}
		key := [2]int64{self.ID, req.RandomID}
		var evs []event
		id, dup := ch.randomIDs[key]
		if !dup {
			m := &tg.Message{FromID: &tg.PeerUser{UserID: self.ID}, Date: now(), Message: req.Message}
			if r, ok := req.ReplyTo.(*tg.InputReplyToMessage); ok && r.ReplyToMsgID != 0 {
				m.ReplyTo = &tg.MessageReplyHeader{ReplyToMsgID: r.ReplyToMsgID}
			}
			_, ev := ch.addMessage(m)
			id = ev.ids[0]
			ch.randomIDs[key] = id
			evs = append(evs, ev)
		}
		res, pushes := s.result(ctx, ch, self.ID, evs, &tg.UpdateMessageID{ID: id, RandomID: req.RandomID})
		if dup {
			// Telegram answers a repeated random_id with the original message.
			if m, ok := ch.messages[id]; ok {
				res.Updates = append(res.Updates, &tg.UpdateNewChannelMessage{Message: view(m, self.ID), Pts: ch.Pts, PtsCount: 0})
			}
		}
		s.mu.Unlock()
		s.send(ctx, pushes)
		return res, nil
	})

	d.OnMessagesGetHistory(func(ctx context.Context, req *tg.MessagesGetHistoryRequest) (tg.MessagesMessagesClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := s.peerChannel(req.Peer, self.ID)
		if err != nil {
			return nil, err
		}
		ids := ch.ids()
		limit := req.Limit
		if limit <= 0 || limit > 100 {
			limit = 100
		}
		var msgs []tg.MessageClass
		for i := len(ids) - 1; i >= 0 && len(msgs) < limit; i-- {
			id := ids[i]
			if req.OffsetID > 0 && id >= req.OffsetID {
				continue
			}
			if req.MaxID > 0 && id >= req.MaxID {
				continue
			}
			if req.MinID > 0 && id <= req.MinID {
				break
			}
			msgs = append(msgs, view(ch.messages[id], self.ID))
		}
		return &tg.MessagesChannelMessages{
			Pts:      ch.Pts,
			Count:    len(ids),
			Messages: msgs,
			Chats:    []tg.ChatClass{ch.tg(self.ID)},
			Users:    s.usersOf(self.ID, msgs...),
		}, nil
	})

	d.OnChannelsGetMessages(func(ctx context.Context, req *tg.ChannelsGetMessagesRequest) (tg.MessagesMessagesClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := s.memberChannel(req.Channel, self.ID)
		if err != nil {
			return nil, err
		}
		var msgs []tg.MessageClass
		for _, in := range req.ID {
			im, ok := in.(*tg.InputMessageID)
			if !ok {
				continue
			}
			if m, ok := ch.messages[im.ID]; ok {
				msgs = append(msgs, view(m, self.ID))
			} else {
				msgs = append(msgs, &tg.MessageEmpty{ID: im.ID, PeerID: ch.peer()})
			}
		}
		return &tg.MessagesChannelMessages{
			Pts:      ch.Pts,
			Count:    len(msgs),
			Messages: msgs,
			Chats:    []tg.ChatClass{ch.tg(self.ID)},
			Users:    s.usersOf(self.ID, msgs...),
		}, nil
	})

	d.OnContactsResolveUsername(func(ctx context.Context, req *tg.ContactsResolveUsernameRequest) (*tg.ContactsResolvedPeer, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		self, err := s.self(ctx)
		if err != nil {
			return nil, err
		}
		uid, ok := s.byUsername[strings.TrimPrefix(req.Username, "@")]
		if !ok {
			return nil, tgErr(400, "USERNAME_NOT_OCCUPIED")
		}
		return &tg.ContactsResolvedPeer{
			Peer:  &tg.PeerUser{UserID: uid},
			Users: []tg.UserClass{s.users[uid].tg(self.ID)},
		}, nil
	})
}

// channelDifferenceLimit caps the events one getChannelDifference returns
// when the client asks for no limit.
const channelDifferenceLimit = 100

// channelDifference replays ch's events after pts: new messages (as they
// are now) in NewMessages, edits and deletes in OtherUpdates. The caller
// holds s.mu.
func (s *Server) channelDifference(ch *Channel, viewer int64, pts, limit int) tg.UpdatesChannelDifferenceClass {
	if pts >= ch.Pts {
		return &tg.UpdatesChannelDifferenceEmpty{Final: true, Pts: ch.Pts}
	}
	if s.tooLong > 0 && ch.Pts-pts > s.tooLong {
		// The newest messages and the dialog's pts: the client takes the
		// rest from history.
		ids := ch.ids()
		var msgs []tg.MessageClass
		for i := len(ids) - 1; i >= 0 && len(msgs) < 20; i-- {
			msgs = append(msgs, view(ch.messages[ids[i]], viewer))
		}
		return &tg.UpdatesChannelDifferenceTooLong{
			Final:    true,
			Dialog:   &tg.Dialog{Peer: ch.peer(), TopMessage: ch.nextMsg, Pts: ch.Pts},
			Messages: msgs,
			Chats:    []tg.ChatClass{ch.tg(viewer)},
			Users:    s.usersOf(viewer, msgs...),
		}
	}
	if limit <= 0 || limit > channelDifferenceLimit {
		limit = channelDifferenceLimit
	}
	var (
		msgs   []tg.MessageClass
		others []tg.UpdateClass
		last   = pts
		n      int
	)
	first := sort.Search(len(ch.events), func(i int) bool { return ch.events[i].pts > pts })
	for _, ev := range ch.events[first:] {
		if n == limit {
			break
		}
		n++
		last = ev.pts
		switch ev.kind {
		case evNew:
			if m, ok := ch.messages[ev.ids[0]]; ok {
				msgs = append(msgs, view(m, viewer))
			}
		default:
			others = append(others, ch.update(ev, viewer))
		}
	}
	return &tg.UpdatesChannelDifference{
		Final:        last == ch.Pts,
		Pts:          last,
		NewMessages:  msgs,
		OtherUpdates: others,
		Chats:        []tg.ChatClass{ch.tg(viewer)},
		Users:        s.usersOf(viewer, msgs...),
	}
}

// dialogPageLimit caps the dialogs one messages.getDialogs returns.
const dialogPageLimit = 100

// dialogs lists the channels viewer is a member of as Telegram orders
// dialogs: newest top message first (ties: higher id first), each with its
// top message. A page starts after offset_date and offset_peer, the last
// dialog of the previous page as clients send it; without offset_peer it
// starts before offset_date. Everything in one page is messages.dialogs,
// otherwise messages.dialogsSlice with the total count. Folders, pinned
// dialogs and offset_id are not modelled. The caller holds s.mu.
func (s *Server) dialogs(viewer int64, req *tg.MessagesGetDialogsRequest) tg.MessagesDialogsClass {
	type entry struct {
		ch   *Channel
		top  tg.MessageClass
		date int
	}
	var all []entry
	for _, ch := range s.channels {
		if !ch.Members[viewer] {
			continue
		}
		e := entry{ch: ch, date: ch.Date}
		if m := ch.top(); m != nil {
			e.top, e.date = view(m, viewer), messageDate(m)
		}
		all = append(all, e)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].date != all[j].date {
			return all[i].date > all[j].date
		}
		return all[i].ch.ID > all[j].ch.ID
	})
	start := 0
	if req.OffsetDate > 0 {
		var offsetPeer int64
		if p, ok := req.OffsetPeer.(*tg.InputPeerChannel); ok {
			offsetPeer = p.ChannelID
		}
		start = sort.Search(len(all), func(i int) bool {
			return all[i].date < req.OffsetDate || all[i].date == req.OffsetDate && all[i].ch.ID < offsetPeer
		})
	}
	limit := req.Limit
	if limit <= 0 || limit > dialogPageLimit {
		limit = dialogPageLimit
	}
	page := all[start:min(start+limit, len(all))]
	var (
		dialogs []tg.DialogClass
		msgs    []tg.MessageClass
		chats   []tg.ChatClass
	)
	for _, e := range page {
		d := &tg.Dialog{Peer: e.ch.peer(), Pts: e.ch.Pts}
		if e.top != nil {
			d.TopMessage = e.top.GetID()
			msgs = append(msgs, e.top)
		}
		dialogs = append(dialogs, d)
		chats = append(chats, e.ch.tg(viewer))
	}
	users := s.usersOf(viewer, msgs...)
	if start == 0 && len(page) == len(all) {
		return &tg.MessagesDialogs{Dialogs: dialogs, Messages: msgs, Chats: chats, Users: users}
	}
	return &tg.MessagesDialogsSlice{Count: len(all), Dialogs: dialogs, Messages: msgs, Chats: chats, Users: users}
}

func messageDate(m tg.MessageClass) int {
	switch m := m.(type) {
	case *tg.Message:
		return m.Date
	case *tg.MessageService:
		return m.Date
	}
	return 0
}
