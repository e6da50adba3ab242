package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/keycare/keycare/chats"
)

// Transport returns the client as the chat domain's chats.Transport (and
// chats.MediaSource: see Download). FLOOD_WAIT is returned at once as
// ErrFloodWait (the caller, a job, snoozes) rather than slept on inside the
// call. An ErrNoAccess about a mirrored group also reaches the Mirror's
// chats.AccessWatcher, if it has one (access.go).
func (c *Client) Transport() chats.Transport { return transport{c} }

type transport struct{ c *Client }

var _ chats.Transport = transport{}

func (c *Client) selfID() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.self == nil {
		return 0
	}
	return c.self.ID
}

// api waits (up to ConnectWait) for the client to be connected and logged in.
func (c *Client) api(ctx context.Context) (*tg.Client, error) {
	if c.tg == nil {
		return nil, &chats.TransportError{Kind: chats.ErrUnauthorized, Code: "NOT_CONFIGURED", Cause: errors.New("telegram is not configured")}
	}
	select {
	case <-c.stopped:
		if st, err := c.Status(); st == StatusLoggedOut {
			return nil, &chats.TransportError{Kind: chats.ErrUnauthorized, Code: "LOGGED_OUT", Cause: err}
		}
		return nil, &chats.TransportError{Kind: chats.ErrTemporary, Code: "STOPPED", Cause: errors.New("telegram client stopped")}
	default:
	}
	t := time.NewTimer(c.opts.ConnectWait)
	defer t.Stop()
	select {
	case <-c.ready:
		return c.tg.API(), nil
	case <-c.stopped:
		return c.api(ctx)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		_, err := c.Status()
		return nil, &chats.TransportError{Kind: chats.ErrTemporary, Code: "NOT_CONNECTED", Cause: err}
	}
}

// call classifies an RPC error, noting a refused session in the status.
func (c *Client) call(err error) error {
	err = transportError(err)
	if chats.TransportKind(err) == chats.ErrUnauthorized {
		c.setStatus(StatusLoggedOut, err)
	}
	return err
}

func inputChannel(g chats.Group) *tg.InputChannel {
	return &tg.InputChannel{ChannelID: g.ChannelID, AccessHash: g.AccessHash}
}

func inputPeer(g chats.Group) *tg.InputPeerChannel {
	return &tg.InputPeerChannel{ChannelID: g.ChannelID, AccessHash: g.AccessHash}
}

// group fills a missing access hash from the update state.
func (c *Client) group(ctx context.Context, g chats.Group) (chats.Group, error) {
	if g.AccessHash != 0 || c.opts.State == nil {
		return g, nil
	}
	hash, ok, err := c.opts.State.GetChannelAccessHash(ctx, c.selfID(), g.ChannelID)
	if err != nil {
		return g, err
	}
	if !ok {
		return c.Transport().ResolveGroup(ctx, g.ChannelID)
	}
	g.AccessHash = hash
	return g, nil
}

func groupOf(chatList []tg.ChatClass, id int64) (chats.Group, bool) {
	for _, ch := range chatList {
		if ch, ok := ch.(*tg.Channel); ok && (id == 0 || ch.ID == id) {
			return chats.Group{ChannelID: ch.ID, AccessHash: ch.AccessHash, Title: ch.Title}, true
		}
	}
	return chats.Group{}, false
}

func updatesChats(u tg.UpdatesClass) []tg.ChatClass {
	switch u := u.(type) {
	case *tg.Updates:
		return u.Chats
	case *tg.UpdatesCombined:
		return u.Chats
	}
	return nil
}

