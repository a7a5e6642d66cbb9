package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
)

// sessionInfo is GET /admin/session's answer: who is signed in and what the
// front end needs to know to show them the right things.
type sessionInfo struct {
	SignedIn  bool       `json:"signed_in"`
	Subject   string     `json:"subject,omitempty"`
	Name      string     `json:"name,omitempty"`
	Roles     []string   `json:"roles,omitempty"`
	Admin     bool       `json:"admin"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	OIDC      bool       `json:"oidc"`
	// Links says whether one-time sign-in links work here.
	Links             bool   `json:"links"`
	TemporalUI        string `json:"temporal_ui"`
	TemporalNamespace string `json:"temporal_namespace"`
	// Lifecycle lists, for each action the console offers, the statuses it
	// may start from: broadcast.Transitions, served so the rule stays
	// written once.
	Lifecycle map[string][]string `json:"lifecycle"`
}

// actions are the operations the console offers on a broadcast.
var actions = []broadcast.Operation{broadcast.OpCancel, broadcast.OpReschedule, broadcast.OpSchedule, broadcast.OpRetry}

func (c *Console) info(claims *auth.Claims) sessionInfo {
	s := sessionInfo{OIDC: c.cfg.OIDC != nil, Links: c.cfg.Links != nil && c.cfg.Issue != nil,
		TemporalUI: strings.TrimRight(c.cfg.TemporalUI, "/"), TemporalNamespace: c.cfg.TemporalNamespace, Lifecycle: map[string][]string{}}
	for _, op := range actions {
		s.Lifecycle[string(op)] = broadcast.Transitions.From(op)
	}
	if claims != nil {
		s.SignedIn, s.Subject, s.Name, s.Roles, s.Admin = true, claims.Subject, claims.DisplayName(), claims.Roles, claims.HasRole(auth.RoleAdmin)
		if claims.ExpiresAt != nil {
			at := claims.ExpiresAt.UTC()
			s.ExpiresAt = &at
		}
	}
	return s
}

// session answers who is signed in: nobody when the cookie is missing,
// expired or refused (the front end then shows the sign-in page).
func (c *Console) session(ctx echo.Context) error {
	ctx.Response().Header().Set("Cache-Control", "no-store")
	var claims *auth.Claims
	if cookie, err := ctx.Cookie(auth.CookieName); err == nil && cookie.Value != "" {
		if cl, err := c.cfg.Verifier.VerifyContext(ctx.Request().Context(), cookie.Value); err == nil && mayUse(cl) {
			claims = cl
		}
	}
	return ctx.JSON(http.StatusOK, c.info(claims))
}

// signInRequest is POST /admin/session's body: a token, or a one-time code.
type signInRequest struct {
	Token string `json:"token"`
	Code  string `json:"code"`
}

// maxSignInBytes bounds the body: a token of a few kilobytes fits.
const maxSignInBytes = 16 << 10

// signIn opens a session for a pasted token or a one-time link's code.
func (c *Console) signIn(ctx echo.Context) error {
	var req signInRequest
	if err := readJSON(ctx, &req); err != nil {
		return err
	}
	token := strings.TrimSpace(req.Token)
	switch {
	case token != "" && req.Code != "":
		return problem(http.StatusUnprocessableEntity, "send a token or a code, not both")
	case req.Code != "":
		var err error
		if token, err = c.redeem(ctx, req.Code); err != nil {
			return err
		}
	case token == "":
		return problem(http.StatusUnprocessableEntity, "paste a token (crier token prints one), or open a sign-in link")
	}
	claims, err := c.open(ctx, token)
	if err != nil {
		return err
	}
	c.cfg.Logger.InfoContext(ctx.Request().Context(), "Console sign-in", "subject", claims.Subject, "by", map[bool]string{true: "link", false: "token"}[req.Code != ""])
	return ctx.JSON(http.StatusOK, c.info(claims))
}

// open checks token as the API will and puts it in the session cookie,
// which lasts exactly as long as the token.
func (c *Console) open(ctx echo.Context, token string) (*auth.Claims, error) {
	claims, err := c.cfg.Verifier.VerifyContext(ctx.Request().Context(), token)
	if err != nil {
		return nil, problem(http.StatusUnauthorized, "token refused: %v", err)
	}
	if !mayUse(claims) {
		return nil, problem(http.StatusForbidden, "the console is for the %q and %q roles; the token grants %v", auth.RoleAdmin, auth.RoleBroadcaster, claims.Roles)
	}
	if claims.ExpiresAt == nil {
		return nil, problem(http.StatusUnprocessableEntity, "the token has no expiry (exp): a console session lasts as long as its token, so it needs one")
	}
	setCookie(ctx, token, claims.ExpiresAt.Time)
	return claims, nil
}

// mayUse reports whether claims grant a role the console serves.
func mayUse(claims *auth.Claims) bool {
	return claims.HasRole(auth.RoleAdmin) || claims.HasRole(auth.RoleBroadcaster)
}

// signOut ends the session: the cookie is cleared. (The token itself stays
// valid until it expires, as any bearer token does.)
func (c *Console) signOut(ctx echo.Context) error {
	setCookie(ctx, "", time.Unix(0, 0))
	return ctx.NoContent(http.StatusNoContent)
}

// setCookie sets the session cookie: HttpOnly (no script reads it),
// SameSite=Strict (no other site's page sends it), Secure except on
// loopback, where development runs over plain HTTP.
func setCookie(ctx echo.Context, token string, expires time.Time) {
	cookie := &http.Cookie{ //nolint:gosec // Secure everywhere but loopback, as said above
		Name: auth.CookieName, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: !loopback(ctx.Request().Host), Expires: expires,
	}
	if token == "" {
		cookie.MaxAge = -1
	} else {
		cookie.MaxAge = max(1, int(time.Until(expires).Seconds()))
	}
	ctx.SetCookie(cookie)
}

// loopback reports whether host (with or without a port) names this machine.
func loopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// readJSON reads a small JSON body: application/json only (a form cannot
// send it without a CORS preflight), unknown fields refused.
func readJSON(ctx echo.Context, v any) error {
	r := ctx.Request()
	if mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType)); err != nil || mt != echo.MIMEApplicationJSON {
		return problem(http.StatusUnsupportedMediaType, "send the body as application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(ctx.Response(), r.Body, maxSignInBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return problem(http.StatusRequestEntityTooLarge, "the body is over %d bytes", maxSignInBytes)
		}
		return problem(http.StatusBadRequest, "the body is not the JSON expected: %s", broadcast.Quote(err.Error()))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return problem(http.StatusBadRequest, "the body has more than one JSON value")
	}
	return nil
}

// problem is an error answer; the API's error handler writes it as
// problem+json.
func problem(status int, format string, args ...any) error {
	return echo.NewHTTPError(status, fmt.Sprintf(format, args...))
}
