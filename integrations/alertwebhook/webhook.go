// Package alertwebhook delivers SLA alerts to an outgoing webhook (SPEC §13):
// a JSON POST signed with HMAC-SHA256 in X-Keycare-Signature.
package alertwebhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/keycare/keycare/requests"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>".
const SignatureHeader = "X-Keycare-Signature"

// Notifier posts alerts to one URL. A non-2xx answer or a network error is
// returned, so the job retries; the body's id lets the receiver drop repeats.
type Notifier struct {
	URL    string
	Secret []byte
	Client *http.Client // nil: a client with a 10 s timeout
}

var _ requests.Notifier = (*Notifier)(nil)

// Body is what the webhook receives.
type Body struct {
	ID         string     `json:"id"`
	Event      string     `json:"event"`
	RequestID  string     `json:"request_id"`
	AccountID  string     `json:"account_id"`
	Account    string     `json:"account"`
	Clock      string     `json:"clock"`
	DueAt      *time.Time `json:"due_at"`
	OwnerID    *string    `json:"owner_id"`
	Recipients []string   `json:"recipients"`
	RaisedAt   time.Time  `json:"raised_at"`
}

// Sign returns the X-Keycare-Signature value of body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Deliver implements requests.Notifier.
func (n *Notifier) Deliver(ctx context.Context, a requests.Alert, names requests.AlertNames) error {
	body, err := json.Marshal(Body{
		ID: a.ID, Event: a.Event, RequestID: a.RequestID, AccountID: a.AccountID, Account: names.Account, Clock: a.Clock,
		DueAt: a.DueAt, OwnerID: a.OwnerID, Recipients: a.Recipients, RaisedAt: a.RaisedAt,
	})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Keycare-Alerts/1")
	req.Header.Set(SignatureHeader, Sign(n.Secret, body))
	client := n.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("alert webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("alert webhook: answered %s", resp.Status)
	}
	return nil
}
