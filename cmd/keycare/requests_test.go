package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keycare/keycare/integrations/alertwebhook"
	"github.com/keycare/keycare/requests/csat"
)

// webhookSink is the receiving end of KEYCARE_ALERT_WEBHOOK_URL: it checks
// each signature and keeps the bodies.
type webhookSink struct {
	mu     sync.Mutex
	bodies []alertwebhook.Body
	bad    int
}

func newWebhookSink(t *testing.T, secret string) (*webhookSink, string) {
	sink := &webhookSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if r.Header.Get(alertwebhook.SignatureHeader) != alertwebhook.Sign([]byte(secret), b) {
			sink.bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var body alertwebhook.Body
		if err := json.Unmarshal(b, &body); err != nil {
			sink.bad++
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sink.bodies = append(sink.bodies, body)
	}))
	t.Cleanup(srv.Close)
	return sink, srv.URL
}

// events returns the distinct alerts received, by id, as "event clock".
func (s *webhookSink) events() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, b := range s.bodies {
		out[b.ID] = b.Event + " " + b.Clock
	}
	return out
}

// teamPosts counts the team chat's messages containing substr.
func (w *telegramWorld) teamPosts(substr string) int {
	n := 0
	for _, m := range w.fake.Messages(w.teamChat) {
		if strings.Contains(m.Message, substr) {
			n++
		}
	}
	return n
}

