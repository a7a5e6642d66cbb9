package chaos

import (
	"context"
	"syscall"
	"time"
)

// Scenario is one fault and when it strikes.
type Scenario struct {
	// Name selects it (-scenarios) and heads its section of CHAOS.md.
	Name string
	// Fault says what is done, for the report.
	Fault string
	// NeedsServices is set when the fault stops a service (Env.Services).
	NeedsServices bool
	// Settle bounds how long after the due time the scenario waits for
	// everything to be published, expired, retracted and delivered.
	Settle time.Duration
	// Estimate is how long the scenario takes with today's code, set-up
	// included, for the budget.
	Estimate time.Duration
	// Goal, when set, is a lateness goal of the issue: the p99 of the
	// publications' lateness at most GoalP99.
	Goal    string
	GoalP99 time.Duration
	// soak, when positive, makes this the soak: steady traffic for that
	// long instead of a burst and a fault.
	soak time.Duration
	// settings are further settings of its crier processes (KEY=value).
	settings []string
	// at is when the fault strikes; inject does it and returns once it is
	// over (a service back, a process restarted).
	at     func(r *run) time.Time
	inject func(ctx context.Context, r *run) error
}

// beforeDue is the time of a fault inside the hold.
func beforeDue(r *run) time.Time { return r.due.Add(-r.env.Timing.HoldFault) }

// duringExpiries is the time of a fault during the burst's expiries.
func duringExpiries(r *run) time.Time { return r.expires.Add(r.env.Timing.ExpiryFault) }

// Scenarios are every scenario of make chaos, in the order it runs them:
// the measurements first, the soak last.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "worker-sigterm-hold", Fault: "SIGTERM to one of the two workers inside the hold (2 s before due, the due dispatchers waiting for it); not restarted",
			Settle: 150 * time.Second, Estimate: 2 * time.Minute,
			Goal: "SIGTERM inside the hold adds no lateness beyond the burst's own: p99 ≤ 1 s", GoalP99: time.Second,
			at: beforeDue, inject: func(ctx context.Context, r *run) error { return signalWorker(ctx, r, syscall.SIGTERM) }},
		{Name: "worker-sigkill-hold", Fault: "SIGKILL to one of the two workers inside the hold (2 s before due, the due dispatchers waiting for it); not restarted",
			Settle: 150 * time.Second, Estimate: 2 * time.Minute,
			Goal: "SIGKILL inside the hold, the other worker alive: p99 ≤ 10 s", GoalP99: 10 * time.Second,
			at: beforeDue, inject: func(ctx context.Context, r *run) error { return signalWorker(ctx, r, syscall.SIGKILL) }},
		{Name: "relay-sigkill", Fault: "SIGKILL to the relay as soon as Kafka holds the first events of the burst, before it marks them published (repeated until one lands); restarted at once",
			Settle: 90 * time.Second, Estimate: 75 * time.Second,
			at: func(r *run) time.Time { return r.due.Add(-time.Second) }, inject: killRelay},
		{Name: "api-sigkill", Fault: "SIGKILL to the API node half the clients stream from, 200 ms after due; they resume on the other with Last-Event-ID",
			Settle: 90 * time.Second, Estimate: 70 * time.Second,
			at: func(r *run) time.Time { return r.due.Add(200 * time.Millisecond) }, inject: killAPI},
		{Name: "postgres-stop", Fault: "PostgreSQL stopped in immediate mode 2 s before due, started again 20 s later", NeedsServices: true,
			Settle: 120 * time.Second, Estimate: 100 * time.Second, at: beforeDue, inject: stopPostgres},
		{Name: "kafka-leader-sigkill", Fault: "SIGKILL to the Kafka broker leading most of the topic's partitions 500 ms before due, started again 30 s later",
			NeedsServices: true, Settle: 120 * time.Second, Estimate: 90 * time.Second,
			at: func(r *run) time.Time { return r.due.Add(-500 * time.Millisecond) }, inject: killKafkaLeader},
		{Name: "temporal-stop", Fault: "Temporal stopped 2 s before due and started again 60 s later; creations during the outage must answer 503 and store nothing",
			NeedsServices: true, Settle: 210 * time.Second, Estimate: 3 * time.Minute, at: beforeDue, inject: stopTemporal},
		{Name: "worker-sigkill-expiry", Fault: "SIGKILL to one of the two workers 100 ms after a fifth of the burst expires; not restarted",
			Settle: 150 * time.Second, Estimate: 2 * time.Minute,
			at: duringExpiries, inject: func(ctx context.Context, r *run) error { return signalWorker(ctx, r, syscall.SIGKILL) }},
		{Name: "worker-sigterm-expiry", Fault: "SIGTERM to one of the two workers 100 ms after a fifth of the burst expires; not restarted",
			Settle: 150 * time.Second, Estimate: 2 * time.Minute,
			at: duringExpiries, inject: func(ctx context.Context, r *run) error { return signalWorker(ctx, r, syscall.SIGTERM) }},
	}
}
