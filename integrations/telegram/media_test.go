package telegram

import (
	"bytes"
	"context"
	"errors"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/gotd/td/tg"

	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/internal/database"
)

func randomBytes(n int, seed uint64) []byte {
	rng := mrand.New(mrand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestMediaDownload(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		acct := sharedAccount(t, db)
		rec := newRecorder()
		r := start(t, acct, rec, nil)
		g, client := groupWithClient(t, r, rec)
		src, ok := r.Transport().(chats.MediaSource)
		if !ok {
			t.Fatal("the Transport is not a chats.MediaSource")
		}

		data := randomBytes(300_000, 1)
		id, err := fake.PostDocument(ctx, g.ChannelID, client.ID, "the signed contract", "contract.pdf", "application/pdf", data)
		if err != nil {
			t.Fatal(err)
		}
		rec.waitFor(t, 10*time.Second, func(r *recorder) bool { _, ok := r.msgs[[2]int64{g.ChannelID, int64(id)}]; return ok })
		m, _ := rec.message(g.ChannelID, id)
		want := chats.Media{Kind: "document", FileName: "contract.pdf", MimeType: "application/pdf", Size: int64(len(data))}
		if m.Media == nil || *m.Media != want || m.Text != "the signed contract" {
			t.Fatalf("mirrored %+v with media %+v, want %+v", m, m.Media, want)
		}

		var buf bytes.Buffer
		got, err := src.Download(ctx, g, id, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if got != want || !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("downloaded %d bytes (equal: %v), media %+v; want %d bytes, %+v", buf.Len(), bytes.Equal(buf.Bytes(), data), got, len(data), want)
		}

		// Several parts, past a 1 MiB boundary, the access hash from the
		// update state.
		big := randomBytes(1<<20+70_000, 2)
		bigID, err := fake.PostDocument(ctx, g.ChannelID, client.ID, "", "scan.tiff", "image/tiff", big)
		if err != nil {
			t.Fatal(err)
		}
		parts := fake.Calls(tg.UploadGetFileRequestTypeID)
		buf.Reset()
		got, err = r.Media().Download(ctx, chats.Group{ChannelID: g.ChannelID}, bigID, &buf)
		if err != nil || !bytes.Equal(buf.Bytes(), big) || got.FileName != "scan.tiff" || got.Size != int64(len(big)) {
			t.Fatalf("big file: %d bytes, %+v, %v", buf.Len(), got, err)
		}
		if n := fake.Calls(tg.UploadGetFileRequestTypeID) - parts; n < 3 {
			t.Errorf("upload.getFile called %d times for %d bytes, want parts", n, len(big))
		}

		text, err := fake.PostFromClient(ctx, g.ChannelID, client.ID, "no attachment here")
		if err != nil {
			t.Fatal(err)
		}
		for _, msgID := range []int{text, 99_999} {
			buf.Reset()
			if _, err := src.Download(ctx, g, msgID, &buf); kindOf(err) != chats.ErrBadRequest || buf.Len() != 0 {
				t.Errorf("download of message %d: %v (%d bytes), want bad_request", msgID, err, buf.Len())
			}
		}

		// The writer's failure is the caller's, not Telegram's.
		broken := errors.New("client went away")
		if _, err := src.Download(ctx, g, id, failingWriter{broken}); !errors.Is(err, broken) || kindOf(err) != "" {
			t.Errorf("download into a broken writer: %v", err)
		}
	})
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestMediaOfPhotos(t *testing.T) {
	photo := &tg.Photo{ID: 1, AccessHash: 2, FileReference: []byte{3}, Sizes: []tg.PhotoSizeClass{
		&tg.PhotoStrippedSize{Type: "i", Bytes: []byte{1}},
		&tg.PhotoSize{Type: "m", W: 320, H: 240, Size: 9_000},
		&tg.PhotoSizeProgressive{Type: "y", W: 1280, H: 960, Sizes: []int{10_000, 40_000, 90_000}},
		&tg.PhotoSize{Type: "x", W: 800, H: 600, Size: 50_000},
		&tg.PhotoPathSize{Type: "j", Bytes: []byte{1}},
	}}
	meta, loc, ok := fileOf(&tg.MessageMediaPhoto{Photo: photo})
	if !ok {
		t.Fatal("no file in a photo")
	}
	if meta != (chats.Media{Kind: "photo", MimeType: "image/jpeg", Size: 90_000}) {
		t.Errorf("meta = %+v", meta)
	}
	if l, ok := loc.(*tg.InputPhotoFileLocation); !ok || l.ThumbSize != "y" || l.ID != 1 || l.AccessHash != 2 {
		t.Errorf("location = %+v, want the largest size", loc)
	}
	for _, m := range []tg.MessageMediaClass{nil, &tg.MessageMediaPhoto{}, &tg.MessageMediaPhoto{Photo: &tg.Photo{}}, &tg.MessageMediaWebPage{}, &tg.MessageMediaGeo{}} {
		if _, _, ok := fileOf(m); ok {
			t.Errorf("fileOf(%T) found a file", m)
		}
	}
	if media(&tg.MessageMediaWebPage{}) != nil {
		t.Error("a link preview is listed as media")
	}
	sticker := &tg.MessageMediaDocument{Document: &tg.Document{MimeType: "video/webm", Attributes: []tg.DocumentAttributeClass{&tg.DocumentAttributeSticker{}, &tg.DocumentAttributeVideo{}}}}
	if m := media(sticker); m.Kind != "sticker" {
		t.Errorf("video sticker kind = %q", m.Kind)
	}
}
