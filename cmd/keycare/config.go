package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keycare/keycare/integrations/telegram"
)

// Config is everything Keycare reads from its environment (README: Configuration).
type Config struct {
	Addr            string
	DataDir         string
	DatabaseURL     string
	SecretKey       []byte
	LogLevel        slog.Level
	RateLimit       float64
	RateBurst       int
	TrustedProxies  []*net.IPNet
	AdminEmail      string
	ShutdownTimeout time.Duration

	Telegram      telegram.Config
	PreviousKeys  [][]byte // earlier KEYCARE_SECRET_KEY values, to read what they encrypted
	CompanyName   string   // the group title is "{account} × {company}"
	ChatDailyCap  int      // group creations per day
	HistoryImport int      // messages imported when adopting a group

	TeamChat           int64         // the team's internal Telegram group for SLA alerts (0: none)
	AlertWebhookURL    string        // outgoing webhook for SLA alerts ("" : none)
	AlertWebhookSecret string        // HMAC key of X-Keycare-Signature
	ReopenWindow       time.Duration // a client message this soon after resolution reopens the request
	CSATWindow         time.Duration // how long after the rating question a rating counts
}

// LoadConfig reads the configuration from getenv. Every problem is reported
// with the variable's name.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		Addr: "127.0.0.1:8080", DataDir: ".", RateLimit: 20, RateBurst: 40,
		AdminEmail: "admin@keycare.local", ShutdownTimeout: 15 * time.Second,
		ChatDailyCap: 50, HistoryImport: 1000,
		ReopenWindow: 72 * time.Hour, CSATWindow: 72 * time.Hour,
	}
	var errs []error
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	secret := func(name string, dst *string) {
		str(name, dst)
		if path := getenv(name + "_FILE"); path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", name, err))
				return
			}
			*dst = strings.TrimSpace(string(b))
		}
	}
	str("KEYCARE_ADDR", &c.Addr)
	str("KEYCARE_DATA_DIR", &c.DataDir)
	str("KEYCARE_ADMIN_EMAIL", &c.AdminEmail)
	secret("DATABASE_URL", &c.DatabaseURL)
	var key string
	secret("KEYCARE_SECRET_KEY", &key)
	if key != "" {
		b, err := base64.StdEncoding.DecodeString(key)
		if err != nil || len(b) != 32 {
			errs = append(errs, errors.New("KEYCARE_SECRET_KEY: must be 32 bytes, base64-encoded (openssl rand -base64 32)"))
		}
		c.SecretKey = b
	}
	if v := getenv("KEYCARE_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("KEYCARE_LOG_LEVEL: %q is not debug, info, warn or error", v))
		}
	}
	if v := getenv("KEYCARE_RATE_LIMIT"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			errs = append(errs, fmt.Errorf("KEYCARE_RATE_LIMIT: %q is not a positive number of requests per second", v))
		}
		c.RateLimit = f
	}
	if v := getenv("KEYCARE_RATE_BURST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("KEYCARE_RATE_BURST: %q is not a positive integer", v))
		}
		c.RateBurst = n
	}
	if v := getenv("KEYCARE_TRUSTED_PROXIES"); v != "" {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if !strings.Contains(s, "/") {
				if strings.Contains(s, ":") {
					s += "/128"
				} else {
					s += "/32"
				}
			}
			_, n, err := net.ParseCIDR(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("KEYCARE_TRUSTED_PROXIES: %q is not an IP or CIDR", s))
				continue
			}
			c.TrustedProxies = append(c.TrustedProxies, n)
		}
	}
	str("KEYCARE_COMPANY_NAME", &c.CompanyName)
	var previous string
	secret("KEYCARE_SECRET_KEY_PREVIOUS", &previous)
	for _, k := range strings.Split(previous, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(b) != 32 {
			errs = append(errs, errors.New("KEYCARE_SECRET_KEY_PREVIOUS: each key must be 32 bytes, base64-encoded"))
			continue
		}
		c.PreviousKeys = append(c.PreviousKeys, b)
	}
	for name, dst := range map[string]*int{"KEYCARE_CHAT_DAILY_CAP": &c.ChatDailyCap, "KEYCARE_CHAT_HISTORY_IMPORT": &c.HistoryImport} {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a whole number", name, v))
			}
			*dst = n
		}
	}
	tg, err := telegram.ConfigFromEnv(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	c.Telegram = tg
	if v := getenv("KEYCARE_TEAM_CHAT"); v != "" {
		id, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(v), "-100"), 10, 64)
		if err != nil || id <= 0 {
			errs = append(errs, fmt.Errorf("KEYCARE_TEAM_CHAT: %q is not a Telegram group id (e.g. -1001234567890)", v))
		}
		c.TeamChat = id
	}
	str("KEYCARE_ALERT_WEBHOOK_URL", &c.AlertWebhookURL)
	secret("KEYCARE_ALERT_WEBHOOK_SECRET", &c.AlertWebhookSecret)
	if c.AlertWebhookURL != "" {
		u, err := url.Parse(c.AlertWebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("KEYCARE_ALERT_WEBHOOK_URL: %q is not an http(s) URL", c.AlertWebhookURL))
		}
		if c.AlertWebhookSecret == "" {
			errs = append(errs, errors.New("KEYCARE_ALERT_WEBHOOK_SECRET: required with KEYCARE_ALERT_WEBHOOK_URL (the receiver checks X-Keycare-Signature with it)"))
		}
	}
	for name, dst := range map[string]*time.Duration{"KEYCARE_REOPEN_WINDOW": &c.ReopenWindow, "KEYCARE_CSAT_WINDOW": &c.CSATWindow} {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 72h", name, v))
			}
			*dst = d
		}
	}
	if v := getenv("KEYCARE_SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("KEYCARE_SHUTDOWN_TIMEOUT: %q is not a duration such as 15s", v))
		}
		c.ShutdownTimeout = d
	}
	return c, errors.Join(errs...)
}

// secretKey returns the configured key, or the one generated into the data
// dir on first run (created with mode 0600 when missing).
func (c *Config) secretKey() ([]byte, error) {
	if c.SecretKey != nil {
		return c.SecretKey, nil
	}
	path := filepath.Join(c.DataDir, "keycare.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		enc := base64.StdEncoding.EncodeToString(key) + "\n"
		if err := os.WriteFile(path, []byte(enc), 0o600); err != nil {
			return nil, fmt.Errorf("generate %s: %w", path, err)
		}
		return key, nil
	}
	if err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s: not a base64 32-byte key", path)
	}
	return key, nil
}
