package main

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// access is what the matrix expects of a route, written here independently of
// api/routes.go so that a wrong rule there fails this test.
type access struct {
	roles string // who may call it: a=admin l=lead m=manager p=product v=viewer; "*" = public, no token
	owned bool   // the path names an object: a manager who neither owns nor backs it up gets 404
}

// matrix lists every route Keycare serves. A route missing here fails the test.
var matrix = map[string]access{
	"GET /healthz":                                 {roles: "*"},
	"GET /readyz":                                  {roles: "*"},
	"GET /metrics":                                 {roles: "*"},
	"GET /api/v1/openapi.json":                     {roles: "*"},
	"GET /api/v1/me":                               {roles: "almpv"},
	"GET /api/v1/users":                            {roles: "a"},
	"POST /api/v1/users":                           {roles: "a"},
	"GET /api/v1/users/:id":                        {roles: "a"},
	"PATCH /api/v1/users/:id":                      {roles: "a"},
	"POST /api/v1/users/:id/tokens":                {roles: "a"},
	"GET /api/v1/accounts":                         {roles: "almp"},
	"POST /api/v1/accounts":                        {roles: "al"},
	"GET /api/v1/accounts/:id":                     {roles: "almp", owned: true},
	"PATCH /api/v1/accounts/:id":                   {roles: "alm", owned: true},
	"DELETE /api/v1/accounts/:id":                  {roles: "al", owned: true},
	"GET /api/v1/accounts/:id/contacts":            {roles: "alm", owned: true},
	"POST /api/v1/accounts/:id/contacts":           {roles: "alm", owned: true},
	"GET /api/v1/accounts/:id/contacts/:cid":       {roles: "alm", owned: true},
	"PATCH /api/v1/accounts/:id/contacts/:cid":     {roles: "alm", owned: true},
	"DELETE /api/v1/accounts/:id/contacts/:cid":    {roles: "alm", owned: true},
	"GET /api/v1/accounts/:id/revenue":             {roles: "almp", owned: true},
	"PUT /api/v1/accounts/:id/revenue/:month":      {roles: "alm", owned: true},
	"POST /api/v1/revenue/import":                  {roles: "al"},
	"GET /api/v1/accounts/:id/services":            {roles: "almp", owned: true},
	"POST /api/v1/accounts/:id/services":           {roles: "alm", owned: true},
	"GET /api/v1/accounts/:id/services/:sid":       {roles: "almp", owned: true},
	"PATCH /api/v1/accounts/:id/services/:sid":     {roles: "alm", owned: true},
	"DELETE /api/v1/accounts/:id/services/:sid":    {roles: "alm", owned: true},
	"GET /api/v1/accounts/:id/notes":               {roles: "alm", owned: true},
	"POST /api/v1/accounts/:id/notes":              {roles: "alm", owned: true},
	"GET /api/v1/notes":                            {roles: "alm"},
	"POST /api/v1/notes":                           {roles: "alm"},
	"GET /api/v1/notes/:nid":                       {roles: "alm", owned: true},
	"PATCH /api/v1/notes/:nid":                     {roles: "alm", owned: true},
	"DELETE /api/v1/notes/:nid":                    {roles: "alm", owned: true},
	"GET /api/v1/notes/:nid/revisions":             {roles: "alm", owned: true},
	"GET /api/v1/audit":                            {roles: "al"},
	"GET /api/v1/integrations":                     {roles: "almpv"},
	"GET /api/v1/accounts/:id/chat":                {roles: "almp", owned: true},
	"POST /api/v1/accounts/:id/chat":               {roles: "alm", owned: true},
	"POST /api/v1/accounts/:id/chat/adopt":         {roles: "alm", owned: true},
	"POST /api/v1/accounts/:id/chat/archive":       {roles: "al", owned: true},
	"GET /api/v1/accounts/:id/messages":            {roles: "alm", owned: true},
	"GET /api/v1/accounts/:id/messages/:mid/media": {roles: "alm", owned: true},
	"POST /api/v1/accounts/:id/messages":           {roles: "alm", owned: true},
	"GET /api/v1/requests":                         {roles: "alm"},
	"POST /api/v1/requests":                        {roles: "alm"},
	"GET /api/v1/requests/:id":                     {roles: "alm", owned: true},
	"PATCH /api/v1/requests/:id":                   {roles: "alm", owned: true},
	"POST /api/v1/requests/:id/split":              {roles: "alm", owned: true},
	"POST /api/v1/requests/:id/merge":              {roles: "alm", owned: true},
	"POST /api/v1/requests/:id/qa":                 {roles: "al", owned: true},
	"GET /api/v1/handovers":                        {roles: "alm"},
	"POST /api/v1/handovers":                       {roles: "alm"},
	"POST /api/v1/handovers/:id/accept":            {roles: "alm", owned: true},
	"GET /api/v1/sla-policies":                     {roles: "alm"},
	"POST /api/v1/sla-policies":                    {roles: "al"},
	"GET /api/v1/sla-policies/:id":                 {roles: "alm"},
	"PATCH /api/v1/sla-policies/:id":               {roles: "al"},
	"GET /api/v1/metrics/support":                  {roles: "almv"},
}

