// Package telegram connects Keycare to Telegram as a user account through
// gotd: login, the session kept encrypted in the database, the update
// stream mirrored into the chat domain (chats.Mirror), and chats.Transport
// for creating groups and sending messages. The domain never sees gotd
// types: this package converts them.
package telegram

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
)

// Environment variables ConfigFromEnv reads.
const (
	EnvAppID          = "TELEGRAM_APP_ID"
	EnvAppHash        = "TELEGRAM_APP_HASH"
	EnvTestDC         = "TELEGRAM_TEST_DC"
	EnvDCAddr         = "TELEGRAM_DC_ADDR"
	EnvDCID           = "TELEGRAM_DC_ID"
	EnvPublicKeysFile = "TELEGRAM_PUBLIC_KEYS_FILE"
)

// Config says how to reach Telegram. The zero value means "not configured".
type Config struct {
	AppID   int
	AppHash string
	// TestDC selects Telegram's test environment.
	TestDC bool
	// DCAddr (host:port) replaces Telegram with another MTProto server,
	// such as tgfake; DCID is its data centre id (default 2).
	DCAddr string
	DCID   int
	// PublicKeysFile holds the server's RSA public keys (PEM); needed with
	// DCAddr unless the server uses Telegram's own keys.
	PublicKeysFile string
}

// ConfigFromEnv reads the TELEGRAM_* variables. With neither an app id nor
// an app hash it returns the zero Config (not configured); errors name the
// variable at fault.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	cfg := Config{AppHash: get(EnvAppHash), DCAddr: get(EnvDCAddr), PublicKeysFile: get(EnvPublicKeysFile), DCID: 2}
	id := get(EnvAppID)
	if id == "" && cfg.AppHash == "" {
		return Config{}, nil
	}
	if id == "" {
		return Config{}, fmt.Errorf("%s is required when %s is set", EnvAppID, EnvAppHash)
	}
	if cfg.AppHash == "" {
		return Config{}, fmt.Errorf("%s is required when %s is set", EnvAppHash, EnvAppID)
	}
	n, err := strconv.Atoi(id)
	if err != nil || n <= 0 {
		return Config{}, fmt.Errorf("%s: %q is not a positive number", EnvAppID, id)
	}
	cfg.AppID = n
	if v := get(EnvTestDC); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %q is not a boolean (use 1 or 0)", EnvTestDC, v)
		}
		cfg.TestDC = b
	}
	if v := get(EnvDCID); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Config{}, fmt.Errorf("%s: %q is not a positive number", EnvDCID, v)
		}
		cfg.DCID = n
	}
	if cfg.DCAddr != "" {
		if _, port, err := net.SplitHostPort(cfg.DCAddr); err != nil || port == "" {
			return Config{}, fmt.Errorf("%s: %q is not host:port", EnvDCAddr, cfg.DCAddr)
		}
		if cfg.TestDC {
			return Config{}, fmt.Errorf("%s and %s are exclusive", EnvDCAddr, EnvTestDC)
		}
	}
	if cfg.PublicKeysFile != "" {
		if _, err := readPublicKeys(cfg.PublicKeysFile); err != nil {
			return Config{}, fmt.Errorf("%s: %w", EnvPublicKeysFile, err)
		}
	}
	return cfg, nil
}

// Configured reports whether Telegram is set up at all.
func (c Config) Configured() bool { return c.AppID != 0 && c.AppHash != "" }

// options turns the config into the gotd client options that choose the
// server: data centre, address list and public keys.
func (c Config) options() (telegram.Options, error) {
	var opts telegram.Options
	switch {
	case c.DCAddr != "":
		host, portStr, err := net.SplitHostPort(c.DCAddr)
		if err != nil {
			return opts, fmt.Errorf("%s: %w", EnvDCAddr, err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return opts, fmt.Errorf("%s: bad port %q", EnvDCAddr, portStr)
		}
		dc := c.DCID
		if dc == 0 {
			dc = 2
		}
		opts.DC = dc
		opts.DCList = dcs.List{Options: []tg.DCOption{{ID: dc, IPAddress: host, Port: port, Static: true, Ipv6: strings.Contains(host, ":")}}}
	case c.TestDC:
		opts.DC = 2
		opts.DCList = dcs.Test()
	}
	if c.PublicKeysFile != "" {
		keys, err := readPublicKeys(c.PublicKeysFile)
		if err != nil {
			return opts, fmt.Errorf("%s: %w", EnvPublicKeysFile, err)
		}
		opts.PublicKeys = keys
	}
	return opts, nil
}

func readPublicKeys(path string) ([]telegram.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keys, err := crypto.ParseRSAPublicKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no PEM public key found", path)
	}
	out := make([]telegram.PublicKey, len(keys))
	for i, k := range keys {
		out[i] = telegram.PublicKey{RSA: k}
	}
	return out, nil
}
