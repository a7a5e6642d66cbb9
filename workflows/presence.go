package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/presence"
)

// PresenceCleanupName is the registered name of the PresenceCleanup workflow.
const PresenceCleanupName = "PresenceCleanup"

// PresenceCleanupInput configures one clean-up run.
type PresenceCleanupInput struct {
	// StaleAfter is how old a connection's last refresh must be for it to be
	// removed. Default presence.DefaultRemoveAfter (60 s).
	StaleAfter time.Duration
}

// PresenceCleanupResult counts what one run removed.
type PresenceCleanupResult struct {
	Removed int64
}

// presenceActs lets the workflow name its activity by method.
var presenceActs *activities.PresenceActivities

// PresenceCleanup removes the connections of API nodes that stopped
// refreshing them (crashed, or cut off). A Temporal Schedule starts it once a
// minute for the whole cluster, so exactly one run happens per minute however
// many workers there are, with no lock to take or leak.
func PresenceCleanup(ctx workflow.Context, in PresenceCleanupInput) (PresenceCleanupResult, error) {
	if in.StaleAfter == 0 {
		in.StaleAfter = presence.DefaultRemoveAfter
	}
	if in.StaleAfter < 0 {
		return PresenceCleanupResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("StaleAfter %s must be positive", in.StaleAfter), "InvalidInput", nil)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		// A few quick attempts ride out a blip; past them the run fails
		// visibly, and the next run a minute later tries again anyway.
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Second,
			MaximumAttempts:    3,
		},
	})
	var out activities.RemoveStaleConnectionsResult
	err := workflow.ExecuteActivity(ctx, presenceActs.RemoveStaleConnections,
		activities.RemoveStaleConnectionsInput{StaleAfter: in.StaleAfter}).Get(ctx, &out)
	if err != nil {
		return PresenceCleanupResult{}, err
	}
	return PresenceCleanupResult{Removed: out.Removed}, nil
}
