package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crier/crier/internal/outbox"
	"github.com/crier/crier/internal/store"
)

// RelayScenario measures how fast the outbox relay, with its default
// configuration, moves a backlog of events to the real Kafka.
type RelayScenario struct {
	// Events is the backlog of one run. Default 50,000.
	Events int
	// PerBroadcast is how many events each broadcast has (its publication,
	// reads, its expiry), so the relay's per-broadcast ordering is exercised.
	// Default 5.
	PerBroadcast int
	// Timeout bounds one run. Default 2 minutes.
	Timeout time.Duration
}

// Relay returns the relay scenario with its defaults.
func Relay() Scenario { return RelayScenario{}.withDefaults() }

func (s RelayScenario) withDefaults() RelayScenario {
	if s.Events <= 0 {
		s.Events = 50000
	}
	if s.PerBroadcast <= 1 {
		s.PerBroadcast = 5
	}
	s.Events = max(s.Events/s.PerBroadcast, 1) * s.PerBroadcast
	if s.Timeout <= 0 {
		s.Timeout = 2 * time.Minute
	}
	return s
}

// relayGoal is the issue's, in events per second.
const relayGoal = 5000

// Name implements Scenario.
func (RelayScenario) Name() string { return "relay" }

// Estimate implements Scenario: seeding and relaying at 2,500 events/s, half
// the goal, and set-up.
func (s RelayScenario) Estimate(runs int) time.Duration {
	s = s.withDefaults()
	return 10*time.Second + time.Duration(runs)*(5*time.Second+time.Duration(s.Events)*time.Second/5000)
}

// relayRun is one repetition's figures.
type relayRun struct {
	events int
	// inKafka and marked are from the relay's start until the last event
	// was appended (the broker's clock, on the same machine) and until no
	// row was pending.
	inKafka, marked        time.Duration
	duplicates, outOfOrder int
}

func (r relayRun) rate() float64 { return float64(r.events) / r.marked.Seconds() }

// Run implements Scenario.
func (s RelayScenario) Run(ctx context.Context, env Env) (Section, error) {
	s = s.withDefaults()
	dbURL, err := CreateDatabase(ctx, env.CrierBinary, env.DatabaseURL, "bench_relay_"+env.ID)
	if err != nil {
		return Section{}, err
	}
	pool, err := store.Connect(ctx, dbURL)
	if err != nil {
		return Section{}, err
	}
	defer pool.Close()
	var runs []relayRun
	for i := range env.Runs {
		topic := fmt.Sprintf("bench-relay-%s-%d", strings.ReplaceAll(env.ID, "_", "-"), i+1)
		r, err := s.once(ctx, env, pool, topic)
		if err != nil {
			return Section{}, fmt.Errorf("run %d: %w", i+1, err)
		}
		env.Say("relay: run %d/%d: %s events in %s: %s events/s", i+1, env.Runs, fmtCount(r.events), fmtDuration(r.marked), fmtWholeRate(r.rate()))
		runs = append(runs, r)
	}
	return s.section(runs), nil
}

// once seeds a backlog, relays it to a fresh topic and times it.
func (s RelayScenario) once(ctx context.Context, env Env, pool *pgxpool.Pool, topic string) (relayRun, error) {
	if err := CreateTopic(ctx, env.Brokers, topic); err != nil {
		return relayRun{}, err
	}
	tally, err := s.seed(ctx, pool)
	if err != nil {
		return relayRun{}, err
	}
	relay, err := outbox.New(pool, outbox.Config{Brokers: env.Brokers, Topic: topic, Logger: env.Logger})
	if err != nil {
		return relayRun{}, err
	}
	defer func() {
		if err := relay.Close(); err != nil {
			env.Say("relay: closing the relay's Kafka writer: %v", err)
		}
	}()

	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	relayCtx, stopRelay := context.WithCancel(ctx)
	relayDone := make(chan error, 1)
	began := time.Now()
	go func() { relayDone <- relay.Run(relayCtx) }()
	defer func() {
		stopRelay()
		if err := <-relayDone; err != nil {
			env.Say("relay: the relay failed: %v", err)
		}
	}()

	if err := readRelayed(ctx, env, topic, tally); err != nil {
		return relayRun{}, err
	}
	if !tally.Done() {
		return relayRun{}, fmt.Errorf("after %s, %s of %s events had reached Kafka", s.Timeout, fmtCount(tally.Seen()), fmtCount(tally.Expected()))
	}
	if err := waitOutboxEmpty(ctx, pool); err != nil {
		return relayRun{}, err
	}
	marked := time.Since(began)
	return relayRun{events: tally.Expected(), inKafka: tally.Last().Sub(began), marked: marked,
		duplicates: tally.Duplicates, outOfOrder: tally.OutOfOrder}, nil
}

// relaySnapshotContent is a broadcast's text in the seeded snapshots.
var relaySnapshotContent = strings.Repeat("The quarterly maintenance window starts at 22:00 UTC. ", 6)

