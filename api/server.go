// Package api is Keycare's JSON API over echo: routes, authentication,
// authorization, the HTTP conventions of SPEC §6, health and metrics. It
// turns requests into calls on the domain packages and never touches the
// database itself.
package api

import (
	"context"
	_ "embed"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/accounts"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/internal/idempotency"
	"github.com/keycare/keycare/requests"
	"github.com/keycare/keycare/requests/metrics"
	"github.com/keycare/keycare/team"
)

// Prefix is where the JSON API lives.
const Prefix = "/api/v1"

// Config is the HTTP behaviour the operator chooses.
type Config struct {
	RateLimit      float64      // requests per second per token
	RateBurst      int          // requests a token may burst above the rate
	TrustedProxies []*net.IPNet // proxies whose X-Forwarded-For is believed; none: the peer address is the client
}

// Deps are the parts the API calls.
type Deps struct {
	Log      *slog.Logger
	Accounts *accounts.Store
	Team     *team.Service
	Audit    *audit.Log
	Ready    func(context.Context) error // is the database reachable?
	Registry *prometheus.Registry

	Chats       *chats.Service
	Idempotency *idempotency.Store
	Telegram    func(context.Context) IntegrationStatus // nil: Telegram is not configured
	Media       chats.MediaSource                       // nil: Telegram is not configured

	Requests       *requests.Store
	SupportMetrics func(context.Context, metrics.Query) (*metrics.Report, error)
}

// Server is the HTTP API.
type Server struct {
	echo    *echo.Echo
	deps    Deps
	cfg     Config
	rules   map[string]rule // "GET /api/v1/accounts/:id" → its rule
	limiter middleware.RateLimiterStore
}

// New builds the API with every route registered.
func New(cfg Config, deps Deps) *Server {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(deps.Log)
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	s := &Server{echo: e, deps: deps, cfg: cfg, rules: map[string]rule{}}
	s.limiter = middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: rate.Limit(cfg.RateLimit), Burst: cfg.RateBurst, ExpiresIn: 3 * time.Minute,
	})

	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		Generator: keycare.NewID,
		Skipper: func(c echo.Context) bool {
			// A caller's id is kept only when it is a sane token, so it cannot smuggle text into logs.
			id := c.Request().Header.Get(echo.HeaderXRequestID)
			if id != "" && (len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r > '~' })) {
				c.Request().Header.Del(echo.HeaderXRequestID)
			}
			return false
		},
	}))
	e.Use(newHTTPMetrics(deps.Registry).middleware)
	e.Use(accessLog(deps.Log))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
		deps.Log.Error("panic", "error", err, "route", c.Path(), "stack", string(stack))
		return err
	}}))
	e.Use(wellFormedQuery)
	s.routes()
	return s
}

// wellFormedQuery refuses a query string that does not parse: otherwise its
// parameters would be dropped silently and a filter would quietly not apply.
func wellFormedQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		q, err := url.ParseQuery(c.Request().URL.RawQuery)
		if err != nil {
			return keycare.Invalid("query", "is not a well-formed query string")
		}
		for name, values := range q {
			for _, v := range values {
				if strings.IndexByte(v, 0) >= 0 {
					return keycare.Invalid(name, "must not contain NUL characters")
				}
			}
		}
		return next(c)
	}
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// scope says which object of a route's path the caller must be allowed to see.
type scope int

const (
	scopeNone    scope = iota
	scopeAccount       // :id is an account
	scopeNote          // :nid is a note
	scopeRequest       // :id is a request
)

// rule is the authorization of one route: who may call it and which object
// in its path they must be able to see. Every route has exactly one.
type rule struct {
	public     bool     // no token needed
	roles      []string // nil: every role
	scope      scope
	bodyLimit  string // default 1MiB
	idempotent bool   // honours Idempotency-Key
}

var (
	everyone  = rule{}
	public    = rule{public: true}
	adminOnly = rule{roles: []string{keycare.RoleAdmin}}
	leads     = rule{roles: []string{keycare.RoleAdmin, keycare.RoleLead}}
	careTeam  = rule{roles: []string{keycare.RoleAdmin, keycare.RoleLead, keycare.RoleManager}}
	portfolio = rule{roles: []string{keycare.RoleAdmin, keycare.RoleLead, keycare.RoleManager, keycare.RoleProduct}}
	// metricsReaders: support metrics are for leadership and viewers; a
	// manager gets their own.
	metricsReaders = rule{roles: []string{keycare.RoleAdmin, keycare.RoleLead, keycare.RoleViewer, keycare.RoleManager}}
	onAccount      = func(r rule) rule { r.scope = scopeAccount; return r }
	onNote         = func(r rule) rule { r.scope = scopeNote; return r }
	onRequest      = func(r rule) rule { r.scope = scopeRequest; return r }
	withLimit      = func(r rule, limit string) rule { r.bodyLimit = limit; return r }
	repeatable     = func(r rule) rule { r.idempotent = true; return r }
	ruleString     = map[scope]string{scopeNone: "", scopeAccount: "account", scopeNote: "note", scopeRequest: "request"}
)

