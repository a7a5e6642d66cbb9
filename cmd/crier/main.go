package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `crier: broadcast messaging on Temporal, Kafka and PostgreSQL

Usage: crier <command> [flags]

Commands:
  api       serve the HTTP API (CRIER_HTTP_ADDR)
  worker    run broadcast workflows and their activities
  relay     relay outbox events from PostgreSQL to Kafka
  all       api, worker and relay in one process
  migrate   apply database migrations and exit
  audit     audit verify: check the audit log's hash chain (exit 1 if broken)
  token     print a signed bearer token: crier token --sub alice --role admin
  signin-link
            print a one-time admin console sign-in link: crier signin-link --sub alice --role admin

Configuration comes from environment variables, falling back to .dev/env.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop() // os.Exit skips deferred calls
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "crier:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "api", "worker", "relay", "all":
		return serve(ctx, cmd, rest, stderr)
	case "migrate":
		return migrateCmd(rest, stderr)
	case "audit":
		return auditCmd(ctx, rest, stdout, stderr)
	case "token":
		return tokenCmd(rest, stdout, stderr)
	case "signin-link":
		return signInLinkCmd(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
