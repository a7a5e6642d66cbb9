package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/tracing"
	"github.com/crier/crier/workflows"
)

// Store is what the API needs of the broadcast store. Each change takes its
// audit.Origin (the caller and the request) and commits its audit entry in
// its own transaction.
type Store interface {
	Insert(ctx context.Context, by audit.Origin, b broadcast.Broadcast, requestHash []byte,
		beforeCommit func(context.Context, broadcast.Broadcast) error) (broadcast.Broadcast, bool, error)
	Get(ctx context.Context, id uuid.UUID) (broadcast.Broadcast, error)
	List(ctx context.Context, p store.ListParams) ([]broadcast.Broadcast, string, error)
	Cancel(ctx context.Context, by audit.Origin, id uuid.UUID) (store.Result, error)
	RescheduleDraft(ctx context.Context, by audit.Origin, id uuid.UUID, scheduledAt, expiresAt *time.Time) (store.Result, error)
	ScheduleDraft(ctx context.Context, by audit.Origin, id uuid.UUID, scheduledAt, expiresAt time.Time,
		beforeCommit func(context.Context, broadcast.Broadcast) error) (store.Result, error)
	Retry(ctx context.Context, by audit.Origin, id uuid.UUID, scheduledAt, expiresAt time.Time,
		beforeCommit func(context.Context, broadcast.Broadcast) error) (store.Result, error)
	// AudienceZones lists the distinct time zones of target's recipients in
	// the user directory, "" for those it knows no zone of.
	AudienceZones(ctx context.Context, target broadcast.Target) ([]string, error)
}

// Workflows is what the API needs of the broadcast workflows.
type Workflows interface {
	Start(ctx context.Context, b broadcast.Broadcast) error
	Cancel(ctx context.Context, by audit.Origin, id uuid.UUID) (workflows.State, error)
	Reschedule(ctx context.Context, id uuid.UUID, req workflows.RescheduleRequest) (workflows.State, error)
	// Restart starts a new run of the workflow of a FAILED broadcast being
	// retried, terminating a run still open.
	Restart(ctx context.Context, b broadcast.Broadcast) error
}

// Check is one readiness check: it returns nil when its dependency answers.
type Check struct {
	Name  string
	Check func(context.Context) error
}

// Config configures the API.
type Config struct {
	// Verifier checks bearer tokens. Required.
	Verifier *auth.Verifier
	// Rules are the time rules of validation; Now is ignored (the clock is).
	Rules broadcast.Rules
	// Clock tells the time. Default time.Now.
	Clock func() time.Time
	// Ready are the checks behind /readyz.
	Ready []Check
	// Logger receives request and error logs. Default slog.Default().
	Logger *slog.Logger
	// Audience serves the user directory and statistics routes; nil leaves
	// them out.
	Audience Audience
	// Presence serves GET /api/v1/admin/presence; nil leaves it out.
	Presence Presence
	// Users serves the user routes under /api/v1/me.
	Users UserConfig
	// Security holds rate limits, CORS and security headers.
	Security SecurityConfig
	// Metrics serves GET /metrics (Prometheus); nil leaves it out.
	Metrics http.Handler
	// Audit serves GET /api/v1/audit; nil leaves the route out. The
	// entries themselves are written by the store and the audience, in the
	// transaction of each change.
	Audit Auditor
	// DeadLetters serves the /api/v1/dead-letters routes; nil leaves them
	// out.
	DeadLetters DeadLetters
	// Series serves the /api/v1/series routes; nil leaves them out.
	Series *SeriesConfig
	// Console registers the admin console's routes (under /admin) behind
	// the same middleware: rate limits, security headers, the origin guard;
	// nil leaves it out.
	Console interface{ Routes(e *echo.Echo) }
}

