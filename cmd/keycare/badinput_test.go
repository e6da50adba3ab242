package main

import (
	"strings"
	"testing"
)

// TestBadInputs sends what careless clients and attackers send. Each gets a
// 4xx that names the field, and nothing is written.
func TestBadInputs(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		s := start(t, dialect, nil)
		mgrID, mgr := s.member("Anna", "manager")
		acc := s.must(201, "POST", "/api/v1/accounts", s.admin, map[string]any{"name": "Acme", "currency": "EUR", "owner_id": mgrID})["id"].(string)
		contact := s.must(201, "POST", "/api/v1/accounts/"+acc+"/contacts", mgr, map[string]any{"name": "Ivan"})["id"].(string)
		a := "/api/v1/accounts/" + acc
		huge := `{"name":"` + strings.Repeat("x", 1<<20+10) + `","currency":"EUR"}`
		rid := s.must(201, "POST", "/api/v1/requests", mgr, map[string]any{"account_id": acc, "channel": "phone", "subject": "Called about invoices"})["id"].(string)
		r := "/api/v1/requests/" + rid
		adminID := s.must(200, "GET", "/api/v1/me", s.admin, nil)["id"].(string)
		targets := `"targets": {"normal": {"first_response": 60, "follow_up": 60, "resolution": 600}}`
		hugeImport := "account_id,month,amount\n" + strings.Repeat(acc+",2026-01,1\n", (21<<20)/(len(acc)+12))

		cases := []struct {
			name, method, path, body string
			headers                  []string
			status                   int
			field                    string
		}{
			{"truncated JSON", "POST", "/api/v1/accounts", `{"name": "Acme", "curr`, nil, 400, "body"},
			{"not JSON", "POST", "/api/v1/accounts", `name=Acme`, nil, 400, "body"},
			{"empty body", "POST", "/api/v1/accounts", ``, nil, 400, "body"},
			{"two values", "POST", "/api/v1/accounts", `{"name":"A","currency":"EUR"} {}`, nil, 400, "body"},
			{"array for object", "POST", "/api/v1/accounts", `[1,2]`, nil, 400, "body"},
			{"wrong type", "POST", "/api/v1/accounts", `{"name": 5, "currency": "EUR"}`, nil, 400, "name"},
			{"wrong nested type", "POST", "/api/v1/accounts", `{"name": "A", "currency": "EUR", "tags": "vip"}`, nil, 400, "tags"},
			{"unknown field", "POST", "/api/v1/accounts", `{"name": "A", "currency": "EUR", "role": "admin"}`, nil, 400, "role"},
			{"missing required", "POST", "/api/v1/accounts", `{"name": "A"}`, nil, 400, "currency"},
			{"bad currency", "POST", "/api/v1/accounts", `{"name": "A", "currency": "XXX"}`, nil, 400, "currency"},
			{"bad timezone", "POST", "/api/v1/accounts", `{"name": "A", "currency": "EUR", "timezone": "Mars/Olympus"}`, nil, 400, "timezone"},
			{"bad tier", "POST", "/api/v1/accounts", `{"name": "A", "currency": "EUR", "tier": "gold"}`, nil, 400, "tier"},
			{"owner not a user", "POST", "/api/v1/accounts", `{"name": "A", "currency": "EUR", "owner_id": "01a20649-9180-7d81-b758-c83cdd5fa400"}`, nil, 400, "owner_id"},
			{"owner not an id", "POST", "/api/v1/accounts", `{"name": "A", "currency": "EUR", "owner_id": "../../etc"}`, nil, 400, "owner_id"},
			{"oversized body", "POST", "/api/v1/accounts", huge, nil, 413, ""},
			{"wrong content type", "POST", "/api/v1/accounts", `{"name":"A","currency":"EUR"}`, []string{"Content-Type", "text/plain"}, 415, ""},
			{"money as float", "PUT", a + "/revenue/2026-10", `{"amount": 12500.00}`, nil, 400, "amount"},
			{"money with exponent", "PUT", a + "/revenue/2026-10", `{"amount": "1.25e4"}`, nil, 400, "amount"},
			{"money with comma", "PUT", a + "/revenue/2026-10", `{"amount": "12,500.00"}`, nil, 400, "amount"},
			{"negative money", "PUT", a + "/revenue/2026-10", `{"amount": "-5"}`, nil, 400, "amount"},
			{"too many decimals", "PUT", a + "/revenue/2026-10", `{"amount": "1.005"}`, nil, 400, "amount"},
			{"huge money", "PUT", a + "/revenue/2026-10", `{"amount": "999999999999999.99"}`, nil, 400, "amount"},
			{"month 13", "PUT", a + "/revenue/2026-13", `{"amount": "1"}`, nil, 400, "month"},
			{"month garbage", "PUT", a + "/revenue/last", `{"amount": "1"}`, nil, 400, "month"},
			{"revenue range", "GET", a + "/revenue?from=2026-00", ``, nil, 400, "from"},
			{"malformed query", "GET", "/api/v1/accounts?cursor=%%%not-a-cursor", ``, nil, 400, "query"},
			{"garbage cursor", "GET", "/api/v1/accounts?cursor=not-a-cursor!", ``, nil, 400, "cursor"},
			{"forged cursor", "GET", "/api/v1/accounts?cursor=WyJhIl0", ``, nil, 400, "cursor"},
			{"limit zero", "GET", "/api/v1/accounts?limit=0", ``, nil, 400, "limit"},
			{"limit text", "GET", "/api/v1/accounts?limit=ten", ``, nil, 400, "limit"},
			{"limit too big", "GET", "/api/v1/accounts?limit=5000", ``, nil, 400, "limit"},
			{"bad filter", "GET", "/api/v1/accounts?tier=gold", ``, nil, 400, "tier"},
			{"bad bool", "GET", "/api/v1/accounts?archived=maybe", ``, nil, 400, "archived"},
			{"bad audit time", "GET", "/api/v1/audit?from=yesterday", ``, nil, 400, "from"},
			{"bad email", "POST", a + "/contacts", `{"name": "Olga", "email": "olga@"}`, nil, 400, "email"},
			{"bad phone", "POST", a + "/contacts", `{"name": "Olga", "phone": "call me"}`, nil, 400, "phone"},
			{"patch null required", "PATCH", a + "/contacts/" + contact, `{"name": null}`, nil, 400, "name"},
			{"patch wrong type", "PATCH", a, `{"owner_id": 123}`, nil, 400, "owner_id"},
			{"stale If-Match", "PATCH", a, `{"tier": "key"}`, []string{"If-Match", `"v41"`}, 412, ""},
			{"garbage If-Match", "PATCH", a, `{"tier": "key"}`, []string{"If-Match", `"whatever"`}, 412, ""},
			{"service dates reversed", "POST", a + "/services", `{"kind": "vm", "name": "x", "started_on": "2026-05-01", "ended_on": "2026-01-01"}`, nil, 400, "ended_on"},
			{"service bad date", "POST", a + "/services", `{"kind": "vm", "name": "x", "started_on": "2026-02-30"}`, nil, 400, "started_on"},
			{"service float price", "POST", a + "/services", `{"kind": "vm", "name": "x", "monthly_price": 9.99}`, nil, 400, "monthly_price"},
			{"note title too long", "POST", a + "/notes", `{"title": "` + strings.Repeat("я", 301) + `"}`, nil, 400, "title"},
			{"import one bad row", "POST", "/api/v1/revenue/import", `[{"account_id":"` + acc + `","month":"2026-01","amount":"1"},{"account_id":"` + acc + `","month":"2026-13","amount":"1"}]`, nil, 400, "rows[1].month"},
			{"import float row", "POST", "/api/v1/revenue/import", `[{"account_id":"` + acc + `","month":"2026-01","amount":"1"},{"account_id":"` + acc + `","month":"2026-02","amount":1}]`, nil, 400, "rows[1].amount"},
			{"import unknown column", "POST", "/api/v1/revenue/import", "account_id,month,amount,notes\n" + acc + ",2026-01,1,x\n", []string{"Content-Type", "text/csv"}, 400, "header"},
			{"import duplicate month", "POST", "/api/v1/revenue/import", "account_id,month,amount\n" + acc + ",2026-01,1\n" + acc + ",2026-01,2\n", []string{"Content-Type", "text/csv"}, 400, "rows[1].month"},
			{"import ragged csv", "POST", "/api/v1/revenue/import", "account_id,month,amount\n" + acc + ",2026-01\n", []string{"Content-Type", "text/csv"}, 400, "rows[0]"},
			{"import too big", "POST", "/api/v1/revenue/import", hugeImport, []string{"Content-Type", "text/csv"}, 413, ""},
			{"user bad role", "POST", "/api/v1/users", `{"name": "X", "email": "x@example.com", "role": "root"}`, nil, 400, "role"},
			{"user duplicate email", "POST", "/api/v1/users", `{"name": "X", "email": "ANNA@example.com", "role": "viewer"}`, nil, 409, "email"},
			{"request bad channel", "POST", "/api/v1/requests", `{"account_id": "` + acc + `", "channel": "pigeon", "subject": "x"}`, nil, 400, "channel"},
			{"request telegram by hand", "POST", "/api/v1/requests", `{"account_id": "` + acc + `", "channel": "telegram", "subject": "x"}`, nil, 400, "channel"},
			{"request no subject", "POST", "/api/v1/requests", `{"account_id": "` + acc + `", "channel": "email", "subject": "  "}`, nil, 400, "subject"},
			{"request in the future", "POST", "/api/v1/requests", `{"account_id": "` + acc + `", "channel": "email", "subject": "x", "opened_at": "2099-01-01T00:00:00Z"}`, nil, 400, "opened_at"},
			{"request bad account", "POST", "/api/v1/requests", `{"account_id": "../x", "channel": "email", "subject": "x"}`, nil, 400, "account_id"},
			{"request unknown account", "POST", "/api/v1/requests", `{"account_id": "01a20649-9180-7d81-b758-c83cdd5fa400", "channel": "email", "subject": "x"}`, nil, 400, "account_id"},
			{"request bad priority", "POST", "/api/v1/requests", `{"account_id": "` + acc + `", "channel": "email", "subject": "x", "priority": "asap"}`, nil, 400, "priority"},
			{"queue bad status", "GET", "/api/v1/requests?status=open,closed", ``, nil, 400, "status"},
			{"queue bad breached", "GET", "/api/v1/requests?breached=maybe", ``, nil, 400, "breached"},
			{"queue bad due_before", "GET", "/api/v1/requests?due_before=tomorrow", ``, nil, 400, "due_before"},
			{"queue bad owner", "GET", "/api/v1/requests?owner=../x", ``, nil, 400, "owner"},
			{"queue forged cursor", "GET", "/api/v1/requests?cursor=WyJ4IiwieSJd", ``, nil, 400, "cursor"},
			{"patch request bad status", "PATCH", r, `{"status": "done"}`, nil, 400, "status"},
			{"patch request null priority", "PATCH", r, `{"priority": null}`, nil, 400, "priority"},
			{"patch request owner not a user", "PATCH", r, `{"owner_id": "01a20649-9180-7d81-b758-c83cdd5fa400"}`, nil, 400, "owner_id"},
			{"patch request unknown field", "PATCH", r, `{"breached": []}`, nil, 400, "breached"},
			{"split nothing", "POST", r + "/split", `{"message_ids": []}`, nil, 400, "message_ids"},
			{"split a stranger's message", "POST", r + "/split", `{"message_ids": ["01a20649-9180-7d81-b758-c83cdd5fa400"]}`, nil, 400, "message_ids[0]"},
			{"merge into itself", "POST", r + "/merge", `{"into": "` + rid + `"}`, nil, 400, "into"},
			{"merge into nothing", "POST", r + "/merge", `{"into": "01a20649-9180-7d81-b758-c83cdd5fa400"}`, nil, 400, "into"},
			{"qa score 6", "POST", r + "/qa", `{"score": 6}`, nil, 400, "score"},
			{"qa score text", "POST", r + "/qa", `{"score": "good"}`, nil, 400, "score"},
			{"handover both kinds", "POST", "/api/v1/handovers", `{"to_user_id": "` + adminID + `", "shift": true, "request_ids": ["` + rid + `"]}`, nil, 400, "request_ids"},
			{"handover to oneself", "POST", "/api/v1/handovers", `{"to_user_id": "` + mgrID + `", "request_ids": ["` + rid + `"]}`, nil, 400, "to_user_id"},
			{"handover unknown request", "POST", "/api/v1/handovers", `{"to_user_id": "` + adminID + `", "request_ids": ["01a20649-9180-7d81-b758-c83cdd5fa400"]}`, nil, 400, "request_ids[0]"},
			{"handover someone else's shift", "POST", "/api/v1/handovers", `{"to_user_id": "` + adminID + `", "shift": true, "from_user_id": "` + adminID + `"}`, nil, 403, "from_user_id"},
			{"policy without targets", "POST", "/api/v1/sla-policies", `{"name": "X", "targets": {}}`, nil, 400, "targets"},
			{"policy bad target", "POST", "/api/v1/sla-policies", `{"name": "X", "targets": {"normal": {"first_response": 0, "follow_up": 60, "resolution": 600}}}`, nil, 400, "targets.normal.first_response"},
			{"policy bad timezone", "POST", "/api/v1/sla-policies", `{"name": "X", ` + targets + `, "business_hours": {"timezone": "Mars/Base", "weekly": {"mon": [["09:00", "18:00"]]}}}`, nil, 400, "business_hours.timezone"},
			{"policy bad period", "POST", "/api/v1/sla-policies", `{"name": "X", ` + targets + `, "business_hours": {"timezone": "Europe/Moscow", "weekly": {"mon": [["18:00", "09:00"]]}}}`, nil, 400, "business_hours.weekly.mon[0]"},
			{"policy warn_at 1.5", "POST", "/api/v1/sla-policies", `{"name": "X", ` + targets + `, "warn_at": 1.5}`, nil, 400, "warn_at"},
			{"policy bad tier", "POST", "/api/v1/sla-policies", `{"name": "X", ` + targets + `, "default_for": ["gold"]}`, nil, 400, "default_for[0]"},
			{"account with unknown policy", "PATCH", a, `{"sla_policy_id": "01a20649-9180-7d81-b758-c83cdd5fa400"}`, nil, 403, "sla_policy_id"},
			{"metrics bad group", "GET", "/api/v1/metrics/support?group_by=planet", ``, nil, 400, "group_by"},
			{"metrics reversed range", "GET", "/api/v1/metrics/support?from=2026-11-10&to=2026-11-01", ``, nil, 400, "to"},
			{"metrics bad from", "GET", "/api/v1/metrics/support?from=yesterday", ``, nil, 400, "from"},
			{"metrics two years", "GET", "/api/v1/metrics/support?from=2024-01-01&to=2026-01-01", ``, nil, 400, "from"},
		}
		before := s.auditCount()
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				token := mgr
				if strings.HasPrefix(c.path, "/api/v1/accounts?") || c.path == "/api/v1/accounts" && c.method == "POST" ||
					strings.HasPrefix(c.path, "/api/v1/revenue") || strings.HasPrefix(c.path, "/api/v1/users") || strings.HasPrefix(c.path, "/api/v1/audit") ||
					strings.HasPrefix(c.path, "/api/v1/sla-policies") || strings.HasSuffix(c.path, "/qa") {
					token = s.admin
				}
				var body any
				if c.body != "" || c.method != "GET" {
					body = c.body
				}
				res := s.call(c.method, c.path, token, body, c.headers...)
				if res.Status != c.status {
					t.Fatalf("status %d, want %d: %.300s", res.Status, c.status, res.Body)
				}
				if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type %q", ct)
				}
				if c.field != "" && res.field() != c.field {
					t.Errorf("field %q, want %q: %.300s", res.field(), c.field, res.Body)
				}
			})
		}
		if after := s.auditCount(); after != before {
			t.Errorf("refused requests wrote %d audit events", after-before)
		}
		if l := s.must(200, "GET", a+"/revenue", mgr, nil); len(l["items"].([]any)) != 0 {
			t.Errorf("refused requests wrote revenue: %v", l["items"])
		}
	})
}