// The whole request life through real MTProto: a client writes, a manager
// answers from the API and from her own Telegram app, a follow-up waits
// past its target and the breach lands in the team chat and the webhook
// exactly once; reply checks, handover, resolution, CSAT and metrics follow.
func TestRequestLifecycleThroughTelegram(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		const secret = "webhook-secret"
		sink, url := newWebhookSink(t, secret)
		w := startWithTelegram(t, dialect, "KEYCARE_ALERT_WEBHOOK_URL", url, "KEYCARE_ALERT_WEBHOOK_SECRET", secret)
		s := w.service
		var debugID string
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("service warnings and errors:\n%s", s.errorLines())
				if debugID != "" {
					t.Logf("request: %s", s.call("GET", "/api/v1/requests/"+debugID, s.admin, nil).Body)
				}
			}
		})
		ctx := context.Background()
		// A 24/7 policy for key accounts with a 4 s follow-up target: its
		// warning (75 %) comes at 3 s and its breach at 4 s.
		s.must(201, "POST", "/api/v1/sla-policies", s.admin, map[string]any{
			"name": "Key 24/7", "default_for": []string{"key"},
			"targets": map[string]any{"normal": map[string]int{"first_response": 600, "follow_up": 4, "resolution": 86400}},
		})
		acc, token, ch := w.activeChat(t)

		// 1. The client writes: a request opens, owned by the account owner.
		if _, err := w.fake.PostFromClient(ctx, ch, w.ivan.ID, "Hi! Our invoices API answers 500 since this morning"); err != nil {
			t.Fatal(err)
		}
		var req map[string]any
		eventually(t, "a request to open", func() bool {
			items := s.must(200, "GET", "/api/v1/requests?owner=me&status=open", token, nil)["items"].([]any)
			if len(items) == 1 {
				req = items[0].(map[string]any)
			}
			return len(items) == 1
		})
		id := req["id"].(string)
		debugID = id
		if req["first_response_due"] == nil || req["awaiting_team"] != true || req["subject"] != "Hi! Our invoices API answers 500 since this morning" {
			t.Fatalf("new request: %v", req)
		}

		// 2. Reply checks: asking for the company name, which is on file.
		res := s.call("POST", "/api/v1/accounts/"+acc+"/messages?strict=true", token, map[string]any{"text": "Could you tell me your company name, please?"})
		if res.Status != 422 || !strings.Contains(string(res.Body), "asks_known_data") {
			t.Fatalf("strict reply check: %d %s", res.Status, res.Body)
		}
		// 3. The manager answers from the API: the first response.
		sent := s.must(202, "POST", "/api/v1/accounts/"+acc+"/messages", token, map[string]any{"text": "Looking into it right now"})
		if ws, ok := sent["warnings"].([]any); !ok || len(ws) != 0 {
			t.Errorf("a clean reply got warnings: %v", sent["warnings"])
		}
		eventually(t, "the first response to count", func() bool {
			r := s.must(200, "GET", "/api/v1/requests/"+id, token, nil)
			return r["first_responded_at"] != nil && r["touches"] == float64(1) && r["awaiting_team"] == false
		})

		// 4. A follow-up, answered by Anna from her own Telegram app in time.
		if _, err := w.fake.PostFromClient(ctx, ch, w.ivan.ID, "Any news?"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the follow-up clock to start", func() bool {
			return s.must(200, "GET", "/api/v1/requests/"+id, token, nil)["next_response_due"] != nil
		})
		if _, err := w.fake.PostFromClient(ctx, ch, w.anna.ID, "Fixed on our side, please retry"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "Anna's own-app reply to answer it", func() bool {
			r := s.must(200, "GET", "/api/v1/requests/"+id, token, nil)
			return r["touches"] == float64(2) && r["next_response_due"] == nil
		})

		// 5. Another follow-up nobody answers: warning at 3 s, breach at 4 s.
		if _, err := w.fake.PostFromClient(ctx, ch, w.ivan.ID, "Still failing for us"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the breach in the team chat", func() bool { return w.teamPosts("SLA breach") == 1 })
		eventually(t, "the breach at the webhook", func() bool {
			n := 0
			for _, e := range sink.events() {
				if e == "sla.breach follow_up" {
					n++
				}
			}
			return n == 1
		})
		time.Sleep(2 * time.Second) // give a duplicate the chance to appear: none may
		if n := w.teamPosts("SLA breach"); n != 1 {
			t.Errorf("breach posted %d times in the team chat", n)
		}
		if n := w.teamPosts("SLA warning"); n != 1 {
			t.Errorf("warning posted %d times in the team chat", n)
		}
		got := map[string]int{}
		for _, e := range sink.events() {
			got[e]++
		}
		if got["sla.breach follow_up"] != 1 || got["sla.warning follow_up"] != 1 || len(got) != 2 {
			t.Errorf("webhook alerts: %v", got)
		}
		if sink.bad != 0 {
			t.Errorf("%d webhook calls with a bad signature or body", sink.bad)
		}
		r := s.must(200, "GET", "/api/v1/requests/"+id, token, nil)
		if b := r["breached"].([]any); len(b) != 1 || b[0] != "follow_up" {
			t.Errorf("breached = %v", b)
		}
		if a := r["alerts"].([]any); len(a) != 2 {
			t.Errorf("alerts on the request: %v", a)
		} else {
			for _, x := range a {
				al := x.(map[string]any)
				due, _ := time.Parse(time.RFC3339Nano, al["at"].(string))
				raised, _ := time.Parse(time.RFC3339Nano, al["raised_at"].(string))
				if late := raised.Sub(due); late < 0 || late > 5*time.Second {
					t.Errorf("%s raised %s after its time (SPEC §8: within 5 s)", al["event"], late)
				}
			}
		}
		if items := s.must(200, "GET", "/api/v1/requests?breached=true", s.admin, nil)["items"].([]any); len(items) != 1 {
			t.Errorf("breached queue: %v", items)
		}

		// 6. Anna hands the request over to Boris, who accepts and sees it all.
		borisID, borisTk := s.member("Boris", "manager")
		h := s.must(201, "POST", "/api/v1/handovers", token, map[string]any{"to_user_id": borisID, "request_ids": []string{id}, "note": "Invoices API, retried twice"})
		if s.call("GET", "/api/v1/requests/"+id, borisTk, nil).Status != 404 {
			t.Error("Boris sees the request before accepting")
		}
		s.must(200, "POST", "/api/v1/handovers/"+h["id"].(string)+"/accept", borisTk, nil)
		r = s.must(200, "GET", "/api/v1/requests/"+id, borisTk, nil)
		if r["owner_id"] != borisID || len(r["messages"].([]any)) != 5 || len(r["handovers"].([]any)) != 1 {
			t.Errorf("after the handover Boris sees owner %v, %d messages, %v", r["owner_id"], len(r["messages"].([]any)), r["handovers"])
		}
		s.must(200, "GET", "/api/v1/accounts/"+acc, borisTk, nil) // and the account card

		// 7. Boris answers and resolves; Keycare asks for a rating; "5" is the CSAT.
		s.must(202, "POST", "/api/v1/accounts/"+acc+"/messages", borisTk, map[string]any{"text": "Deployed the fix, all green now"})
		s.must(200, "PATCH", "/api/v1/requests/"+id, borisTk, map[string]any{"status": "resolved"})
		eventually(t, "the rating question in the group", func() bool { return w.posts(ch, csat.Question()) == 1 })
		if _, err := w.fake.PostFromClient(ctx, ch, w.ivan.ID, "5"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the CSAT to be stored", func() bool {
			return s.must(200, "GET", "/api/v1/requests/"+id, borisTk, nil)["csat"] == float64(5)
		})
		if items := s.must(200, "GET", "/api/v1/requests?status=open,waiting_on_client", s.admin, nil)["items"].([]any); len(items) != 0 {
			t.Errorf("the rating opened a request: %v", items)
		}
		s.must(201, "POST", "/api/v1/requests/"+id+"/qa", s.admin, map[string]any{"score": 4, "comment": "fast, but ask for logs earlier"})

		// 8. The metrics see it all.
		m := s.must(200, "GET", "/api/v1/metrics/support?group_by=manager", s.admin, nil)
		total := m["total"].(map[string]any)
		if total["requests"] != float64(1) || total["csat"] != float64(5) || total["qa"] != float64(4) {
			t.Errorf("metrics total: %v", total)
		}
		if fu := total["follow_up"].(map[string]any); fu["count"] != float64(2) || fu["sla_compliance"] != float64(50) {
			t.Errorf("follow-up metrics: %v; clocks %v", fu, s.must(200, "GET", "/api/v1/requests/"+id, s.admin, nil)["clocks"])
		}
	})
}

