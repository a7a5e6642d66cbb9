package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/retention"
)

// ErrTypeNoRetention is the application error type of a retention activity
// on a worker built without a Pruner, or for a table it does not know: no
// retry on this worker can fix it.
const ErrTypeNoRetention = "NoRetention"

// Pruner is what the retention activity needs of the pruner
// (retention.Pruner).
type Pruner interface {
	Prune(ctx context.Context, table retention.Table, horizon time.Duration) (retention.Result, error)
}

// PruneTableInput names a table and how long its rows are kept.
type PruneTableInput struct {
	Table   retention.Table
	Horizon time.Duration
}

// PruneTableResult counts what one run deleted from the table.
type PruneTableResult struct {
	Deleted int64
	// More is true when the run stopped at its bound with rows left for the
	// next one.
	More bool
}

// PruneTable deletes the table's rows older than the horizon, in bounded
// batches (retention.Pruner). It is idempotent: a retry deletes what is
// past the horizon then. The rows it deleted count in
// crier_retention_deleted_rows_total, a failed attempt's too, since each
// batch commits on its own.
func (a *PresenceActivities) PruneTable(ctx context.Context, in PruneTableInput) (PruneTableResult, error) {
	if a.Retention == nil {
		return PruneTableResult{}, temporal.NewNonRetryableApplicationError(
			"this worker has no retention pruner", ErrTypeNoRetention, nil)
	}
	res, err := a.Retention.Prune(ctx, in.Table, in.Horizon)
	if res.Deleted > 0 {
		metrics.RetentionDeleted.WithLabelValues(string(in.Table)).Add(float64(res.Deleted))
	}
	if errors.Is(err, retention.ErrUnknownTable) {
		return PruneTableResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNoRetention, err)
	}
	if err != nil {
		return PruneTableResult{}, err // transient; retried, and the next run goes on anyway
	}
	return PruneTableResult{Deleted: res.Deleted, More: res.More}, nil
}
