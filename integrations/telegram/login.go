package telegram

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/tg"
)

// LoginInput is where `keycare telegram login` gets its answers.
type LoginInput struct {
	// Phone, if set (--phone), is used instead of asking for it.
	Phone string
	// Lines answers the prompts, one per line, in order: phone (unless
	// Phone is set), code, then the 2FA password when the account has one
	// (an empty line means none). A terminal or a script's stdin.
	Lines io.Reader
	// Prompts, if set, receives the questions (a terminal's stdout).
	Prompts io.Writer
	// Secret, if set, reads the code and password instead of Lines, e.g.
	// without echo from a terminal.
	Secret func(prompt string) (string, error)
}

// LoginResult is who Keycare is now logged in as.
type LoginResult struct {
	UserID   int64
	Username string
	Name     string
	// Already is true when the stored session was still valid.
	Already bool
}

// Login signs Keycare's account in (phone → code → 2FA password) and
// stores the session through sessions. It never logs or prints the phone
// number, code or password.
func Login(ctx context.Context, cfg Config, sessions session.Storage, in LoginInput, log *slog.Logger) (LoginResult, error) {
	if !cfg.Configured() {
		return LoginResult{}, fmt.Errorf("telegram is not configured: set %s and %s", EnvAppID, EnvAppHash)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts, err := cfg.options()
	if err != nil {
		return LoginResult{}, err
	}
	saved := &savedSignal{Storage: sessions, done: make(chan struct{})}
	opts.SessionStorage = saved
	opts.Logger = newGotdLogger(log)
	opts.NoUpdates = true
	client := telegram.NewClient(cfg.AppID, cfg.AppHash, opts)

	var res LoginResult
	err = client.Run(ctx, func(ctx context.Context) error {
		st, err := client.Auth().Status(ctx)
		if err != nil {
			return fmt.Errorf("auth status: %w", err)
		}
		if st.Authorized {
			res = resultOf(st.User, true)
			return saved.wait(ctx)
		}
		answers := &prompter{in: in, lines: bufio.NewReader(orEmpty(in.Lines))}
		if err := auth.NewFlow(answers, auth.SendCodeOptions{}).Run(ctx, client.Auth()); err != nil {
			// Keep the auth key even so: a retry then skips the key exchange.
			_ = saved.wait(ctx)
			return loginError(err)
		}
		self, err := client.Self(ctx)
		if err != nil {
			return fmt.Errorf("read own user: %w", err)
		}
		res = resultOf(self, false)
		return saved.wait(ctx)
	})
	if err != nil {
		return LoginResult{}, fmt.Errorf("telegram login: %w", err)
	}
	log.Info("telegram logged in", "user_id", res.UserID)
	return res, nil
}

// savedSignal reports the first successful session save. gotd saves the
// session in the background after connecting (telegram/session.go: onReady
// comes before saveSession), so a login can finish before the key it
// authorized is stored; Login waits for it.
type savedSignal struct {
	session.Storage
	once sync.Once
	done chan struct{}
}

func (s *savedSignal) StoreSession(ctx context.Context, data []byte) error {
	if err := s.Storage.StoreSession(ctx, data); err != nil {
		return err
	}
	s.once.Do(func() { close(s.done) })
	return nil
}

func (s *savedSignal) wait(ctx context.Context) error {
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errors.New("the session was not saved")
	}
}

func resultOf(u *tg.User, already bool) LoginResult {
	return LoginResult{UserID: u.ID, Username: u.Username, Name: strings.TrimSpace(u.FirstName + " " + u.LastName), Already: already}
}

func orEmpty(r io.Reader) io.Reader {
	if r == nil {
		return strings.NewReader("")
	}
	return r
}

// loginError turns gotd's login failures into sentences an operator can act on.
func loginError(err error) error {
	switch {
	case errors.Is(err, auth.ErrPasswordInvalid):
		return errors.New("the 2FA password is wrong")
	case errors.Is(err, errNoPassword):
		return err
	case isType(err, "PHONE_CODE_INVALID"):
		return errors.New("the code is wrong")
	case isType(err, "PHONE_CODE_EXPIRED"):
		return errors.New("the code expired; run the login again")
	case isType(err, "PHONE_NUMBER_INVALID"):
		return errors.New("Telegram does not accept this phone number (use the international format, e.g. +4915…)")
	case isType(err, "PHONE_NUMBER_BANNED"):
		return errors.New("Telegram has banned this phone number")
	}
	var signUp *auth.SignUpRequired
	if errors.As(err, &signUp) {
		return errors.New("this phone number has no Telegram account; create it in a Telegram app first")
	}
	return err
}

var errNoPassword = errors.New("this account has a 2FA password, and none was given (an empty line)")

// prompter answers gotd's auth flow from LoginInput.
type prompter struct {
	in    LoginInput
	lines *bufio.Reader
}

func (p *prompter) ask(prompt string, secret bool) (string, error) {
	if secret && p.in.Secret != nil {
		return p.in.Secret(prompt)
	}
	if p.in.Prompts != nil {
		fmt.Fprint(p.in.Prompts, prompt)
	}
	line, err := p.lines.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("no answer to %q: input ended", strings.TrimSpace(prompt))
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (p *prompter) Phone(context.Context) (string, error) {
	if p.in.Phone != "" {
		return p.in.Phone, nil
	}
	phone, err := p.ask("Phone number (international format, e.g. +4915…): ", false)
	return strings.TrimSpace(phone), err
}

func (p *prompter) Code(context.Context, *tg.AuthSentCode) (string, error) {
	code, err := p.ask("Code Telegram sent you: ", true)
	return strings.TrimSpace(code), err
}

func (p *prompter) Password(context.Context) (string, error) {
	pw, err := p.ask("2FA password (empty for none): ", true)
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errNoPassword
	}
	return pw, nil
}

func (p *prompter) AcceptTermsOfService(_ context.Context, tos tg.HelpTermsOfService) error {
	return &auth.SignUpRequired{TermsOfService: tos}
}

func (p *prompter) SignUp(context.Context) (auth.UserInfo, error) {
	return auth.UserInfo{}, errors.New("sign-up is not supported")
}

// Probe connects once with the stored session and reports the status, for
// `keycare telegram status`; it mirrors nothing.
func Probe(ctx context.Context, cfg Config, sessions *SessionStore, log *slog.Logger) (Status, error) {
	if !cfg.Configured() {
		return StatusNotConfigured, nil
	}
	ok, err := sessions.Exists(ctx)
	if err != nil {
		return StatusError, err
	}
	if !ok {
		return StatusLoggedOut, nil
	}
	if _, err := sessions.LoadSession(ctx); err != nil {
		return StatusError, err
	}
	opts, err := cfg.options()
	if err != nil {
		return StatusError, err
	}
	opts.SessionStorage = sessions
	opts.Logger = newGotdLogger(log)
	opts.NoUpdates = true
	client := telegram.NewClient(cfg.AppID, cfg.AppHash, opts)
	status := StatusError
	err = client.Run(ctx, func(ctx context.Context) error {
		st, err := client.Auth().Status(ctx)
		if err != nil {
			return err
		}
		status = StatusLoggedOut
		if st.Authorized {
			status = StatusConnected
		}
		return nil
	})
	if err != nil {
		if isUnauthorized(err) || auth.IsUnauthorized(err) {
			return StatusLoggedOut, nil
		}
		return StatusError, err
	}
	return status, nil
}
