package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/internal/idempotency"
)

// idempotent makes a POST with an Idempotency-Key safe to repeat: the first
// response is stored and replayed; the same key with another body is refused
// (422). Without the header the request runs as usual.
func (s *Server) idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key := c.Request().Header.Get("Idempotency-Key")
		if key == "" {
			return next(c)
		}
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return decodeError(err)
		}
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(append([]byte(c.Request().Method+" "+c.Request().URL.Path+"\n"), body...))
		ctx := c.Request().Context()
		user, route := keycare.ActorFrom(ctx).UserID, c.Request().Method+" "+c.Path()
		prev, err := s.deps.Idempotency.Begin(ctx, user, route, key, hex.EncodeToString(sum[:]))
		if err != nil {
			return err
		}
		if prev != nil {
			c.Response().Header().Set("Idempotent-Replayed", "true")
			return c.Blob(prev.Status, echo.MIMEApplicationJSON, prev.Body)
		}
		rec := &recorder{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rec
		err = next(c)
		status := c.Response().Status
		if err != nil || status >= 300 {
			// Only a success is remembered: a refused request may be fixed and retried.
			_ = s.deps.Idempotency.Abandon(context0(c), user, route, key)
			return err
		}
		return s.deps.Idempotency.Finish(context0(c), user, route, key, idempotency.Response{Status: status, Body: rec.body.Bytes()})
	}
}

// recorder keeps a copy of what a handler writes.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
