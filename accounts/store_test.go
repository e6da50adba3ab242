package accounts_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/accounts"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/page"
	"github.com/keycare/keycare/internal/testdb"
	"github.com/keycare/keycare/team"
)

type fixture struct {
	store          *accounts.Store
	team           *team.Service
	admin, manager keycare.Actor
	other          keycare.Actor
	db             *database.DB
}

func newFixture(t *testing.T, db *database.DB) *fixture {
	t.Helper()
	ctx := keycare.WithActor(context.Background(), keycare.SystemActor)
	f := &fixture{store: accounts.NewStore(db), team: team.NewService(db.Gorm), db: db}
	mk := func(email, role string) keycare.Actor {
		u, err := f.team.Create(ctx, team.NewUser{Name: email, Email: email, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return keycare.Actor{Kind: keycare.ActorUser, UserID: u.ID, Role: role}
	}
	f.admin = mk("admin@example.com", keycare.RoleAdmin)
	f.manager = mk("anna@example.com", keycare.RoleManager)
	f.other = mk("boris@example.com", keycare.RoleManager)
	return f
}

func as(a keycare.Actor) context.Context { return keycare.WithActor(context.Background(), a) }

func code(err error) string { return keycare.ErrorCode(err) }

func TestAccountLifecycle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		acc, err := f.store.CreateAccount(as(f.admin), accounts.NewAccount{Name: "Ромашка Group", Currency: "RUB", OwnerID: &f.manager.UserID, Tags: []string{"vip"}, ExternalIDs: map[string]string{"crm": "C-1"}})
		if err != nil {
			t.Fatal(err)
		}
		if acc.Slug != "romashka-group" {
			t.Errorf("slug = %q", acc.Slug)
		}
		// A second account with the same name gets a free slug.
		acc2, err := f.store.CreateAccount(as(f.admin), accounts.NewAccount{Name: "Ромашка Group", Currency: "EUR"})
		if err != nil || acc2.Slug != "romashka-group-2" {
			t.Fatalf("second slug = %v, %v", acc2, err)
		}

		// The other manager cannot see it.
		if _, err := f.store.Card(as(f.other), acc.ID); code(err) != keycare.ENOTFOUND {
			t.Errorf("other manager card: %v", err)
		}
		l, err := f.store.Accounts(as(f.other), accounts.Filter{}, page.Request{})
		if err != nil || len(l.Items) != 0 {
			t.Errorf("other manager list = %v, %v", l.Items, err)
		}

		ctx := as(f.manager)
		if _, err := f.store.CreateContact(ctx, acc.ID, accounts.NewContact{Name: "Ivan", Phone: "+7 (900) 123-45-67", Primary: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.CreateContact(ctx, acc.ID, accounts.NewContact{Name: "Olga", Email: "not-an-email"}); code(err) != keycare.EINVALID {
			t.Errorf("bad email: %v", err)
		}
		if _, _, err := f.store.SetRevenue(ctx, acc.ID, "2026-10", accounts.RevenueInput{Amount: "12500.5"}, accounts.SourceAPI); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.store.SetRevenue(ctx, acc.ID, "2026-13", accounts.RevenueInput{Amount: "1"}, accounts.SourceAPI); code(err) != keycare.EINVALID {
			t.Errorf("month 13: %v", err)
		}
		if _, _, err := f.store.SetRevenue(ctx, acc.ID, "2026-11", accounts.RevenueInput{Amount: "1.001"}, accounts.SourceAPI); code(err) != keycare.EINVALID {
			t.Errorf("3 decimals RUB: %v", err)
		}
		if _, err := f.store.CreateService(ctx, acc.ID, accounts.NewService{Kind: "vm", Name: "web-1", MonthlyPrice: "990.00"}); err != nil {
			t.Fatal(err)
		}
		n, err := f.store.CreateNote(ctx, acc.ID, accounts.NewNote{Title: "Как выставлять счета", Body: "Счета клиенту отправлять до 5 числа", Pinned: true, Tags: []string{"billing"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.UpdateNote(ctx, n.ID, accounts.NoteUpdate{Body: keycare.Some("Счета отправлять до 3 числа")}, 0); err != nil {
			t.Fatal(err)
		}
		revs, err := f.store.NoteRevisions(ctx, n.ID, page.Request{})
		if err != nil || len(revs.Items) != 2 || revs.Items[0].Revision != 2 {
			t.Fatalf("revisions = %+v, %v", revs.Items, err)
		}
		for _, q := range []string{"счет", "ЧИСЛА", "выставлять счета"} {
			found, err := f.store.Notes(ctx, accounts.NoteFilter{Query: q}, page.Request{})
			if err != nil || len(found.Items) != 1 {
				t.Errorf("search %q = %d, %v", q, len(found.Items), err)
			}
		}
		found, err := f.store.Notes(ctx, accounts.NoteFilter{Tag: "billing"}, page.Request{})
		if err != nil || len(found.Items) != 1 {
			t.Errorf("tag = %d, %v", len(found.Items), err)
		}
		if found, _ := f.store.Notes(as(f.other), accounts.NoteFilter{Query: "счет"}, page.Request{}); len(found.Items) != 0 {
			t.Errorf("other manager found someone else's note")
		}

		card, err := f.store.Card(ctx, acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if card.Owner == nil || len(card.Contacts) != 1 || card.Contacts[0].Phone != "+79001234567" || len(card.Services) != 1 || len(card.Notes) != 1 || len(card.Revenue) != 1 || card.Revenue[0].Amount != "12500.50" {
			t.Errorf("card = %+v", card)
		}

		// Managers may not reassign; ETag mismatch is a precondition failure.
		if _, err := f.store.UpdateAccount(ctx, acc.ID, accounts.AccountUpdate{OwnerID: keycare.Some(f.other.UserID)}, 0); code(err) != keycare.EFORBIDDEN {
			t.Errorf("manager reassign: %v", err)
		}
		if _, err := f.store.UpdateAccount(ctx, acc.ID, accounts.AccountUpdate{Tier: keycare.Some("strategic")}, 99); code(err) != keycare.EPRECONDITION {
			t.Errorf("stale version: %v", err)
		}
		up, err := f.store.UpdateAccount(ctx, acc.ID, accounts.AccountUpdate{Tier: keycare.Some("strategic")}, acc.Version)
		if err != nil || up.Tier != "strategic" || up.Version != acc.Version+1 {
			t.Errorf("update = %+v, %v", up, err)
		}

		// Import: one bad row refuses all.
		_, err = f.store.ImportRevenue(as(f.admin), []accounts.ImportRow{
			{ExternalID: "C-1", Month: "2026-09", Amount: "100"},
			{AccountID: acc.ID, Month: "2026-13", Amount: "100"},
		})
		var kerr *keycare.Error
		if !errors.As(err, &kerr) || kerr.Fields[0].Field != "rows[1].month" {
			t.Fatalf("import error = %v", err)
		}
		if l, _ := f.store.Revenue(ctx, acc.ID, accounts.RevenueRange{From: "2026-09", To: "2026-09"}, page.Request{}); len(l.Items) != 0 {
			t.Errorf("refused import wrote %v", l.Items)
		}
		res, err := f.store.ImportRevenue(as(f.admin), []accounts.ImportRow{
			{ExternalID: "C-1", Month: "2026-09", Amount: "100"},
			{AccountID: acc.ID, Month: "2026-10", Amount: "12500.50"},
		})
		if err != nil || res.Created != 1 || res.Unchanged != 1 {
			t.Errorf("import = %+v, %v", res, err)
		}

		// The audit log has every change and cannot be rewritten.
		events, err := audit.NewLog(db.Gorm).List(context.Background(), audit.Filter{EntityID: acc.ID}, page.Request{Limit: 200})
		if err != nil || len(events.Items) < 4 {
			t.Errorf("audit = %d, %v", len(events.Items), err)
		}
		if err := db.Gorm.Exec("UPDATE audit_events SET action = 'x'").Error; err == nil {
			t.Error("audit row updated")
		}
		if err := db.Gorm.Exec("DELETE FROM audit_events").Error; err == nil {
			t.Error("audit row deleted")
		}
	})
}
