package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/crier/crier/bench"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
)

// Result is one scenario's outcome.
type Result struct {
	Scenario Scenario
	Due      time.Time
	Verdict  Verdict
	// Settled is whether every check passed within the scenario's Settle,
	// SettledAfter how long after the due time they first did.
	Settled      bool
	SettledAfter time.Duration
	// Events are what the harness did and saw, each with its time from
	// the due time ("D-2.0s: SIGKILL to worker-1").
	Events []string
	// Soak is the soak's table sizes, for the soak only.
	Soak *SoakResult
	Took time.Duration
	// Err is why the scenario could not be carried out, if it could not.
	Err error
}

// run is one scenario being carried out.
type run struct {
	env Env
	sc  Scenario

	name   string // of its database, topic and task queue
	dbURL  string
	pool   *pgxpool.Pool
	log    *topicLog
	crier  *crierSet
	admin  *admin
	tokens map[string]string // user id → bearer token

	clients     []*streamClient
	stopClients context.CancelFunc
	clientsDone sync.WaitGroup

	plan         []*planned
	due, expires time.Time
	outage       *outage
	// answers are changes still waiting for Crier's answer.
	answers sync.WaitGroup

	mu     sync.Mutex
	events []string
}

// RunScenario carries out sc on env and judges it.
func RunScenario(ctx context.Context, env Env, sc Scenario) Result {
	began := time.Now()
	res := Result{Scenario: sc}
	env, err := env.WithDefaults()
	if err != nil {
		res.Err = err
		return res
	}
	r := &run{env: env, sc: sc, tokens: map[string]string{}}
	defer r.tearDown()
	res.Err = r.setUp(ctx)
	switch {
	case res.Err != nil:
	case sc.soak > 0:
		res.Soak, res.Err = r.soak(ctx, sc.soak)
	default:
		if res.Err = r.burst(ctx); res.Err == nil {
			r.timeline(ctx)
		}
	}
	if res.Err == nil {
		res.Settled, res.SettledAfter, res.Verdict = r.settle(ctx)
	}
	if res.Soak != nil {
		res.Verdict.judgeSoak(res.Soak)
	}
	res.Due, res.Events, res.Took = r.due, r.eventLog(), time.Since(began)
	return res
}

