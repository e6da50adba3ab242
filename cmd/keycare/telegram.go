package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/api"
	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/integrations/telegram"
	"github.com/keycare/keycare/internal/database"
)

// sessionName names Keycare's Telegram account. One for now; SPEC §14's pool
// of accounts gets one row (and one owning replica) per name.
const sessionName = "default"

// sessions opens the encrypted session store with the configured keys.
func sessions(cfg Config, db *database.DB) (*telegram.SessionStore, error) {
	key, err := cfg.secretKey()
	if err != nil {
		return nil, err
	}
	keys, err := telegram.NewKeyring(key, cfg.PreviousKeys...)
	if err != nil {
		return nil, err
	}
	return telegram.NewSessionStore(db, sessionName, keys), nil
}

// startTelegram builds the Telegram client and registers the chat jobs on
// workers. With Telegram not configured it returns a nil client: the API
// then says so, and nothing that needs Telegram is queued.
func (m *Main) startTelegram(db *database.DB, mirror chats.Mirror, chatStore *chats.Store, workers *river.Workers) (*telegram.Client, error) {
	if !m.Config.Telegram.Configured() {
		return nil, nil
	}
	store, err := sessions(m.Config, db)
	if err != nil {
		return nil, err
	}
	client, err := telegram.New(telegram.Options{
		Config: m.Config.Telegram, Session: store, State: telegram.NewStateStore(db, sessionName),
		Mirror: mirror, Logger: m.Log.With("component", "telegram"),
	})
	if err != nil {
		return nil, err
	}
	(&chats.Workers{
		Store: chatStore, Transport: client.Transport(), Log: m.Log.With("component", "chats"),
		CompanyName: m.Config.CompanyName, DailyCap: m.Config.ChatDailyCap, HistoryCap: m.Config.HistoryImport,
	}).Register(workers)
	return client, nil
}

// telegramStatus reports the client's state for GET /integrations.
func telegramStatus(c *telegram.Client) func(context.Context) api.IntegrationStatus {
	return func(ctx context.Context) api.IntegrationStatus {
		if c == nil {
			return api.IntegrationStatus{Status: api.IntegrationNotConfigured}
		}
		st, err := c.Status()
		out := api.IntegrationStatus{Status: string(st)}
		if err != nil && keycare.ActorFrom(ctx).Role == keycare.RoleAdmin {
			out.Detail = err.Error() // Telegram's wording is for whoever fixes it
		}
		return out
	}
}

// telegramCommand runs `keycare telegram login|status`.
func telegramCommand(ctx context.Context, cfg Config, log *slog.Logger, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: keycare telegram login [--phone +N] | keycare telegram status")
	}
	db, err := openAndMigrate(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	store, err := sessions(cfg, db)
	if err != nil {
		return err
	}
	switch args[0] {
	case "login":
		fs := flag.NewFlagSet("telegram login", flag.ContinueOnError)
		phone := fs.String("phone", "", "the account's phone number, e.g. +79001234567 (asked for when missing)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		res, err := telegram.Login(ctx, cfg.Telegram, store, telegram.LoginInput{Phone: *phone, Lines: stdin, Prompts: stdout}, log)
		if err != nil {
			return err
		}
		state := "Logged in"
		if res.Already {
			state = "Already logged in"
		}
		fmt.Fprintf(stdout, "%s as %s (@%s, id %d). The session is stored encrypted in the database.\n", state, res.Name, res.Username, res.UserID)
		return nil
	case "status":
		st, err := telegram.Probe(ctx, cfg.Telegram, store, log)
		fmt.Fprintln(stdout, "telegram:", st)
		if err != nil {
			fmt.Fprintln(stdout, "detail:", err)
		}
		return nil
	}
	return fmt.Errorf("unknown telegram command %q", args[0])
}

// mediaSource is the Telegram transport's media download, when it has one.
func mediaSource(c *telegram.Client) chats.MediaSource {
	if c == nil {
		return nil
	}
	if m, ok := c.Transport().(chats.MediaSource); ok {
		return m
	}
	return nil
}
