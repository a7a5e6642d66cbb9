package main

import (
	"context"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/config"
	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/stream"
)

// delivery is an API node's part in delivering broadcasts to users: its
// cache of active broadcasts, the tail that sees every event, the streams.
type delivery struct {
	users    api.UserConfig
	presence *presence.Store
	streams  *stream.Server
}

// deliverySection is the delivery's part of the configuration.
type deliverySection struct {
	hub               stream.HubConfig
	tail              stream.TailConfig
	streams           stream.Config
	heartbeat         presence.HeartbeatConfig
	maxStreamLifetime time.Duration
}

func deliveryConfig(cfg config.Config, s shared) deliverySection {
	return deliverySection{
		hub: stream.HubConfig{QueueSize: cfg.SSEQueue},
		tail: stream.TailConfig{Brokers: s.kafka.brokers, Dialer: s.kafka.Dialer, Topic: cfg.KafkaTopic, Logger: s.logger,
			DeadLetters: s.deadLetters.tail},
		streams: stream.Config{
			NodeID: cfg.NodeID, Heartbeat: cfg.SSEHeartbeat, MaxPerUser: cfg.SSEMaxPerUser, Logger: s.logger,
			ReplayMaxBytes: cfg.SSEReplayMaxBytes, ReplayWindow: cfg.SSEReplayWindow,
		},
		heartbeat:         presence.HeartbeatConfig{NodeID: cfg.NodeID, Logger: s.logger},
		maxStreamLifetime: cfg.SSEMaxLifetime,
	}
}

// startDelivery starts the node's tail, delivery recorder and presence
// heartbeat in g; they stop when ctx ends. The stream log is pruned by the
// workers' maintenance run (internal/retention), not by API nodes.
func startDelivery(ctx context.Context, g *errgroup.Group, s shared, cfg deliverySection, aud *audience.Audience) (*delivery, error) {
	pool, logger, nodeID := s.pool, s.logger, cfg.streams.NodeID
	cache := inbox.NewCache(pool, inbox.CacheConfig{Logger: logger})
	in := inbox.New(pool, cache)
	hub := stream.NewHub(cfg.hub)
	cfg.tail.OnEvent = cache.Apply
	tail := stream.NewTail(pool, hub, cfg.tail)
	recorder := stream.NewRecorder(pool, logger)
	pres := presence.New(pool)
	heartbeat, err := presence.NewHeartbeat(pres, cfg.heartbeat)
	if err != nil {
		return nil, err
	}
	streams := stream.NewServer(pool, hub, in, pres, recorder, cfg.streams)
	// A restarted node may reuse its predecessor's id: rows under it are dead.
	if n, err := pres.RemoveNode(ctx, nodeID); err != nil {
		logger.Warn("Could not clear this node's old connections from presence", "node_id", nodeID, "error", err)
	} else if n > 0 {
		logger.Info("Cleared connections a previous run of this node left in presence", "node_id", nodeID, "connections", n)
	}
	g.Go(func() error { return tail.Run(ctx) })
	g.Go(func() error { recorder.Run(ctx); return nil })
	g.Go(func() error { return runHeartbeat(ctx, heartbeat, pres, nodeID, logger) })
	logger.Info("Delivery started", "node_id", nodeID)
	return &delivery{
		users: api.UserConfig{Inbox: in, Streams: streams, Tickets: auth.NewTickets(pool), Learner: aud,
			MaxStreamLifetime: cfg.maxStreamLifetime},
		presence: pres,
		streams:  streams,
	}, nil
}

// runHeartbeat keeps this node's connections live in presence until ctx
// ends, then removes them.
func runHeartbeat(ctx context.Context, heartbeat *presence.Heartbeat, pres *presence.Store, nodeID string, logger *slog.Logger) error {
	err := heartbeat.Run(ctx)
	// Leaving cleanly: this node's connections are gone now, not in two minutes.
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, rerr := pres.RemoveNode(cleanup, nodeID); rerr != nil {
		logger.Warn("Could not remove this node's connections from presence", "node_id", nodeID, "error", rerr)
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}