// A warning and a breach fall due while Keycare is down. Their job is in the
// database, so after the restart both are raised, each once and within 5 s
// of the start, and delivered.
func TestAlertsSurviveRestart(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		const secret = "webhook-secret"
		sink, url := newWebhookSink(t, secret)
		s := start(t, dialect, func(c *Config) { c.AlertWebhookURL, c.AlertWebhookSecret = url, secret })
		// Resolution within 3 s: the warning (75 %) is due at 2.25 s, the breach at 3 s.
		s.must(201, "POST", "/api/v1/sla-policies", s.admin, map[string]any{
			"name": "Fast", "default_for": []string{"key"},
			"targets": map[string]any{"normal": map[string]int{"first_response": 600, "follow_up": 600, "resolution": 3}},
		})
		anna, _ := s.member("Anna", "manager")
		acc := s.must(201, "POST", "/api/v1/accounts", s.admin, map[string]any{"name": "Acme", "currency": "EUR", "tier": "key", "owner_id": anna})["id"].(string)
		req := s.must(201, "POST", "/api/v1/requests", s.admin, map[string]any{"account_id": acc, "channel": "phone", "subject": "The export is empty"})
		if req["resolution_due"] == nil {
			t.Fatalf("no resolution due: %v", req)
		}
		cfg := s.main.Config
		if err := s.main.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * time.Second) // Keycare is down while both fall due
		if got := sink.events(); len(got) != 0 {
			t.Fatalf("alerts while Keycare was down: %v", got)
		}

		m := &Main{Config: cfg, Log: s.main.Log, Stdout: io.Discard}
		started := time.Now()
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		eventually(t, "the breach after the restart", func() bool {
			for _, e := range sink.events() {
				if e == "sla.breach resolution" {
					return true
				}
			}
			return false
		})
		d := time.Since(started)
		if d > 5*time.Second {
			t.Errorf("the breach came %v after the start", d)
		}
		t.Logf("the breach came %v after the start", d)
		time.Sleep(2 * time.Second) // give a duplicate the chance to appear: none may
		got := map[string]int{}
		for _, e := range sink.events() {
			got[e]++
		}
		if got["sla.warning resolution"] != 1 || got["sla.breach resolution"] != 1 || len(got) != 2 {
			t.Errorf("webhook alerts: %v", got)
		}
		s.main, s.base = m, "http://"+m.Addr()
		r := s.must(200, "GET", "/api/v1/requests/"+req["id"].(string), s.admin, nil)
		if b, _ := r["breached"].([]any); len(b) != 1 || b[0] != "resolution" {
			t.Errorf("breached: %v", r["breached"])
		}
		if a, _ := r["alerts"].([]any); len(a) != 2 {
			t.Errorf("alerts recorded: %v", r["alerts"])
		}
	})
}