// CreateGroup implements chats.Transport. A lost answer can leave a group
// behind, or two: see find.go.
func (t transport) CreateGroup(ctx context.Context, title, about string) (chats.Group, error) {
	api, err := t.c.api(ctx)
	if err != nil {
		return chats.Group{}, err
	}
	started, cuts := time.Now(), t.c.disconnects.Load()
	res, err := api.ChannelsCreateChannel(ctx, &tg.ChannelsCreateChannelRequest{Megagroup: true, Title: title, About: about})
	if err != nil {
		return chats.Group{}, t.c.call(err)
	}
	var ch *tg.Channel
	for _, c := range updatesChats(res) {
		if c, ok := c.(*tg.Channel); ok {
			ch = c
			break
		}
	}
	if ch == nil {
		return chats.Group{}, &chats.TransportError{Kind: chats.ErrTemporary, Code: "NO_CHANNEL_IN_RESULT", Cause: fmt.Errorf("createChannel answered %T without a channel", res)}
	}
	if t.c.disconnects.Load() != cuts {
		t.c.warnDuplicates(ctx, api, ch, title, about, time.Since(started))
	}
	return chats.Group{ChannelID: ch.ID, AccessHash: ch.AccessHash, Title: ch.Title}, nil
}

// inputUser finds a person's Telegram user: by id with a known access
// hash, else by username. ok is false when neither works.
func (c *Client) inputUser(ctx context.Context, api *tg.Client, p chats.Person) (*tg.InputUser, bool, error) {
	if p.TelegramUserID != 0 && c.opts.State != nil {
		hash, ok, err := c.opts.State.GetUserAccessHash(ctx, c.selfID(), p.TelegramUserID)
		if err != nil {
			return nil, false, err
		}
		if ok {
			return &tg.InputUser{UserID: p.TelegramUserID, AccessHash: hash}, true, nil
		}
	}
	username := strings.TrimPrefix(strings.TrimSpace(p.Username), "@")
	if username == "" {
		return nil, false, nil
	}
	r, err := api.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: username})
	if tgerr.Is(err, "USERNAME_NOT_OCCUPIED", "USERNAME_INVALID") {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, c.call(err)
	}
	uid := userOf(r.Peer)
	for _, u := range r.Users {
		if u, ok := u.(*tg.User); ok && u.ID == uid {
			if c.opts.State != nil {
				_ = c.opts.State.SetUserAccessHash(ctx, c.selfID(), u.ID, u.AccessHash)
			}
			return &tg.InputUser{UserID: u.ID, AccessHash: u.AccessHash}, true, nil
		}
	}
	return nil, false, nil
}

// perUserInviteErrors refuse one person, not the whole invitation.
var perUserInviteErrors = []string{"USER_PRIVACY_RESTRICTED", "USER_NOT_MUTUAL_CONTACT", "USER_CHANNELS_TOO_MUCH", "USER_KICKED", "USER_ID_INVALID", "USER_BOT", "USER_BLOCKED", "INPUT_USER_DEACTIVATED", "USER_ALREADY_PARTICIPANT", "BOTS_TOO_MUCH", "USERS_TOO_MUCH"}

// Invite implements chats.Transport, one person per call so that one
// person's privacy settings do not block the others. The returned
// messages.invitedUsers carries updates that bypass gotd's update hook; they
// are handed to the updates manager here, or it would see a false gap.
func (t transport) Invite(ctx context.Context, g chats.Group, people []chats.Person) ([]chats.Person, error) {
	api, err := t.c.api(ctx)
	if err != nil {
		return nil, err
	}
	var notAdded []chats.Person
	for _, p := range people {
		in, ok, err := t.c.inputUser(ctx, api, p)
		if err != nil {
			return notAdded, err
		}
		if !ok {
			notAdded = append(notAdded, p)
			continue
		}
		res, err := api.ChannelsInviteToChannel(ctx, &tg.ChannelsInviteToChannelRequest{Channel: inputChannel(g), Users: []tg.InputUserClass{in}})
		if tgerr.Is(err, "USER_ALREADY_PARTICIPANT") {
			continue
		}
		if tgerr.Is(err, perUserInviteErrors...) {
			notAdded = append(notAdded, p)
			continue
		}
		if err != nil {
			return notAdded, t.c.callOn(g, "channels.inviteToChannel", err)
		}
		if err := t.c.manager.Handle(ctx, res.Updates); err != nil {
			return notAdded, err
		}
		if len(res.MissingInvitees) > 0 {
			notAdded = append(notAdded, p)
		}
	}
	return notAdded, nil
}