var roleLetters = map[byte]string{'a': "admin", 'l': "lead", 'm': "manager", 'p': "product", 'v': "viewer"}

// world is the data the matrix acts on: one account owned by Boris, seen by
// Anna, another manager, who must get 404 for everything in it.
type world struct {
	s       *service
	tokens  map[string]string // role → token; the manager is Anna
	boris   string            // owner of the account (user id)
	borisTk string
	account string
	seq     atomic.Int64
}

func newWorld(t *testing.T, dialect string) *world {
	s := start(t, dialect, nil)
	w := &world{s: s, tokens: map[string]string{"admin": s.admin}}
	for _, r := range []string{"lead", "manager", "product", "viewer"} {
		_, w.tokens[r] = s.member(strings.ToUpper(r[:1])+r[1:], r)
	}
	w.boris, w.borisTk = s.member("Boris", "manager")
	w.account = w.newAccount()
	return w
}

func (w *world) next() int64 { return w.seq.Add(1) }

func (w *world) newAccount() string {
	a := w.s.must(201, "POST", "/api/v1/accounts", w.s.admin, map[string]any{"name": fmt.Sprintf("Borealis %d", w.next()), "currency": "EUR", "owner_id": w.boris, "external_ids": map[string]string{"crm": fmt.Sprintf("BOR-%d", w.seq.Load())}})
	return a["id"].(string)
}

// params makes the path parameters for a route; routes that remove
// something get a fresh object so every call finds one.
func (w *world) params(route string) map[string]string {
	fresh := strings.HasPrefix(route, "DELETE")
	p := map[string]string{":id": w.account, ":month": "2026-10"}
	if strings.Contains(route, "/users/:id") {
		p[":id"] = w.boris
	}
	if fresh && route == "DELETE /api/v1/accounts/:id" {
		p[":id"] = w.newAccount()
	}
	if strings.Contains(route, ":cid") {
		c := w.s.must(201, "POST", "/api/v1/accounts/"+w.account+"/contacts", w.borisTk, map[string]any{"name": "Client Person"})
		p[":cid"] = c["id"].(string)
	}
	if strings.Contains(route, ":sid") {
		sv := w.s.must(201, "POST", "/api/v1/accounts/"+w.account+"/services", w.borisTk, map[string]any{"kind": "vm", "name": "db-1", "monthly_price": "10"})
		p[":sid"] = sv["id"].(string)
	}
	if strings.HasPrefix(pattern(route), "/api/v1/requests/:id") {
		p[":id"] = w.newRequest()
	}
	if strings.HasPrefix(pattern(route), "/api/v1/handovers/:id") {
		admin := w.s.must(200, "GET", "/api/v1/me", w.s.admin, nil)["id"].(string)
		h := w.s.must(201, "POST", "/api/v1/handovers", w.borisTk, map[string]any{"to_user_id": admin, "request_ids": []string{w.newRequest()}, "note": "covering"})
		p[":id"] = h["id"].(string)
	}
	if strings.HasPrefix(pattern(route), "/api/v1/sla-policies/:id") {
		sp := w.s.must(201, "POST", "/api/v1/sla-policies", w.s.admin, map[string]any{"name": fmt.Sprintf("Policy %d", w.next()), "targets": map[string]any{"normal": map[string]int{"first_response": 900, "follow_up": 1800, "resolution": 86400}}})
		p[":id"] = sp["id"].(string)
	}
	if strings.Contains(route, ":nid") {
		n := w.s.must(201, "POST", "/api/v1/accounts/"+w.account+"/notes", w.borisTk, map[string]any{"title": "Escalation path"})
		p[":nid"] = n["id"].(string)
	}
	return p
}

