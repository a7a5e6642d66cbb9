package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// PresenceStore is what the presence activities need of the presence store
// (presence.Store).
type PresenceStore interface {
	RemoveStale(ctx context.Context, olderThan time.Duration) (int64, error)
}

// PresenceActivities are the activities of the maintenance run (the
// PresenceCleanup workflow, named before it also ran retention), registered
// as one value.
type PresenceActivities struct {
	Store PresenceStore
	// Retention deletes rows past their horizon (PruneTable); nil on a
	// worker that runs no retention, whose runs must then have none.
	Retention Pruner
}

// RemoveStaleConnectionsInput says how old a connection's last refresh must
// be for it to go.
type RemoveStaleConnectionsInput struct {
	StaleAfter time.Duration
}

// RemoveStaleConnectionsResult counts the connections removed.
type RemoveStaleConnectionsResult struct {
	Removed int64
}

// RemoveStaleConnections deletes the connections of nodes that stopped
// refreshing them. It is idempotent: a retry removes what is stale then.
func (a *PresenceActivities) RemoveStaleConnections(ctx context.Context, in RemoveStaleConnectionsInput) (RemoveStaleConnectionsResult, error) {
	removed, err := a.Store.RemoveStale(ctx, in.StaleAfter)
	if err != nil {
		return RemoveStaleConnectionsResult{}, err // transient; retried, and the next run tries anyway
	}
	if removed > 0 {
		activity.GetLogger(ctx).Info("Removed stale connections", "removed", removed, "stale_after", in.StaleAfter)
	}
	return RemoveStaleConnectionsResult{Removed: removed}, nil
}
