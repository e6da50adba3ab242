package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/testdb"
)

// service is a Keycare started by a test exactly as `keycare serve` starts.
type service struct {
	t     *testing.T
	main  *Main
	base  string
	admin string        // the bootstrap admin's token
	logs  *syncedBuffer // everything the service logged
}

// syncedBuffer collects log lines written from many goroutines.
type syncedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs Keycare on 127.0.0.1:0 over a fresh database of dialect.
func start(t *testing.T, dialect string, tweak func(*Config)) *service {
	t.Helper()
	cfg, err := LoadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.RateLimit, cfg.RateBurst = 1000, 1000
	if dialect == database.Postgres {
		if cfg.DatabaseURL, err = testdb.Schema(t); err != nil {
			t.Fatal(err)
		}
	}
	if tweak != nil {
		tweak(&cfg)
	}
	var out bytes.Buffer
	logs := &syncedBuffer{}
	m := &Main{Config: cfg, Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Stdout: &out}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return &service{t: t, main: m, base: "http://" + m.Addr(), admin: lines[len(lines)-1], logs: logs}
}

// response is what a call got back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.Status, r.Body)
	}
	return m
}

// field returns the first field an error problem names.
func (r response) field() string {
	var p struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	_ = json.Unmarshal(r.Body, &p)
	if len(p.Errors) == 0 {
		return ""
	}
	return p.Errors[0].Field
}

// call sends a request; body may be nil, a string (sent as is) or a value (sent as JSON).
func (s *service) call(method, path, token string, body any, headers ...string) response {
	s.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must calls and fails the test unless the status is want.
// errorLines are the service's log lines at warning and error level.
func (s *service) errorLines() string {
	var b strings.Builder
	for _, l := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, `"level":"WARN"`) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func (s *service) must(want int, method, path, token string, body any) map[string]any {
	s.t.Helper()
	res := s.call(method, path, token, body)
	if res.Status != want {
		if res.Status >= 500 {
			s.t.Logf("service log lines at error level:\n%s", s.errorLines())
		}
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.Status, want, res.Body)
	}
	if len(res.Body) == 0 {
		return nil
	}
	return res.json(s.t)
}

// member creates a team member and returns their id and token.
func (s *service) member(name, role string) (id, token string) {
	s.t.Helper()
	u := s.must(201, "POST", "/api/v1/users", s.admin, map[string]any{"name": name, "email": strings.ToLower(name) + "@example.com", "role": role})
	id = u["id"].(string)
	tok := s.must(201, "POST", "/api/v1/users/"+id+"/tokens", s.admin, nil)
	return id, tok["token"].(string)
}

// auditCount counts audit rows, to prove a refused request wrote nothing.
func (s *service) auditCount() int64 {
	var n int64
	if err := s.main.DB.Gorm.Table("audit_events").Count(&n).Error; err != nil {
		s.t.Fatal(err)
	}
	return n
}

