package telegram

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gotd/td/tg"

	"github.com/keycare/keycare/chats"
)

// Reconcile compares each mirrored channel's recent history with what the
// Mirror knows, and repairs the differences the update stream can leave:
// messages it never delivered (holes), edits whose push was lost (gotd's
// manager drops edits and deletes that come back inside a channel
// difference), and deletions. A known message missing from history inside
// the compared id range, and not marked deleted, is deleted. A channel
// Telegram refuses (ErrNoAccess) is reported to the Mirror's
// chats.AccessWatcher, if it has one (access.go).
func (c *Client) Reconcile(ctx context.Context) error {
	if c.opts.Mirror == nil {
		return nil
	}
	channels, err := c.opts.Mirror.ActiveChannels(ctx)
	if err != nil {
		return fmt.Errorf("telegram reconcile: list channels: %w", err)
	}
	var errs []error
	for _, ch := range channels {
		if err := c.reconcileChannel(ctx, ch); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.log.Warn("telegram reconcile failed", "channel_id", ch.ChannelID, "error", err)
			errs = append(errs, fmt.Errorf("channel %d: %w", ch.ChannelID, err))
		}
	}
	return errors.Join(errs...)
}

// ReconcileResult counts what one channel's reconcile repaired.
type ReconcileResult struct {
	Stored, Edited, Deleted int
}

func (c *Client) reconcileChannel(ctx context.Context, ch chats.Channel) error {
	_, err := c.ReconcileChannel(ctx, ch)
	return err
}

// ReconcileChannel reconciles one channel (see Reconcile).
func (c *Client) ReconcileChannel(ctx context.Context, ch chats.Channel) (ReconcileResult, error) {
	var res ReconcileResult
	lostSeq := c.lostSeqNow()
	api, err := c.api(ctx)
	if err != nil {
		return res, err
	}
	g, err := c.group(ctx, chats.Group{ChannelID: ch.ChannelID, AccessHash: ch.AccessHash})
	if err != nil {
		return res, err
	}
	depth := c.opts.ReconcileDepth
	c.mu.Lock()
	backfill := c.tooLong[ch.ChannelID]
	c.mu.Unlock()
	if backfill {
		depth = max(depth, c.opts.BackfillDepth)
	}
	msgs, p, complete, err := c.recentHistory(ctx, api, g, depth)
	if err != nil {
		err = transportError(err)
		c.noteNoAccess(g, "messages.getHistory", err)
		return res, err
	}
	c.accessOK(ch.ChannelID, lostSeq)
	if len(msgs) == 0 {
		return res, nil
	}
	// History is newest first and complete between its oldest and newest
	// id; from the channel's first message when it reached the start.
	maxID, minID := msgs[0].GetID(), msgs[len(msgs)-1].GetID()
	if complete {
		minID = 1
	}
	known, err := c.opts.Mirror.KnownMessages(ctx, ch.ChannelID, minID, maxID)
	if err != nil {
		return res, fmt.Errorf("known messages: %w", err)
	}
	byID := make(map[int]chats.KnownMessage, len(known))
	for _, k := range known {
		byID[k.MessageID] = k
	}
	self := c.selfID()
	live := make(map[int]bool, len(msgs))
	for i := len(msgs) - 1; i >= 0; i-- { // oldest first, as they happened
		m := msgs[i]
		live[m.GetID()] = true
		in, members, ok := inbound(m, p, self)
		if !ok {
			continue
		}
		k, seen := byID[in.MessageID]
		switch {
		case !seen:
			if err := c.opts.Mirror.StoreMessage(ctx, in); err != nil {
				return res, fmt.Errorf("store message %d: %w", in.MessageID, err)
			}
			for _, mb := range members {
				name, username := p.name(mb.userID)
				if err := c.opts.Mirror.StoreMembership(ctx, in.ChannelID, mb.userID, name, username, mb.joined, in.Date); err != nil {
					return res, fmt.Errorf("store membership: %w", err)
				}
			}
			res.Stored++
		case k.Deleted:
			// Marked deleted but still there: leave the record alone; a
			// later delete or edit will arrive through updates.
		case in.Service == "" && in.EditDate.Unix() > k.EditDate.Unix():
			// Only a strictly newer edit: an edit that reached the Mirror
			// after this history was read must not be overwritten by it.
			if err := c.opts.Mirror.StoreEdit(ctx, in); err != nil {
				return res, fmt.Errorf("store edit %d: %w", in.MessageID, err)
			}
			res.Edited++
		}
	}
	var gone []int
	for _, k := range known {
		if !k.Deleted && !live[k.MessageID] && k.MessageID >= minID && k.MessageID <= maxID {
			gone = append(gone, k.MessageID)
		}
	}
	if len(gone) > 0 {
		if err := c.opts.Mirror.StoreDeletes(ctx, ch.ChannelID, gone, time.Now().UTC()); err != nil {
			return res, fmt.Errorf("store deletes: %w", err)
		}
		res.Deleted = len(gone)
	}
	if backfill {
		c.mu.Lock()
		delete(c.tooLong, ch.ChannelID)
		c.mu.Unlock()
	}
	if res != (ReconcileResult{}) {
		c.log.Info("telegram reconcile repaired channel", "channel_id", ch.ChannelID, "stored", res.Stored, "edited", res.Edited, "deleted", res.Deleted)
	}
	return res, nil
}

// recentHistory reads up to depth messages, newest first, and reports
// whether it reached the channel's first message.
func (c *Client) recentHistory(ctx context.Context, api *tg.Client, g chats.Group, depth int) ([]tg.MessageClass, people, bool, error) {
	var (
		out    []tg.MessageClass
		users  []tg.UserClass
		offset int
	)
	for len(out) < depth {
		limit := min(100, depth-len(out))
		r, err := api.MessagesGetHistory(ctx, &tg.MessagesGetHistoryRequest{
			Peer:     &tg.InputPeerChannel{ChannelID: g.ChannelID, AccessHash: g.AccessHash},
			OffsetID: offset,
			Limit:    limit,
		})
		if err != nil {
			return nil, nil, false, err
		}
		page, pageUsers := historyPage(r)
		users = append(users, pageUsers...)
		for _, m := range page {
			if _, empty := m.(*tg.MessageEmpty); empty {
				continue
			}
			out = append(out, m)
		}
		if len(page) < limit {
			return out, peopleOf(users), true, nil
		}
		offset = page[len(page)-1].GetID()
	}
	return out, peopleOf(users), false, nil
}

func historyPage(r tg.MessagesMessagesClass) ([]tg.MessageClass, []tg.UserClass) {
	switch r := r.(type) {
	case *tg.MessagesChannelMessages:
		return r.Messages, r.Users
	case *tg.MessagesMessagesSlice:
		return r.Messages, r.Users
	case *tg.MessagesMessages:
		return r.Messages, r.Users
	}
	return nil, nil
}