// defaultBodyLimit bounds every request body but the imports' (SPEC §6).
const defaultBodyLimit = "1MiB"

func (r rule) limit() string {
	if r.bodyLimit == "" {
		return defaultBodyLimit
	}
	return r.bodyLimit
}

// rootPaths are served outside /api/v1, where probes and scrapers expect them.
var rootPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// handle registers a route with its rule. It is the only way routes are added.
func (s *Server) handle(method, path string, h echo.HandlerFunc, r rule) {
	full := Prefix + path
	if rootPaths[path] {
		full = path
	}
	mw := []echo.MiddlewareFunc{middleware.BodyLimit(r.limit())}
	if !r.public {
		mw = append(mw, s.authenticate, s.rateLimit(), s.authorize(r))
	}
	if r.idempotent {
		mw = append(mw, s.idempotent)
	}
	s.echo.Add(method, full, h, mw...)
	s.rules[method+" "+full] = r
}

// Rules returns every registered route ("METHOD /path") with a description
// of its rule, for the authorization matrix and the OpenAPI test.
func (s *Server) Rules() map[string]string {
	out := map[string]string{}
	for k, r := range s.rules {
		roles := "all"
		if r.public {
			roles = "public"
		} else if r.roles != nil {
			roles = strings.Join(r.roles, ",")
		}
		out[k] = roles + "|" + ruleString[r.scope]
	}
	return out
}

// Routes lists every route echo knows, rule or not.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// authenticate resolves the bearer token into an actor in the request context.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="keycare"`)
			return keycare.Errorf(keycare.EUNAUTHORIZED, "an Authorization: Bearer token is required")
		}
		u, err := s.deps.Team.Authenticate(c.Request().Context(), strings.TrimSpace(token))
		if err != nil {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="keycare", error="invalid_token"`)
			return err
		}
		actor := keycare.Actor{Kind: keycare.ActorUser, UserID: u.ID, Role: u.Role, RequestID: c.Response().Header().Get(echo.HeaderXRequestID)}
		c.SetRequest(c.Request().WithContext(keycare.WithActor(c.Request().Context(), actor)))
		c.Set("user", u)
		c.Set("token", token)
		return next(c)
	}
}

// rateLimit limits each token to cfg.RateLimit requests a second.
func (s *Server) rateLimit() echo.MiddlewareFunc {
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store:               s.limiter,
		IdentifierExtractor: func(c echo.Context) (string, error) { return c.Get("token").(string), nil },
		DenyHandler: func(c echo.Context, _ string, _ error) error {
			c.Response().Header().Set("Retry-After", "1")
			return echo.NewHTTPError(http.StatusTooManyRequests, "rate limit exceeded for this token")
		},
	})
}

// authorize applies a route's rule: the role first (403), then whether the
// object in the path is visible to the caller (404, never revealing it exists).
func (s *Server) authorize(r rule) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx := c.Request().Context()
			actor := keycare.ActorFrom(ctx)
			if r.roles != nil && !contains(r.roles, actor.Role) {
				return keycare.Errorf(keycare.EFORBIDDEN, "role %s may not do this", actor.Role)
			}
			switch r.scope {
			case scopeAccount:
				// Read whole, so a handler that needs it (the card) takes it
				// from here rather than reading it again.
				a, err := s.deps.Accounts.Account(ctx, c.Param("id"))
				if err != nil {
					return err
				}
				c.Set(visibleAccount, a)
			case scopeNote:
				if _, err := s.deps.Accounts.Note(ctx, c.Param("nid")); err != nil {
					return err
				}
			case scopeRequest:
				if err := s.deps.Requests.CanSee(ctx, c.Param("id")); err != nil {
					return err
				}
			}
			return next(c)
		}
	}
}

// visibleAccount is the echo context key of the account an account-scoped
// route's authorization read (an *accounts.Account).
const visibleAccount = "account"

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// accessLog writes one line per request: the route template, never the URL
// (its query may hold a phone number), and never a body or token.
func accessLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			log.LogAttrs(c.Request().Context(), level, "http request",
				slog.String("method", c.Request().Method),
				slog.String("route", routeLabel(c)),
				slog.Int("status", status),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
				slog.String("user_id", keycare.ActorFrom(c.Request().Context()).UserID),
				slog.String("client_ip", c.RealIP()),
			)
			return nil
		}
	}
}

// routeLabel is the route template that matched. Echo only ever sets a
// registered template (or nothing), so the label's values stay bounded.
func routeLabel(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return "unmatched"
}

// HTTPServer is the http.Server `keycare serve` runs h with: bounded header,
// body and idle times, errors logged at warn. The load tools serve the API
// with it too, so they measure what production runs.
func HTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
