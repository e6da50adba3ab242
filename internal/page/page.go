// Package page implements Keycare's list pagination: a limit and an opaque
// cursor that carries the sort keys of the last item returned.
package page

import (
	"encoding/base64"
	"encoding/json"

	"github.com/keycare/keycare"
)

// Limits of ?limit=.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Request is what a caller asks of a list.
type Request struct {
	Limit  int
	Cursor string
}

// Size returns the effective limit.
func (r Request) Size() int {
	if r.Limit <= 0 {
		return DefaultLimit
	}
	return min(r.Limit, MaxLimit)
}

// Keys decodes the cursor into exactly n sort keys; an empty cursor gives nil.
func (r Request) Keys(n int) ([]string, error) {
	if r.Cursor == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(r.Cursor)
	var keys []string
	if err == nil {
		err = json.Unmarshal(raw, &keys)
	}
	if err != nil || len(keys) != n {
		return nil, keycare.Invalid("cursor", "is not a cursor this list issued")
	}
	return keys, nil
}

// Cursor encodes sort keys into an opaque cursor.
func Cursor(keys ...string) string {
	b, _ := json.Marshal(keys)
	return base64.RawURLEncoding.EncodeToString(b)
}

// List is one page of items.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// Trim cuts items fetched with limit+1 to the page size and sets the next
// cursor from the last item kept.
func Trim[T any](items []T, size int, keys func(T) []string) List[T] {
	if items == nil {
		items = []T{}
	}
	l := List[T]{Items: items}
	if len(items) > size {
		l.Items = items[:size]
		l.NextCursor = Cursor(keys(items[size-1])...)
	}
	return l
}
