package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/crier/crier/internal/auth"
)

const (
	// fanoutClients is how many SSE clients hold one node's streams.
	fanoutClients = 10_000
	// fanoutSources spreads the clients over 127.0.0.2 … 127.0.0.(1+n), so
	// no source address needs more than a share of its ephemeral ports.
	fanoutSources = 8
	// fanoutDialers is how many clients connect at once.
	fanoutDialers = 64
	// fanoutConnectWithin bounds connecting every client.
	fanoutConnectWithin = 90 * time.Second
	// fanoutIdle is how long the connected clients stay idle before the
	// node's memory is read, so that it is read after the connection storm
	// and a garbage collection or two, not during them.
	fanoutIdle = 10 * time.Second
	// fanoutWait bounds how long a broadcast may take to reach every client;
	// those it has not reached by then are counted missing.
	fanoutWait = 30 * time.Second

	fanoutLatencyGoal = 250 * time.Millisecond
	fanoutMemoryGoal  = 16 << 10 // bytes per idle connection
)

// FanoutScenario measures one ALL broadcast to 10,000 SSE clients of one
// node, and the node's memory per idle connection.
type FanoutScenario struct{}

// Fanout returns the fanout scenario.
func Fanout() Scenario { return FanoutScenario{} }

// Name implements Scenario.
func (FanoutScenario) Name() string { return "fanout" }

// Estimate implements Scenario: starting the node (10 s), connecting the
// clients (5 to 30 s), the idle wait, each broadcast (1 to 5 s) and closing
// everything (5 s), on a busy machine; a quiet one takes about 20 s.
func (FanoutScenario) Estimate(runs int) time.Duration {
	return 25*time.Second + fanoutIdle + time.Duration(runs)*5*time.Second
}

// Run implements Scenario.
func (FanoutScenario) Run(ctx context.Context, env Env) (Section, error) {
	if err := raiseFileLimit(fanoutClients + 1024); err != nil {
		return Section{}, err
	}
	name := "bench_fanout_" + env.ID
	dbURL, err := CreateDatabase(ctx, env.CrierBinary, env.DatabaseURL, name)
	if err != nil {
		return Section{}, err
	}
	topic := strings.ReplaceAll(name, "_", "-")
	if err := CreateTopic(ctx, env.Brokers, topic); err != nil {
		return Section{}, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	secret := hex.EncodeToString(key)
	log, err := os.Create(filepath.Join(env.StateDir, "crier-fanout.log"))
	if err != nil {
		return Section{}, err
	}
	defer func() {
		if err := log.Close(); err != nil {
			env.Say("fanout: %v", err)
		}
	}()
	env.Say("fanout: starting crier all (log %s)", log.Name())
	node, err := startFanoutNode(ctx, env, dbURL, topic, secret, log)
	if err != nil {
		return Section{}, err
	}
	f := &fanout{env: env, node: node, secret: []byte(secret)}
	defer func() {
		f.closeClients()
		if err := node.Close(); err != nil {
			env.Say("fanout: %v", err)
		}
	}()
	return f.run(ctx)
}

// fanout is one run of the scenario: its node, its clients and its figures.
type fanout struct {
	env      Env
	node     *fanoutNode
	secret   []byte
	clients  []*sseClient
	received atomic.Int64 // broadcast events read by all clients
}

func (f *fanout) run(ctx context.Context) (Section, error) {
	if err := pause(ctx, 3*time.Second); err != nil { // the node's start-up work settles
		return Section{}, err
	}
	var (
		mem fanoutMemory
		err error
	)
	if mem.before, err = f.node.memory(ctx); err != nil {
		return Section{}, err
	}
	if mem.connectTook, err = f.connect(ctx); err != nil {
		return Section{}, err
	}
	mem.conns = len(f.clients)
	f.env.Say("fanout: %s clients connected in %s; idle %s before reading memory", fmtCount(mem.conns),
		mem.connectTook.Round(100*time.Millisecond), fanoutIdle)
	if err := pause(ctx, fanoutIdle); err != nil {
		return Section{}, err
	}
	if mem.after, err = f.node.memory(ctx); err != nil {
		return Section{}, err
	}
	f.env.Say("fanout: RSS %s → %s: %s per connection", fmtBytes(mem.before.rss), fmtBytes(mem.after.rss),
		fmtBytes(mem.perConn().rss))

	admin, err := auth.Issue(f.secret, "crierbench-admin", "Crier benchmark", []string{auth.RoleAdmin}, time.Hour, time.Now())
	if err != nil {
		return Section{}, err
	}
	var runs []fanoutRun
	for i := 1; i <= f.env.Runs; i++ {
		r := f.broadcast(ctx, i, admin)
		if r.Err != nil {
			f.env.Say("fanout: run %d: %v", i, r.Err)
		} else {
			f.env.Say("fanout: run %d: %s clients, first %s, p50 %s, p99 %s, max %s, %d missing; node CPU %s", i,
				fmtCount(r.Latency.Count), fmtDuration(r.First), fmtDuration(r.Latency.P50), fmtDuration(r.Latency.P99),
				fmtDuration(r.Latency.Max), r.Missing, fmtDuration(r.NodeCPU))
		}
		runs = append(runs, r)
		if ctx.Err() != nil {
			return Section{}, ctx.Err()
		}
	}
	return fanoutSection(mem, runs), nil
}

// connect opens fanoutClients streams, each as its own user (a user may hold
// only a few), fanoutDialers at a time.
func (f *fanout) connect(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, fanoutConnectWithin)
	defer cancel()
	tokens := make([]string, fanoutClients)
	now := time.Now()
	for i := range tokens {
		var err error
		tokens[i], err = auth.Issue(f.secret, fmt.Sprintf("fanout-%05d", i), "", nil, time.Hour, now)
		if err != nil {
			return 0, err
		}
	}
	f.clients = make([]*sseClient, fanoutClients)
	began := time.Now()
	var opened atomic.Int64
	stopProgress := f.progress(func() string {
		return fmt.Sprintf("%s of %s clients connected", fmtCount(int(opened.Load())), fmtCount(fanoutClients))
	})
	defer stopProgress()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanoutDialers)
	var sources [fanoutSources]net.IP
	for s := range byte(fanoutSources) {
		sources[s] = net.IPv4(127, 0, 0, 2+s)
	}
	for i := range fanoutClients {
		g.Go(func() error {
			src := sources[i%fanoutSources]
			c, err := openStream(gctx, src, f.node.addr, tokens[i], &f.received)
			if err != nil {
				return fmt.Errorf("client %d: %w", i, err)
			}
			f.clients[i] = c
			opened.Add(1)
			return nil
		})
	}
	err := g.Wait()
	if err != nil {
		return 0, fmt.Errorf("connect %s SSE clients (%s did): %w", fmtCount(fanoutClients), fmtCount(int(opened.Load())), err)
	}
	return time.Since(began), nil
}

