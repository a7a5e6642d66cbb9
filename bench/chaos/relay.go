package chaos

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// relayAttempts bounds the relay kills tried for one that lands.
const relayAttempts = 5

// killRelay crashes the relay between Kafka's acknowledgement and marking
// the rows published: it waits for the first events of a batch to become
// readable in Kafka (which, with acks=all, is when Kafka acknowledges them)
// and kills the relay at once, before its transaction marking the batch
// commits. Whether it landed there shows in PostgreSQL: rows whose events
// Kafka holds are still pending, and the relay started again sends them a
// second time. The first attempt rides on the burst; when it did not land,
// the next ones on a user's read-all (a batch of read receipts).
func killRelay(ctx context.Context, r *run) error {
	for attempt := 1; attempt <= relayAttempts; attempt++ {
		grown := r.log.grown()
		trigger := "the burst's publications"
		if attempt > 1 {
			u := users[(attempt-2)%len(users)]
			trigger = u.ID + "'s read-all"
			if err := r.readAll(ctx, u); err != nil {
				return err
			}
		}
		select {
		case <-grown:
		case <-time.After(15 * time.Second):
			return fmt.Errorf("attempt %d: nothing reached Kafka within 15 s of %s", attempt, trigger)
		case <-ctx.Done():
			return ctx.Err()
		}
		relay := r.crier.currentRelay()
		pid := relay.PID()
		if err := relay.Kill(); err != nil {
			return err
		}
		r.event("attempt %d: SIGKILL to the relay (pid %d) as Kafka showed the first events of %s", attempt, pid, trigger)
		landed, err := r.unmarkedInKafka(ctx)
		if err != nil {
			return err
		}
		r.event("attempt %d: %d events in Kafka whose outbox rows were not marked published", attempt, landed)
		if err := r.crier.restartRelay(ctx); err != nil {
			return err
		}
		r.event("relay started again")
		if landed > 0 {
			return nil
		}
	}
	r.event("no kill landed between Kafka's acknowledgement and the mark in %d attempts", relayAttempts)
	return nil
}

// readAll marks every broadcast u holds read, as u: a batch of read
// receipts, one outbox row each.
func (r *run) readAll(ctx context.Context, u user) error {
	status, err := r.admin.call(ctx, r.tokens[u.ID], http.MethodPost, "/me/broadcasts/read-all", nil, nil)
	if err != nil {
		return fmt.Errorf("read-all as %s: %w", u.ID, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("read-all as %s: answered %d", u.ID, status)
	}
	return nil
}

// unmarkedInKafka counts the pending outbox rows whose event Kafka already
// holds: what the dead relay had sent and not marked.
func (r *run) unmarkedInKafka(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := r.log.catchUp(ctx); err != nil {
		return 0, err
	}
	inKafka := map[uuid.UUID]bool{}
	for _, rec := range r.log.snapshot() {
		inKafka[rec.EventID] = true
	}
	rows, err := r.pool.Query(ctx, `SELECT event_id FROM outbox WHERE published_at IS NULL AND failed_at IS NULL`)
	if err != nil {
		return 0, fmt.Errorf("read pending outbox rows: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return 0, fmt.Errorf("read pending outbox rows: %w", err)
		}
		if inKafka[id] {
			n++
		}
	}
	return n, rows.Err()
}
