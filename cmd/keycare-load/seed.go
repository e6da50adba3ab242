package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/jobs"
	"github.com/keycare/keycare/migrations"
	"github.com/keycare/keycare/team"
)

// Shape of each seeded account (SPEC §12).
const (
	contactsPerAccount = 20
	servicesPerAccount = 30
	notesPerAccount    = 10
	pinnedPerAccount   = 3
	revenueMonths      = 24
	openRequests       = 5
	managers           = 20
)

// dataset is what the load needs from the seeded database.
type dataset struct {
	AccountIDs    []string
	OwnerOf       []int    // AccountIDs[i] is owned by ManagerTokens[OwnerOf[i]]
	AdminToken    string   // Authorization: Bearer for the admin
	ManagerTokens []string // one per manager
	SeedTime      time.Duration
	Rows          int64
}

// migrate applies Keycare's migrations and River's tables, as `keycare migrate` does.
func migrate(ctx context.Context, db *database.DB) error {
	if _, err := migrations.Up(ctx, db.SQL, db.Dialect); err != nil {
		return err
	}
	return jobs.Migrate(ctx, db)
}

// seed fills an empty, migrated database with nAccounts accounts of the
// SPEC §12 shape using COPY, then issues API tokens through team.Service.
func seed(ctx context.Context, dbURL string, db *database.DB, nAccounts int) (*dataset, error) {
	start := time.Now()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)

	now := time.Now().UTC().Truncate(time.Microsecond)
	ds := &dataset{}
	var rows int64
	copyRows := func(table string, cols []string, n int, row func(i int) []any) error {
		k, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromSlice(n, func(i int) ([]any, error) { return row(i), nil }))
		rows += k
		if err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
		return nil
	}

	// Users: an admin and the managers who own the accounts.
	adminID := keycare.NewID()
	managerIDs := make([]string, managers)
	for i := range managerIDs {
		managerIDs[i] = keycare.NewID()
	}
	err = copyRows("users", []string{"id", "name", "email", "role", "telegram_username", "active", "away", "version", "created_at", "updated_at"},
		managers+1, func(i int) []any {
			if i == 0 {
				return []any{adminID, "Bench Admin", "admin@bench.keycare.local", keycare.RoleAdmin, nil, true, false, 1, now, now}
			}
			return []any{managerIDs[i-1], fmt.Sprintf("Manager %02d", i), fmt.Sprintf("manager%02d@bench.keycare.local", i), keycare.RoleManager,
				fmt.Sprintf("care_manager_%02d", i), true, false, 1, now, now}
		})
	if err != nil {
		return nil, err
	}

	// Accounts.
	tiers := []string{"strategic", "key", "key", "standard"}
	currencies := []string{"RUB", "USD", "EUR"}
	accountIDs := make([]string, nAccounts)
	ownerOf := make([]int, nAccounts)
	curOf := make([]string, nAccounts)
	for i := range accountIDs {
		accountIDs[i] = keycare.NewID()
		ownerOf[i] = i % managers
		curOf[i] = currencies[i%len(currencies)]
	}
	err = copyRows("accounts", []string{"id", "name", "slug", "tier", "status", "owner_id", "backup_id", "timezone", "currency", "external_ids", "tags", "version", "created_at", "updated_at"},
		nAccounts, func(i int) []any {
			tier := tiers[i%len(tiers)]
			return []any{accountIDs[i], fmt.Sprintf("Client %04d Holding", i+1), fmt.Sprintf("client-%04d-holding", i+1), tier, "active",
				managerIDs[ownerOf[i]], managerIDs[(ownerOf[i]+1)%managers], "Europe/Moscow", curOf[i],
				fmt.Sprintf(`{"crm": "CRM-%05d", "billing": "BIL-%05d"}`, i+1, i+1), fmt.Sprintf(`["bench", "%s", "region-%d"]`, tier, i%7),
				1, now, now}
		})
	if err != nil {
		return nil, err
	}

	// Contacts: the first one of each account is primary.
	titles := []string{"CTO", "Head of IT", "DevOps lead", "Finance director", "Procurement", "Support engineer", "CEO", "Product owner"}
	err = copyRows("contacts", []string{"id", "account_id", "name", "title", "email", "phone", "telegram_username", "telegram_user_id", "is_primary", "verified", "version", "created_at", "updated_at"},
		nAccounts*contactsPerAccount, func(k int) []any {
			a, j := k/contactsPerAccount, k%contactsPerAccount
			var tgID any
			if j%2 == 0 {
				tgID = int64(100000000 + k)
			}
			return []any{keycare.NewID(), accountIDs[a], fmt.Sprintf("Contact %d of client %04d", j+1, a+1), titles[j%len(titles)],
				fmt.Sprintf("contact%02d@client%04d.example.com", j+1, a+1), fmt.Sprintf("+7916%07d", k), fmt.Sprintf("client%04d_c%02d", a+1, j+1),
				tgID, j == 0, true, 1, now, now}
		})
	if err != nil {
		return nil, err
	}

	// Services: all active, so the card shows all 30.
	kinds := []struct{ kind, plan, region string }{
		{"vm", "c2-m8", "ru-central1-a"}, {"storage", "s3-standard", "ru-central1"}, {"dbaas", "pg-15-ha", "ru-central1-b"},
		{"k8s", "managed-k8s", "ru-central1-a"}, {"cdn", "cdn-pro", "global"}, {"backup", "backup-30d", "ru-central1-c"},
	}
	err = copyRows("services", []string{"id", "account_id", "kind", "name", "plan", "quantity", "monthly_price_minor", "currency", "region", "status", "started_on", "ended_on", "external_id", "attributes", "version", "created_at", "updated_at"},
		nAccounts*servicesPerAccount, func(k int) []any {
			a, j := k/servicesPerAccount, k%servicesPerAccount
			kd := kinds[j%len(kinds)]
			return []any{keycare.NewID(), accountIDs[a], kd.kind, fmt.Sprintf("%s-%04d-%02d", kd.kind, a+1, j+1), kd.plan, 1 + j%8,
				int64(150000 + 1000*(k%977)), curOf[a], kd.region, "active", fmt.Sprintf("2024-%02d-01", 1+j%12), nil,
				fmt.Sprintf("SRV-%07d", k+1), fmt.Sprintf(`{"cpu": %d, "ram_gb": %d, "sla": "99.95"}`, 2+j%6, 4*(1+j%8)),
				1, now, now}
		})
	if err != nil {
		return nil, err
	}

	// Notes (3 pinned per account) and their first revision.
	noteIDs := make([]string, nAccounts*notesPerAccount)
	for i := range noteIDs {
		noteIDs[i] = keycare.NewID()
	}
	noteTitle := func(k int) string {
		return fmt.Sprintf("Runbook %d for client %04d", k%notesPerAccount+1, k/notesPerAccount+1)
	}
	noteTags := `["runbook", "escalation"]`
	err = copyRows("notes", []string{"id", "account_id", "title", "body", "tags", "pinned", "author_id", "revision", "version", "created_at", "updated_at"},
		len(noteIDs), func(k int) []any {
			a, j := k/notesPerAccount, k%notesPerAccount
			return []any{noteIDs[k], accountIDs[a], noteTitle(k), noteBody(a, j), noteTags, j < pinnedPerAccount,
				managerIDs[ownerOf[a]], 1, 1, now, now}
		})
	if err != nil {
		return nil, err
	}
	err = copyRows("note_revisions", []string{"id", "note_id", "revision", "title", "body", "tags", "pinned", "author_id", "created_at"},
		len(noteIDs), func(k int) []any {
			a, j := k/notesPerAccount, k%notesPerAccount
			return []any{keycare.NewID(), noteIDs[k], 1, noteTitle(k), noteBody(a, j), noteTags, j < pinnedPerAccount, managerIDs[ownerOf[a]], now}
		})
	if err != nil {
		return nil, err
	}

	// Revenue: 24 months ending at the current month.
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -(revenueMonths - 1), 0)
	err = copyRows("revenue_entries", []string{"account_id", "month", "amount_minor", "currency", "source", "created_at", "updated_at"},
		nAccounts*revenueMonths, func(k int) []any {
			a, j := k/revenueMonths, k%revenueMonths
			m := first.AddDate(0, j, 0)
			return []any{accountIDs[a], fmt.Sprintf("%04d-%02d", m.Year(), int(m.Month())), int64(100_000_00 + 37_13*((a*31+j*7)%1000)),
				curOf[a], "import", now, now}
		})
	if err != nil {
		return nil, err
	}
	// Open requests (SPEC §12: the card carries 5, with their clocks), with
	// their first-response clocks running.
	err = copyRows("requests", []string{"id", "account_id", "channel", "owner_id", "priority", "category", "status", "subject",
		"opened_at", "first_response_due", "resolution_due", "due_at", "awaiting_team", "last_message_at", "breached", "breached_any",
		"touches", "reopen_count", "version", "created_at", "updated_at"},
		nAccounts*openRequests, func(k int) []any {
			a, j := k/openRequests, k%openRequests
			opened := now.Add(-time.Duration(10+j*7) * time.Minute)
			due := opened.Add(15 * time.Minute)
			return []any{keycare.NewID(), accountIDs[a], "telegram", managerIDs[ownerOf[a]], "normal", "question", "open",
				fmt.Sprintf("Question %d from client %04d", j+1, a+1), opened, due, opened.Add(24 * time.Hour), due, true, opened,
				`[]`, false, 0, 0, 1, now, now}
		})
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		return nil, err
	}

	// Tokens go through Keycare itself, so they are hashed exactly as in production.
	sctx := keycare.WithActor(ctx, keycare.SystemActor)
	svc := team.NewService(db.Gorm)
	if ds.AdminToken, err = svc.IssueToken(sctx, adminID, "keycare-load"); err != nil {
		return nil, fmt.Errorf("issue admin token: %w", err)
	}
	for _, id := range managerIDs {
		tok, err := svc.IssueToken(sctx, id, "keycare-load")
		if err != nil {
			return nil, fmt.Errorf("issue manager token: %w", err)
		}
		ds.ManagerTokens = append(ds.ManagerTokens, tok)
	}
	ds.AccountIDs, ds.OwnerOf, ds.Rows, ds.SeedTime = accountIDs, ownerOf, rows, time.Since(start)
	return ds, nil
}

