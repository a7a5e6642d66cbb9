package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crier/crier/console"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
)

// Base is where the console is served.
const Base = "/admin"

// contentSecurityPolicy lets the console's pages load only the console's own
// scripts and styles and talk only to their own origin: no inline script,
// no other site, nothing framed.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Config is what the console needs.
type Config struct {
	// Verifier checks the tokens people sign in with, as the API does.
	Verifier *auth.Verifier
	// Issue signs a session token for a one-time link; nil where Crier
	// signs no tokens (a JWKS only), which turns links off.
	Issue IssueFunc
	// Links holds the one-time sign-in codes; nil turns links off.
	Links *Links
	// OIDC signs people in with the identity provider; nil turns it off.
	OIDC *OIDC
	// TemporalUI is Temporal Web UI's address, for links to a broadcast's
	// workflow ("" shows the workflow id without a link), and
	// TemporalNamespace the namespace they are in.
	TemporalUI, TemporalNamespace string
	Logger                        *slog.Logger
}

// IssueFunc signs a token for subject, named name, granting roles, valid
// for ttl.
type IssueFunc func(subject, name string, roles []string, ttl time.Duration) (string, error)

// Console serves the admin console.
type Console struct {
	cfg    Config
	assets map[string]asset
	index  asset
}

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// New reads the embedded files once.
func New(cfg Config) (*Console, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Console{cfg: cfg, assets: map[string]asset{}}
	files := console.Files()
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		c.assets[name] = asset{body: body, contentType: contentTypeOf(name), etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.index = c.assets["index.html"]
	if !console.Built() {
		c.index = asset{body: notBuilt, contentType: "text/html; charset=utf-8", etag: `"not-built"`}
	}
	return c, nil
}

// notBuilt is the page served when the binary was built without the
// console's JavaScript.
var notBuilt = []byte(`<!doctype html><html lang="en"><meta charset="utf-8"><title>Crier console not built</title>
<h1>The console was not built into this binary</h1>
<p>Its JavaScript is compiled from <code>console/src</code> by <code>make console</code> (which <code>make build</code>,
<code>make dev</code> and <code>make test</code> run); build it, then build crier again. The REST API works without it.</p></html>`)

func contentTypeOf(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// Routes registers the console's routes on e, under Base.
func (c *Console) Routes(e *echo.Echo) {
	e.GET(Base, func(ctx echo.Context) error { return ctx.Redirect(http.StatusMovedPermanently, Base+"/") })
	e.GET(Base+"/assets/*", c.asset)
	e.GET(Base+"/session", c.session)
	e.POST(Base+"/session", c.signIn)
	e.POST(Base+"/session/end", c.signOut)
	if c.cfg.OIDC != nil {
		e.GET(Base+"/oidc/login", c.cfg.OIDC.login)
		e.GET(Base+"/oidc/callback", c.oidcCallback)
	}
	e.GET(Base+"/*", c.page)
}

// asset serves an embedded file: revalidated on each use (no-cache with an
// ETag), so a new binary's console is picked up at once.
func (c *Console) asset(ctx echo.Context) error {
	a, ok := c.assets[ctx.Param("*")]
	if !ok || ctx.Param("*") == "index.html" {
		return echo.NewHTTPError(http.StatusNotFound, "no console file is named "+broadcast.Quote(ctx.Param("*")))
	}
	return serve(ctx, a)
}

// page serves index.html for every console address: the front end shows
// the page the address names.
func (c *Console) page(ctx echo.Context) error {
	if strings.HasPrefix(ctx.Param("*"), "api/") {
		return echo.NewHTTPError(http.StatusNotFound, "the console has no such address; the REST API is under /api/v1")
	}
	return serve(ctx, c.index)
}

func serve(ctx echo.Context, a asset) error {
	h := ctx.Response().Header()
	h.Set(echo.HeaderContentType, a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	h.Set(echo.HeaderContentSecurityPolicy, contentSecurityPolicy)
	http.ServeContent(ctx.Response(), ctx.Request(), "", time.Time{}, bytes.NewReader(a.body))
	return nil
}
