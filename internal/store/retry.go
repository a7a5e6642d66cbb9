package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/tracing"
)

// retrySQL schedules a FAILED broadcast again with its (new) times and
// forgets why it failed. No event: nothing was published, or if something
// was, the new run's publication says so again.
var retrySQL = transition{
	set: "scheduled_at = $4, expires_at = $5, failure_reason = NULL, trace_context = COALESCE(NULLIF($6, ''), trace_context)",
}.sql()

// Retry moves a FAILED broadcast back to SCHEDULED with the given times and
// runs beforeCommit in the same transaction (the API starts a new run of the
// workflow there), which also records by's retry in the audit log. Not
// applied (Result.Applied false) when the broadcast is no longer FAILED.
func (s *Store) Retry(ctx context.Context, by audit.Origin, id uuid.UUID, scheduledAt, expiresAt time.Time,
	beforeCommit func(context.Context, broadcast.Broadcast) error) (Result, error) {
	res, err := s.applyStarting(ctx, by, audit.ActionBroadcastRetry, broadcast.OpRetry, retrySQL, id, beforeCommit,
		scheduledAt, expiresAt, tracing.TraceParent(ctx))
	if err != nil {
		return Result{}, fmt.Errorf("retry broadcast %s: %w", id, err)
	}
	return res, nil
}
