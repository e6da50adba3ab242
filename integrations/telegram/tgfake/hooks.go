package tgfake

import (
	"context"
	"fmt"
	mrand "math/rand/v2"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"github.com/gotd/td/tgtest"
)

// PostFromClient posts text to a channel as fromUser (who need not be
// connected) and pushes UpdateNewChannelMessage to every connected member.
// It returns the new message id.
func (s *Server) PostFromClient(ctx context.Context, channelID, fromUser int64, text string) (int, error) {
	return s.Post(ctx, channelID, &tg.Message{FromID: &tg.PeerUser{UserID: fromUser}, Message: text})
}

// Post appends a prepared message (text, media, reply header…) to a
// channel; ID, PeerID and a zero Date are filled in.
func (s *Server) Post(ctx context.Context, channelID int64, m *tg.Message) (int, error) {
	s.mu.Lock()
	ch, ok := s.channels[channelID]
	if !ok {
		s.mu.Unlock()
		return 0, fmt.Errorf("tgfake: no channel %d", channelID)
	}
	if m.Date == 0 {
		m.Date = now()
	}
	_, ev := ch.addMessage(m)
	pushes := s.preparePush(ch, ev, [8]byte{})
	s.mu.Unlock()
	s.send(ctx, pushes)
	return ev.ids[0], nil
}

// Edit changes a message's text, sets its edit date and pushes
// UpdateEditChannelMessage.
func (s *Server) Edit(ctx context.Context, channelID int64, messageID int, text string) error {
	s.mu.Lock()
	ch, ok := s.channels[channelID]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("tgfake: no channel %d", channelID)
	}
	_, ev, ok := ch.editMessage(messageID, text)
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("tgfake: no message %d in channel %d", messageID, channelID)
	}
	pushes := s.preparePush(ch, ev, [8]byte{})
	s.mu.Unlock()
	s.send(ctx, pushes)
	return nil
}

// Delete removes messages and pushes UpdateDeleteChannelMessages.
func (s *Server) Delete(ctx context.Context, channelID int64, messageIDs ...int) error {
	s.mu.Lock()
	ch, ok := s.channels[channelID]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("tgfake: no channel %d", channelID)
	}
	ev, ok := ch.deleteMessages(messageIDs)
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("tgfake: no such messages in channel %d", channelID)
	}
	pushes := s.preparePush(ch, ev, [8]byte{})
	s.mu.Unlock()
	s.send(ctx, pushes)
	return nil
}

// Join adds a user to a channel as if by invite link, posting the service
// message (MessageActionChatJoinedByLink) Telegram posts.
func (s *Server) Join(ctx context.Context, channelID, userID int64) error {
	return s.membership(ctx, channelID, userID, true)
}

// Leave removes a user from a channel, posting MessageActionChatDeleteUser.
func (s *Server) Leave(ctx context.Context, channelID, userID int64) error {
	return s.membership(ctx, channelID, userID, false)
}

func (s *Server) membership(ctx context.Context, channelID, userID int64, join bool) error {
	s.mu.Lock()
	ch, ok := s.channels[channelID]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("tgfake: no channel %d", channelID)
	}
	var action tg.MessageActionClass = &tg.MessageActionChatDeleteUser{UserID: userID}
	if join {
		ch.Members[userID] = true
		delete(ch.banned, userID)
		action = &tg.MessageActionChatJoinedByLink{InviterID: ch.Creator}
	}
	_, ev := ch.addMessage(&tg.MessageService{FromID: &tg.PeerUser{UserID: userID}, Date: now(), Action: action})
	pushes := s.preparePush(ch, ev, [8]byte{})
	if !join {
		delete(ch.Members, userID)
		delete(ch.Admins, userID)
	}
	s.mu.Unlock()
	s.send(ctx, pushes)
	return nil
}

