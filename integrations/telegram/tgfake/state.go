package tgfake

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"math/big"
	mrand "math/rand/v2"
	"sort"
	"time"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"github.com/gotd/td/tgtest"
)

// User is a Telegram user known to the fake: Keycare's own account (log in
// as it) or a client that only posts through the test hooks.
type User struct {
	ID         int64 // assigned by AddUser when zero
	AccessHash int64 // assigned by AddUser when zero
	Username   string
	FirstName  string
	LastName   string
	Phone      string // needed to log in
	Code       string // login code; "12345" when empty
	Password   string // 2FA password; empty for an account without 2FA

	// SRP verifier, computed once (100,000 PBKDF2 rounds).
	srpSalt1, srpSalt2 []byte
	srpV               *big.Int
}

// Channel is a supergroup (megagroup) and its messages.
type Channel struct {
	ID         int64
	AccessHash int64
	Title      string
	About      string
	Creator    int64
	Date       int
	Members    map[int64]bool
	Admins     map[int64]bool
	Pts        int // the channel's pts: one per new message or edit, one per deleted message

	banned   map[int64]bool          // kicked users: their calls answer CHANNEL_PRIVATE
	messages map[int]tg.MessageClass // live messages by id (deleted ones removed)
	nextMsg  int
	events   []event
	// randomIDs makes sendMessage idempotent: (sender, random_id) → message id.
	randomIDs map[[2]int64]int
}

// account is the common update state of a logged-in user. Keycare only uses
// channels, whose sequence is per channel, so pts/qts stay put.
type account struct {
	pts, qts, seq int
}

type eventKind int

const (
	evNew eventKind = iota
	evEdit
	evDelete
)

// event is one pts step in a channel's history, replayed by getChannelDifference.
type event struct {
	pts, count int
	kind       eventKind
	ids        []int
}

type fault struct {
	err *tgerr.Error // answer with this error instead of running the method
	cut bool         // run the method, then drop the connection instead of answering
}

type dropper struct {
	next    int
	ratio   float64
	rng     *mrand.Rand
	dropped int
}

func (d *dropper) take() bool {
	drop := false
	switch {
	case d.next > 0:
		d.next--
		drop = true
	case d.rng != nil && d.ratio > 0:
		drop = d.rng.Float64() < d.ratio
	}
	if drop {
		d.dropped++
	}
	return drop
}

func now() int { return int(time.Now().Unix()) }

func randInt64() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.LittleEndian.Uint64(b[:]) >> 1)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tgErr builds an RPC error as Telegram sends it; tgtest answers *tgerr.Error
// as rpc_error instead of closing the connection.
func tgErr(code int, msg string) *tgerr.Error { return tgerr.New(code, msg) }

// Err is an RPC error for FailNext: code and message as Telegram sends them,
// e.g. Err(420, "FLOOD_WAIT_3"), Err(400, "PEER_FLOOD"),
// Err(400, "CHANNELS_TOO_MUCH"), Err(401, "AUTH_KEY_UNREGISTERED").
func Err(code int, msg string) *tgerr.Error { return tgErr(code, msg) }

// AddUser registers a user and returns it with its id and access hash filled.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == 0 {
		s.nextID++
		u.ID = s.nextID
	}
	if u.AccessHash == 0 {
		u.AccessHash = randInt64()
	}
	if u.Code == "" {
		u.Code = "12345"
	}
	cp := u
	s.users[u.ID] = &cp
	if u.Phone != "" {
		s.byPhone[u.Phone] = u.ID
	}
	if u.Username != "" {
		s.byUsername[u.Username] = u.ID
	}
	return u
}

// Channel returns a copy of a channel's metadata (not its messages).
func (s *Server) Channel(id int64) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[id]
	if !ok {
		return Channel{}, false
	}
	cp := *ch
	cp.Members = copySet(ch.Members)
	cp.Admins = copySet(ch.Admins)
	cp.messages, cp.events, cp.randomIDs, cp.banned = nil, nil, nil, nil
	return cp, true
}

// Channels returns copies of every channel's metadata, oldest first.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	ids := make([]int64, 0, len(s.channels))
	for id := range s.channels {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]Channel, 0, len(ids))
	for _, id := range ids {
		if ch, ok := s.Channel(id); ok {
			out = append(out, ch)
		}
	}
	return out
}

// Messages returns a channel's live messages, oldest first, as the given
// user would see them.
func (s *Server) Messages(channelID int64) []*tg.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[channelID]
	if !ok {
		return nil
	}
	var out []*tg.Message
	for _, id := range ch.ids() {
		if m, ok := ch.messages[id].(*tg.Message); ok {
			cp := *m
			out = append(out, &cp)
		}
	}
	return out
}

