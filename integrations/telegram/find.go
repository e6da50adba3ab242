package telegram

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gotd/td/tg"

	"github.com/keycare/keycare/chats"
)

// Creating a group is not idempotent: channels.createChannel has no
// random_id. When its answer is lost, two things can follow.
//
//   - The call fails (Telegram had acknowledged the request, or the process
//     died): the job retries, and the chat domain first asks FindGroup for
//     the group the lost attempt made, by the marker in its description.
//   - gotd resends it by itself on the next connection, as it does with any
//     request Telegram had not acknowledged when the connection died
//     (telegram.Client.invokeConn): Telegram then makes a second group and
//     CreateGroup returns that one. CreateGroup notices a connection that
//     died during the call and logs the stray group (warnDuplicates).

var _ chats.GroupFinder = transport{}

const (
	// maxDialogs bounds how far the account's dialogs are read: twice the
	// supergroups an account may hold.
	maxDialogs = 1000
	dialogPage = 100
	// titleMax is where Telegram cuts a group title.
	titleMax = 128
)

// FindGroup implements chats.GroupFinder: among the account's first 1,000
// dialogs, the megagroup it created whose title is title and whose
// description is marker. Of several, the oldest. A blank marker finds
// nothing.
func (t transport) FindGroup(ctx context.Context, title, marker string) (chats.Group, bool, error) {
	if strings.TrimSpace(marker) == "" {
		return chats.Group{}, false, nil
	}
	api, err := t.c.api(ctx)
	if err != nil {
		return chats.Group{}, false, err
	}
	created, err := t.c.createdGroups(ctx, api, title)
	if err != nil {
		return chats.Group{}, false, err
	}
	for _, ch := range created {
		g := chats.Group{ChannelID: ch.ID, AccessHash: ch.AccessHash, Title: ch.Title}
		ok, err := t.c.hasAbout(ctx, api, g, marker)
		if err != nil {
			return chats.Group{}, false, err
		}
		if ok {
			if t.c.opts.State != nil {
				_ = t.c.opts.State.SetChannelAccessHash(ctx, t.c.selfID(), ch.ID, ch.AccessHash)
			}
			return g, true, nil
		}
	}
	return chats.Group{}, false, nil
}

// createdGroups lists the megagroups among the account's dialogs that it
// created and is still in, titled title, oldest first.
func (c *Client) createdGroups(ctx context.Context, api *tg.Client, title string) ([]*tg.Channel, error) {
	var out []*tg.Channel
	seen := map[int64]bool{}
	err := c.eachDialogChannel(ctx, api, func(ch *tg.Channel) bool {
		if ch.Megagroup && ch.Creator && !ch.Left && !seen[ch.ID] && sameTitle(ch.Title, title) {
			seen[ch.ID] = true
			out = append(out, ch)
		}
		return true
	})
	slices.SortFunc(out, func(a, b *tg.Channel) int {
		return cmp.Or(cmp.Compare(a.Date, b.Date), cmp.Compare(a.ID, b.ID))
	})
	return out, err
}

// sameTitle compares titles as Telegram stores them: trimmed and cut at
// titleMax characters.
func sameTitle(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimSpace(s)
		if r := []rune(s); len(r) > titleMax {
			s = strings.TrimSpace(string(r[:titleMax]))
		}
		return s
	}
	return norm(a) == norm(b)
}

// hasAbout reports whether g's description is about. A group the account
// may no longer see does not have it.
func (c *Client) hasAbout(ctx context.Context, api *tg.Client, g chats.Group, about string) (bool, error) {
	res, err := api.ChannelsGetFullChannel(ctx, inputChannel(g))
	if err != nil {
		err = c.call(err)
		if chats.TransportKind(err) == chats.ErrNoAccess {
			return false, nil
		}
		return false, err
	}
	full, ok := res.FullChat.(*tg.ChannelFull)
	return ok && full.ID == g.ChannelID && strings.TrimSpace(full.About) == strings.TrimSpace(about), nil
}

// warnDuplicates runs after a createChannel during which the connection
// died: gotd may have sent it twice, making a second group just before
// created. It deletes any such group (created by the account, same title
// and description, at most the call's duration and a minute older) and
// logs it; errors only end the check.
func (c *Client) warnDuplicates(ctx context.Context, api *tg.Client, created *tg.Channel, title, about string, took time.Duration) {
	if strings.TrimSpace(about) == "" {
		return // nothing tells the account's groups apart
	}
	groups, err := c.createdGroups(ctx, api, title)
	if err != nil {
		c.log.Warn("telegram createChannel: connection died during the call; checking for a second group failed", "channel_id", created.ID, "error", err)
		return
	}
	since := created.Date - int(took/time.Second) - 60
	var dupChannels []*tg.Channel
	for _, ch := range groups {
		if ch.ID == created.ID || ch.Date < since || ch.Date > created.Date {
			continue
		}
		ok, err := c.hasAbout(ctx, api, chats.Group{ChannelID: ch.ID, AccessHash: ch.AccessHash}, about)
		if err != nil {
			c.log.Warn("telegram createChannel: connection died during the call; checking for a second group failed", "channel_id", created.ID, "error", err)
			return
		}
		if ok {
			dupChannels = append(dupChannels, ch)
		}
	}
	// An account has one group: the one CreateGroup returns. The other is
	// empty (nobody was invited to it yet) and is deleted.
	for _, ch := range dupChannels {
		_, err := api.ChannelsDeleteChannel(ctx, &tg.InputChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash})
		if err != nil {
			c.log.Warn("telegram createChannel was applied twice (gotd resent it after the connection died); deleting the unused group failed: delete it by hand",
				"channel_id", created.ID, "unused_channel_id", ch.ID, "title", created.Title, "error", c.call(err))
			continue
		}
		c.log.Warn("telegram createChannel was applied twice (gotd resent it after the connection died): deleted the unused group",
			"channel_id", created.ID, "unused_channel_id", ch.ID, "title", created.Title)
	}
}

