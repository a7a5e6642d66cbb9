package presence

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Toucher refreshes a node's connections; *Store is one.
type Toucher interface {
	Touch(ctx context.Context, nodeID string) (int64, error)
}

// Heartbeat keeps a node's connections live by touching them every interval.
type Heartbeat struct {
	store    Toucher
	nodeID   string
	interval time.Duration
	log      *slog.Logger
	onTouch  func(ctx context.Context, touched int64)
}

// HeartbeatConfig configures a Heartbeat.
type HeartbeatConfig struct {
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

// NewHeartbeat returns a heartbeat that refreshes cfg.NodeID's connections
// in store.
func NewHeartbeat(store Toucher, cfg HeartbeatConfig) (*Heartbeat, error) {
	if store == nil || cfg.NodeID == "" {
		return nil, errors.New("presence heartbeat: a store and a node id are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultHeartbeatInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Heartbeat{store: store, nodeID: cfg.NodeID, interval: cfg.Interval, log: cfg.Logger.With("node_id", cfg.NodeID),
		onTouch: cfg.OnTouch}, nil
}

// Run refreshes the node's connections every interval until ctx ends, then
// returns nil. A failed refresh (PostgreSQL unreachable) is logged and the
// next tick tries again: connections only go stale after StaleAfter, several
// intervals later, so one failure costs nothing.
func (h *Heartbeat) Run(ctx context.Context) error {
	ticker := time.NewTicker(h.interval)
	defer ticker.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		failures = h.touch(ctx, failures)
	}
}

// touch refreshes once, bounded by the interval so a hung database cannot hold
// up the next tick, and returns the count of consecutive failures.
func (h *Heartbeat) touch(ctx context.Context, failures int) int {
	logger := h.log
	tctx, cancel := context.WithTimeout(ctx, h.interval)
	defer cancel()
	n, err := h.store.Touch(tctx, h.nodeID)
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
	if h.onTouch != nil {
		h.onTouch(ctx, n)
	}
	return 0
}
