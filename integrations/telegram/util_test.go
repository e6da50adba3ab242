package telegram

import "github.com/keycare/keycare/chats"

func chatsGroup(id, hash int64) chats.Group { return chats.Group{ChannelID: id, AccessHash: hash} }

func kindOf(err error) string { return chats.TransportKind(err) }