// broadcast publishes one ALL broadcast and measures, for every client, its
// first read of the broadcast event after the event's Kafka append.
func (f *fanout) broadcast(ctx context.Context, i int, admin string) fanoutRun {
	run := fanoutRun{Run: i}
	offsets, err := EndOffsets(ctx, f.env.Brokers, f.node.topic)
	if err != nil {
		run.Err = err
		return run
	}
	cpu := f.node.cpuTime()
	id, err := f.node.publish(ctx, admin, fmt.Sprintf("Fan-out run %d", i))
	if err != nil {
		run.Err = err
		return run
	}
	waitCtx, cancel := context.WithTimeout(ctx, fanoutWait)
	defer cancel()
	tally := NewTally(map[uuid.UUID]time.Time{id: {}})
	readErr := make(chan error, 1)
	go func() { readErr <- ReadUntil(waitCtx, f.env.Brokers, f.node.topic, offsets, tally, time.Second, nil) }()

	// Each client reads this one broadcast once: wait for as many reads.
	base := f.received.Load() // no other broadcast is in flight
	stopProgress := f.progress(func() string {
		return fmt.Sprintf("run %d: %s of %s clients have it", i, fmtCount(int(f.received.Load()-base)), fmtCount(len(f.clients)))
	})
	for f.received.Load()-base < int64(len(f.clients)) {
		if pause(waitCtx, 20*time.Millisecond) != nil {
			break
		}
	}
	run.NodeCPU = f.node.cpuTime() - cpu
	stopProgress()
	if err := <-readErr; err != nil {
		run.Err = err
		return run
	}
	appended, ok := tally.seen[id]
	if !ok {
		run.Err = fmt.Errorf("broadcast %s: its BROADCAST_PUBLISHED event was not read from Kafka within %s", id, fanoutWait)
		return run
	}
	run.tallyArrivals(f.clients, id, appended)
	_ = pause(ctx, time.Second) // the node records the deliveries before the next run
	return run
}

// pause waits for d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// progress says status() every 5 s until the returned function is called.
func (f *fanout) progress(status func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				f.env.Say("fanout: %s", status())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// closeClients closes every connection, fanoutDialers at a time.
func (f *fanout) closeClients() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, fanoutDialers)
	for _, c := range f.clients {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.close()
		}()
	}
	wg.Wait()
	f.clients = nil
}

// fanoutRun is one broadcast's delivery to every client.
type fanoutRun struct {
	Run int
	// Latency is, over the clients that read the broadcast, each one's
	// first read minus the Kafka append time of its BROADCAST_PUBLISHED.
	Latency Summary
	// First is the first client's latency: the way from Kafka to the
	// node's hub, before the fan-out itself.
	First time.Duration
	// Missing counts clients that had not read it within fanoutWait.
	Missing int
	// Duplicates counts reads after a client's first.
	Duplicates int
	// NodeCPU is the CPU time crier used from the request to create the
	// broadcast until every client had it (or fanoutWait passed).
	NodeCPU time.Duration
	Err     error
}

// tallyArrivals counts each client once, at its first read of broadcast id.
func (r *fanoutRun) tallyArrivals(clients []*sseClient, id uuid.UUID, appended time.Time) {
	lat := make([]time.Duration, 0, len(clients))
	for _, c := range clients {
		at, ok, again := c.firstArrival(id)
		if !ok {
			r.Missing++
			continue
		}
		lat = append(lat, at.Sub(appended))
		r.Duplicates += again
	}
	r.Latency = Summarize(lat)
	if len(lat) > 0 {
		r.First = slices.Min(lat)
	}
}

// raiseFileLimit raises this process's open-file limit to at least need
// (up to the hard limit); crier, started afterwards, inherits it.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the open-file limit: %w", err)
	}
	if lim.Max < need {
		return fmt.Errorf("the open-file hard limit is %d; the fan-out needs %d (raise it with ulimit -Hn)", lim.Max, need)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the open-file limit: %w", err)
	}
	return nil
}
