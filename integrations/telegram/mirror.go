package telegram

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gotd/td/tg"

	"github.com/keycare/keycare/chats"
)

// mirrorHandler is the update handler behind gotd's updates manager: it
// turns channel updates into chats.Mirror calls.
//
// A failed write is retried here, with backoff, until it succeeds or ctx
// ends. Returning the error would not help: during gap recovery gotd logs
// it and advances pts anyway, losing the update. Blocking instead keeps pts
// where it is, so nothing later is applied before this.
type mirrorHandler struct {
	mirror   chats.Mirror
	log      *slog.Logger
	self     atomic.Int64
	retryMin time.Duration
	retryMax time.Duration
	// lost is told of an updateChannel showing the account out of a group.
	lost func(g chats.Group, code, op string)
}

func (h *mirrorHandler) Handle(ctx context.Context, u tg.UpdatesClass) error {
	var (
		list     []tg.UpdateClass
		users    []tg.UserClass
		chatList []tg.ChatClass
	)
	switch u := u.(type) {
	case *tg.Updates:
		list, users, chatList = u.Updates, u.Users, u.Chats
	case *tg.UpdatesCombined:
		list, users, chatList = u.Updates, u.Users, u.Chats
	case *tg.UpdateShort:
		list = []tg.UpdateClass{u.Update}
	default:
		return nil
	}
	p := peopleOf(users)
	for _, upd := range list {
		h.apply(ctx, upd, p, chatList)
	}
	return nil
}

func (h *mirrorHandler) apply(ctx context.Context, u tg.UpdateClass, p people, chatList []tg.ChatClass) {
	switch u := u.(type) {
	case *tg.UpdateChannel:
		// Telegram pushes it on any change of the group as the account sees
		// it; a kick or ban shows the group as channelForbidden.
		if code, lost := lostIn(chatList, u.ChannelID); lost && h.lost != nil {
			h.lost(chats.Group{ChannelID: u.ChannelID, AccessHash: channelHash(chatList, u.ChannelID)}, code, "updateChannel")
		}
	case *tg.UpdateNewChannelMessage:
		h.newMessage(ctx, u.Message, p)
	case *tg.UpdateNewMessage:
		h.newMessage(ctx, u.Message, p)
	case *tg.UpdateEditChannelMessage:
		h.edit(ctx, u.Message, p)
	case *tg.UpdateEditMessage:
		h.edit(ctx, u.Message, p)
	case *tg.UpdateDeleteChannelMessages:
		at := time.Now().UTC()
		h.retry(ctx, "store_deletes", u.ChannelID, 0, func(ctx context.Context) error {
			return h.mirror.StoreDeletes(ctx, u.ChannelID, u.Messages, at)
		})
	case *tg.UpdateMessageID:
		at := time.Now().UTC()
		h.retry(ctx, "confirm_sent", 0, u.ID, func(ctx context.Context) error {
			return h.mirror.ConfirmSent(ctx, u.RandomID, u.ID, at)
		})
	}
}

func (h *mirrorHandler) newMessage(ctx context.Context, m tg.MessageClass, p people) {
	msg, members, ok := inbound(m, p, h.self.Load())
	if !ok {
		return
	}
	h.retry(ctx, "store_message", msg.ChannelID, msg.MessageID, func(ctx context.Context) error {
		return h.mirror.StoreMessage(ctx, msg)
	})
	for _, mb := range members {
		name, username := p.name(mb.userID)
		h.retry(ctx, "store_membership", msg.ChannelID, msg.MessageID, func(ctx context.Context) error {
			return h.mirror.StoreMembership(ctx, msg.ChannelID, mb.userID, name, username, mb.joined, msg.Date)
		})
	}
}

func (h *mirrorHandler) edit(ctx context.Context, m tg.MessageClass, p people) {
	msg, _, ok := inbound(m, p, h.self.Load())
	if !ok {
		return
	}
	h.retry(ctx, "store_edit", msg.ChannelID, msg.MessageID, func(ctx context.Context) error {
		return h.mirror.StoreEdit(ctx, msg)
	})
}

// writeTimeout bounds one mirror write. Writes do not stop when ctx ends:
// at shutdown gotd still saves the pts past the update being handled, so a
// write given up then would leave that message to the reconciler alone.
const writeTimeout = 10 * time.Second

// retry runs f until it succeeds, backing off exponentially; once ctx ends it
// makes one last bounded attempt and then gives up loudly.
func (h *mirrorHandler) retry(ctx context.Context, op string, channelID int64, messageID int, f func(context.Context) error) {
	wait := h.retryMin
	for attempt := 1; ; attempt++ {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
		err := f(wctx)
		cancel()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			h.log.Error("telegram mirror write lost at shutdown; the reconciler repairs it", "op", op, "channel_id", channelID, "message_id", messageID, "error", err)
			return
		}
		h.log.Warn("telegram mirror write failed, retrying", "op", op, "channel_id", channelID, "message_id", messageID, "attempt", attempt, "retry_in", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(wait*2, h.retryMax)
	}
}

// channelHash is the access hash chatList gives channelID, or zero.
func channelHash(chatList []tg.ChatClass, channelID int64) int64 {
	for _, ch := range chatList {
		switch ch := ch.(type) {
		case *tg.ChannelForbidden:
			if ch.ID == channelID {
				return ch.AccessHash
			}
		case *tg.Channel:
			if ch.ID == channelID {
				return ch.AccessHash
			}
		}
	}
	return 0
}
