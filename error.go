// Package keycare holds what every Keycare package shares: the error type
// with its codes and the actor behind a change. It imports nothing of HTTP,
// Telegram or Jira.
package keycare

import (
	"errors"
	"fmt"
)

// Error codes. The API maps each to one HTTP status; nothing else does.
const (
	EINVALID      = "invalid"       // bad input; FieldErrors say which field
	ENOTFOUND     = "not_found"     // missing, or not visible to the caller
	ECONFLICT     = "conflict"      // unique key taken, state does not allow it
	EFORBIDDEN    = "forbidden"     // the caller's role may not do this
	EUNAUTHORIZED = "unauthorized"  // no or bad credentials
	EPRECONDITION = "precondition"  // If-Match did not match
	EUNPROCESSABL = "unprocessable" // well-formed but refused (e.g. idempotency key reuse)
	EINTERNAL     = "internal"      // anything else; details go to the log only
)

// FieldError names one field that failed validation.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is Keycare's application error. Message is safe to show to the caller.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("keycare error: code=%s message=%s fields=%v", e.Code, e.Message, e.Fields)
	}
	return fmt.Sprintf("keycare error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error for one field.
func Invalid(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: EINVALID, Message: "invalid input: " + field + ": " + msg, Fields: []FieldError{{Field: field, Message: msg}}}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, else EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	}
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err, or "internal error".
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Validation collects field errors so a request can report all of them at once.
type Validation struct{ fields []FieldError }

// Add records a failed field.
func (v *Validation) Add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Check records a failed field when ok is false.
func (v *Validation) Check(ok bool, field, format string, args ...any) {
	if !ok {
		v.Add(field, format, args...)
	}
}

// Merge adds the field errors of err (an EINVALID *Error) under prefix.
// Any other non-nil error is returned as is.
func (v *Validation) Merge(prefix string, err error) error {
	var e *Error
	if err == nil {
		return nil
	}
	if !errors.As(err, &e) || e.Code != EINVALID {
		return err
	}
	for _, f := range e.Fields {
		name := f.Field
		if prefix != "" {
			name = prefix + "." + name
		}
		v.fields = append(v.fields, FieldError{Field: name, Message: f.Message})
	}
	return nil
}

// Err returns the collected errors as one EINVALID *Error, or nil.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	msg := "invalid input: " + v.fields[0].Field + ": " + v.fields[0].Message
	if len(v.fields) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(v.fields)-1)
	}
	return &Error{Code: EINVALID, Message: msg, Fields: v.fields}
}
