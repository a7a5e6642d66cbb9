package outbox

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/testenv"
)

// A burst inserts far more pending rows than the statistics expect. The
// claim must not then be planned as a nested loop, which compares every
// pending row with every other (quadratic: seconds per claim at 10,000).
func TestClaimIsNeverANestedLoop(t *testing.T) {
	pool := testenv.Pool(t)
	ctx := context.Background()
	// Statistics taken while every row was published, then a burst.
	_, err := pool.Exec(ctx, `
		INSERT INTO outbox (event_type, broadcast_id, occurred_at, snapshot, published_at)
		SELECT 'BROADCAST_PUBLISHED', gen_random_uuid(), now(), '{}', now() FROM generate_series(1, 5000);
		ANALYZE outbox;
		INSERT INTO outbox (event_type, broadcast_id, occurred_at, snapshot)
		SELECT 'BROADCAST_PUBLISHED', gen_random_uuid(), now(), '{}' FROM generate_series(1, 2000)`)
	require.NoError(t, err)

	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, claimPlanSQL)
		require.NoError(t, err)
		var plan []map[string]any
		require.NoError(t, tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+claimSQL, 500).Scan(&plan))
		text, err := json.Marshal(plan)
		require.NoError(t, err)
		require.NotContains(t, string(text), `"Nested Loop"`, "claim plan: %s", text)
		require.Contains(t, string(text), `"Anti"`, "still an anti join: head of line per broadcast")
		return nil
	})
	require.NoError(t, err)
}
