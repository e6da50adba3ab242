package api

import (
	"context"
	"net/http"

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
	var in chats.ReplyInput
	if err := bind(c, &in); err != nil {
		return err
	}
	m, err := s.deps.Chats.QueueReply(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, m)
}