func each(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

func TestReadmeWalkthrough(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		s := start(t, dialect, nil)
		s.must(200, "GET", "/healthz", "", nil)
		s.must(200, "GET", "/readyz", "", nil)
		mgrID, mgr := s.member("Anna", "manager")
		acc := s.must(201, "POST", "/api/v1/accounts", s.admin, map[string]any{"name": "Acme Logistics", "currency": "EUR", "tier": "strategic", "owner_id": mgrID, "external_ids": map[string]string{"crm": "A-1"}})
		id := acc["id"].(string)
		s.must(201, "POST", "/api/v1/accounts/"+id+"/contacts", mgr, map[string]any{"name": "Ivan Petrov", "email": "ivan@acme.example", "phone": "+7 900 123-45-67", "telegram_username": "@ivanp", "primary": true})
		s.must(201, "POST", "/api/v1/accounts/"+id+"/services", mgr, map[string]any{"kind": "vm", "name": "web-1", "plan": "c2-m4", "quantity": 3, "monthly_price": "120.50", "region": "eu-1", "started_on": "2026-01-15"})
		s.must(201, "POST", "/api/v1/accounts/"+id+"/notes", mgr, map[string]any{"title": "Billing", "body": "Invoices go to **finance@acme.example** before the 5th.", "pinned": true, "tags": []string{"billing"}})
		month := time.Now().UTC().Format("2006-01")
		s.must(201, "PUT", "/api/v1/accounts/"+id+"/revenue/"+month, mgr, map[string]any{"amount": "12500.00"})
		s.must(200, "PUT", "/api/v1/accounts/"+id+"/revenue/"+month, mgr, map[string]any{"amount": "13000", "currency": "EUR"})
		res := s.call("GET", "/api/v1/accounts/"+id, mgr, nil)
		if res.Status != 200 || res.Header.Get("ETag") == "" {
			t.Fatalf("card: %d %s", res.Status, res.Body)
		}
		var card struct {
			Owner    struct{ Name string }
			Contacts []struct{ Phone string }
			Services []struct {
				MonthlyPrice string `json:"monthly_price"`
			}
			Notes   []struct{ Title string }
			Revenue []struct{ Month, Amount string }
		}
		if err := json.Unmarshal(res.Body, &card); err != nil {
			t.Fatal(err)
		}
		if card.Owner.Name != "Anna" || len(card.Contacts) != 1 || card.Contacts[0].Phone != "+79001234567" ||
			len(card.Services) != 1 || card.Services[0].MonthlyPrice != "120.50" || len(card.Notes) != 1 ||
			len(card.Revenue) != 1 || card.Revenue[0].Amount != "13000.00" {
			t.Errorf("card = %s", res.Body)
		}
		// ETag / If-Match.
		etag := res.Header.Get("ETag")
		if r := s.call("PATCH", "/api/v1/accounts/"+id, mgr, map[string]any{"tier": "key"}, "If-Match", `"v999"`); r.Status != 412 {
			t.Errorf("stale If-Match: %d %s", r.Status, r.Body)
		}
		if r := s.call("PATCH", "/api/v1/accounts/"+id, mgr, map[string]any{"tier": "key"}, "If-Match", etag); r.Status != 200 || r.Header.Get("ETag") == etag {
			t.Errorf("If-Match: %d %s", r.Status, r.Body)
		}
		// A PATCH that changes nothing writes nothing: same ETag, no audit event.
		cur := s.call("GET", "/api/v1/accounts/"+id, mgr, nil).Header.Get("ETag")
		audited := s.auditCount()
		if r := s.call("PATCH", "/api/v1/accounts/"+id, mgr, map[string]any{"tier": "key"}); r.Status != 200 || r.Header.Get("ETag") != cur {
			t.Errorf("no-op PATCH: %d, ETag %s → %s", r.Status, cur, r.Header.Get("ETag"))
		}
		if s.auditCount() != audited {
			t.Error("a no-op PATCH was audited")
		}
		// Search, revisions, import, audit.
		found := s.must(200, "GET", "/api/v1/notes?q=invoice", mgr, nil)
		if n := len(found["items"].([]any)); n != 1 {
			t.Errorf("search found %d", n)
		}
		imp := s.must(200, "POST", "/api/v1/revenue/import", s.admin, []map[string]string{{"external_id": "A-1", "month": "2026-01", "amount": "9000"}, {"account_id": id, "month": "2026-02", "amount": "9100.10"}})
		if imp["created"].(float64) != 2 {
			t.Errorf("import = %v", imp)
		}
		res = s.call("POST", "/api/v1/revenue/import", s.admin, "external_id,month,amount\nA-1,2026-03,9200\n", "Content-Type", "text/csv")
		if res.Status != 200 {
			t.Errorf("csv import: %d %s", res.Status, res.Body)
		}
		events := s.must(200, "GET", "/api/v1/audit?entity=account&entity_id="+id, s.admin, nil)
		if n := len(events["items"].([]any)); n < 5 {
			t.Errorf("audit events for the account: %d", n)
		}
		s.must(200, "DELETE", "/api/v1/accounts/"+id, s.admin, nil)
		list := s.must(200, "GET", "/api/v1/accounts", s.admin, nil)
		if n := len(list["items"].([]any)); n != 0 {
			t.Errorf("archived account still listed")
		}
		// Logs never carry a token, a phone number, a search query or note text.
		logs := s.logs.String()
		for _, secret := range []string{s.admin, mgr, "+79001234567", "900 123", "invoice", "finance@acme"} {
			if strings.Contains(logs, secret) {
				t.Errorf("the log contains %q", secret)
			}
		}
		if !strings.Contains(logs, `"request_id"`) {
			t.Error("log lines carry no request id")
		}
		// Metrics carry the route template, never the id.
		m := s.call("GET", "/metrics", "", nil)
		if !bytes.Contains(m.Body, []byte(`route="/api/v1/accounts/:id"`)) || bytes.Contains(m.Body, []byte(id)) {
			t.Errorf("metrics by route missing or leak ids")
		}
	})
}

func TestPagination(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		s := start(t, dialect, nil)
		for i := 0; i < 7; i++ {
			s.must(201, "POST", "/api/v1/accounts", s.admin, map[string]any{"name": fmt.Sprintf("Account %02d", i), "currency": "USD"})
		}
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			l := s.must(200, "GET", "/api/v1/accounts?limit=3&cursor="+cursor, s.admin, nil)
			for _, it := range l["items"].([]any) {
				name := it.(map[string]any)["name"].(string)
				if seen[name] {
					t.Fatalf("%s twice", name)
				}
				seen[name] = true
			}
			cursor, _ = l["next_cursor"].(string)
			if cursor == "" {
				break
			}
			if pages > 5 {
				t.Fatal("no end")
			}
		}
		if len(seen) != 7 {
			t.Errorf("saw %d accounts", len(seen))
		}
	})
}

func TestRateLimitPerToken(t *testing.T) {
	s := start(t, "sqlite", func(c *Config) { c.RateLimit, c.RateBurst = 0.5, 2 })
	_, other := s.member("Olga", "viewer") // uses 2 admin requests: the admin's burst is spent
	res := s.call("GET", "/api/v1/me", s.admin, nil)
	if res.Status != 429 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: %d %s", res.Status, res.Body)
	}
	// Another token has its own budget.
	if res := s.call("GET", "/api/v1/me", other, nil); res.Status != 200 {
		t.Errorf("other token: %d", res.Status)
	}
}

func TestShutdownIsClean(t *testing.T) {
	s := start(t, "sqlite", nil)
	s.must(200, "GET", "/api/v1/me", s.admin, nil)
	if err := s.main.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(s.base + "/healthz"); err == nil {
		t.Error("still serving after Close")
	}
}