// relaySeedSQL writes a backlog of pending events in one statement: per
// broadcast (a SENT row) its publication, reads by different users and its
// expiry, each carrying the broadcast's row as its snapshot, exactly as the
// store writes them. Ids go round the broadcasts (every broadcast's first
// event, then every second event...), as a backlog built over time would.
const relaySeedSQL = `
WITH b AS (
  INSERT INTO broadcasts (id, status, sender_id, sender_name, title, content, category, priority,
    target_type, target_ids, scheduled_at, expires_at, published_at, workflow_id)
  SELECT g.id, 'SENT', 'crierbench', 'Crier benchmark', 'Relay benchmark #' || g.i, $3, 'bench', 'NORMAL',
    'ROLE', '{ops}', now(), now() + interval '1 day', now(), 'broadcast:' || g.id
  FROM (SELECT gen_random_uuid() AS id, i FROM generate_series(1, $1::int) i) g
  RETURNING *
)
INSERT INTO outbox (event_type, broadcast_id, occurred_at, snapshot, user_id)
SELECT CASE e WHEN 0 THEN 'BROADCAST_PUBLISHED' WHEN $2::int - 1 THEN 'BROADCAST_EXPIRED' ELSE 'BROADCAST_READ' END,
  b.id, now(), row_to_json(b), CASE WHEN e BETWEEN 1 AND $2::int - 2 THEN 'user-' || e END
FROM b CROSS JOIN generate_series(0, $2::int - 1) e
ORDER BY e, b.id`

// seed empties the outbox and writes a fresh backlog, and returns the tally
// that expects it. The tally learns each event's place in its broadcast's
// queue from the outbox ids, the order the relay must keep.
func (s RelayScenario) seed(ctx context.Context, pool *pgxpool.Pool) (*relayTally, error) {
	broadcasts := s.Events / s.PerBroadcast
	if _, err := pool.Exec(ctx, `TRUNCATE outbox, broadcasts CASCADE`); err != nil {
		return nil, fmt.Errorf("empty the outbox: %w", err)
	}
	if _, err := pool.Exec(ctx, relaySeedSQL, broadcasts, s.PerBroadcast, relaySnapshotContent); err != nil {
		return nil, fmt.Errorf("seed the outbox: %w", err)
	}
	// As autovacuum would on a table this size, so the relay's queries are
	// planned on statistics, not on an empty table's.
	if _, err := pool.Exec(ctx, `ANALYZE outbox`); err != nil {
		return nil, fmt.Errorf("analyze the outbox: %w", err)
	}
	rows, err := pool.Query(ctx, `
		SELECT event_id, broadcast_id, (row_number() OVER (PARTITION BY broadcast_id ORDER BY id) - 1)::int
		FROM outbox`)
	if err != nil {
		return nil, fmt.Errorf("list the seeded events: %w", err)
	}
	want := map[uuid.UUID]seededEvent{}
	var (
		id uuid.UUID
		ev seededEvent
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &ev.broadcast, &ev.place}, func() error {
		want[id] = ev
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the seeded events: %w", err)
	}
	return newRelayTally(want), nil
}

// readRelayed reads topic from its start with plain partition consumers
// (independent of the relay) until tally is done or ctx ends.
func readRelayed(ctx context.Context, env Env, topic string, tally *relayTally) error {
	client, err := partitionReader(env.Brokers, topic, allPartitionsFromStart())
	if err != nil {
		return err
	}
	defer client.Close()
	last := time.Now()
	for !tally.Done() && ctx.Err() == nil {
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := client.PollFetches(pollCtx)
		cancel()
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
				return fmt.Errorf("read %s partition %d: %w", topic, fe.Partition, fe.Err)
			}
		}
		fetches.EachRecord(func(r *kgo.Record) { tally.Record(eventIDHeader(r), r.Timestamp) })
		if time.Since(last) >= 10*time.Second {
			env.Say("relay: %s", tally)
			last = time.Now()
		}
	}
	return nil
}

func allPartitionsFromStart() map[int32]kgo.Offset {
	out := make(map[int32]kgo.Offset, partitions)
	for p := range int32(partitions) {
		out[p] = kgo.NewOffset().AtStart()
	}
	return out
}

// eventIDHeader is the event_id header the relay puts on every message.
func eventIDHeader(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == "event_id" {
			return string(h.Value)
		}
	}
	return ""
}

