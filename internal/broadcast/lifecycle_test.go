package broadcast_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
)

// TestLifecycleMovesForward: every status change within a workflow run leads
// to a higher rank, so a run has no cycle and the workflow's "status only
// moves forward" holds for every transition in the table. An operation that
// starts a new run (retry) leads back, from where a run ends to where one
// starts.
func TestLifecycleMovesForward(t *testing.T) {
	t.Parallel()
	for op, tr := range broadcast.Transitions {
		require.NotEmpty(t, tr.From, "%s starts from no status", op)
		if tr.NewRun {
			for _, from := range tr.From {
				require.True(t, from.Terminal(), "%s starts a new run from %s, where no run ends", op, from)
			}
			require.Equal(t, broadcast.StatusScheduled, tr.To, "%s: a new run starts SCHEDULED", op)
			continue
		}
		if tr.To == "" {
			continue
		}
		for _, from := range tr.From {
			require.Greater(t, broadcast.Transitions.Rank(tr.To), broadcast.Transitions.Rank(from), "%s from %s", op, from)
		}
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	var terminal []broadcast.Status
	for _, s := range broadcast.Statuses {
		if s.Terminal() {
			terminal = append(terminal, s)
		}
	}
	require.Equal(t, []broadcast.Status{broadcast.StatusExpired, broadcast.StatusCancelled, broadcast.StatusFailed}, terminal)
	ranks := map[broadcast.Status]int{}
	for _, s := range broadcast.Statuses {
		ranks[s] = broadcast.Transitions.Rank(s)
	}
	require.Equal(t, map[broadcast.Status]int{
		broadcast.StatusDraft: 0, broadcast.StatusScheduled: 1, broadcast.StatusInProgress: 2, broadcast.StatusSent: 3,
		broadcast.StatusExpired: 4, broadcast.StatusCancelled: 4, broadcast.StatusFailed: 4,
	}, ranks)
	require.True(t, broadcast.StatusSent.Published())
	require.False(t, broadcast.StatusScheduled.Published())
	require.Equal(t, []string{"SCHEDULED", "SENT"}, broadcast.Transitions.From(broadcast.OpRescheduleExpiry))
	require.False(t, broadcast.Transitions.Allows(broadcast.OpReschedule, broadcast.StatusSent),
		"scheduled_at cannot change after publication")
	require.Equal(t, []string{"FAILED"}, broadcast.Transitions.From(broadcast.OpRetry), "only a FAILED broadcast is retried")
}

// Only a FAILED broadcast (by a retry) and a draft (by its schedule) can be
// made publishable again; nothing leads back from the others.
func TestEnablesPublication(t *testing.T) {
	var enabled []broadcast.Status
	for _, s := range broadcast.Statuses {
		if broadcast.Transitions.Enables(s, broadcast.OpPublish) {
			enabled = append(enabled, s)
		}
	}
	require.ElementsMatch(t, []broadcast.Status{broadcast.StatusDraft, broadcast.StatusFailed}, enabled)
}
