package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// settleGrace is how long the harness keeps looking once every check has
// passed, for late copies (a relay's resend, a client's replay) to count.
const settleGrace = 3 * time.Second

// settle waits until every check passes or the scenario's time is up, then
// takes the final observation.
func (r *run) settle(ctx context.Context) (settled bool, after time.Duration, v Verdict) {
	deadline := r.due.Add(r.sc.Settle)
	r.answers.Wait() // the plan is only known once every change has its answer
	next := time.Now()
	for {
		o, err := r.observe(ctx)
		if err == nil {
			v = judge(o)
			if v.OK() {
				after = time.Since(r.due)
				r.event("every check passes")
				_ = pause(ctx, settleGrace)
				if o, err := r.observe(ctx); err == nil {
					v = judge(o)
				}
				return v.OK(), after, v
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.event("not settled %s after the due time: %s", r.sc.Settle, v.progress())
			return false, 0, v
		}
		if time.Now().After(next) {
			if err != nil {
				r.say("waiting (cannot observe: %v)", err)
			} else {
				r.say("waiting: %s", v.progress())
			}
			next = time.Now().Add(10 * time.Second)
		}
		if pause(ctx, time.Second) != nil {
			return false, 0, v
		}
	}
}

// progress is a one-line account of what is still missing.
func (v Verdict) progress() string {
	return fmt.Sprintf("%d/%d published, %d lost, %d statuses wrong, %d outbox rows left, clients: %d missed, %d extra, %d retractions missed",
		v.Published, v.Planned, v.Lost, v.StatusWrong, v.OutboxLeft, v.Missed, v.Extra, v.RetractMissed)
}

// observe reads Kafka, PostgreSQL and the clients.
func (r *run) observe(ctx context.Context) (observation, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.log.catchUp(ctx); err != nil {
		return observation{}, err
	}
	o := observation{Plan: r.plan, Records: r.log.snapshot(), Rows: map[uuid.UUID]row{}}
	rows, err := r.pool.Query(ctx, `SELECT id, status, published_at IS NOT NULL FROM broadcasts`)
	if err != nil {
		return o, fmt.Errorf("read broadcasts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id uuid.UUID
			rw row
		)
		if err := rows.Scan(&id, &rw.Status, &rw.Published); err != nil {
			return o, fmt.Errorf("read broadcasts: %w", err)
		}
		o.Rows[id] = rw
	}
	if err := rows.Err(); err != nil {
		return o, fmt.Errorf("read broadcasts: %w", err)
	}
	if err := r.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE published_at IS NULL AND failed_at IS NULL),
		count(*) FILTER (WHERE failed_at IS NOT NULL) FROM outbox`).Scan(&o.OutboxPending, &o.OutboxFailed); err != nil {
		return o, fmt.Errorf("count outbox rows: %w", err)
	}
	if r.outage != nil {
		if o.Outage, err = r.outage.observe(ctx, r); err != nil {
			return o, err
		}
	}
	for _, c := range r.clients {
		o.Clients = append(o.Clients, c.view())
	}
	return o, nil
}

// outage is what was tried while Temporal was away: creations that must be
// answered 503 and leave nothing behind.
type outage struct {
	titles  []string
	answers []int
}

// outageView is what became of those creations.
type outageView struct {
	Tried, Unavailable, Stored int
	Answers                    []int
}

func (u *outage) observe(ctx context.Context, r *run) (*outageView, error) {
	v := &outageView{Tried: len(u.titles), Answers: u.answers}
	for _, a := range u.answers {
		if a == 503 {
			v.Unavailable++
		}
	}
	if err := r.pool.QueryRow(ctx, `SELECT count(*) FROM broadcasts WHERE title = ANY($1)`, u.titles).Scan(&v.Stored); err != nil {
		return nil, fmt.Errorf("look for the outage's creations: %w", err)
	}
	return v, nil
}