// Kick removes a member as the channel's creator would (a ban). The other
// members get the MessageActionChatDeleteUser service message; the kicked
// user's sessions get one last push, updateChannel with the group as
// channelForbidden, as Telegram sends it. Afterwards no push reaches them,
// and their calls about the channel answer CHANNEL_PRIVATE (getChannels:
// channelForbidden). The service message and the updateChannel are two
// pushes for DropNextPushes. Join or an invitation lifts the ban.
func (s *Server) Kick(ctx context.Context, channelID, userID int64) error {
	s.mu.Lock()
	ch, ok := s.channels[channelID]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("tgfake: no channel %d", channelID)
	}
	if !ch.Members[userID] {
		s.mu.Unlock()
		return fmt.Errorf("tgfake: user %d is not in channel %d", userID, channelID)
	}
	var kicked []recipient
	for _, r := range s.recipients(ch, [8]byte{}) {
		if r.user == userID {
			kicked = append(kicked, r)
		}
	}
	delete(ch.Members, userID)
	delete(ch.Admins, userID)
	ch.banned[userID] = true
	_, ev := ch.addMessage(&tg.MessageService{FromID: &tg.PeerUser{UserID: ch.Creator}, Date: now(), Action: &tg.MessageActionChatDeleteUser{UserID: userID}})
	pushes := s.preparePush(ch, ev, [8]byte{})
	if !s.drop.take() {
		for _, r := range kicked {
			pushes = append(pushes, push{to: r, updates: &tg.Updates{
				Updates: []tg.UpdateClass{&tg.UpdateChannel{ChannelID: ch.ID}},
				Users:   s.usersOf(r.user),
				Chats:   []tg.ChatClass{ch.forbidden()},
				Date:    now(),
			}})
		}
	}
	s.mu.Unlock()
	s.send(ctx, pushes)
	return nil
}

// DropNextPushes makes the next n pushes vanish: the events are stored and
// their pts spent, but no session receives them.
func (s *Server) DropNextPushes(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop.next = n
}

// SetDropRatio drops each later push with probability ratio, from a
// generator seeded with seed so a failing run can be replayed. Zero stops it.
func (s *Server) SetDropRatio(ratio float64, seed uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop.ratio = ratio
	s.drop.rng = mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// CutConnections drops every client connection; gotd clients reconnect.
func (s *Server) CutConnections() {
	s.mu.Lock()
	var sessions []tgtest.Session
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		s.srv.ForceDisconnect(sess)
	}
}

// FailNext makes the next n calls of a method (by TL type id, e.g.
// tg.MessagesSendMessageRequestTypeID) answer err without running it.
func (s *Server) FailNext(typeID uint32, n int, err *tgerr.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[typeID] = append(s.faults[typeID], fault{err: err})
	}
}

// ApplyThenCut makes the next n calls of a method run (their effects kept)
// and then drop the connection instead of answering, as when a connection
// dies after Telegram applied a request. The fake never acknowledges a
// request, so gotd resends it on the new connection: a repeated sendMessage
// finds its random_id, a repeated createChannel makes a second channel.
func (s *Server) ApplyThenCut(typeID uint32, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[typeID] = append(s.faults[typeID], fault{cut: true})
	}
}

func (s *Server) takeFault(typeID uint32) (fault, bool) {
	q := s.faults[typeID]
	if len(q) == 0 {
		return fault{}, false
	}
	f := q[0]
	s.faults[typeID] = q[1:]
	return f, true
}

// CreateChannel creates a supergroup owned by owner with the given members,
// as if made elsewhere (no pushes): a group Keycare may adopt.
func (s *Server) CreateChannel(owner int64, title string, members ...int64) Channel {
	s.mu.Lock()
	ch := s.newChannel(owner, title, "")
	ch.addMessage(&tg.MessageService{FromID: &tg.PeerUser{UserID: owner}, Date: now(), Action: &tg.MessageActionChannelCreate{Title: title}})
	for _, m := range members {
		ch.Members[m] = true
	}
	s.mu.Unlock()
	cp, _ := s.Channel(ch.ID)
	return cp
}

// SetAbout changes a channel's description, as its admins may.
func (s *Server) SetAbout(channelID int64, about string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[channelID]
	if !ok {
		return fmt.Errorf("tgfake: no channel %d", channelID)
	}
	ch.About = about
	return nil
}

// InviteLink exports a new invite link to a channel.
func (s *Server) InviteLink(channelID int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	hash := randHex(8)
	s.invites[hash] = channelID
	return "https://t.me/+" + hash
}

// Dropped is how many pushes the drop switch has eaten so far.
func (s *Server) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.drop.dropped
}

// SetDifferenceTooLong makes getChannelDifference answer
// channelDifferenceTooLong when asked from more than n events back, as
// Telegram does after long downtime; zero turns it off.
func (s *Server) SetDifferenceTooLong(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tooLong = n
}
