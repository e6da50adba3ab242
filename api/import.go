package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/accounts"
)

// decodeImport reads revenue rows as CSV (text/csv, header row with the
// field names) or as a JSON array of objects.
func decodeImport(c echo.Context) ([]accounts.ImportRow, error) {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt == "text/csv" {
		return DecodeImportCSV(c.Request().Body)
	}
	// Decode row by row so an error names its row: rows[3].amount.
	var raw []json.RawMessage
	if err := bind(c, &raw); err != nil {
		return nil, err
	}
	rows := make([]accounts.ImportRow, len(raw))
	var v keycare.Validation
	for i, r := range raw {
		if err := v.Merge(fmt.Sprintf("rows[%d]", i), DecodeJSON(bytes.NewReader(r), &rows[i])); err != nil {
			return nil, err
		}
	}
	return rows, v.Err()
}

// DecodeImportCSV reads revenue rows from CSV with a header naming the columns
// account_id or external_id, month, amount and currency (optional).
func DecodeImportCSV(r io.Reader) ([]accounts.ImportRow, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		var herr *echo.HTTPError
		if errors.As(err, &herr) {
			return nil, herr
		}
		return nil, keycare.Invalid("body", "CSV needs a header row: account_id or external_id, month, amount, currency")
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch h {
		case "account_id", "external_id", "month", "amount", "currency":
			if _, dup := col[h]; dup {
				return nil, keycare.Invalid("header", "column %s appears twice", h)
			}
			col[h] = i
		default:
			return nil, keycare.Invalid("header", "unknown column %q", h)
		}
	}
	var v keycare.Validation
	_, hasID := col["account_id"]
	_, hasExt := col["external_id"]
	v.Check(hasID || hasExt, "header", "needs an account_id or external_id column")
	for _, need := range []string{"month", "amount"} {
		_, ok := col[need]
		v.Check(ok, "header", "needs a %s column", need)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var rows []accounts.ImportRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var herr *echo.HTTPError
			if errors.As(err, &herr) {
				return nil, herr
			}
			var perr *csv.ParseError
			if errors.As(err, &perr) {
				return nil, keycare.Invalid(fmt.Sprintf("rows[%d]", perr.StartLine-2), "is not valid CSV: %v", perr.Err)
			}
			return nil, keycare.Invalid("body", "cannot be read: %v", err)
		}
		rows = append(rows, accounts.ImportRow{
			AccountID: get(rec, "account_id"), ExternalID: get(rec, "external_id"),
			Month: get(rec, "month"), Amount: get(rec, "amount"), Currency: get(rec, "currency"),
		})
		if len(rows) > accounts.MaxImportRows {
			return nil, keycare.Invalid("rows", "at most %d rows per import", accounts.MaxImportRows)
		}
	}
	return rows, nil
}
