package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
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

// startDelivery starts the node's tail, delivery recorder, stream log
// pruner and presence heartbeat in g; they stop when ctx ends.
func startDelivery(ctx context.Context, g *errgroup.Group, cfg config.Config, dialer *kafka.Dialer, pool *pgxpool.Pool,
	aud *audience.Audience, logger *slog.Logger) *delivery {
	cache := inbox.NewCache(pool)
	cache.Logger = logger
	in := inbox.New(pool, cache)
	hub := stream.NewHub()
	hub.QueueSize = cfg.SSEQueue
	tail := stream.NewTail(pool, hub, stream.TailConfig{
		Brokers: cfg.KafkaBrokers, Dialer: dialer, Topic: cfg.KafkaTopic, OnEvent: cache.Apply, Logger: logger,
	})
	recorder := stream.NewRecorder(pool, logger)
	pres := presence.New(pool)
	streams := stream.NewServer(pool, hub, in, pres, recorder, stream.Config{
		NodeID: cfg.NodeID, Heartbeat: cfg.SSEHeartbeat, MaxPerUser: cfg.SSEMaxPerUser, Logger: logger,
		ReplayMaxBytes: cfg.SSEReplayMaxBytes, ReplayWindow: cfg.SSEReplayWindow,
	})
	// A restarted node may reuse its predecessor's id: rows under it are dead.
	if n, err := pres.RemoveNode(ctx, cfg.NodeID); err != nil {
		logger.Warn("Could not clear this node's old connections from presence", "node_id", cfg.NodeID, "error", err)
	} else if n > 0 {
		logger.Info("Cleared connections a previous run of this node left in presence", "node_id", cfg.NodeID, "connections", n)
	}
	g.Go(func() error { return tail.Run(ctx) })
	g.Go(func() error { recorder.Run(ctx); return nil })
	g.Go(func() error {
		stream.Pruner{Pool: pool, Window: cfg.SSEReplayWindow, Logger: logger}.Run(ctx)
		return nil
	})
	g.Go(func() error {
		err := presence.Heartbeat{Store: pres, NodeID: cfg.NodeID, Logger: logger}.Run(ctx)
		// Leaving cleanly: this node's connections are gone now, not in two minutes.
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, rerr := pres.RemoveNode(cleanup, cfg.NodeID); rerr != nil {
			logger.Warn("Could not remove this node's connections from presence", "node_id", cfg.NodeID, "error", rerr)
		}
		if ctx.Err() != nil {
			return nil
		}
		return err
	})
	logger.Info("Delivery started", "node_id", cfg.NodeID)
	return &delivery{
		users: api.UserConfig{Inbox: in, Streams: streams, Tickets: auth.NewTickets(pool), Learner: aud,
			MaxStreamLifetime: cfg.SSEMaxLifetime},
		presence: pres,
		streams:  streams,
	}
}
