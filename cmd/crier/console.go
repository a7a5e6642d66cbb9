package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/config"
	"github.com/crier/crier/internal/console"
)

// newConsole builds the admin console an API process serves at /admin:
// one-time links where Crier signs tokens, single sign-on where an
// identity provider is configured.
func newConsole(cfg config.Config, s shared, verifier *auth.Verifier) (*console.Console, error) {
	cc := console.Config{Verifier: verifier, Logger: s.logger, TemporalUI: cfg.TemporalUIURL, TemporalNamespace: cfg.TemporalNamespace}
	if issue, err := tokenIssuer(cfg, cmp.Or(cfg.JWTIssuer, auth.DefaultIssuer), cfg.JWTAudience); err == nil {
		cc.Issue, cc.Links = issue, console.NewLinks(s.pool)
	}
	if o := cfg.OIDC; o.Enabled() {
		cc.OIDC = console.NewOIDC(console.OIDCConfig{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			RedirectURL: o.RedirectURL, Scopes: o.Scopes}, s.logger)
	}
	return console.New(cc)
}

// signInLinkCmd prints a one-time link that signs its opener in to the
// console as --sub: for development and small setups, where Crier signs
// its own tokens.
func signInLinkCmd(args []string, stdout, stderr io.Writer) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("signin-link", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "", "whom the link signs in: the user id (required)")
	name := fs.String("name", "", "display name (default: the subject)")
	ttl := fs.Duration("ttl", 12*time.Hour, "how long the session lasts, at most "+console.MaxSessionTTL.String())
	base := fs.String("url", "http://"+cfg.HTTPAddr, "the address people reach Crier's API at")
	var rs roles
	fs.Var(&rs, "role", "a role to grant: admin or broadcaster (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: crier signin-link --sub ID --role admin|broadcaster [--name NAME] [--ttl 12h] [--url %s]\n\n"+
			"Prints a link to the admin console that signs in whoever opens it first, within %s,\n"+
			"as --sub with the roles given (stored in DATABASE_URL; needs CRIER_JWT_SECRET).\n", *base, console.LinkTTL)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sub == "" || len(rs) == 0 {
		fs.Usage()
		return errors.New("--sub and --role are required")
	}
	if _, err := tokenIssuer(cfg, "", ""); err != nil {
		return err
	}
	u, err := url.Parse(strings.TrimRight(*base, "/"))
	if err != nil || u.Host == "" {
		return fmt.Errorf("--url must be an absolute URL such as http://127.0.0.1:8080, got %q", *base)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	code, err := console.NewLinks(pool).Create(ctx, console.Link{Subject: *sub, Name: cmp.Or(*name, *sub), Roles: rs, SessionTTL: *ttl})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s%s/signin#code=%s\n", u.String(), console.Base, code)
	return nil
}
