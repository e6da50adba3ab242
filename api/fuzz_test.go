package api

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/accounts"
	"github.com/keycare/keycare/team"
)

// FuzzDecoders feeds arbitrary bytes to every request decoder. Whatever comes
// in, a decoder either fills its struct or returns an EINVALID error naming a
// field (never a panic, never another kind of error), and a decoded body
// passes validation or fails it with field errors too. `go test` runs the
// seed corpus; `go test -fuzz FuzzDecoders ./api` explores further.
func FuzzDecoders(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Acme","currency":"EUR","tags":["vip"],"external_ids":{"crm":"A-1"}}`,
		`{"name": "Acme", "curr`,
		`{"amount": 12500.00}`, `{"amount": "12500.00", "currency": "RUB"}`, `{"amount": "1e5"}`,
		`{"owner_id": null, "backup_id": 5, "tags": null}`,
		`[{"account_id":"x","month":"2026-13","amount":"1"}]`,
		`{"name":"Olga","phone":"+7 (900) 123-45-67","telegram_user_id":123}`,
		`{"kind":"vm","name":"x","quantity":-1,"monthly_price":"9.999","started_on":"2026-02-30"}`,
		`{"title":"T","tags":[""],"pinned":"yes"}`,
		`{"role":"admin"}`, `{}`, `[]`, `null`, `""`, `{"a":1}{"b":2}`, "\xff\xfe", `{"name":"` + strings.Repeat("я", 300) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []func() any{
			func() any { return &accounts.NewAccount{} }, func() any { return &accounts.AccountUpdate{} },
			func() any { return &accounts.NewContact{} }, func() any { return &accounts.ContactUpdate{} },
			func() any { return &accounts.RevenueInput{} }, func() any { return &[]accounts.ImportRow{} },
			func() any { return &accounts.NewService{} }, func() any { return &accounts.ServiceUpdate{} },
			func() any { return &accounts.NewNote{} }, func() any { return &accounts.NoteUpdate{} },
			func() any { return &team.NewUser{} }, func() any { return &team.UserUpdate{} },
		}
		for _, target := range targets {
			v := target()
			err := DecodeJSON(bytes.NewReader(body), v)
			if err != nil {
				mustBeFieldError(t, body, err)
				continue
			}
			switch in := v.(type) {
			case *accounts.NewAccount, *accounts.NewContact, *accounts.NewService, *accounts.NewNote, *team.NewUser:
				if err := keycare.Validate(in); err != nil {
					mustBeFieldError(t, body, err)
				}
			case *accounts.RevenueInput:
				if _, err := accounts.ParseAmount("amount", in.Amount, "EUR"); err != nil {
					mustBeFieldError(t, body, err)
				}
			}
		}
		if _, err := DecodeImportCSV(bytes.NewReader(body)); err != nil {
			mustBeFieldError(t, body, err)
		}
	})
}

func mustBeFieldError(t *testing.T, body []byte, err error) {
	t.Helper()
	var kerr *keycare.Error
	if !errors.As(err, &kerr) || kerr.Code != keycare.EINVALID || len(kerr.Fields) == 0 || kerr.Fields[0].Field == "" {
		t.Fatalf("input %q: error %v is not an invalid-input error naming a field", body, err)
	}
}