// newRequest logs a phone request on Boris's account.
func (w *world) newRequest() string {
	r := w.s.must(201, "POST", "/api/v1/requests", w.borisTk, map[string]any{"account_id": w.account, "channel": "phone", "subject": fmt.Sprintf("Call %d", w.next())})
	return r["id"].(string)
}

func pattern(route string) string {
	_, p, _ := strings.Cut(route, " ")
	return p
}

// body is a valid body for a route, so an allowed call succeeds.
func (w *world) body(route string) any {
	n := w.next()
	switch route {
	case "POST /api/v1/users":
		return map[string]any{"name": "New", "email": fmt.Sprintf("new%d@example.com", n), "role": "viewer"}
	case "PATCH /api/v1/users/:id":
		return map[string]any{"away": false}
	case "POST /api/v1/accounts":
		return map[string]any{"name": fmt.Sprintf("New %d", n), "currency": "USD"}
	case "PATCH /api/v1/accounts/:id":
		return map[string]any{"tags": []string{"vip"}}
	case "POST /api/v1/accounts/:id/contacts":
		return map[string]any{"name": "Olga"}
	case "PATCH /api/v1/accounts/:id/contacts/:cid":
		return map[string]any{"title": "CTO"}
	case "PUT /api/v1/accounts/:id/revenue/:month":
		return map[string]any{"amount": fmt.Sprintf("%d.00", 1000+n)}
	case "POST /api/v1/revenue/import":
		return []map[string]any{{"external_id": "BOR-1", "month": "2026-09", "amount": fmt.Sprintf("%d", n)}}
	case "POST /api/v1/accounts/:id/services":
		return map[string]any{"kind": "vm", "name": "web"}
	case "PATCH /api/v1/accounts/:id/services/:sid":
		return map[string]any{"quantity": 2}
	case "POST /api/v1/accounts/:id/notes", "POST /api/v1/notes":
		return map[string]any{"title": "Note"}
	case "PATCH /api/v1/notes/:nid":
		return map[string]any{"pinned": true}
	case "POST /api/v1/requests":
		return map[string]any{"account_id": w.account, "channel": "phone", "subject": "Called about invoices"}
	case "PATCH /api/v1/requests/:id":
		return map[string]any{"priority": "high"}
	case "POST /api/v1/requests/:id/split":
		return map[string]any{"message_ids": []string{"0190f0c8-0000-7000-8000-000000000001"}}
	case "POST /api/v1/requests/:id/merge":
		return map[string]any{"into": w.newRequest()}
	case "POST /api/v1/requests/:id/qa":
		return map[string]any{"score": 4, "comment": "clear and quick"}
	case "POST /api/v1/handovers":
		return map[string]any{"to_user_id": w.boris, "shift": true}
	case "POST /api/v1/sla-policies":
		return map[string]any{"name": fmt.Sprintf("Gold %d", n), "targets": map[string]any{"urgent": map[string]int{"first_response": 300, "follow_up": 600, "resolution": 14400}}}
	case "PATCH /api/v1/sla-policies/:id":
		return map[string]any{"warn_at": 0.8}
	}
	return nil
}