func copySet(m map[int64]bool) map[int64]bool {
	out := make(map[int64]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ids returns live message ids, ascending.
func (ch *Channel) ids() []int {
	ids := make([]int, 0, len(ch.messages))
	for id := range ch.messages {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

func (ch *Channel) peer() *tg.PeerChannel { return &tg.PeerChannel{ChannelID: ch.ID} }

// top is ch's newest live message, or nil; the caller holds s.mu.
func (ch *Channel) top() tg.MessageClass {
	for id := ch.nextMsg; id > 0; id-- {
		if m, ok := ch.messages[id]; ok {
			return m
		}
	}
	return nil
}

// newChannel creates a megagroup owned by creator; the caller holds s.mu.
func (s *Server) newChannel(creator int64, title, about string) *Channel {
	s.nextID++
	ch := &Channel{
		ID:         s.nextID,
		AccessHash: randInt64(),
		Title:      title,
		About:      about,
		Creator:    creator,
		Date:       now(),
		Members:    map[int64]bool{creator: true},
		Admins:     map[int64]bool{creator: true},
		banned:     map[int64]bool{},
		messages:   map[int]tg.MessageClass{},
		randomIDs:  map[[2]int64]int{},
	}
	s.channels[ch.ID] = ch
	return ch
}

// addMessage appends a message to ch, advancing its pts; the caller holds s.mu.
func (ch *Channel) addMessage(m tg.MessageClass) (tg.MessageClass, event) {
	ch.nextMsg++
	switch m := m.(type) {
	case *tg.Message:
		m.ID = ch.nextMsg
		m.PeerID = ch.peer()
	case *tg.MessageService:
		m.ID = ch.nextMsg
		m.PeerID = ch.peer()
	}
	ch.messages[ch.nextMsg] = m
	ch.Pts++
	ev := event{pts: ch.Pts, count: 1, kind: evNew, ids: []int{ch.nextMsg}}
	ch.events = append(ch.events, ev)
	return m, ev
}

func (ch *Channel) editMessage(id int, text string) (*tg.Message, event, bool) {
	m, ok := ch.messages[id].(*tg.Message)
	if !ok {
		return nil, event{}, false
	}
	cp := *m
	cp.Message = text
	cp.EditDate = now()
	ch.messages[id] = &cp
	ch.Pts++
	ev := event{pts: ch.Pts, count: 1, kind: evEdit, ids: []int{id}}
	ch.events = append(ch.events, ev)
	return &cp, ev, true
}

func (ch *Channel) deleteMessages(ids []int) (event, bool) {
	var gone []int
	for _, id := range ids {
		if _, ok := ch.messages[id]; ok {
			delete(ch.messages, id)
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return event{}, false
	}
	ch.Pts += len(gone)
	ev := event{pts: ch.Pts, count: len(gone), kind: evDelete, ids: gone}
	ch.events = append(ch.events, ev)
	return ev, true
}

// update renders an event as the update Telegram pushes for it.
func (ch *Channel) update(ev event, viewer int64) tg.UpdateClass {
	switch ev.kind {
	case evEdit:
		if m, ok := ch.messages[ev.ids[0]]; ok {
			return &tg.UpdateEditChannelMessage{Message: view(m, viewer), Pts: ev.pts, PtsCount: ev.count}
		}
	case evDelete:
		return &tg.UpdateDeleteChannelMessages{ChannelID: ch.ID, Messages: ev.ids, Pts: ev.pts, PtsCount: ev.count}
	default:
		if m, ok := ch.messages[ev.ids[0]]; ok {
			return &tg.UpdateNewChannelMessage{Message: view(m, viewer), Pts: ev.pts, PtsCount: ev.count}
		}
	}
	// The message is gone since: an empty message keeps the pts step.
	return &tg.UpdateNewChannelMessage{Message: &tg.MessageEmpty{ID: ev.ids[0], PeerID: ch.peer()}, Pts: ev.pts, PtsCount: ev.count}
}

// view copies m with Out set for viewer.
func view(m tg.MessageClass, viewer int64) tg.MessageClass {
	switch m := m.(type) {
	case *tg.Message:
		cp := *m
		cp.Out = fromUser(m.FromID) == viewer
		return &cp
	case *tg.MessageService:
		cp := *m
		cp.Out = fromUser(m.FromID) == viewer
		return &cp
	}
	return m
}

func fromUser(p tg.PeerClass) int64 {
	if u, ok := p.(*tg.PeerUser); ok {
		return u.UserID
	}
	return 0
}

// tgChannel renders ch as viewer sees it; the caller holds s.mu.
func (ch *Channel) tg(viewer int64) *tg.Channel {
	c := &tg.Channel{
		ID:                ch.ID,
		AccessHash:        ch.AccessHash,
		Title:             ch.Title,
		Photo:             &tg.ChatPhotoEmpty{},
		Date:              ch.Date,
		Megagroup:         true,
		Creator:           ch.Creator == viewer,
		Left:              !ch.Members[viewer],
		ParticipantsCount: len(ch.Members),
	}
	if ch.Admins[viewer] {
		c.AdminRights = tg.ChatAdminRights{ChangeInfo: true, DeleteMessages: true, BanUsers: true, InviteUsers: true, PinMessages: true}
	}
	return c
}

// forbidden renders ch as a user who may not see it does.
func (ch *Channel) forbidden() *tg.ChannelForbidden {
	return &tg.ChannelForbidden{ID: ch.ID, AccessHash: ch.AccessHash, Title: ch.Title, Megagroup: true}
}

// tgUser renders u as viewer sees it; the caller holds s.mu.
func (u *User) tg(viewer int64) *tg.User {
	out := &tg.User{
		ID:         u.ID,
		AccessHash: u.AccessHash,
		FirstName:  u.FirstName,
		LastName:   u.LastName,
		Username:   u.Username,
		Self:       u.ID == viewer,
	}
	if u.ID == viewer {
		out.Phone = u.Phone
	}
	return out
}

// usersOf renders the users messages mention; the caller holds s.mu.
func (s *Server) usersOf(viewer int64, msgs ...tg.MessageClass) []tg.UserClass {
	seen := map[int64]bool{}
	var out []tg.UserClass
	add := func(id int64) {
		if u, ok := s.users[id]; ok && !seen[id] {
			seen[id] = true
			out = append(out, u.tg(viewer))
		}
	}
	add(viewer)
	for _, m := range msgs {
		switch m := m.(type) {
		case *tg.Message:
			add(fromUser(m.FromID))
		case *tg.MessageService:
			add(fromUser(m.FromID))
			switch a := m.Action.(type) {
			case *tg.MessageActionChatAddUser:
				for _, id := range a.Users {
					add(id)
				}
			case *tg.MessageActionChatDeleteUser:
				add(a.UserID)
			}
		}
	}
	return out
}

// recipient is a session that receives a push.
type recipient struct {
	session tgtest.Session
	user    int64
}

// recipients lists the live sessions of ch's members, except the auth key
// that caused the event (it gets the updates as its RPC result); the caller
// holds s.mu.
func (s *Server) recipients(ch *Channel, except [8]byte) []recipient {
	var out []recipient
	for keyID, sess := range s.sessions {
		uid, ok := s.authorized[keyID]
		if !ok || !ch.Members[uid] || keyID == except {
			continue
		}
		out = append(out, recipient{session: sess, user: uid})
	}
	return out
}

// push is an event ready to send, prepared under s.mu and sent without it.
type push struct {
	to      recipient
	updates *tg.Updates
}

// preparePush renders ev for every recipient, unless the drop switch eats
// it: then the event stays stored and its pts spent, a real gap. The caller
// holds s.mu.
func (s *Server) preparePush(ch *Channel, ev event, except [8]byte) []push {
	if s.drop.take() {
		return nil
	}
	var out []push
	for _, r := range s.recipients(ch, except) {
		u := ch.update(ev, r.user)
		var msgs []tg.MessageClass
		switch u := u.(type) {
		case *tg.UpdateNewChannelMessage:
			msgs = append(msgs, u.Message)
		case *tg.UpdateEditChannelMessage:
			msgs = append(msgs, u.Message)
		}
		out = append(out, push{to: r, updates: &tg.Updates{
			Updates: []tg.UpdateClass{u},
			Users:   s.usersOf(r.user, msgs...),
			Chats:   []tg.ChatClass{ch.tg(r.user)},
			Date:    now(),
		}})
	}
	return out
}

// send delivers pushes; a session whose connection is gone simply misses
// the push, as with Telegram, and catches up through getChannelDifference.
func (s *Server) send(ctx context.Context, pushes []push) {
	for _, p := range pushes {
		if err := s.srv.Send(ctx, p.to.session, tgtest.MessageFromServer, p.updates); err != nil {
			s.log.Debug("tgfake push not delivered", "error", err)
		}
	}
}

// srpGroup is Telegram's 2048-bit SRP prime (g = 3).
var srpPrime = func() *big.Int {
	p, _ := new(big.Int).SetString("C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F"+
		"48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37"+
		"20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64"+
		"2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4"+
		"A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754"+
		"FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"+
		"E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F"+
		"0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B", 16)
	return p
}()
