package api

import (
	"context"
	"mime"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/internal/page"
)

// Integration states reported by GET /integrations.
const (
	IntegrationConnected     = "connected"
	IntegrationNotConfigured = "not_configured"
	IntegrationLoggedOut     = "logged_out"
	IntegrationError         = "error"
)

// IntegrationStatus is one outside system's state.
type IntegrationStatus struct {
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// context0 is the request's context without its cancellation, for
// bookkeeping that must finish even if the client went away.
func context0(c echo.Context) context.Context { return context.WithoutCancel(c.Request().Context()) }

func (s *Server) integrations(c echo.Context) error {
	tg := IntegrationStatus{Status: IntegrationNotConfigured}
	if s.deps.Telegram != nil {
		tg = s.deps.Telegram(c.Request().Context())
	}
	return c.JSON(http.StatusOK, map[string]IntegrationStatus{
		"telegram": tg,
		"jira":     {Status: IntegrationNotConfigured},
	})
}

// requireTelegram refuses work that needs Telegram when it is not set up.
func (s *Server) requireTelegram(c echo.Context) error {
	if s.deps.Telegram == nil || s.deps.Telegram(c.Request().Context()).Status == IntegrationNotConfigured {
		return keycare.Errorf(keycare.ECONFLICT, "Telegram is not configured: set TELEGRAM_APP_ID and TELEGRAM_APP_HASH, then run keycare telegram login")
	}
	return nil
}

func (s *Server) getChat(c echo.Context) error {
	v, err := s.deps.Chats.Chat(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.chatFor(c, v))
}

// chatFor hides the invite link from product users: it would let them into
// the client's group, and they never see chat text (SPEC §6).
func (s *Server) chatFor(c echo.Context, v *chats.ChatView) *chats.ChatView {
	if keycare.ActorFrom(c.Request().Context()).Role == keycare.RoleProduct {
		cp := *v
		cp.InviteLink, cp.Members = "", []chats.Member{}
		return &cp
	}
	return v
}

func (s *Server) createChat(c echo.Context) error {
	if err := s.requireTelegram(c); err != nil {
		return err
	}
	var none struct{}
	if err := bindOptional(c, &none); err != nil {
		return err
	}
	v, created, err := s.deps.Chats.RequestChat(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	if created {
		return c.JSON(http.StatusAccepted, v)
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) adoptChat(c echo.Context) error {
	if err := s.requireTelegram(c); err != nil {
		return err
	}
	var in chats.AdoptInput
	if err := bind(c, &in); err != nil {
		return err
	}
	v, err := s.deps.Chats.Adopt(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, v)
}

func (s *Server) archiveChat(c echo.Context) error {
	var none struct{}
	if err := bindOptional(c, &none); err != nil {
		return err
	}
	v, err := s.deps.Chats.Archive(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) listMessages(c echo.Context) error {
	return list(c, func(p page.Request) (page.List[chats.Message], error) {
		return s.deps.Chats.Messages(c.Request().Context(), c.Param("id"), p)
	})
}

func (s *Server) sendMessage(c echo.Context) error {
	if err := s.requireTelegram(c); err != nil {
		return err
	}
	strict := false
	if raw := c.QueryParam("strict"); raw != "" {
		var err error
		if strict, err = strconv.ParseBool(raw); err != nil {
			return keycare.Invalid("strict", "must be true or false")
		}
	}
	var in chats.ReplyInput
	if err := bind(c, &in); err != nil {
		return err
	}
	warnings, err := s.checkReply(c, c.Param("id"), in.Text)
	if err != nil {
		return err
	}
	if strict && len(warnings) > 0 {
		return strictRefusal(warnings)
	}
	m, err := s.deps.Chats.QueueReply(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, SentMessage{Message: *m, Warnings: warnings})
}

// getMedia streams a message's attachment from Telegram. Headers come from
// the stored metadata, since they must go out before the first byte.
func (s *Server) getMedia(c echo.Context) error {
	if s.deps.Media == nil {
		return keycare.Errorf(keycare.ECONFLICT, "Telegram is not configured: media cannot be fetched")
	}
	ctx := c.Request().Context()
	g, msgID, media, err := s.deps.Chats.MessageMedia(ctx, c.Param("id"), c.Param("mid"))
	if err != nil {
		return err
	}
	h := c.Response().Header()
	ct := media.MimeType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set(echo.HeaderContentType, ct)
	h.Set("X-Content-Type-Options", "nosniff")
	name := media.FileName
	if name == "" {
		name = media.Kind
	}
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	if media.Size > 0 {
		h.Set(echo.HeaderContentLength, strconv.FormatInt(media.Size, 10))
	}
	w := &lazyWriter{c: c}
	if _, err := s.deps.Media.Download(ctx, g, msgID, w); err != nil {
		if w.started {
			s.deps.Log.Warn("media stream cut", "error", err, "account_id", c.Param("id"))
			return nil // the status is sent; the client sees a short body
		}
		h.Del(echo.HeaderContentLength)
		h.Del(echo.HeaderContentDisposition)
		if chats.TransportKind(err) == chats.ErrBadRequest {
			return keycare.Errorf(keycare.ENOTFOUND, "this message has no media")
		}
		return err
	}
	if !w.started {
		c.Response().WriteHeader(http.StatusOK)
	}
	return nil
}

// lazyWriter sends the 200 status with the first byte, so an error before
// any byte can still become a problem response.
type lazyWriter struct {
	c       echo.Context
	started bool
}

func (w *lazyWriter) Write(b []byte) (int, error) {
	if !w.started {
		w.started = true
		w.c.Response().WriteHeader(http.StatusOK)
	}
	return w.c.Response().Write(b)
}
