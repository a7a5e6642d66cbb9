package stream

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Recorder marks deliveries DELIVERED once a broadcast was written to a
// user's stream. Many tabs of one user make one row (the row is per user),
// and writes are batched so a broadcast to thousands of online users costs a
// few statements, not thousands.
type Recorder struct {
	pool    *pgxpool.Pool
	pending chan delivery
	log     *slog.Logger
}

type delivery struct {
	broadcastID uuid.UUID
	userID      string
}

// NewRecorder returns a Recorder; Run writes what it records.
func NewRecorder(pool *pgxpool.Pool, logger *slog.Logger) *Recorder {
	return &Recorder{pool: pool, pending: make(chan delivery, 65536), log: logger.With("component", "delivery-recorder")}
}

// Delivered records that the broadcast reached one of the user's streams.
// It never blocks a stream: when the buffer is full the record is dropped
// (the user reading it, or the next delivery, records it later).
func (r *Recorder) Delivered(broadcastID uuid.UUID, userID string) {
	select {
	case r.pending <- delivery{broadcastID, userID}:
	default:
		r.log.Warn("Delivery buffer full; a delivery record was dropped", "broadcast_id", broadcastID)
	}
}

// Run writes records every 100 ms, or sooner when 1,000 are waiting, until
// ctx ends; then it writes what is left.
func (r *Recorder) Run(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	batch := map[delivery]struct{}{}
	for {
		select {
		case d := <-r.pending:
			batch[d] = struct{}{}
			if len(batch) < 1000 {
				continue
			}
		case <-tick.C:
		case <-ctx.Done():
			r.drain(batch)
			r.flush(context.WithoutCancel(ctx), batch)
			return
		}
		r.flush(ctx, batch)
		clear(batch)
	}
}

func (r *Recorder) drain(batch map[delivery]struct{}) {
	for {
		select {
		case d := <-r.pending:
			batch[d] = struct{}{}
		default:
			return
		}
	}
}

func (r *Recorder) flush(ctx context.Context, batch map[delivery]struct{}) {
	if len(batch) == 0 {
		return
	}
	ids := make([]uuid.UUID, 0, len(batch))
	users := make([]string, 0, len(batch))
	for d := range batch {
		ids = append(ids, d.broadcastID)
		users = append(users, d.userID)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := r.pool.Exec(ctx, `
		INSERT INTO deliveries (broadcast_id, user_id, status, delivered_at)
		SELECT t.b, t.u, 'DELIVERED', now() FROM unnest($1::uuid[], $2::text[]) AS t(b, u)
		WHERE EXISTS (SELECT 1 FROM broadcasts WHERE id = t.b)
		ON CONFLICT (broadcast_id, user_id) DO UPDATE
			SET status = 'DELIVERED', delivered_at = now()
			WHERE deliveries.status = 'PENDING' AND deliveries.delivered_at IS NULL`, ids, users)
	if err != nil {
		r.log.Error("Recording deliveries failed", "deliveries", len(batch), "error", err)
	}
}
