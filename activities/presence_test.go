package activities_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/testenv"
)

func TestRemoveStaleConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.Pool(t)
	store := presence.New(pool)
	for _, c := range []presence.Connection{
		{ID: uuid.New(), NodeID: "node-live", UserID: "u1"},
		{ID: uuid.New(), NodeID: "node-live", UserID: "u2"},
		{ID: uuid.New(), NodeID: "node-dead", UserID: "u1"},
		{ID: uuid.New(), NodeID: "node-dead", UserID: "u3"},
	} {
		require.NoError(t, store.Register(ctx, c))
	}
	_, err := pool.Exec(ctx, `UPDATE connections SET last_seen_at = now() - interval '5 minutes' WHERE node_id = 'node-dead'`)
	require.NoError(t, err)

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.PresenceActivities{Store: store})
	val, err := env.ExecuteActivity((&activities.PresenceActivities{}).RemoveStaleConnections,
		activities.RemoveStaleConnectionsInput{StaleAfter: presence.DefaultRemoveAfter})
	require.NoError(t, err)
	var res activities.RemoveStaleConnectionsResult
	require.NoError(t, val.Get(&res))
	require.EqualValues(t, 2, res.Removed)

	rows, err := pool.Query(ctx, `SELECT node_id FROM connections ORDER BY user_id`)
	require.NoError(t, err)
	nodes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"node-live", "node-live"}, nodes, "only the dead node's connections go")
}
