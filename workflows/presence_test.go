package workflows_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/workflows"
)

// fakePresence is an activities.PresenceStore that fails its first failures
// calls and records the ages it was asked for.
type fakePresence struct {
	mu       sync.Mutex
	failures int
	removed  int64
	ages     []time.Duration
}

func (f *fakePresence) RemoveStale(_ context.Context, olderThan time.Duration) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ages = append(f.ages, olderThan)
	if len(f.ages) <= f.failures {
		return 0, errors.New("connection refused")
	}
	return f.removed, nil
}

func setupCleanup(t *testing.T, store *fakePresence) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.PresenceCleanup, workflow.RegisterOptions{Name: workflows.PresenceCleanupName})
	env.RegisterActivity(&activities.PresenceActivities{Store: store})
	return env
}

func TestPresenceCleanup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input workflows.PresenceCleanupInput
		want  time.Duration
	}{
		{"default age", workflows.PresenceCleanupInput{}, presence.DefaultRemoveAfter},
		{"given age", workflows.PresenceCleanupInput{StaleAfter: 5 * time.Minute}, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := &fakePresence{removed: 42}
			env := setupCleanup(t, store)

			env.ExecuteWorkflow(workflows.PresenceCleanupName, tt.input)

			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			var res workflows.PresenceCleanupResult
			require.NoError(t, env.GetWorkflowResult(&res))
			require.EqualValues(t, 42, res.Removed)
			require.Equal(t, []time.Duration{tt.want}, store.ages)
		})
	}
}

func TestPresenceCleanupRetriesABlip(t *testing.T) {
	t.Parallel()
	store := &fakePresence{failures: 2, removed: 3}
	env := setupCleanup(t, store)

	env.ExecuteWorkflow(workflows.PresenceCleanup, workflows.PresenceCleanupInput{})

	require.NoError(t, env.GetWorkflowError())
	var res workflows.PresenceCleanupResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.EqualValues(t, 3, res.Removed)
	require.Len(t, store.ages, 3)
}

func TestPresenceCleanupGivesUpWithinAMinute(t *testing.T) {
	t.Parallel()
	store := &fakePresence{failures: 1000}
	env := setupCleanup(t, store)
	start := env.Now()

	env.ExecuteWorkflow(workflows.PresenceCleanup, workflows.PresenceCleanupInput{})

	err := env.GetWorkflowError()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Contains(t, appErr.Error(), "connection refused")
	require.Len(t, store.ages, 3, "a few attempts, then the next scheduled run takes over")
	require.Less(t, env.Now().Sub(start), time.Minute, "the run ends before the next one is due")
}

func TestPresenceCleanupRefusesNegativeAge(t *testing.T) {
	t.Parallel()
	store := &fakePresence{}
	env := setupCleanup(t, store)

	env.ExecuteWorkflow(workflows.PresenceCleanup, workflows.PresenceCleanupInput{StaleAfter: -time.Second})

	require.ErrorContains(t, env.GetWorkflowError(), "must be positive")
	require.Empty(t, store.ages)
}