// setUp makes the scenario's database and topic, starts its Crier and
// connects its clients.
func (r *run) setUp(ctx context.Context) error {
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	r.name = "chaos_" + strings.ReplaceAll(r.sc.Name, "-", "_") + "_" + time.Now().UTC().Format("150405") + hex.EncodeToString(suffix)
	var err error
	if r.dbURL, err = bench.CreateDatabase(ctx, r.env.CrierBinary, r.env.DatabaseURL, r.name); err != nil {
		return err
	}
	if r.pool, err = pgxpool.New(ctx, r.dbURL); err != nil {
		return fmt.Errorf("connect to %s: %w", r.name, err)
	}
	topic := strings.ReplaceAll(r.name, "_", "-")
	if err := bench.CreateReplicatedTopic(ctx, r.env.Brokers, topic, r.env.Replication); err != nil {
		return err
	}
	if r.log, err = openTopicLog(ctx, r.env.Brokers, topic); err != nil {
		return err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	secret := hex.EncodeToString(key)
	base := bench.NodeConfig{Binary: r.env.CrierBinary, DatabaseURL: r.dbURL, Brokers: r.env.Brokers,
		TemporalAddress: r.env.TemporalAddress, Topic: topic, TaskQueue: topic,
		Env: crierSettings(secret, r.env.Replication, r.sc.settings)}
	r.say("starting 2 API nodes, 2 workers and the relay (logs in %s)", filepath.Join(r.env.StateDir, "logs", r.sc.Name))
	if r.crier, err = startCrierSet(ctx, base, filepath.Join(r.env.StateDir, "logs", r.sc.Name)); err != nil {
		return err
	}
	if err := r.issueTokens([]byte(secret)); err != nil {
		return err
	}
	r.admin = newAdmin(r.crier.apis, r.tokens[""])
	if err := r.startClients(ctx); err != nil {
		return err
	}
	return r.sendMarker(ctx)
}

// issueTokens makes the admin's token (under "") and each user's.
func (r *run) issueTokens(secret []byte) error {
	now := time.Now()
	tok, err := auth.Issue(secret, "chaos-admin", "make chaos", []string{auth.RoleAdmin}, 2*time.Hour, now)
	if err != nil {
		return err
	}
	r.tokens[""] = tok
	for _, u := range users {
		if r.tokens[u.ID], err = auth.Issue(secret, u.ID, u.ID, u.Roles, 2*time.Hour, now); err != nil {
			return err
		}
	}
	return nil
}

// tabs are the clients: seven streams of six users, spread over the two
// API nodes (index into users, then into the nodes).
var tabs = []struct {
	user, node int
	name       string
}{
	{0, 0, "ann tab 1"}, {0, 1, "ann tab 2"}, {1, 0, "bob"}, {2, 1, "cat"}, {3, 0, "dan"}, {4, 1, "eve"}, {5, 0, "fay"},
}

// startClients connects every client and waits until each has caught up.
func (r *run) startClients(ctx context.Context) error {
	urls := []string{r.crier.apis[0].URL, r.crier.apis[1].URL}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.stopClients = cancel
	for _, t := range tabs {
		u := users[t.user]
		c := newStreamClient(fmt.Sprintf("%s (api-%c)", t.name, 'a'+t.node), u, r.tokens[u.ID], urls, t.node)
		r.clients = append(r.clients, c)
		r.clientsDone.Go(func() { c.run(cctx) })
	}
	deadline := time.After(30 * time.Second)
	for _, c := range r.clients {
		select {
		case <-c.caughtUp:
		case <-deadline:
			return fmt.Errorf("client %s not connected within 30 s: %v", c.name, c.view().Problems)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// sendMarker sends an ALL broadcast at once and waits until every client
// has it: the delivery path works, and each client holds a position to
// resume from before anything fails.
func (r *run) sendMarker(ctx context.Context) error {
	m := &planned{Title: r.sc.Name + " marker", Fate: fateMarker, Target: broadcast.Target{Type: broadcast.TargetAll},
		Expires: time.Now().Add(time.Hour)}
	if status, err := r.admin.create(ctx, m); err != nil {
		return fmt.Errorf("create the marker broadcast: %w", err)
	} else if status != http.StatusCreated {
		return fmt.Errorf("create the marker broadcast: answered %d", status)
	}
	r.plan = append(r.plan, m)
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range r.clients {
		for !c.hasRead(m.ID) {
			if time.Now().After(deadline) {
				return fmt.Errorf("client %s did not receive the marker broadcast %s within 30 s", c.name, m.ID)
			}
			if err := pause(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *run) tearDown() {
	r.answers.Wait()
	if r.stopClients != nil {
		r.stopClients()
		r.clientsDone.Wait()
	}
	if r.crier != nil {
		r.crier.close()
	}
	if r.log != nil {
		r.log.close()
	}
	if r.pool != nil {
		r.pool.Close()
	}
	if r.env.DropData && r.name != "" {
		r.dropData()
	}
}

// dropData drops the scenario's database and topic; what cannot be dropped
// is said, and left.
func (r *run) dropData() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, r.env.DatabaseURL)
	if err == nil {
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{r.name}.Sanitize()+" WITH (FORCE)")
		_ = conn.Close(ctx) // the drop's outcome is what matters
	}
	if err != nil {
		r.say("could not drop database %s: %v", r.name, err)
	}
	topic := strings.ReplaceAll(r.name, "_", "-")
	client := &kafka.Client{Addr: kafka.TCP(r.env.Brokers...), Timeout: 10 * time.Second}
	if _, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}}); err != nil {
		r.say("could not delete topic %s: %v", topic, err)
	}
}

// say prints a progress line of this scenario, timed from its due time
// once it has one.
func (r *run) say(format string, args ...any) {
	r.env.Say("%s: %s%s", r.sc.Name, r.clock(), fmt.Sprintf(format, args...))
}

func (r *run) clock() string {
	if r.due.IsZero() {
		return ""
	}
	return fmtOffset(time.Since(r.due)) + ": "
}

// event records what the harness did or saw, for the report, and says it.
func (r *run) event(format string, args ...any) {
	line := r.clock() + fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.events = append(r.events, line)
	r.mu.Unlock()
	r.env.Say("%s: %s", r.sc.Name, line)
}

func (r *run) eventLog() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// fmtOffset shows a time from the due time: D-2.0s, D+61.3s.
func fmtOffset(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("D%s%.1fs", sign, d.Seconds())
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
