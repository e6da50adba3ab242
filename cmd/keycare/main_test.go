package main

import (
	"net/http"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the services the
// tests started and closed: HTTP, jobs, the Telegram client, the database.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The tests' own HTTP client keeps idle keep-alive connections.
		goleak.Cleanup(func(int) { http.DefaultClient.CloseIdleConnections() }),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
