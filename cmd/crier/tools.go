package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/config"
	"github.com/crier/crier/internal/console"
	"github.com/crier/crier/internal/tracing"
	"github.com/crier/crier/migrations"
)

func migrateCmd(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: crier migrate\n\nApplies every pending migration to DATABASE_URL and exits.")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	_, err = migrations.Up(cfg.DatabaseURL, newLogger(cfg, stderr))
	return err
}

// roles collects repeated --role flags (each may also be comma-separated).
type roles []string

func (r *roles) String() string { return strings.Join(*r, ",") }

func (r *roles) Set(v string) error {
	for _, role := range strings.Split(v, ",") {
		if role = strings.TrimSpace(role); role != "" {
			*r = append(*r, role)
		}
	}
	return nil
}

func tokenCmd(args []string, stdout, stderr io.Writer) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "", "the token's subject: the user id (required)")
	name := fs.String("name", "", "display name, shown as the sender's name (default: the subject)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token stays valid")
	aud := fs.String("aud", cfg.JWTAudience, "the token's aud claim (CRIER_JWT_AUDIENCE when set; none otherwise)")
	iss := fs.String("iss", cmp.Or(cfg.JWTIssuer, auth.DefaultIssuer), "the token's iss claim (CRIER_JWT_ISSUER when set)")
	var rs roles
	fs.Var(&rs, "role", "a role to grant, e.g. admin (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: crier token --sub ID [--role ROLE]... [--name NAME] [--ttl 24h] [--aud AUDIENCE] [--iss ISSUER]\n\n"+
			"Prints a bearer token signed with CRIER_JWT_SECRET (from the environment or .dev/env),\n"+
			"with the issuer, audience and roles claim the server checks.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sub == "" {
		fs.Usage()
		return fmt.Errorf("--sub is required")
	}
	issue, err := tokenIssuer(cfg, *iss, *aud)
	if err != nil {
		return err
	}
	token, err := issue(*sub, *name, rs, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	return nil
}

// tokenIssuer signs tokens with CRIER_JWT_SECRET that the server's
// verifier accepts: its issuer and audience (iss and aud), roles and name
// claims, and an algorithm it allows. crier token prints them; the
// console's one-time links open sessions with them.
func tokenIssuer(cfg config.Config, iss, aud string) (console.IssueFunc, error) {
	if cfg.JWTSecret == "" {
		return nil, errors.New("CRIER_JWT_SECRET is not set: Crier signs tokens with the shared secret; " +
			"where tokens are verified with a JWKS only (CRIER_JWKS_URL or CRIER_JWKS_FILE), get them from your identity provider")
	}
	alg, err := tokenAlgorithm(cfg.JWTAlgorithms)
	if err != nil {
		return nil, err
	}
	return func(sub, name string, roles []string, ttl time.Duration) (string, error) {
		return auth.IssueWith([]byte(cfg.JWTSecret), auth.IssueOptions{
			Subject: sub, Name: name, Roles: roles, TTL: ttl, Now: time.Now(),
			Issuer: iss, Audience: aud, Algorithm: alg,
			RolesClaim: cfg.JWTRolesClaim, NameClaim: cfg.JWTNameClaim,
		})
	}, nil
}

// tokenAlgorithm is the first HMAC algorithm the server allows (HS256 when
// CRIER_JWT_ALGORITHMS is unset), so the token printed passes its checks.
func tokenAlgorithm(allowed []string) (string, error) {
	if len(allowed) == 0 {
		return "HS256", nil
	}
	for _, alg := range allowed {
		if auth.IsHMAC(alg) {
			return alg, nil
		}
	}
	return "", fmt.Errorf("CRIER_JWT_ALGORITHMS (%s) allows no HS256, HS384 or HS512: the server would refuse a token crier token signs; "+
		"get one from your identity provider", strings.Join(allowed, ","))
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if w == nil {
		w = os.Stderr
	}
	if cfg.LogFormat == "json" {
		return slog.New(tracing.LogHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(tracing.LogHandler(slog.NewTextHandler(w, opts)))
}
