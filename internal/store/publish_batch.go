package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/tracing"
)

// PublishBatcher is a Store whose Publish commits concurrent calls together:
// one guarded UPDATE and one outbox INSERT for a whole batch, in one
// transaction with one notification. Broadcasts cluster on round times, so
// thousands of publishes arrive in the same millisecond; one statement each
// would queue them on the connection pool and serialise their commits on
// PostgreSQL's notification lock.
//
// Nothing waits to fill a batch: a call joins the batch being gathered while
// earlier ones run, so a lone publish costs what it did before. Each
// broadcast keeps the same guard and the same event as Store.Publish, and a
// call whose broadcast the batch did not change (already published, not yet
// committed by its creator, or a failing batch) falls back to Store.Publish,
// which answers for that broadcast alone.
type PublishBatcher struct {
	*Store

	mu      sync.Mutex
	pending []*publishCall
	running int
}

type publishCall struct {
	id    uuid.UUID
	trace string
	done  chan publishAnswer
}

type publishAnswer struct {
	res Result
	// ok is false when the batch did not publish the broadcast: the caller
	// falls back to Store.Publish.
	ok bool
}

const (
	// maxPublishBatch bounds a statement's size (and its lock footprint).
	maxPublishBatch = 500
	// publishBatchers is how many batches may run at once.
	publishBatchers = 4
	// publishBatchTimeout bounds one batch statement; on timeout its calls
	// fall back to one statement each.
	publishBatchTimeout = 10 * time.Second
)

// NewPublishBatcher returns s with batched publishing.
func NewPublishBatcher(s *Store) *PublishBatcher { return &PublishBatcher{Store: s} }

// Publish moves a scheduled broadcast to SENT and records BROADCAST_PUBLISHED,
// as Store.Publish does, batched with concurrent calls.
func (p *PublishBatcher) Publish(ctx context.Context, id uuid.UUID) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	call := &publishCall{id: id, trace: tracing.TraceParent(ctx), done: make(chan publishAnswer, 1)}
	p.mu.Lock()
	p.pending = append(p.pending, call)
	if p.running < publishBatchers {
		p.running++
		go p.drain()
	}
	p.mu.Unlock()
	select {
	case a := <-call.done:
		if a.ok {
			return a.res, nil
		}
		return p.Store.Publish(ctx, id)
	case <-ctx.Done():
		// The batch may still commit it; a retry then finds it SENT.
		return Result{}, ctx.Err()
	}
}

// drain runs batches until no call is pending.
func (p *PublishBatcher) drain() {
	for {
		p.mu.Lock()
		if len(p.pending) == 0 {
			p.running--
			p.mu.Unlock()
			return
		}
		n := min(len(p.pending), maxPublishBatch)
		batch := p.pending[:n:n]
		p.pending = append([]*publishCall(nil), p.pending[n:]...)
		p.mu.Unlock()
		p.run(batch)
	}
}

func (p *PublishBatcher) run(batch []*publishCall) {
	ctx, cancel := context.WithTimeout(context.Background(), publishBatchTimeout)
	defer cancel()
	// A broadcast appears once in the statement even if two calls ask for
	// it (a retry while the first attempt waits), so it gets one event.
	// pgtype.UUID goes to PostgreSQL as 16 bytes; uuid.UUID as text, which
	// costs about 2 µs each: 20 ms for a burst of 10,000.
	ids := make([]pgtype.UUID, 0, len(batch))
	traces := make([]string, 0, len(batch))
	seen := make(map[uuid.UUID]bool, len(batch))
	for _, c := range batch {
		if !seen[c.id] {
			seen[c.id] = true
			ids, traces = append(ids, pgtype.UUID{Bytes: c.id, Valid: true}), append(traces, c.trace)
		}
	}
	// On an error nothing is answered: every call falls back to its own
	// statement, which reports its own error (or finds the broadcast SENT,
	// should the batch have committed before a connection broke).
	outcomes, _ := p.publishMany(ctx, ids, traces)
	answered := make(map[uuid.UUID]bool, len(outcomes))
	for _, c := range batch {
		c.done <- answer(outcomes, answered, c.id)
	}
}

// answer is the batch's answer for a call publishing id. A broadcast the
// batch changed is reported applied to its first call only; a second one
// finds it SENT through Store.Publish, as a retry would. One the batch found
// past publication (a due dispatcher published it at its instant, and now
// its workflow's timer fired) is answered as it stands, unchanged. The rest
// fall back to Store.Publish, which waits for a transaction still changing
// the broadcast: not committed yet by its creator, changed while the batch
// ran, or seen FAILED (or DRAFT) while a retry (or a schedule), which starts
// this very run before it commits, makes it SCHEDULED.
func answer(outcomes map[uuid.UUID]publishOutcome, answered map[uuid.UUID]bool, id uuid.UUID) publishAnswer {
	o, found := outcomes[id]
	switch {
	case !found:
		return publishAnswer{}
	case o.applied && !answered[id]:
		answered[id] = true
		return publishAnswer{res: Result{Broadcast: o.b, Applied: true}, ok: true}
	case !o.applied && !broadcast.Transitions.Allows(broadcast.OpPublish, o.b.Status) &&
		!broadcast.Transitions.Enables(o.b.Status, broadcast.OpPublish):
		return publishAnswer{res: Result{Broadcast: o.b}, ok: true}
	default:
		return publishAnswer{}
	}
}

// publishOutcome is what the batch did to one broadcast.
type publishOutcome struct {
	b       broadcast.Broadcast
	applied bool
}

// publishBatchSQL is publish for many broadcasts: $1 their ids, $2 and $3
// the guard's (guardArgs), $4 the traceparent recorded with each one's event
// (” for none). It returns the broadcasts it changed (applied) and, as they
// stood before it, the others it can see (not applied).
var publishBatchSQL = fmt.Sprintf(`WITH b AS (
	UPDATE broadcasts SET %s, %s, updated_at = now()
	WHERE id = ANY($1::uuid[]) AND %s
	RETURNING %s
), o AS (
	INSERT INTO outbox (event_type, broadcast_id, occurred_at, snapshot, trace_context)
	SELECT '%s', b.id, now(), row_to_json(b), COALESCE(NULLIF(t.trace, ''), %s)
	FROM b JOIN unnest($1::uuid[], $4::text[]) AS t(id, trace) ON t.id = b.id
	RETURNING 1
), n AS (
	SELECT pg_notify('%s', '') WHERE EXISTS (SELECT 1 FROM o)
)
SELECT %s, true, (SELECT count(*) FROM n) FROM b
UNION ALL
SELECT %s, false, 0 FROM broadcasts WHERE id = ANY($1::uuid[]) AND id NOT IN (SELECT id FROM b)`,
	setStatus, publish.set, guard, columns, publish.event, creationTrace, OutboxChannel, columns, columns)

// publishMany publishes the broadcasts it can and returns what it did to each
// it could see, by id.
func (p *PublishBatcher) publishMany(ctx context.Context, ids []pgtype.UUID, traces []string) (map[uuid.UUID]publishOutcome, error) {
	rows, err := p.pool.Query(ctx, publishBatchSQL, append(append([]any{ids}, guardArgs(broadcast.OpPublish)...), traces)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[uuid.UUID]publishOutcome, len(ids))
	for rows.Next() {
		var (
			o      publishOutcome
			notify int64
		)
		b, err := scanBroadcast(rowWithExtra{row: rows, extra: []any{&o.applied, &notify}})
		if err != nil {
			return nil, err
		}
		o.b = b
		out[b.ID] = o
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
