package telegram

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/keycare/keycare/chats"
)

// Keycare's account can lose a group (kicked, banned, the group deleted or
// made private). It shows in four places, all funnelled into noteLost:
//
//   - the updates manager's OnChannelInaccessible (CHANNEL_PRIVATE on
//     updates.getChannelDifference; the manager then stops tracking it);
//   - the updateChannel Telegram pushes on a kick, with the group as
//     channelForbidden (or left);
//   - a Transport call about the group failing with kind ErrNoAccess;
//   - Reconcile failing on it with kind ErrNoAccess.
//
// When Options.Mirror also implements chats.AccessWatcher, the client tells
// it, from one goroutine and at most once per channel: the first sighting
// is reported, later ones while it is pending or after it was reported are
// dropped. Only mirrored channels (Mirror.ActiveChannels) are reported.
// Refusals that may only mean missing rights (CHAT_WRITE_FORBIDDEN,
// CHAT_ADMIN_REQUIRED…) are confirmed with channels.getChannels first. A
// reconcile that succeeds on a reported channel (access restored and the
// chat active again) makes it reportable anew.

// lostTypes are the refusals that by themselves mean the account is out of
// the group; CHANNEL_LEFT is ResolveGroup's code for a group it left.
var lostTypes = []string{"CHANNEL_PRIVATE", "CHANNEL_LEFT", "CHAT_FORBIDDEN", "CHANNEL_PUBLIC_GROUP_NA"}

// lostReport is one sighting of lost access.
type lostReport struct {
	group chats.Group // AccessHash may be zero
	code  string      // Telegram's error type, or what a result showed
	op    string      // where it was seen
}

func (r lostReport) reason() string { return fmt.Sprintf("%s (%s)", r.code, r.op) }

// noteNoAccess notes lost access when err is a transport error of kind
// ErrNoAccess about g.
func (c *Client) noteNoAccess(g chats.Group, op string, err error) {
	var te *chats.TransportError
	if errors.As(err, &te) && te.Kind == chats.ErrNoAccess {
		c.noteLost(g, te.Code, op)
	}
}

// callOn is call for an RPC about group g.
func (c *Client) callOn(g chats.Group, op string, err error) error {
	err = c.call(err)
	c.noteNoAccess(g, op, err)
	return err
}

// noteLost queues a report unless the channel is already pending or
// reported. It never blocks: the manager calls it from a channel worker.
func (c *Client) noteLost(g chats.Group, code, op string) {
	if c.watcher == nil || g.ChannelID == 0 {
		return
	}
	c.mu.Lock()
	_, pending := c.lostPending[g.ChannelID]
	_, reported := c.lostReported[g.ChannelID]
	if !pending && !reported {
		c.lostPending[g.ChannelID] = lostReport{group: g, code: code, op: op}
	}
	c.mu.Unlock()
	if pending || reported {
		return
	}
	select {
	case c.lostWake <- struct{}{}:
	default:
	}
}

// accessOK makes a channel reportable again after a reconcile that began
// once it had been reported (seq is c.lostSeq when the reconcile began)
// read its history.
func (c *Client) accessOK(channelID int64, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if at, ok := c.lostReported[channelID]; ok && at <= seq {
		delete(c.lostReported, channelID)
	}
}

func (c *Client) lostSeqNow() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lostSeq
}

// lostLoop tells the watcher, one report at a time, until ctx ends.
func (c *Client) lostLoop(ctx context.Context) {
	if c.watcher == nil {
		<-ctx.Done()
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.lostWake:
		}
		for {
			r, ok := c.nextLost()
			if !ok {
				break
			}
			reported := c.reportLost(ctx, r)
			if ctx.Err() != nil {
				return
			}
			c.mu.Lock()
			delete(c.lostPending, r.group.ChannelID)
			if reported {
				c.lostSeq++
				c.lostReported[r.group.ChannelID] = c.lostSeq
			}
			c.mu.Unlock()
		}
	}
}

func (c *Client) nextLost() (lostReport, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.lostPending {
		return r, true
	}
	return lostReport{}, false
}

// reportLost tells the watcher about a mirrored channel, once confirmed;
// it reports whether it did.
func (c *Client) reportLost(ctx context.Context, r lostReport) bool {
	id := r.group.ChannelID
	var (
		mirrored bool
		hash     int64
	)
	c.handler.retry(ctx, "active_channels", id, 0, func(ctx context.Context) error {
		channels, err := c.opts.Mirror.ActiveChannels(ctx)
		for _, ch := range channels {
			if ch.ChannelID == id {
				mirrored, hash = true, ch.AccessHash
			}
		}
		return err
	})
	if ctx.Err() != nil || !mirrored {
		return false
	}
	if r.group.AccessHash == 0 {
		r.group.AccessHash = hash
	}
	reason := r.reason()
	if !slices.Contains(lostTypes, r.code) {
		shown, ok := c.confirmLost(ctx, r.group)
		if !ok {
			c.log.Info("telegram refused a call about a group the account is still in", "channel_id", id, "refusal", reason)
			return false
		}
		reason += ", confirmed by " + shown
	}
	c.handler.retry(ctx, "mark_inaccessible", id, 0, func(ctx context.Context) error {
		return c.watcher.MarkInaccessible(ctx, id, reason)
	})
	if ctx.Err() != nil {
		return false
	}
	c.log.Warn("telegram account lost access to a group", "channel_id", id, "reason", reason)
	return true
}

// confirmLost asks channels.getChannels whether the account is out of g,
// and returns what showed it.
func (c *Client) confirmLost(ctx context.Context, g chats.Group) (string, bool) {
	api, err := c.api(ctx)
	if err != nil {
		return "", false
	}
	if g.AccessHash == 0 && c.opts.State != nil {
		g.AccessHash, _, _ = c.opts.State.GetChannelAccessHash(ctx, c.selfID(), g.ChannelID)
	}
	res, err := api.ChannelsGetChannels(ctx, []tg.InputChannelClass{inputChannel(g)})
	if tgerr.Is(err, lostTypes...) {
		rpc, _ := tgerr.As(err)
		return "channels.getChannels: " + rpc.Type, true
	}
	if err != nil {
		c.log.Info("telegram could not check access to a group", "channel_id", g.ChannelID, "error", err)
		return "", false
	}
	code, ok := lostIn(res.GetChats(), g.ChannelID)
	return "channels.getChannels: " + code, ok
}

// lostIn reports whether chatList shows channelID as forbidden (banned,
// private) or left, naming which.
func lostIn(chatList []tg.ChatClass, channelID int64) (string, bool) {
	for _, ch := range chatList {
		switch ch := ch.(type) {
		case *tg.ChannelForbidden:
			if ch.ID == channelID {
				return "CHANNEL_PRIVATE", true
			}
		case *tg.Channel:
			if ch.ID == channelID && ch.Left && !ch.Min { // a min channel's flags say nothing of the account
				return "CHANNEL_LEFT", true
			}
		}
	}
	return "", false
}