// loadExisting reads the accounts of an already seeded database and issues
// fresh tokens for its bench admin and managers (-reset=false).
func loadExisting(ctx context.Context, db *database.DB) (*dataset, error) {
	start := time.Now()
	var admin string
	if err := db.SQL.QueryRowContext(ctx, "SELECT id FROM users WHERE email = 'admin@bench.keycare.local'").Scan(&admin); err != nil {
		return nil, fmt.Errorf("-reset=false: no seeded bench admin found (%w); run once with -reset", err)
	}
	r, err := db.SQL.QueryContext(ctx, "SELECT id FROM users WHERE role = 'manager' AND email LIKE '%@bench.keycare.local' ORDER BY email")
	if err != nil {
		return nil, err
	}
	var mgrIDs []string
	idx := map[string]int{}
	for r.Next() {
		var id string
		if err := r.Scan(&id); err != nil {
			return nil, err
		}
		idx[id] = len(mgrIDs)
		mgrIDs = append(mgrIDs, id)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	ds := &dataset{}
	r, err = db.SQL.QueryContext(ctx, "SELECT id, owner_id FROM accounts WHERE archived_at IS NULL ORDER BY id")
	if err != nil {
		return nil, err
	}
	for r.Next() {
		var id, owner string
		if err := r.Scan(&id, &owner); err != nil {
			return nil, err
		}
		ds.AccountIDs = append(ds.AccountIDs, id)
		ds.OwnerOf = append(ds.OwnerOf, idx[owner])
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if len(ds.AccountIDs) == 0 {
		return nil, errors.New("-reset=false: the database has no accounts")
	}
	sctx := keycare.WithActor(ctx, keycare.SystemActor)
	svc := team.NewService(db.Gorm)
	if ds.AdminToken, err = svc.IssueToken(sctx, admin, "keycare-load"); err != nil {
		return nil, err
	}
	for _, id := range mgrIDs {
		tok, err := svc.IssueToken(sctx, id, "keycare-load")
		if err != nil {
			return nil, err
		}
		ds.ManagerTokens = append(ds.ManagerTokens, tok)
	}
	ds.SeedTime = time.Since(start)
	return ds, nil
}

// noteBody is a Markdown runbook of about 1 KB, like a real knowledge-base note.
func noteBody(account, j int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Runbook %d\n\nClient %04d runs its production in **ru-central1**; escalate P1 incidents to the on-call DBA.\n\n", j+1, account+1)
	b.WriteString("## Before answering\n\n- Check the service inventory: VM, managed PostgreSQL, CDN.\n- Check open requests and Jira incidents for this client.\n- Never ask the client for data already on this card.\n\n")
	b.WriteString("## Contacts\n\n| who | when |\n|---|---|\n| CTO | outages only |\n| Head of IT | everything else |\n| Finance | invoices, credits |\n\n")
	b.WriteString("## Known issues\n\n1. Backups of the analytics cluster take ~3 h; do not restart during the window 01:00-04:00 MSK.\n")
	b.WriteString("2. The CDN origin is behind their own WAF; purge requests need their approval.\n3. Quarterly capacity review with the account owner.\n")
	return b.String()
}

// discardLog is a logger that drops everything (request logs are not measured).
func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// jsonDiscardLog formats every record as JSON, as production does, but throws the bytes away.
func jsonDiscardLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }
