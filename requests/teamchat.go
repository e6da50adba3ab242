package requests

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"

	"github.com/keycare/keycare/chats"
)

// TeamChat posts alerts into the team's internal Telegram group
// (KEYCARE_TEAM_CHAT), naming the people they are for.
type TeamChat struct {
	Transport chats.Transport
	ChannelID int64

	mu    sync.Mutex
	group *chats.Group
}

var _ Notifier = (*TeamChat)(nil)

// Deliver implements Notifier. The post's random_id comes from the alert
// id, so a retried job cannot post the alert twice.
func (t *TeamChat) Deliver(ctx context.Context, a Alert, n AlertNames) error {
	g, err := t.resolve(ctx)
	if err != nil {
		return err
	}
	_, err = t.Transport.Send(ctx, g, AlertText(a, n), 0, alertRandomID(a.ID))
	if chats.TransportKind(err) == chats.ErrFloodWait {
		return err
	}
	if err != nil && strings.Contains(err.Error(), "RANDOM_ID_DUPLICATE") {
		return nil // posted by an earlier attempt
	}
	return err
}

func (t *TeamChat) resolve(ctx context.Context) (chats.Group, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.group != nil {
		return *t.group, nil
	}
	g, err := t.Transport.ResolveGroup(ctx, t.ChannelID)
	if err != nil {
		return chats.Group{}, fmt.Errorf("team chat %d: %w", t.ChannelID, err)
	}
	t.group = &g
	return g, nil
}

func alertRandomID(id string) int64 {
	h := fnv.New64a()
	h.Write([]byte("sla-alert:" + id))
	v := int64(h.Sum64() &^ (1 << 63))
	if v == 0 {
		v = 1
	}
	return v
}

var clockWords = map[string]string{
	ClockFirstResponse: "first response",
	ClockFollowUp:      "follow-up reply",
	ClockResolution:    "resolution",
}

// AlertText is an alert as people read it in the team chat.
func AlertText(a Alert, n AlertNames) string {
	var b strings.Builder
	what := clockWords[a.Clock]
	if a.Event == string(EventBreach) {
		fmt.Fprintf(&b, "🚨 SLA breach — %s: %s", n.Account, what)
		if a.DueAt != nil {
			fmt.Fprintf(&b, " was due %s UTC", a.DueAt.UTC().Format("2006-01-02 15:04"))
		}
	} else {
		fmt.Fprintf(&b, "⚠️ SLA warning — %s: %s", n.Account, what)
		if a.DueAt != nil {
			fmt.Fprintf(&b, " due %s UTC", a.DueAt.UTC().Format("2006-01-02 15:04"))
		}
	}
	if n.Subject != "" {
		fmt.Fprintf(&b, "\n«%s»", n.Subject)
	}
	var who []string
	for _, p := range n.Recipients {
		if p.TelegramUsername != "" {
			who = append(who, "@"+strings.TrimPrefix(p.TelegramUsername, "@"))
		} else {
			who = append(who, p.Name)
		}
	}
	if len(who) > 0 {
		fmt.Fprintf(&b, "\n%s", strings.Join(who, " "))
	}
	fmt.Fprintf(&b, "\nrequest %s", a.RequestID)
	return b.String()
}
