package telegram

import (
	"context"
	"log/slog"

	"github.com/gotd/log"
)

// gotdLogger forwards gotd's warnings and errors to slog, keeping only
// scalar attributes under names that carry no content: gotd attaches whole
// updates (message text) and usernames to some lines, and Keycare logs no
// message text, phone numbers or tokens.
type gotdLogger struct{ l *slog.Logger }

func newGotdLogger(l *slog.Logger) log.Logger {
	if l == nil {
		return log.Nop
	}
	return gotdLogger{l: l.With("component", "gotd")}
}

func (g gotdLogger) Enabled(ctx context.Context, level log.Level) bool {
	return level >= log.LevelWarn && g.l.Enabled(ctx, slog.Level(level))
}

// safeGotdKeys are the attribute names passed through.
var safeGotdKeys = map[string]bool{
	"channel_id": true, "user_id": true, "pts": true, "qts": true, "seq": true, "date": true,
	"reason": true, "backoff": true, "duration": true, "dc": true, "dc_id": true, "type": true,
	"session_id": true, "msg_id": true, "error": true,
}

func (g gotdLogger) Log(ctx context.Context, level log.Level, msg string, attrs ...log.Attr) {
	if !g.Enabled(ctx, level) {
		return
	}
	out := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		if !safeGotdKeys[a.Key] {
			continue
		}
		v := a.Value
		switch v.Kind() {
		case log.KindString:
			out = append(out, slog.String(a.Key, v.String()))
		case log.KindInt64:
			out = append(out, slog.Int64(a.Key, v.Int64()))
		case log.KindUint64:
			out = append(out, slog.Uint64(a.Key, v.Uint64()))
		case log.KindBool:
			out = append(out, slog.Bool(a.Key, v.Bool()))
		case log.KindDuration:
			out = append(out, slog.Duration(a.Key, v.Duration()))
		case log.KindError:
			if err := v.Error(); err != nil {
				out = append(out, slog.String(a.Key, err.Error()))
			}
		}
	}
	g.l.LogAttrs(ctx, slog.Level(level), "gotd: "+msg, out...)
}
