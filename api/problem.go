package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keycare/keycare"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string               `json:"type"`
	Title  string               `json:"title"`
	Status int                  `json:"status"`
	Detail string               `json:"detail"`
	Errors []keycare.FieldError `json:"errors,omitempty"`
}

// codeStatus maps error codes to HTTP statuses: the only such table.
var codeStatus = map[string]int{
	keycare.EINVALID:      http.StatusBadRequest,
	keycare.EUNAUTHORIZED: http.StatusUnauthorized,
	keycare.EFORBIDDEN:    http.StatusForbidden,
	keycare.ENOTFOUND:     http.StatusNotFound,
	keycare.ECONFLICT:     http.StatusConflict,
	keycare.EPRECONDITION: http.StatusPreconditionFailed,
	keycare.EUNPROCESSABL: http.StatusUnprocessableEntity,
	keycare.EINTERNAL:     http.StatusInternalServerError,
}

// statusCode is codeStatus's inverse, for errors echo raises itself.
func statusCode(status int) string {
	for c, s := range codeStatus {
		if s == status {
			return c
		}
	}
	switch status {
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	}
	return "error"
}

func problemType(code string) string { return "urn:keycare:problem:" + code }

// errorHandler writes every error as problem+json. Errors that are not
// keycare errors or echo's own are internal: the caller sees "internal
// error", the log gets the detail once.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		p := Problem{}
		var kerr *keycare.Error
		var herr *echo.HTTPError
		switch {
		case errors.As(err, &kerr):
			p.Status = codeStatus[kerr.Code]
			p.Type, p.Detail, p.Errors = problemType(kerr.Code), kerr.Message, kerr.Fields
		case errors.As(err, &herr):
			p.Status = herr.Code
			p.Type = problemType(statusCode(herr.Code))
			if msg, ok := herr.Message.(string); ok {
				p.Detail = msg
			} else {
				p.Detail = http.StatusText(herr.Code)
			}
		default:
			p.Status = http.StatusInternalServerError
			p.Type, p.Detail = problemType(keycare.EINTERNAL), "internal error"
		}
		if p.Status == 0 {
			p.Status = http.StatusInternalServerError
		}
		if p.Status >= 500 {
			log.Error("request failed", "error", err, "route", c.Path(), "method", c.Request().Method, "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
			p.Detail = "internal error"
		}
		p.Title = http.StatusText(p.Status)
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(p.Status)
			return
		}
		_ = c.JSON(p.Status, p)
	}
}