// New returns the API's HTTP handler.
func New(st Store, wf Workflows, cfg Config) *echo.Echo {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(cfg.Logger)
	proxies, err := parseProxies(cfg.Security.TrustedProxies)
	if err != nil {
		cfg.Logger.Error("Ignoring the trusted proxies setting", "error", err)
		proxies = nil
	}
	e.IPExtractor = ipExtractor(proxies)
	h := &handlers{store: st, workflows: wf, cfg: cfg, limits: newLimits(cfg.Security), ready: newReadiness(cfg)}
	e.Use(requestIDs)
	e.Use(tracing.HTTP)
	e.Use(metrics.HTTP) // before the limiter, so refused requests are counted
	e.Use(middleware.Recover())
	e.Use(requestLogger(cfg.Logger))
	e.Use(securityHeaders(cfg.Security))
	if mw, ok := cors(cfg.Security); ok {
		e.Use(mw)
	}
	e.Use(h.limits.limitByAddress)
	e.Use(newOriginGuard(cfg.Security, proxies).middleware)

	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	h.openAPIRoute(e)
	if cfg.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(cfg.Metrics))
	}

	// The guard is per route, not on the group: a group's middleware would
	// add catch-all routes that turn 405s into 404s.
	v1, admin := e.Group("/api/v1"), h.guard(auth.RoleAdmin)
	sender := h.guardAny(auth.RoleAdmin, RoleBroadcaster) // a broadcaster: own broadcasts only
	v1.POST("/broadcasts", h.create, sender)
	v1.GET("/broadcasts", h.list, sender)
	v1.GET("/broadcasts/:id", h.get, sender)
	v1.POST("/broadcasts/:id/cancel", h.cancel, sender)
	v1.POST("/broadcasts/:id/reschedule", h.reschedule, admin)
	v1.POST("/broadcasts/:id/schedule", h.schedule, admin)
	v1.POST("/broadcasts/:id/retry", h.retry, admin)
	if cfg.Audience != nil {
		h.audienceRoutes(v1, admin, sender)
	}
	if cfg.Presence != nil {
		h.presenceRoutes(v1, admin)
	}
	if cfg.Users.Inbox != nil {
		h.userRoutes(v1)
	}
	if cfg.Audit != nil {
		h.auditRoutes(v1, admin)
	}
	if cfg.DeadLetters != nil {
		h.deadLetterRoutes(v1, admin)
	}
	if cfg.Series != nil {
		h.seriesRoutes(v1, admin, sender)
	}
	if cfg.Console != nil {
		cfg.Console.Routes(e)
	}
	return e
}

// secretParams are query parameters that carry credentials; logs show them
// redacted.
var secretParams = []string{"ticket", "token", "access_token"}

// redactURI is the request URI as logged: path and query, with credentials
// replaced, so no log line holds a usable secret.
func redactURI(u *url.URL) string {
	q := u.Query()
	changed := false
	for _, p := range secretParams {
		if q.Has(p) {
			q.Set(p, "REDACTED")
			changed = true
		}
	}
	if !changed {
		return u.RequestURI()
	}
	return u.Path + "?" + q.Encode()
}

// guard is the middleware of a protected route: a valid token granting role
// (any valid token when role is empty), then the per-user rate limit.
func (h *handlers) guard(role string) echo.MiddlewareFunc {
	authenticate, limit := h.cfg.Verifier.Require(role), h.limits.limitByUser
	return func(next echo.HandlerFunc) echo.HandlerFunc { return authenticate(limit(next)) }
}

// guardAny is guard for routes open to any one of roles.
func (h *handlers) guardAny(roles ...string) echo.MiddlewareFunc {
	authenticate, limit := h.cfg.Verifier.Require(""), h.limits.limitByUser
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return authenticate(func(c echo.Context) error {
			claims := auth.ClaimsFrom(c)
			for _, r := range roles {
				if claims.HasRole(r) {
					return limit(next)(c)
				}
			}
			quoted := make([]string, len(roles))
			for i, r := range roles {
				quoted[i] = strconv.Quote(r)
			}
			return problem(http.StatusForbidden, "this needs the %s role; the token grants %v", strings.Join(quoted, " or "), claims.Roles)
		})
	}
}

func requestLogger(logger *slog.Logger) echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURI: true, LogMethod: true, LogLatency: true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelError
			}
			logger.LogAttrs(c.Request().Context(), level, "HTTP request",
				slog.String("method", v.Method), slog.String("uri", redactURI(c.Request().URL)), slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency), slog.String("request_id", requestID(c)),
				slog.String("client_request_id", clientRequestID(c)))
			return nil
		},
	})
}

func (h *handlers) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}
