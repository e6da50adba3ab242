package telegram

import (
	"context"
	"fmt"
	"io"

	"github.com/gotd/td/telegram/downloader"
	"github.com/gotd/td/tg"

	"github.com/keycare/keycare/chats"
)

var _ chats.MediaSource = transport{}

// Media returns the client as a chats.MediaSource. It is the same value as
// Transport, which callers may also type-assert to chats.MediaSource.
func (c *Client) Media() chats.MediaSource { return transport{c} }

// Download implements chats.MediaSource: it reads the message afresh (so
// the file reference is current), then streams its photo (the largest
// size) or document to w with gotd's downloader, in 512 KiB parts from the
// DC holding the file. Unlike the other Transport calls, a FLOOD_WAIT in the
// middle of a file is slept on (bounded by ctx): the bytes already written
// cannot be taken back. A failure of w is returned as is, unclassified.
func (t transport) Download(ctx context.Context, g chats.Group, messageID int, w io.Writer) (chats.Media, error) {
	api, err := t.c.api(ctx)
	if err != nil {
		return chats.Media{}, err
	}
	g, err = t.c.group(ctx, g)
	if err != nil {
		return chats.Media{}, err
	}
	res, err := api.ChannelsGetMessages(ctx, &tg.ChannelsGetMessagesRequest{
		Channel: inputChannel(g),
		ID:      []tg.InputMessageClass{&tg.InputMessageID{ID: messageID}},
	})
	if err != nil {
		return chats.Media{}, t.c.callOn(g, "channels.getMessages", err)
	}
	msgs, _ := historyPage(res)
	var msg *tg.Message
	for _, m := range msgs {
		if m, ok := m.(*tg.Message); ok && m.ID == messageID {
			msg = m
		}
	}
	if msg == nil {
		return chats.Media{}, &chats.TransportError{Kind: chats.ErrBadRequest, Code: "MESSAGE_ID_INVALID", Cause: fmt.Errorf("message %d not found in channel %d", messageID, g.ChannelID)}
	}
	meta, loc, ok := fileOf(msg.Media)
	if !ok {
		return chats.Media{}, &chats.TransportError{Kind: chats.ErrBadRequest, Code: "NO_MEDIA", Cause: fmt.Errorf("message %d has no photo or document", messageID)}
	}
	out := &countingWriter{w: w}
	if _, err := downloader.NewDownloader().Download(api, loc).Stream(ctx, out); err != nil {
		if out.err != nil {
			return meta, fmt.Errorf("telegram: writing media: %w", out.err)
		}
		return meta, t.c.callOn(g, "upload.getFile", err)
	}
	if meta.Kind == kindPhoto {
		meta.Size = out.n
	} else if meta.Size > 0 && out.n != meta.Size {
		return meta, &chats.TransportError{Kind: chats.ErrTemporary, Code: "FILE_INCOMPLETE", Cause: fmt.Errorf("got %d of %d bytes", out.n, meta.Size)}
	}
	return meta, nil
}

// fileOf returns the metadata and file location of a message's photo or
// document; ok is false for messages without one (text, link preview,
// geo, poll…).
func fileOf(m tg.MessageMediaClass) (chats.Media, tg.InputFileLocationClass, bool) {
	meta := media(m)
	switch m := m.(type) {
	case *tg.MessageMediaPhoto:
		p, ok := m.Photo.(*tg.Photo)
		if !ok {
			return chats.Media{}, nil, false
		}
		s, ok := largestPhotoSize(p)
		if !ok {
			return chats.Media{}, nil, false
		}
		return *meta, &tg.InputPhotoFileLocation{ID: p.ID, AccessHash: p.AccessHash, FileReference: p.FileReference, ThumbSize: s.typ}, true
	case *tg.MessageMediaDocument:
		d, ok := m.Document.(*tg.Document)
		if !ok {
			return chats.Media{}, nil, false
		}
		return *meta, &tg.InputDocumentFileLocation{ID: d.ID, AccessHash: d.AccessHash, FileReference: d.FileReference}, true
	}
	return chats.Media{}, nil, false
}

// countingWriter counts what reached w and keeps w's own failure apart
// from Telegram's.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}
