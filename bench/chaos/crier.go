package chaos

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/crier/crier/bench"
)

// crierSet is one scenario's Crier: two API nodes, two workers and the
// relay, each its own process, on the scenario's database, topic and task
// queue.
type crierSet struct {
	base   bench.NodeConfig
	logDir string

	mu      sync.Mutex
	apis    []*bench.Node // api-a, api-b
	workers []*bench.Node // worker-1, worker-2
	relay   *bench.Node
	// relayStarts counts the relay's starts, to name each one's log.
	relayStarts int
}

// crierSettings are the settings every process of a scenario shares, beside
// the ones bench.StartNode sets. The request limits are raised: the harness
// creates a burst from one loopback address as one admin, which the
// defaults (50 and 20 a second) would spread over seconds. The stream
// limits stay the product's.
func crierSettings(secret string, replication int, extra []string) []string {
	return append([]string{
		"CRIER_JWT_SECRET=" + secret,
		"CRIER_RATE_PER_ADDRESS=100000:100000", "CRIER_RATE_PER_USER=100000:100000",
		"CRIER_KAFKA_REPLICATION_FACTOR=" + strconv.Itoa(replication),
		"CRIER_LOG_LEVEL=" + cmp.Or(os.Getenv("CRIER_LOG_LEVEL"), "info"),
	}, extra...)
}

// startCrierSet starts the five processes at once and waits until each is
// ready.
func startCrierSet(ctx context.Context, base bench.NodeConfig, logDir string) (*crierSet, error) {
	if err := os.MkdirAll(logDir, 0o750); err != nil {
		return nil, fmt.Errorf("make the log folder: %w", err)
	}
	s := &crierSet{base: base, logDir: logDir, apis: make([]*bench.Node, 2), workers: make([]*bench.Node, 2)}
	g, gctx := errgroup.WithContext(ctx)
	start := func(slot **bench.Node, command, name string) {
		g.Go(func() error {
			n, err := s.start(gctx, command, name)
			*slot = n
			return err
		})
	}
	start(&s.apis[0], "api", "api-a")
	start(&s.apis[1], "api", "api-b")
	start(&s.workers[0], "worker", "worker-1")
	start(&s.workers[1], "worker", "worker-2")
	s.relayStarts = 1
	start(&s.relay, "relay", "relay")
	if err := g.Wait(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *crierSet) start(ctx context.Context, command, name string) (*bench.Node, error) {
	cfg := s.base
	cfg.Command, cfg.NodeID = command, name
	cfg.LogPath = filepath.Join(s.logDir, name+".log")
	n, err := bench.StartNode(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return n, nil
}

// restartRelay starts a new relay in place of one that was killed.
func (s *crierSet) restartRelay(ctx context.Context) error {
	s.mu.Lock()
	s.relayStarts++
	name := fmt.Sprintf("relay-%d", s.relayStarts)
	s.mu.Unlock()
	n, err := s.start(ctx, "relay", name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.relay = n
	s.mu.Unlock()
	return nil
}

func (s *crierSet) currentRelay() *bench.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.relay
}

// close stops every process still running, with SIGTERM, all at once.
func (s *crierSet) close() {
	s.mu.Lock()
	nodes := append(append([]*bench.Node{s.relay}, s.apis...), s.workers...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range nodes {
		if n == nil || !n.Running() {
			continue
		}
		wg.Go(func() { _ = n.Close() }) // a process that stops badly has its log; the verdict is already taken
	}
	wg.Wait()
}