// MakeAdmin implements chats.Transport.
func (t transport) MakeAdmin(ctx context.Context, g chats.Group, p chats.Person) error {
	api, err := t.c.api(ctx)
	if err != nil {
		return err
	}
	in, ok, err := t.c.inputUser(ctx, api, p)
	if err != nil {
		return err
	}
	if !ok {
		return &chats.TransportError{Kind: chats.ErrBadRequest, Code: "USER_UNKNOWN", Cause: errors.New("telegram user not found by id or username")}
	}
	_, err = api.ChannelsEditAdmin(ctx, &tg.ChannelsEditAdminRequest{
		Channel: inputChannel(g),
		UserID:  in,
		AdminRights: tg.ChatAdminRights{
			ChangeInfo: true, DeleteMessages: true, BanUsers: true, InviteUsers: true,
			PinMessages: true, ManageCall: true, Other: true,
		},
	})
	return t.c.callOn(g, "channels.editAdmin", err)
}

// ExportInvite implements chats.Transport.
func (t transport) ExportInvite(ctx context.Context, g chats.Group) (string, error) {
	api, err := t.c.api(ctx)
	if err != nil {
		return "", err
	}
	res, err := api.MessagesExportChatInvite(ctx, &tg.MessagesExportChatInviteRequest{Peer: inputPeer(g)})
	if err != nil {
		return "", t.c.callOn(g, "messages.exportChatInvite", err)
	}
	inv, ok := res.(*tg.ChatInviteExported)
	if !ok {
		return "", &chats.TransportError{Kind: chats.ErrTemporary, Code: "NO_LINK", Cause: fmt.Errorf("exportChatInvite answered %T", res)}
	}
	return inv.Link, nil
}

// Send implements chats.Transport. The random_id makes it idempotent:
// Telegram answers a repeat with the original message, and gotd resends an
// unanswered request after a reconnect with the same random_id.
func (t transport) Send(ctx context.Context, g chats.Group, text string, replyTo int, randomID int64) (int, error) {
	api, err := t.c.api(ctx)
	if err != nil {
		return 0, err
	}
	req := &tg.MessagesSendMessageRequest{Peer: inputPeer(g), Message: text, RandomID: randomID}
	if replyTo != 0 {
		req.ReplyTo = &tg.InputReplyToMessage{ReplyToMsgID: replyTo}
	}
	res, err := api.MessagesSendMessage(ctx, req)
	if tgerr.Is(err, "RANDOM_ID_DUPLICATE") {
		return 0, &chats.TransportError{Kind: chats.ErrBadRequest, Code: "RANDOM_ID_DUPLICATE", Cause: err}
	}
	if err != nil {
		return 0, t.c.callOn(g, "messages.sendMessage", err)
	}
	if id, ok := sentID(res, randomID); ok {
		return id, nil
	}
	return 0, &chats.TransportError{Kind: chats.ErrTemporary, Code: "NO_MESSAGE_ID", Cause: fmt.Errorf("sendMessage answered %T without the message id", res)}
}

// sentID finds the id Telegram gave the message sent with randomID.
func sentID(res tg.UpdatesClass, randomID int64) (int, bool) {
	var list []tg.UpdateClass
	switch r := res.(type) {
	case *tg.UpdateShortSentMessage:
		return r.ID, true
	case *tg.Updates:
		list = r.Updates
	case *tg.UpdatesCombined:
		list = r.Updates
	}
	for _, u := range list {
		if u, ok := u.(*tg.UpdateMessageID); ok && u.RandomID == randomID {
			return u.ID, true
		}
	}
	for _, u := range list {
		if u, ok := u.(*tg.UpdateNewChannelMessage); ok {
			if m, ok := u.Message.(*tg.Message); ok && m.Out {
				return m.ID, true
			}
		}
	}
	return 0, false
}

