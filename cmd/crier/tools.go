package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/config"
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
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "", "the token's subject: the user id (required)")
	name := fs.String("name", "", "display name, shown as the sender's name (default: the subject)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token stays valid")
	var rs roles
	fs.Var(&rs, "role", "a role to grant, e.g. admin (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: crier token --sub ID [--role ROLE]... [--name NAME] [--ttl 24h]\n\nPrints a bearer token signed with CRIER_JWT_SECRET (from the environment or .dev/env).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sub == "" {
		fs.Usage()
		return fmt.Errorf("--sub is required")
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	token, err := auth.Issue([]byte(cfg.JWTSecret), *sub, *name, rs, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	return nil
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
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
