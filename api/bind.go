package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/internal/page"
)

// DecodeJSON decodes exactly one JSON value from r into v, refusing unknown
// fields and trailing data, and turns every failure into an EINVALID error
// that names the field. It is the one decoder every request body goes through.
func DecodeJSON(r io.Reader, v any) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return decodeError(err)
	}
	// PostgreSQL cannot store NUL in text or jsonb; no field needs one.
	if bytes.Contains(body, []byte(`\u0000`)) || bytes.IndexByte(body, 0) >= 0 {
		return keycare.Invalid("body", "must not contain NUL characters")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var herr *echo.HTTPError
		if errors.As(err, &herr) {
			return herr
		}
		return keycare.Invalid("body", "must hold exactly one JSON value")
	}
	return nil
}

func decodeError(err error) error {
	var herr *echo.HTTPError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &herr): // the body limit
		return herr
	case errors.Is(err, io.EOF):
		return keycare.Invalid("body", "is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return keycare.Invalid("body", "is truncated JSON")
	case errors.As(err, &syntax):
		return keycare.Invalid("body", "is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return keycare.Invalid(field, "must be %s, not a JSON %s", jsonKind(typ.Type), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if name == "" {
			return keycare.Invalid("body", "has a field with an empty name")
		}
		return keycare.Invalid(name, "is not a field of this request")
	}
	var kerr *keycare.Error
	if errors.As(err, &kerr) {
		return kerr
	}
	return keycare.Invalid("body", "cannot be read: %v", err)
}

// jsonKind names what a Go type looks like in JSON.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of another type"
}

// bind decodes the request body into v. Only JSON bodies are accepted.
func bind(c echo.Context, v any) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	return DecodeJSON(c.Request().Body, v)
}

// bindOptional is bind for routes whose body may be empty.
func bindOptional(c echo.Context, v any) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return decodeError(err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := requireJSON(c); err != nil {
		return err
	}
	return DecodeJSON(bytes.NewReader(body), v)
}

func requireJSON(c echo.Context) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	// curl -d labels every body as a form; the body must still be JSON.
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && mt != "application/x-www-form-urlencoded") {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	return nil
}

// pageRequest reads ?limit= and ?cursor=.
func pageRequest(c echo.Context) (page.Request, error) {
	p := page.Request{Cursor: c.QueryParam("cursor")}
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > page.MaxLimit {
			return p, keycare.Invalid("limit", "must be an integer from 1 to %d", page.MaxLimit)
		}
		p.Limit = n
	}
	if len(p.Cursor) > 1000 {
		return p, keycare.Invalid("cursor", "is not a cursor this list issued")
	}
	return p, nil
}

// boolQuery reads a true/false query parameter.
func boolQuery(c echo.Context, name string) (*bool, error) {
	s := c.QueryParam(name)
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, keycare.Invalid(name, "must be true or false")
	}
	return &b, nil
}

// etag renders an object version as a strong ETag.
func etag(version int) string { return fmt.Sprintf(`"v%d"`, version) }

// ifMatch returns the version the caller's If-Match names: 0 when there is
// no condition. An If-Match that names no version of ours can never match.
func ifMatch(c echo.Context) (int, error) {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	if n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(h, "W/"), `"v`), `"`)); err == nil && n > 0 {
		return n, nil
	}
	return 0, keycare.Errorf(keycare.EPRECONDITION, "If-Match does not match the current version")
}

// object writes a single object with its ETag.
func object(c echo.Context, status, version int, v any) error {
	c.Response().Header().Set("ETag", etag(version))
	return c.JSON(status, v)
}
