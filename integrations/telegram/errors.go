package telegram

import (
	"context"
	"errors"

	"github.com/gotd/td/tgerr"

	"github.com/keycare/keycare/chats"
)

// Telegram error types, by what the caller should do about them.
var (
	unauthorizedTypes = []string{"AUTH_KEY_UNREGISTERED", "AUTH_KEY_INVALID", "AUTH_KEY_PERM_EMPTY", "SESSION_REVOKED", "SESSION_EXPIRED", "USER_DEACTIVATED", "USER_DEACTIVATED_BAN"}
	noAccessTypes     = []string{"CHANNEL_PRIVATE", "CHAT_WRITE_FORBIDDEN", "USER_BANNED_IN_CHANNEL", "CHAT_ADMIN_REQUIRED", "CHAT_FORBIDDEN", "CHANNEL_PUBLIC_GROUP_NA", "CHAT_GUEST_SEND_FORBIDDEN", "CHAT_SEND_PLAIN_FORBIDDEN", "USER_NOT_PARTICIPANT"}
	tooManyTypes      = []string{"CHANNELS_TOO_MUCH"}
)

func isUnauthorized(err error) bool { return tgerr.Is(err, unauthorizedTypes...) }

// transportError classifies err as a *chats.TransportError. Context
// cancellation passes through unchanged: it is the caller's own doing.
func transportError(err error) error {
	if err == nil {
		return nil
	}
	var te *chats.TransportError
	if errors.As(err, &te) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, ErrLoggedOut) {
		return &chats.TransportError{Kind: chats.ErrUnauthorized, Code: "LOGGED_OUT", Cause: err}
	}
	if d, ok := tgerr.AsFloodWait(err); ok {
		rpc, _ := tgerr.As(err)
		return &chats.TransportError{Kind: chats.ErrFloodWait, Code: rpc.Type, Wait: d, Cause: err}
	}
	rpc, ok := tgerr.As(err)
	if !ok {
		// Network trouble, a closed engine, a timeout inside gotd.
		return &chats.TransportError{Kind: chats.ErrTemporary, Code: "NETWORK", Cause: err}
	}
	kind := chats.ErrBadRequest
	switch {
	case rpc.IsType("PEER_FLOOD"):
		kind = chats.ErrPeerFlood
	case rpc.IsOneOf(unauthorizedTypes...) || rpc.Code == 401:
		kind = chats.ErrUnauthorized
	case rpc.IsOneOf(noAccessTypes...) || rpc.Code == 403:
		kind = chats.ErrNoAccess
	case rpc.IsOneOf(tooManyTypes...):
		kind = chats.ErrTooManyChats
	case rpc.Code == 420:
		kind = chats.ErrFloodWait
	case rpc.Code >= 500 || rpc.Code < 0:
		kind = chats.ErrTemporary
	}
	return &chats.TransportError{Kind: kind, Code: rpc.Type, Cause: err}
}

func isType(err error, types ...string) bool { return tgerr.Is(err, types...) }
