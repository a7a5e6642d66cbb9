package console

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"
)

// OIDCConfig is the identity provider the console signs people in with.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; its discovery document names
	// the endpoints.
	Issuer string
	// ClientID and ClientSecret are the console's registration at the
	// provider; a public client (no secret) relies on PKCE alone.
	ClientID, ClientSecret string
	// RedirectURL is the callback registered at the provider
	// (https://crier.example.com/admin/oidc/callback); empty derives it
	// from the address the browser used.
	RedirectURL string
	// Scopes asked for; "openid" is always among them.
	Scopes []string
}

// OIDC is OpenID Connect's authorization code flow with PKCE: the browser
// goes to the provider, comes back with a code, and the console exchanges
// it (with the verifier only it knows) for the tokens. The session holds a
// token Crier's own verifier accepts: the access token when it is a JWT
// for Crier, else the ID token.
type OIDC struct {
	cfg    OIDCConfig
	logger *slog.Logger

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use, so the API starts while the provider is down
}

// NewOIDC signs in with the provider cfg names.
func NewOIDC(cfg OIDCConfig, logger *slog.Logger) *OIDC {
	if logger == nil {
		logger = slog.Default()
	}
	return &OIDC{cfg: cfg, logger: logger}
}

// flowCookie carries a sign-in's state, nonce and PKCE verifier from login
// to callback. SameSite=Lax: the provider's redirect back is a cross-site
// navigation, which a Strict cookie would not ride on.
const flowCookie = "crier_oidc"

// flowTTL bounds how long a person may take at the provider.
const flowTTL = 10 * time.Minute

type flow struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Next     string `json:"next"`
	Redirect string `json:"redirect"`
}

func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("the identity provider %s could not be reached: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *OIDC) oauth(p *oidc.Provider, redirect string) *oauth2.Config {
	scopes := []string{oidc.ScopeOpenID}
	for _, s := range o.cfg.Scopes {
		if s != oidc.ScopeOpenID {
			scopes = append(scopes, s)
		}
	}
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(), RedirectURL: redirect, Scopes: scopes}
}

// redirectURL is the callback address: the configured one, else this
// server's as the browser reached it.
func (o *OIDC) redirectURL(ctx echo.Context) string {
	if o.cfg.RedirectURL != "" {
		return o.cfg.RedirectURL
	}
	return ctx.Scheme() + "://" + ctx.Request().Host + Base + "/oidc/callback"
}

// login sends the browser to the provider.
func (o *OIDC) login(ctx echo.Context) error {
	p, err := o.discover(ctx.Request().Context())
	if err != nil {
		o.logger.WarnContext(ctx.Request().Context(), "Console sign-in: identity provider unreachable", "error", err)
		return signInFailed(ctx, err.Error())
	}
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Next: safeNext(ctx.QueryParam("next")), Redirect: o.redirectURL(ctx)}
	value, err := json.Marshal(f)
	if err != nil {
		return err
	}
	ctx.SetCookie(&http.Cookie{Name: flowCookie, Value: //nolint:gosec // Secure except on loopback, as setCookie
	base64.RawURLEncoding.EncodeToString(value), Path:  Base + "/oidc/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: !loopback(ctx.Request().Host), MaxAge: int(flowTTL.Seconds())})
	return ctx.Redirect(http.StatusFound, o.oauth(p, f.Redirect).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)))
}

// oidcCallback takes the provider's answer: the code is exchanged, the ID
// token checked (signature, issuer, audience, nonce), and the session opened.
func (c *Console) oidcCallback(ctx echo.Context) error {
	o := c.cfg.OIDC
	rctx := ctx.Request().Context()
	cookie, err := ctx.Cookie(flowCookie)
	ctx.SetCookie(&http.Cookie{Name: flowCookie, Path: Base + "/oidc/", MaxAge: -1, //nolint:gosec // as in login
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: !loopback(ctx.Request().Host)})
	var f flow
	if err != nil || decodeFlow(cookie.Value, &f) != nil {
		return signInFailed(ctx, "the sign-in took too long or was started in another browser: try again")
	}
	q := ctx.QueryParams()
	if e := q.Get("error"); e != "" {
		return signInFailed(ctx, "the identity provider refused: "+strings.TrimSpace(e+" "+q.Get("error_description")))
	}
	if q.Get("state") == "" || q.Get("state") != f.State {
		return signInFailed(ctx, "the answer from the identity provider does not belong to this sign-in: try again")
	}
	p, err := o.discover(rctx)
	if err != nil {
		return signInFailed(ctx, err.Error())
	}
	tok, err := o.oauth(p, f.Redirect).Exchange(rctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		o.logger.WarnContext(rctx, "Console sign-in: code exchange failed", "error", err)
		return signInFailed(ctx, "the identity provider did not accept the sign-in code: try again")
	}
	rawID, _ := tok.Extra("id_token").(string)
	id, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID}).Verify(rctx, rawID)
	if err != nil || id.Nonce != f.Nonce {
		o.logger.WarnContext(rctx, "Console sign-in: ID token refused", "error", err)
		return signInFailed(ctx, "the identity provider's ID token could not be verified")
	}
	// The session's token must be one the API accepts: the access token
	// when Crier's verifier takes it, else the ID token.
	session := rawID
	if _, err := c.cfg.Verifier.VerifyContext(rctx, tok.AccessToken); err == nil {
		session = tok.AccessToken
	}
	claims, err := c.open(ctx, session)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return signInFailed(ctx, fmt.Sprint(he.Message))
		}
		return err
	}
	c.cfg.Logger.InfoContext(rctx, "Console sign-in", "subject", claims.Subject, "by", "oidc")
	return continueTo(ctx, f.Next)
}

func decodeFlow(value string, f *flow) error {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, f)
}

// continueTo answers with a page that moves on to next by itself. Not a
// redirect: the callback is reached from the provider's site, and a browser
// would not send the new SameSite=Strict cookie on a redirect within that
// cross-site navigation; from this page, it is a same-site one.
func continueTo(ctx echo.Context, next string) error {
	ctx.Response().Header().Set(echo.HeaderContentSecurityPolicy, contentSecurityPolicy)
	ctx.Response().Header().Set("Cache-Control", "no-store")
	var b strings.Builder
	if err := continuePage.Execute(&b, next); err != nil {
		return err
	}
	return ctx.HTML(http.StatusOK, b.String())
}

var continuePage = template.Must(template.New("continue").Parse(`<!doctype html><html lang="en"><meta charset="utf-8">
<meta http-equiv="refresh" content="0;url={{.}}"><title>Signed in · Crier</title>
<p>Signed in. <a href="{{.}}">Continue to the console</a>.</p></html>`))

// signInFailed sends the browser back to the sign-in page, which shows why.
func signInFailed(ctx echo.Context, why string) error {
	return continueTo(ctx, Base+"/signin?error="+url.QueryEscape(why))
}

// safeNext keeps a return address inside the console.
func safeNext(next string) string {
	if strings.HasPrefix(next, Base+"/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, `\`) {
		return next
	}
	return Base + "/"
}

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