// inviteHash extracts the hash of t.me/+HASH, t.me/joinchat/HASH,
// tg://join?invite=HASH, or a bare hash.
func inviteHash(link string) (string, bool) {
	link = strings.TrimSpace(link)
	if link == "" {
		return "", false
	}
	if strings.HasPrefix(link, "tg:") {
		u, err := url.Parse(link)
		if err != nil {
			return "", false
		}
		h := u.Query().Get("invite")
		return h, h != ""
	}
	s := link
	for _, p := range []string{"https://", "http://"} {
		s = strings.TrimPrefix(s, p)
	}
	for _, p := range []string{"t.me/", "telegram.me/", "telegram.dog/"} {
		if strings.HasPrefix(s, p) {
			s = strings.TrimPrefix(s, p)
			switch {
			case strings.HasPrefix(s, "+"):
				s = s[1:]
			case strings.HasPrefix(s, "joinchat/"):
				s = strings.TrimPrefix(s, "joinchat/")
			default:
				return "", false // a public username, not an invite
			}
			s, _, _ = strings.Cut(s, "?")
			s = strings.TrimSuffix(s, "/")
			return s, s != "" && !strings.Contains(s, "/")
		}
	}
	if strings.ContainsAny(link, "/:?.@ ") {
		return "", false
	}
	return strings.TrimPrefix(link, "+"), true
}

// JoinByInvite implements chats.Transport. Joining a group Keycare is
// already in returns that group.
func (t transport) JoinByInvite(ctx context.Context, link string) (chats.Group, error) {
	hash, ok := inviteHash(link)
	if !ok {
		return chats.Group{}, &chats.TransportError{Kind: chats.ErrBadRequest, Code: "INVITE_LINK_INVALID", Cause: errors.New("not a Telegram invite link")}
	}
	api, err := t.c.api(ctx)
	if err != nil {
		return chats.Group{}, err
	}
	res, err := api.MessagesImportChatInvite(ctx, hash)
	if tgerr.Is(err, "USER_ALREADY_PARTICIPANT") {
		inv, err := api.MessagesCheckChatInvite(ctx, hash)
		if err != nil {
			return chats.Group{}, t.c.call(err)
		}
		if already, ok := inv.(*tg.ChatInviteAlready); ok {
			if g, ok := groupOf([]tg.ChatClass{already.Chat}, 0); ok {
				return g, nil
			}
		}
		return chats.Group{}, &chats.TransportError{Kind: chats.ErrBadRequest, Code: "NOT_A_SUPERGROUP", Cause: fmt.Errorf("invite leads to %T", inv)}
	}
	if err != nil {
		return chats.Group{}, t.c.call(err)
	}
	joined, ok := res.(*tg.MessagesChatInviteJoinResultOk)
	if !ok {
		return chats.Group{}, &chats.TransportError{Kind: chats.ErrBadRequest, Code: "JOIN_NOT_COMPLETED", Cause: fmt.Errorf("importChatInvite answered %T", res)}
	}
	// Like messages.invitedUsers, this result bypasses the update hook.
	if err := t.c.manager.Handle(ctx, joined.Updates); err != nil {
		return chats.Group{}, err
	}
	g, ok := groupOf(updatesChats(joined.Updates), 0)
	if !ok {
		return chats.Group{}, &chats.TransportError{Kind: chats.ErrBadRequest, Code: "NOT_A_SUPERGROUP", Cause: errors.New("invite did not lead to a supergroup")}
	}
	t.c.track(ctx, api, g)
	return g, nil
}

// track makes sure gotd's updates manager knows a group Keycare just joined
// or found, by storing its current pts if none is stored. Without it the
// manager starts tracking the group at its first push, and a push that
// overtook an earlier one makes it skip that earlier message, left to the
// reconciler (minutes); with it, such a gap is seen and fetched at once.
// Best effort: a failure only loses that speed-up.
func (c *Client) track(ctx context.Context, api *tg.Client, g chats.Group) {
	if c.opts.State == nil {
		return
	}
	self := c.selfID()
	if _, found, err := c.opts.State.GetChannelPts(ctx, self, g.ChannelID); err != nil || found {
		return
	}
	full, err := api.ChannelsGetFullChannel(ctx, inputChannel(g))
	if err != nil {
		c.log.Warn("telegram: could not read a group's pts to track it", "channel_id", g.ChannelID, "error", c.call(err))
		return
	}
	if cf, ok := full.FullChat.(*tg.ChannelFull); ok && cf.Pts > 0 {
		if err := c.opts.State.SetChannelAccessHash(ctx, self, g.ChannelID, g.AccessHash); err == nil {
			_ = c.opts.State.SetChannelPts(ctx, self, g.ChannelID, cf.Pts)
		}
	}
}

