package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/config"
	"github.com/crier/crier/internal/store"
)

// auditCmd runs `crier audit verify`: it walks the audit log's hash chain
// and exits 1 naming the first entry changed, inserted or deleted.
func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	start := fs.String("start", "", "the hash (hex) the oldest entry links to, when older entries were deleted on purpose; "+
		"default: none, the log is whole from its first entry")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: crier audit verify [--start HASH]\n\n"+
			"Checks the audit log's hash chain in DATABASE_URL, oldest entry first. Exits 1 naming the\n"+
			"first entry that was changed, inserted or deleted; exits 0 printing how many entries hold and\n"+
			"the hash of the newest. Record that hash elsewhere: deleting the newest entries leaves a\n"+
			"shorter chain that still holds, which only a head kept outside the database reveals.")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "verify" {
		fs.Usage()
		return fmt.Errorf("unknown audit command %q: the one command is verify", firstOr(args, ""))
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var from []byte
	if *start != "" {
		var err error
		if from, err = hex.DecodeString(*start); err != nil {
			return fmt.Errorf("--start must be a hash in hex: %w", err)
		}
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	pool, err := store.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	chain, err := audit.Verify(ctx, pool, from)
	if err != nil {
		return err
	}
	head := "none (the log is empty)"
	if chain.Head != nil {
		head = hex.EncodeToString(chain.Head)
	}
	fmt.Fprintf(stdout, "audit log intact: %d entries, head %s\n", chain.Entries, head)
	return nil
}

func firstOr(args []string, def string) string {
	if len(args) == 0 {
		return def
	}
	return args[0]
}
