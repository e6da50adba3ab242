package tgfake

import (
	"context"
	"crypto/rand"

	"github.com/gotd/td/tg"
)

// file is a document's bytes, served by upload.getFile.
type file struct {
	accessHash int64
	date       int
	data       []byte
}

// Limits of upload.getFile (https://core.telegram.org/api/files).
const (
	filePartMax   = 1 << 20 // a part is at most 1 MiB and never crosses a 1 MiB boundary
	filePartAlign = 4096    // offset and limit are multiples of 4 KiB, of 1 KiB with precise
)

// PostDocument posts a message carrying a document (the fake keeps its
// bytes, for upload.getFile) as fromUser, with caption as its text, and
// pushes it like PostFromClient. It returns the new message id.
func (s *Server) PostDocument(ctx context.Context, channelID, fromUser int64, caption, fileName, mime string, data []byte) (int, error) {
	s.mu.Lock()
	s.nextID++
	doc := &tg.Document{
		ID:            s.nextID,
		AccessHash:    randInt64(),
		FileReference: make([]byte, 16),
		Date:          now(),
		MimeType:      mime,
		Size:          int64(len(data)),
		DCID:          DC,
		Attributes:    []tg.DocumentAttributeClass{&tg.DocumentAttributeFilename{FileName: fileName}},
	}
	_, _ = rand.Read(doc.FileReference)
	s.files[doc.ID] = &file{accessHash: doc.AccessHash, date: doc.Date, data: append([]byte(nil), data...)}
	s.mu.Unlock()
	return s.Post(ctx, channelID, &tg.Message{
		FromID:  &tg.PeerUser{UserID: fromUser},
		Message: caption,
		Media:   &tg.MessageMediaDocument{Document: doc},
	})
}

func (s *Server) registerFiles() {
	// upload.getFile serves documents by InputDocumentFileLocation, with
	// Telegram's part rules. File references are not checked.
	s.disp.OnUploadGetFile(func(ctx context.Context, req *tg.UploadGetFileRequest) (tg.UploadFileClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, err := s.self(ctx); err != nil {
			return nil, err
		}
		loc, ok := req.Location.(*tg.InputDocumentFileLocation)
		if !ok || loc.ThumbSize != "" {
			return nil, tgErr(400, "LOCATION_INVALID")
		}
		f, ok := s.files[loc.ID]
		if !ok || f.accessHash != loc.AccessHash {
			return nil, tgErr(400, "FILE_ID_INVALID")
		}
		align := int64(filePartAlign)
		if req.Precise {
			align = 1024
		}
		limit, offset := int64(req.Limit), req.Offset
		switch {
		case offset < 0 || offset%align != 0:
			return nil, tgErr(400, "OFFSET_INVALID")
		case limit <= 0 || limit > filePartMax || limit%align != 0 || (!req.Precise && filePartMax%limit != 0):
			return nil, tgErr(400, "LIMIT_INVALID")
		case offset/filePartMax != (offset+limit-1)/filePartMax:
			return nil, tgErr(400, "LIMIT_INVALID")
		}
		size := int64(len(f.data))
		start, end := min(offset, size), min(offset+limit, size)
		return &tg.UploadFile{Type: &tg.StorageFilePartial{}, Mtime: f.date, Bytes: append([]byte(nil), f.data[start:end]...)}, nil
	})
}
