package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/testdb"
)

// cli runs a keycare command line against env and returns its stdout.
func cli(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	return out.String(), err
}

func TestCLI(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		env := map[string]string{"KEYCARE_DATA_DIR": t.TempDir(), "KEYCARE_LOG_LEVEL": "error"}
		if dialect == database.Postgres {
			u, err := testdb.Schema(t)
			if err != nil {
				t.Fatal(err)
			}
			env["DATABASE_URL"] = u
		}
		if _, err := cli(t, env, "migrate"); err != nil {
			t.Fatal(err)
		}
		out, err := cli(t, env, "users", "add", "--name", "Anna Petrova", "--email", "anna@example.com", "--role", "manager")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if token := lines[len(lines)-1]; !strings.HasPrefix(token, "kc_") || strings.Contains(token, " ") {
			t.Errorf("last line is not the token alone: %q", token)
		}
		if _, err := cli(t, env, "users", "add", "--name", "X", "--email", "not-an-email", "--role", "manager"); err == nil || !strings.Contains(err.Error(), "email") {
			t.Errorf("bad email: %v", err)
		}

		// The import is all or nothing, from CSV or JSON.
		csvPath := filepath.Join(t.TempDir(), "revenue.csv")
		os.WriteFile(csvPath, []byte("external_id,month,amount,currency\nNOPE,2026-01,100,EUR\n"), 0o600)
		if _, err := cli(t, env, "import", "revenue", csvPath); err == nil || !strings.Contains(err.Error(), "rows[0].external_id") {
			t.Errorf("import with unknown account: %v", err)
		}
		if out, err := cli(t, env, "version"); err != nil || !strings.HasPrefix(out, "keycare ") {
			t.Errorf("version: %q %v", out, err)
		}
		if _, err := cli(t, env, "frobnicate"); err == nil {
			t.Error("unknown command accepted")
		}
	})
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	for name, val := range map[string]string{
		"KEYCARE_SECRET_KEY": "short", "KEYCARE_RATE_LIMIT": "-1", "KEYCARE_TRUSTED_PROXIES": "10.0.0.0/99",
		"KEYCARE_LOG_LEVEL": "loud", "KEYCARE_SHUTDOWN_TIMEOUT": "soon",
	} {
		_, err := LoadConfig(func(k string) string {
			if k == name {
				return val
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v", name, val, err)
		}
	}
}

func TestHealthcheckCommand(t *testing.T) {
	s := start(t, database.SQLite, nil)
	if _, err := cli(t, map[string]string{"KEYCARE_ADDR": s.main.Addr()}, "healthcheck"); err != nil {
		t.Errorf("healthcheck on a running service: %v", err)
	}
	if _, err := cli(t, map[string]string{"KEYCARE_ADDR": "127.0.0.1:1"}, "healthcheck"); err == nil {
		t.Error("healthcheck passed with nothing listening")
	}
}