func TestAuthorizationMatrix(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		rules := w.s.main.API.Rules()

		// Every route echo serves has a rule, and every rule is in the matrix.
		for _, r := range w.s.main.API.Routes() {
			if _, ok := rules[r]; !ok {
				t.Errorf("route %s was registered without an authorization rule", r)
			}
		}
		var routes []string
		for r := range rules {
			if _, ok := matrix[r]; !ok {
				t.Errorf("route %s is not in the authorization matrix: add what each role may do", r)
			}
			routes = append(routes, r)
		}
		for r := range matrix {
			if _, ok := rules[r]; !ok {
				t.Errorf("matrix names %s, which is not registered", r)
			}
		}
		sort.Strings(routes)

		for _, route := range routes {
			want, ok := matrix[route]
			if !ok {
				continue
			}
			method, pattern, _ := strings.Cut(route, " ")
			t.Run(strings.ReplaceAll(route, "/", "_"), func(t *testing.T) {
				if want.roles != "*" {
					if res := w.s.call(method, fill(pattern, w.params(route)), "", w.body(route)); res.Status != 401 {
						t.Errorf("no token: %d, want 401", res.Status)
					}
				}
				for _, letter := range []byte("almpv") {
					role := roleLetters[letter]
					res := w.s.call(method, fill(pattern, w.params(route)), w.tokens[role], w.body(route))
					var expect string
					switch {
					case want.roles == "*":
						expect = "2xx"
					case !strings.ContainsRune(want.roles, rune(letter)):
						expect = "403"
					case want.owned && role == "manager":
						expect = "404"
					default:
						expect = "2xx"
					}
					got := fmt.Sprint(res.Status)
					if expect == "2xx" && passedAuthorization(res) {
						got = "2xx"
					}
					if expect == "404" && res.Status == 404 && !hiddenObject(res) {
						got = "404 (" + string(res.Body) + ")" // a 404 from the domain, not the ownership rule
					}
					if got != expect {
						t.Errorf("%s as %s: %d, want %s: %s", route, role, res.Status, expect, res.Body)
					}
				}
			})
		}

		// Lists never show a manager someone else's objects (team-wide notes
		// are everyone's), and the owner does see them.
		for _, path := range []string{"/api/v1/accounts", "/api/v1/notes?q=escalation", "/api/v1/notes?account=" + w.account, "/api/v1/accounts?owner=" + w.boris} {
			res := w.s.call("GET", path, w.tokens["manager"], nil)
			if res.Status == 200 && len(res.json(t)["items"].([]any)) != 0 || res.Status != 200 && res.Status != 404 {
				t.Errorf("manager Anna lists %s: %d %s", path, res.Status, res.Body)
			}
			if body := w.s.must(200, "GET", path, w.borisTk, nil); len(body["items"].([]any)) == 0 {
				t.Errorf("owner Boris lists nothing at %s", path)
			}
		}
		// A backup sees the account like its owner does.
		anna := w.s.must(200, "GET", "/api/v1/me", w.tokens["manager"], nil)["id"].(string)
		w.s.must(200, "PATCH", "/api/v1/accounts/"+w.account, w.s.admin, map[string]any{"backup_id": anna})
		w.s.must(200, "GET", "/api/v1/accounts/"+w.account, w.tokens["manager"], nil)
		// Product sees the card without contact details or notes.
		card := w.s.must(200, "GET", "/api/v1/accounts/"+w.account, w.tokens["product"], nil)
		if _, ok := card["contacts"]; ok {
			t.Error("product sees contacts")
		}
		if _, ok := card["notes"]; ok {
			t.Error("product sees notes")
		}
	})
}

// hiddenObject reports whether a 404 is the ownership rule's: the object
// exists but the caller may not see it.
func hiddenObject(res response) bool {
	if res.Status != 404 {
		return false
	}
	for _, hidden := range []string{`"account not found"`, `"note not found"`, `"request not found"`, `"handover not found"`} {
		if strings.Contains(string(res.Body), hidden) {
			return true
		}
	}
	return false
}

// passedAuthorization reports whether a request got past authentication,
// roles and ownership: a success, or the domain's own answer (no chat yet,
// Telegram not configured) rather than a 401, 403 or hidden-object 404.
func passedAuthorization(res response) bool {
	return res.Status != 401 && res.Status != 403 && !hiddenObject(res) && res.Status < 500
}

func fill(pattern string, params map[string]string) string {
	parts := strings.Split(pattern, "/")
	for i, p := range parts {
		if v, ok := params[p]; ok {
			parts[i] = v
		}
	}
	return strings.Join(parts, "/")
}
