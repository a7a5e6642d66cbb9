package audit_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
	"github.com/crier/crier/migrations"
)

// appPool connects to a fresh database as a login role that is a member of
// crier_app, as production connects Crier (the migrations ran as the owner).
// The role is made for the test and dropped after it.
func appPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	dbURL := testenv.DatabaseURL(t)
	owner, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := owner.Close(context.Background()); err != nil {
			t.Logf("close the owner's connection: %v", err)
		}
	})
	role := "crier_test_app_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	password := uuid.NewString()
	_, err = owner.Exec(ctx, `CREATE ROLE `+role+` LOGIN IN ROLE crier_app PASSWORD '`+password+`'`)
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := owner.Exec(context.Background(), `DROP ROLE IF EXISTS `+role); err != nil {
			t.Logf("drop role %s: %v", role, err)
		}
	})
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	u.User = url.UserPassword(role, password)
	pool, err := pgxpool.New(ctx, u.String())
	require.NoError(t, err)
	t.Cleanup(pool.Close) // runs before the role is dropped
	return pool
}

// TestAppRoleAppendsOnly: the application's role records and reads audit
// entries and does its normal work on the other tables, but cannot change,
// delete or truncate the log, turn its chain off, or move the schema version.
func TestAppRoleAppendsOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := appPool(t)
	by := audit.Origin{Actor: ada, RequestID: "req-1"}

	// Normal work: a broadcast created and cancelled, users set and
	// imported, the schema checked, each with its audit entry.
	st := store.New(pool)
	at := time.Now().Add(time.Hour).UTC().Truncate(broadcast.Precision)
	exp := at.Add(time.Hour)
	id := uuid.Must(uuid.NewV7())
	_, created, err := st.Insert(ctx, by, broadcast.Broadcast{ID: id, Status: broadcast.StatusScheduled,
		Sender: broadcast.Sender{ID: ada.ID, Name: ada.Name}, Title: "t", Content: "c", Category: "ops", Priority: broadcast.PriorityNormal,
		Target: broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}}, ScheduledAt: &at, ExpiresAt: &exp,
		WorkflowID: broadcast.WorkflowID(id)}, []byte("hash"), nil)
	require.NoError(t, err)
	require.True(t, created)
	res, err := st.Cancel(ctx, by, id)
	require.NoError(t, err)
	require.True(t, res.Applied)
	aud, err := audience.New(pool, audience.Config{})
	require.NoError(t, err)
	_, err = aud.Upsert(ctx, by, audience.User{ID: "u1", Name: "U", Roles: []string{"ops"}})
	require.NoError(t, err)
	_, err = aud.Import(ctx, by, []audience.User{{ID: "u1", Roles: []string{"dev"}}, {ID: "u2"}})
	require.NoError(t, err)
	require.NoError(t, migrations.Check(ctx, pool))
	log, err := audit.New(pool)
	require.NoError(t, err)
	page, _, err := log.List(ctx, audit.Filter{})
	require.NoError(t, err)
	require.Len(t, page, 6, "create, cancel, upsert, the import and its two users")
	chain, err := audit.Verify(ctx, pool, nil)
	require.NoError(t, err)
	require.EqualValues(t, 6, chain.Entries)

	for _, sql := range []string{
		`UPDATE audit_log SET actor_id = 'mallory'`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
		`ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain`,
		`UPDATE schema_migrations SET version = 1`,
		`SELECT setval('audit_log_id_seq', 1)`,
	} {
		_, err := pool.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, sql)
		// 42501 insufficient_privilege; 42501 too for "must be owner".
		require.Equal(t, "42501", pgErr.Code, "%s: %v", sql, err)
	}
	chain, err = audit.Verify(ctx, pool, nil)
	require.NoError(t, err)
	require.EqualValues(t, 6, chain.Entries)
}
