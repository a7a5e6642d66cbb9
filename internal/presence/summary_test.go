package presence_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/presence"
)

func TestSummary(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.connect(t, "node-b", "u1")
	tb.connect(t, "node-b", "u1")
	tb.connect(t, "node-b", "u2")
	tb.connect(t, "node-a", "u1")
	tb.connect(t, "node-c", "u3")
	tb.connect(t, "node-c", "u4")
	tb.age(t, "node-c", presence.StaleAfter+30*time.Second)

	sum, err := tb.store.Summary(tb.ctx)
	require.NoError(t, err)

	require.Equal(t, 2, sum.OnlineUsers, "u1 and u2; the users of the stale node are not online")
	require.Equal(t, 4, sum.Connections)
	require.Equal(t, presence.StaleAfter, sum.StaleAfter)
	require.WithinDuration(t, time.Now(), sum.At, time.Minute)
	require.Len(t, sum.Nodes, 3)
	want := []struct {
		node         string
		conns, users int
		stale        bool
	}{
		{"node-a", 1, 1, false},
		{"node-b", 3, 2, false},
		{"node-c", 2, 2, true},
	}
	for i, w := range want {
		n := sum.Nodes[i]
		require.Equal(t, w.node, n.NodeID)
		require.Equal(t, w.conns, n.Connections, w.node)
		require.Equal(t, w.users, n.Users, w.node)
		require.Equal(t, w.stale, n.Stale, w.node)
		require.Equal(t, time.UTC, n.LastSeen.Location())
	}
	require.WithinDuration(t, sum.At, sum.Nodes[0].LastSeen, 10*time.Second)
	require.WithinDuration(t, sum.At.Add(-presence.StaleAfter-30*time.Second), sum.Nodes[2].LastSeen, 10*time.Second)
}

func TestSummaryWithoutConnections(t *testing.T) {
	t.Parallel()
	tb := setup(t)

	sum, err := tb.store.Summary(tb.ctx)
	require.NoError(t, err)
	require.Zero(t, sum.OnlineUsers)
	require.Zero(t, sum.Connections)
	require.NotNil(t, sum.Nodes)
	require.Empty(t, sum.Nodes)
	require.False(t, sum.At.IsZero())
}
