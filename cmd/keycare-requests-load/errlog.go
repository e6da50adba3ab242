package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// errorLog is the API's logger in the load: records below Error are
// dropped before they are formatted (logging is not measured), and each
// distinct error the API logs is counted, so a 500 can be explained.
type errorLog struct {
	inner slog.Handler // also gets every record when set (-access-log)
	mu    *sync.Mutex
	seen  map[string]int
	attrs []slog.Attr
}

func newErrorLog(inner slog.Handler) *errorLog {
	return &errorLog{inner: inner, mu: &sync.Mutex{}, seen: map[string]int{}}
}

func (h *errorLog) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError || (h.inner != nil && h.inner.Enabled(ctx, l))
}

func (h *errorLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		key := r.Message
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" || a.Key == "route" {
				key += " " + a.Key + "=" + a.Value.String()
			}
			return true
		})
		if len(key) > 200 {
			key = key[:200]
		}
		h.mu.Lock()
		h.seen[key]++
		h.mu.Unlock()
	}
	if h.inner != nil && h.inner.Enabled(ctx, r.Level) {
		return h.inner.Handle(ctx, r)
	}
	return nil
}

func (h *errorLog) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(slices.Clone(h.attrs), as...)
	if h.inner != nil {
		c.inner = h.inner.WithAttrs(as)
	}
	return &c
}

func (h *errorLog) WithGroup(name string) slog.Handler {
	c := *h
	if h.inner != nil {
		c.inner = h.inner.WithGroup(name)
	}
	return &c
}

// take returns the errors logged since the last take, most frequent first.
func (h *errorLog) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for k, n := range h.seen {
		out = append(out, fmt.Sprintf("%d× %s", n, k))
	}
	clear(h.seen)
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(b, a) })
	return out
}
