package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/testenv"
)

// TestAuditVerify: `crier audit verify` prints the count and the head hash
// of an intact log, and fails naming the entry after a deleted one.
func TestAuditVerify(t *testing.T) {
	ctx := context.Background()
	dbURL := testenv.DatabaseURL(t)
	t.Setenv("CRIER_ENV_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("CRIER_ENV", "development")
	t.Setenv("DATABASE_URL", dbURL)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	for _, id := range []string{"u1", "u2", "u3"} {
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			return audit.Record(ctx, tx, audit.Entry{Origin: audit.Origin{Actor: audit.Actor{ID: "ada", Name: "Ada"}},
				Action: audit.ActionUserUpsert, TargetType: audit.TargetUser, TargetID: id})
		}))
	}
	var head []byte
	require.NoError(t, pool.QueryRow(ctx, `SELECT hash FROM audit_log WHERE id = 3`).Scan(&head))

	var out, errOut bytes.Buffer
	require.NoError(t, run(ctx, []string{"audit", "verify"}, &out, &errOut))
	require.Equal(t, "audit log intact: 3 entries, head "+hex.EncodeToString(head)+"\n", out.String())

	_, err = pool.Exec(ctx, `DELETE FROM audit_log WHERE id = 2`) // as the owner
	require.NoError(t, err)
	out.Reset()
	err = run(ctx, []string{"audit", "verify"}, &out, &errOut)
	require.ErrorContains(t, err, "audit log broken at entry 3: it does not link to entry 1")
	require.Empty(t, out.String())

	require.Error(t, run(ctx, []string{"audit", "check"}, &out, &errOut), "verify is the one audit command")
}
