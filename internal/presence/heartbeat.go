package presence

import (
	"context"
	"log/slog"
	"time"
)

// Toucher refreshes a node's connections; *Store is one.
type Toucher interface {
	Touch(ctx context.Context, nodeID string) (int64, error)
}

// Heartbeat keeps a node's connections live by touching them every Interval.
type Heartbeat struct {
	// Store refreshes the rows. Required.
	Store Toucher
	// NodeID names the node whose connections are refreshed. Required.
	NodeID string
	// Interval between refreshes. Default DefaultHeartbeatInterval; keep it
	// well under StaleAfter.
	Interval time.Duration
	// Logger receives refresh failures. Default slog.Default().
	Logger *slog.Logger
	// OnTouch, when set, is called after each successful refresh with the
	// number of rows refreshed, so the node can register again connections
	// the clean-up removed while it could not refresh them.
	OnTouch func(ctx context.Context, touched int64)
}

// Run refreshes the node's connections every Interval until ctx ends, then
// returns nil. A failed refresh (PostgreSQL unreachable) is logged and the
// next tick tries again: connections only go stale after StaleAfter, several
// intervals later, so one failure costs nothing.
func (h Heartbeat) Run(ctx context.Context) error {
	if h.Interval <= 0 {
		h.Interval = DefaultHeartbeatInterval
	}
	if h.Logger == nil {
		h.Logger = slog.Default()
	}
	logger := h.Logger.With("node_id", h.NodeID)
	ticker := time.NewTicker(h.Interval)
	defer ticker.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		failures = h.touch(ctx, logger, failures)
	}
}

// touch refreshes once, bounded by Interval so a hung database cannot hold
// up the next tick, and returns the count of consecutive failures.
func (h Heartbeat) touch(ctx context.Context, logger *slog.Logger, failures int) int {
	tctx, cancel := context.WithTimeout(ctx, h.Interval)
	defer cancel()
	n, err := h.Store.Touch(tctx, h.NodeID)
	switch {
	case ctx.Err() != nil:
		return failures
	case err != nil:
		failures++
		logger.Error("Refreshing presence failed; retrying at the next heartbeat", "attempt", failures, "error", err)
		return failures
	case failures > 0:
		logger.Info("Refreshing presence works again", "failed_attempts", failures, "connections", n)
	}
	if h.OnTouch != nil {
		h.OnTouch(ctx, n)
	}
	return 0
}