// eachDialogChannel pages through the account's dialogs, newest first, up
// to maxDialogs, calling fn with every channel the pages carry until fn
// returns false.
func (c *Client) eachDialogChannel(ctx context.Context, api *tg.Client, fn func(*tg.Channel) bool) error {
	req := &tg.MessagesGetDialogsRequest{OffsetPeer: &tg.InputPeerEmpty{}, Limit: dialogPage}
	seen := 0
	for range 2 * maxDialogs / dialogPage { // pages may come short
		res, err := api.MessagesGetDialogs(ctx, req)
		if err != nil {
			return c.call(err)
		}
		var (
			dialogs  []tg.DialogClass
			msgs     []tg.MessageClass
			chatList []tg.ChatClass
			users    []tg.UserClass
			last     bool
		)
		switch r := res.(type) {
		case *tg.MessagesDialogs: // everything in one answer
			dialogs, msgs, chatList, users, last = r.Dialogs, r.Messages, r.Chats, r.Users, true
		case *tg.MessagesDialogsSlice:
			dialogs, msgs, chatList, users, last = r.Dialogs, r.Messages, r.Chats, r.Users, len(r.Dialogs) == 0
		default: // messages.dialogsNotModified answers a hash, and none is sent
			return nil
		}
		for _, ch := range chatList {
			if ch, ok := ch.(*tg.Channel); ok && !fn(ch) {
				return nil
			}
		}
		seen += len(dialogs)
		if last || seen >= maxDialogs {
			return nil
		}
		date, id, peer, ok := dialogsOffset(dialogs, msgs, chatList, users)
		if !ok || date == req.OffsetDate && id == req.OffsetID && peerKey(peer) == peerKey(req.OffsetPeer) {
			return nil // no way on
		}
		req.OffsetDate, req.OffsetID, req.OffsetPeer = date, id, peer
	}
	return nil
}

// dialogsOffset is where the next page of dialogs starts: the last
// dialog's top message and peer, as Telegram expects.
func dialogsOffset(dialogs []tg.DialogClass, msgs []tg.MessageClass, chatList []tg.ChatClass, users []tg.UserClass) (date, id int, peer tg.InputPeerClass, ok bool) {
	if len(dialogs) == 0 {
		return 0, 0, nil, false
	}
	d, isDialog := dialogs[len(dialogs)-1].(*tg.Dialog)
	if !isDialog {
		return 0, 0, nil, false
	}
	id = d.TopMessage
	for _, m := range msgs {
		if m, ok := m.AsNotEmpty(); ok && m.GetID() == id && peerKey(m.GetPeerID()) == peerKey(d.Peer) {
			date = m.GetDate()
		}
	}
	switch p := d.Peer.(type) {
	case *tg.PeerChannel:
		for _, ch := range chatList {
			switch ch := ch.(type) {
			case *tg.Channel:
				if ch.ID == p.ChannelID {
					peer = &tg.InputPeerChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash}
				}
			case *tg.ChannelForbidden:
				if ch.ID == p.ChannelID {
					peer = &tg.InputPeerChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash}
				}
			}
		}
	case *tg.PeerUser:
		for _, u := range users {
			if u, ok := u.(*tg.User); ok && u.ID == p.UserID {
				peer = &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash}
			}
		}
	case *tg.PeerChat:
		peer = &tg.InputPeerChat{ChatID: p.ChatID}
	}
	if peer == nil {
		peer = &tg.InputPeerEmpty{}
	}
	return date, id, peer, date != 0
}

// peerKey identifies a peer or an input peer for comparison.
func peerKey(p any) [2]int64 {
	switch p := p.(type) {
	case *tg.PeerUser:
		return [2]int64{1, p.UserID}
	case *tg.InputPeerUser:
		return [2]int64{1, p.UserID}
	case *tg.PeerChat:
		return [2]int64{2, p.ChatID}
	case *tg.InputPeerChat:
		return [2]int64{2, p.ChatID}
	case *tg.PeerChannel:
		return [2]int64{3, p.ChannelID}
	case *tg.InputPeerChannel:
		return [2]int64{3, p.ChannelID}
	}
	return [2]int64{}
}
