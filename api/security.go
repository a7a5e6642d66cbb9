package api

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/ratelimit"
)

// SecurityConfig holds the API's abuse limits and browser-facing headers.
// The zero value has no limits and no CORS; cmd/crier fills the defaults.
type SecurityConfig struct {
	// PerAddress limits requests per client address (all routes but
	// /healthz).
	PerAddress ratelimit.Limit
	// PerUser limits requests per authenticated user.
	PerUser ratelimit.Limit
	// StreamConnects limits how often one user may open an event stream.
	StreamConnects ratelimit.Limit
	// CORSOrigins may call the API from a browser (with credentials), each
	// an exact origin such as https://console.example.com; empty allows
	// none and sends no CORS headers. They may also send cookie-authenticated
	// changes (see originGuard). "*" and patterns are refused by the
	// configuration.
	CORSOrigins []string
	// HSTS sends Strict-Transport-Security; only behind HTTPS.
	HSTS bool
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed for the
	// client address; empty trusts none and uses the connection's address.
	TrustedProxies []string
}

// RoleBroadcaster may create broadcasts, and read and cancel their own
// (auth.RoleBroadcaster, which the console also admits).
const RoleBroadcaster = auth.RoleBroadcaster

// broadcasterRoutes are the admin routes a broadcaster may also use, on
// their own broadcasts only.
var broadcasterRoutes = map[string]bool{
	"POST /api/v1/broadcasts":            true,
	"GET /api/v1/broadcasts":             true,
	"GET /api/v1/broadcasts/:id":         true,
	"POST /api/v1/broadcasts/:id/cancel": true,
	// Reading the directory, to choose a broadcast's target: who is there,
	// which roles they hold, how many a target reaches.
	"GET /api/v1/users":           true,
	"GET /api/v1/roles":           true,
	"POST /api/v1/audience/count": true,
	// A broadcaster's own series, likewise; changing one's template or
	// recurrence is an admin's, as rescheduling is.
	"POST /api/v1/series":                true,
	"GET /api/v1/series":                 true,
	"GET /api/v1/series/:id":             true,
	"POST /api/v1/series/:id/pause":      true,
	"POST /api/v1/series/:id/resume":     true,
	"POST /api/v1/series/:id/trigger":    true,
	"POST /api/v1/series/:id/cancel":     true,
	"GET /api/v1/series/:id/occurrences": true,
}

// RequiredRole is the least role a route needs: "" for a user's own routes
// under /api/v1/me (any valid token), RoleBroadcaster for the routes a
// broadcaster shares with admins, else auth.RoleAdmin. Public routes
// (health, readiness) are not guarded at all. A test holds every registered
// route to this, so a route added later cannot forget its guard.
func RequiredRole(method, path string) string {
	switch {
	case strings.HasPrefix(path, "/api/v1/me/"):
		return ""
	case broadcasterRoutes[method+" "+path]:
		return RoleBroadcaster
	default:
		return auth.RoleAdmin
	}
}

// limits are the API's limiters, one set per process.
type limits struct {
	address, user, streams *ratelimit.Limiter
}

func newLimits(s SecurityConfig) *limits {
	return &limits{address: ratelimit.New(s.PerAddress), user: ratelimit.New(s.PerUser), streams: ratelimit.New(s.StreamConnects)}
}

// parseProxies parses the trusted proxies' CIDRs.
func parseProxies(trusted []string) ([]*net.IPNet, error) {
	nets := make([]*net.IPNet, 0, len(trusted))
	for _, cidr := range trusted {
		_, ipNet, err := net.ParseCIDR(cidr)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not a CIDR such as 10.0.0.0/8: %w", cidr, err)
		}
		nets = append(nets, ipNet)
	}
	return nets, nil
}

// ipExtractor takes the client address from the connection, or from
// X-Forwarded-For when the request came through a trusted proxy. Trusting
// the header from anyone would let a client pick its own rate-limit key.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, ipNet := range trusted {
		opts = append(opts, echo.TrustIPRange(ipNet))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// securityHeaders are the headers of every answer. The API serves JSON and
// event streams only, so nothing may frame, sniff or embed it.
func securityHeaders(s SecurityConfig) echo.MiddlewareFunc {
	cfg := middleware.SecureConfig{
		XSSProtection:         "0", // obsolete filter; CSP below is the protection
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		ReferrerPolicy:        "no-referrer",
		ContentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
	}
	if s.HSTS {
		cfg.HSTSMaxAge = 63072000 // two years
	}
	return middleware.SecureWithConfig(cfg)
}

// cors answers browsers' cross-origin requests for the configured origins
// only, each matched exactly (no wildcards or patterns). With none it is not
// installed at all: Echo's CORS middleware would answer "*" to an empty list.
func cors(s SecurityConfig) (echo.MiddlewareFunc, bool) {
	if len(s.CORSOrigins) == 0 {
		return nil, false
	}
	allowed := exactOrigins(s.CORSOrigins)
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOriginFunc:  func(origin string) (bool, error) { return allowed[origin], nil },
		AllowMethods:     []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodOptions},
		AllowHeaders:     []string{echo.HeaderAuthorization, echo.HeaderContentType, "Idempotency-Key", "Last-Event-ID"},
		ExposeHeaders:    []string{echo.HeaderLocation, echo.HeaderXRequestID, "Retry-After"},
		AllowCredentials: true,
		MaxAge:           600,
	}), true
}

// exactOrigins is the set of configured origins, compared byte for byte.
func exactOrigins(origins []string) map[string]bool {
	set := make(map[string]bool, len(origins))
	for _, o := range origins {
		set[o] = true
	}
	return set
}

// limitByAddress refuses a client address over its rate with 429. Only
// /healthz is exempt: it touches nothing, while /readyz reaches every
// dependency.
func (l *limits) limitByAddress(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Path() == "/healthz" {
			return next(c)
		}
		if ok, wait := l.address.Allow(c.RealIP()); !ok {
			return tooMany(c, wait, "too many requests from your address")
		}
		return next(c)
	}
}

// limitByUser refuses an authenticated user over their rate with 429. It
// runs after authentication.
func (l *limits) limitByUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if claims := auth.ClaimsFrom(c); claims != nil {
			if ok, wait := l.user.Allow(claims.Subject); !ok {
				return tooMany(c, wait, "too many requests for your user")
			}
		}
		return next(c)
	}
}

// allowStream reports whether the user may open another stream now.
func (l *limits) allowStream(c echo.Context, userID string) error {
	if ok, wait := l.streams.Allow(userID); !ok {
		return tooMany(c, wait, "you are opening streams too often")
	}
	return nil
}

func tooMany(c echo.Context, wait time.Duration, what string) error {
	secs := ratelimit.RetryAfterSeconds(wait)
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return problem(http.StatusTooManyRequests, "%s; retry in %d s", what, secs)
}