// ResolveGroup implements chats.Transport: the access hash comes from the
// update state, else from the account's dialogs.
func (t transport) ResolveGroup(ctx context.Context, channelID int64) (chats.Group, error) {
	api, err := t.c.api(ctx)
	if err != nil {
		return chats.Group{}, err
	}
	var hash int64
	found := false
	if t.c.opts.State != nil {
		hash, found, err = t.c.opts.State.GetChannelAccessHash(ctx, t.c.selfID(), channelID)
		if err != nil {
			return chats.Group{}, err
		}
	}
	if !found {
		hash, found, err = t.c.findInDialogs(ctx, api, channelID)
		if err != nil {
			return chats.Group{}, err
		}
	}
	if !found {
		return chats.Group{}, &chats.TransportError{Kind: chats.ErrBadRequest, Code: "CHANNEL_INVALID", Cause: fmt.Errorf("channel %d is not among this account's groups", channelID)}
	}
	g := chats.Group{ChannelID: channelID, AccessHash: hash}
	res, err := api.ChannelsGetChannels(ctx, []tg.InputChannelClass{inputChannel(g)})
	if err != nil {
		return chats.Group{}, t.c.callOn(g, "channels.getChannels", err)
	}
	for _, ch := range res.GetChats() {
		switch ch := ch.(type) {
		case *tg.Channel:
			if ch.ID == channelID {
				if ch.Left {
					t.c.noteLost(g, "CHANNEL_LEFT", "channels.getChannels")
					return chats.Group{}, &chats.TransportError{Kind: chats.ErrNoAccess, Code: "CHANNEL_LEFT", Cause: errors.New("the account is not a member")}
				}
				out := chats.Group{ChannelID: ch.ID, AccessHash: ch.AccessHash, Title: ch.Title}
				t.c.track(ctx, api, out)
				return out, nil
			}
		case *tg.ChannelForbidden:
			if ch.ID == channelID {
				t.c.noteLost(g, "CHANNEL_PRIVATE", "channels.getChannels")
				return chats.Group{}, &chats.TransportError{Kind: chats.ErrNoAccess, Code: "CHANNEL_PRIVATE", Cause: errors.New("the account lost access")}
			}
		}
	}
	return chats.Group{}, &chats.TransportError{Kind: chats.ErrBadRequest, Code: "CHANNEL_INVALID", Cause: fmt.Errorf("channel %d not found", channelID)}
}

// findInDialogs looks through the account's dialogs for a channel.
func (c *Client) findInDialogs(ctx context.Context, api *tg.Client, channelID int64) (int64, bool, error) {
	var (
		hash  int64
		found bool
	)
	err := c.eachDialogChannel(ctx, api, func(ch *tg.Channel) bool {
		if ch.ID == channelID {
			hash, found = ch.AccessHash, true
		}
		return !found
	})
	if err != nil || !found {
		return 0, false, err
	}
	if c.opts.State != nil {
		_ = c.opts.State.SetChannelAccessHash(ctx, c.selfID(), channelID, hash)
	}
	return hash, true, nil
}

// History implements chats.Transport.
func (t transport) History(ctx context.Context, g chats.Group, beforeID, limit int) ([]chats.InboundMessage, error) {
	api, err := t.c.api(ctx)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	res, err := api.MessagesGetHistory(ctx, &tg.MessagesGetHistoryRequest{Peer: inputPeer(g), OffsetID: beforeID, Limit: limit})
	if err != nil {
		return nil, t.c.callOn(g, "messages.getHistory", err)
	}
	msgs, users := historyPage(res)
	p := peopleOf(users)
	self := t.c.selfID()
	out := make([]chats.InboundMessage, 0, len(msgs))
	for _, m := range msgs {
		if in, _, ok := inbound(m, p, self); ok {
			out = append(out, in)
		}
	}
	return out, nil
}