// waitOutboxEmpty waits until the outbox holds no pending row: the relay
// marks a batch published right after Kafka took it.
func waitOutboxEmpty(ctx context.Context, pool *pgxpool.Pool) error {
	for {
		var pending bool
		err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL AND failed_at IS NULL)`).Scan(&pending)
		if err != nil {
			return fmt.Errorf("count pending outbox rows: %w", err)
		}
		if !pending {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("outbox rows still pending: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s RelayScenario) section(runs []relayRun) Section {
	var rates, kafkaRates []float64
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("| Run | Events | All in Kafka | All marked published | Events/s | Duplicates | Out of order |")
	p("|---|---|---|---|---|---|---|")
	for i, r := range runs {
		p("| %d | %s | %s | %s | %s | %d | %d |", i+1, fmtCount(r.events), fmtDuration(r.inKafka), fmtDuration(r.marked),
			fmtWholeRate(r.rate()), r.duplicates, r.outOfOrder)
		rates = append(rates, r.rate())
		kafkaRates = append(kafkaRates, float64(r.events)/r.inKafka.Seconds())
	}
	m, _, _ := RateSpread(rates)
	p("")
	p("Median over %d runs: %s events/s until all were marked published (%s events/s until all were in Kafka).",
		len(runs), fmtWholeRateSpread(rates), fmtWholeRateSpread(kafkaRates))
	return Section{
		Title: "Outbox relay to Kafka",
		Method: fmt.Sprintf(`How fast one outbox relay (internal/outbox with its default configuration: batches of 500, one
transaction per batch, acks from all in-sync replicas) empties a backlog into the real Kafka. Each run starts from an
empty outbox in the scenario's own database and writes, in one `+"`INSERT … SELECT`"+`, %s pending events over %s
broadcasts, %d each (the publication, reads, the expiry; ids interleaved across broadcasts, as a backlog built up
over time would be), each carrying its broadcast's row with a %d-byte text as its snapshot, as the store writes
them; then `+"`ANALYZE`"+`. It then starts the relay in-process on a fresh %d-partition topic and reads that topic
from its start with partition consumers of its own.

*All in Kafka* runs from the relay's start to the broker's append time of the last event; *all marked published*
until the outbox holds no pending row (polled every 10 ms once every event has been read). The rate is the events
over the latter. Each event counts once, by its `+"`event_id`"+` header: *duplicates* are redeliveries (allowed:
delivery is at least once); *out of order* counts events read before an older event of their broadcast, which must
never happen (the goal requires 0).`,
			fmtCount(s.Events), fmtCount(s.Events/s.PerBroadcast), s.PerBroadcast, len(relaySnapshotContent), partitions),
		Results: b.String(),
		Goals: []Goal{{
			What:    "relay ≥ 5,000 events/s",
			Reached: fmt.Sprintf("%s events/s", fmtWholeRateSpread(rates)),
			Met:     len(runs) > 0 && m >= relayGoal && noneOutOfOrder(runs),
		}},
	}
}

func noneOutOfOrder(runs []relayRun) bool {
	for _, r := range runs {
		if r.outOfOrder > 0 {
			return false
		}
	}
	return true
}

// seededEvent is an event's broadcast and its place in that broadcast's
// queue (0 for the oldest).
type seededEvent struct {
	broadcast uuid.UUID
	place     int
}

// relayTally counts the seeded events as they are read from Kafka. Delivery
// is at least once, so an event may appear more than once: it counts once,
// at its first append. It also checks each broadcast's order: an event first
// seen before every older event of its broadcast is out of order.
type relayTally struct {
	want map[uuid.UUID]seededEvent
	seen map[uuid.UUID]bool
	// heads counts, per broadcast, the events seen so far: the place the
	// next one in order has.
	heads map[uuid.UUID]int
	last  time.Time
	// Duplicates counts events read again.
	Duplicates int
	// OutOfOrder counts events read before an older event of their broadcast.
	OutOfOrder int
	// Foreign counts messages that are no seeded event.
	Foreign int
}

func newRelayTally(want map[uuid.UUID]seededEvent) *relayTally {
	return &relayTally{want: want, seen: make(map[uuid.UUID]bool, len(want)), heads: map[uuid.UUID]int{}}
}

// Record notes the event eventID appended at appendedAt, and reports
// whether it was the event's first appearance.
func (t *relayTally) Record(eventID string, appendedAt time.Time) bool {
	id, err := uuid.Parse(eventID)
	ev, expected := t.want[id]
	if err != nil || !expected {
		t.Foreign++
		return false
	}
	if t.seen[id] {
		t.Duplicates++
		return false
	}
	t.seen[id] = true
	if ev.place != t.heads[ev.broadcast] {
		t.OutOfOrder++
	}
	t.heads[ev.broadcast]++
	if appendedAt.After(t.last) {
		t.last = appendedAt
	}
	return true
}

// Seen is how many expected events have been read.
func (t *relayTally) Seen() int { return len(t.seen) }

// Expected is how many events were seeded.
func (t *relayTally) Expected() int { return len(t.want) }

// Done reports whether every seeded event has been read.
func (t *relayTally) Done() bool { return len(t.seen) == len(t.want) }

// Last is the latest append time of an event's first appearance.
func (t *relayTally) Last() time.Time { return t.last }

func (t *relayTally) String() string {
	return fmt.Sprintf("%s/%s events in Kafka, %d duplicates, %d out of order", fmtCount(t.Seen()), fmtCount(t.Expected()), t.Duplicates, t.OutOfOrder)
}
