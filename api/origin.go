package api

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
)

// originGuard refuses cross-site request forgery. A browser attaches the
// crier_token cookie to a request any site makes, and a form can POST
// without a CORS preflight, so a change without an Authorization header
// (which no other site can set) is accepted only from an allowed origin:
// the API's own, or one of SecurityConfig.CORSOrigins. Without an Origin
// header, Sec-Fetch-Site decides; a request with neither is not from a
// browser, so no cookie rides on it unasked.
type originGuard struct {
	allowed map[string]bool
	// proxies are trusted to say the scheme the client used.
	proxies []*net.IPNet
}

func newOriginGuard(s SecurityConfig, proxies []*net.IPNet) *originGuard {
	return &originGuard{allowed: exactOrigins(s.CORSOrigins), proxies: proxies}
}

// safeMethods change nothing, so any site may send them.
var safeMethods = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodOptions: true}

func (g *originGuard) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if safeMethods[r.Method] || r.Header.Get(echo.HeaderAuthorization) != "" {
			return next(c)
		}
		if origin := r.Header.Get(echo.HeaderOrigin); origin != "" {
			if g.allowed[origin] || g.sameOrigin(r, origin) {
				return next(c)
			}
			return problem(http.StatusForbidden, "origin %s may not send %s requests authenticated by the %s cookie; "+
				"send the token in the Authorization header, or list the origin in CRIER_CORS_ORIGINS",
				broadcast.Quote(origin), broadcast.Quote(r.Method), auth.CookieName)
		}
		switch site := r.Header.Get("Sec-Fetch-Site"); site {
		case "", "same-origin", "none":
			return next(c)
		default:
			return problem(http.StatusForbidden, "a %s request from another site (Sec-Fetch-Site: %s) may not be authenticated by the %s cookie; "+
				"send the token in the Authorization header, or call from an origin listed in CRIER_CORS_ORIGINS",
				broadcast.Quote(r.Method), broadcast.Quote(site), auth.CookieName)
		}
	}
}

// sameOrigin reports whether origin is the API's own: the scheme the client
// used and the Host it asked for.
func (g *originGuard) sameOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" {
		return false
	}
	scheme := g.scheme(r)
	return strings.EqualFold(u.Scheme, scheme) && strings.EqualFold(withoutDefaultPort(u.Host, scheme), withoutDefaultPort(r.Host, scheme))
}

// scheme is the scheme the client used: https over TLS, else what a trusted
// proxy says in X-Forwarded-Proto, else http. The header from anyone else
// is ignored (Echo's own Scheme believes it from anyone).
func (g *originGuard) scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if proto := strings.ToLower(r.Header.Get(echo.HeaderXForwardedProto)); (proto == "https" || proto == "http") && g.fromProxy(r) {
		return proto
	}
	return "http"
}

// fromProxy reports whether the connection comes from a trusted proxy.
func (g *originGuard) fromProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	for _, n := range g.proxies {
		if ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// withoutDefaultPort drops the scheme's default port from host, as
// browsers do in Origin.
func withoutDefaultPort(host, scheme string) string {
	if h, port, err := net.SplitHostPort(host); err == nil &&
		(scheme == "https" && port == "443" || scheme == "http" && port == "80") {
		if strings.Contains(h, ":") { // IPv6, bracketed in Origin
			return "[" + h + "]"
		}
		return h
	}
	return host
}
