package audience

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Stats is how far a broadcast got.
type Stats struct {
	BroadcastID uuid.UUID `json:"broadcast_id"`
	// Targeted is the audience size, fixed when the publication was
	// consumed; 0 with Counted false until then.
	Targeted int64 `json:"targeted"`
	// Counted reports whether Targeted has been fixed yet.
	Counted bool `json:"counted"`
	// CountedAt is when Targeted was fixed; nil until then.
	CountedAt *time.Time `json:"counted_at"`
	// Delivered counts users who received the broadcast (those who read it
	// included). A user counts once however many tabs or devices they used.
	Delivered int64 `json:"delivered"`
	// Read counts users who read it.
	Read int64 `json:"read"`
	// DeliveryRate and ReadRate are Delivered and Read as fractions of
	// Targeted, from 0 to 1, rounded to 4 decimals; 0 when Targeted is 0.
	DeliveryRate float64 `json:"delivery_rate"`
	ReadRate     float64 `json:"read_rate"`
	// Waves count each wave of a broadcast sent at each recipient's local
	// time; absent for any other.
	Waves []WaveStats `json:"waves,omitempty"`
}

// statsSQL reads a broadcast's targeted count and its delivery counts in one
// round trip; no row means no such broadcast. A read delivery counts as
// delivered even if its delivered_at was never set.
const statsSQL = `
SELECT s.targeted, s.computed_at,
	(SELECT count(*) FROM deliveries d WHERE d.broadcast_id = b.id AND (d.delivered_at IS NOT NULL OR d.read_at IS NOT NULL)),
	(SELECT count(*) FROM deliveries d WHERE d.broadcast_id = b.id AND d.read_at IS NOT NULL)
FROM broadcasts b LEFT JOIN broadcast_stats s ON s.broadcast_id = b.id
WHERE b.id = $1`

// Stats returns the statistics of a broadcast, or ErrNotFound.
func (a *Audience) Stats(ctx context.Context, broadcastID uuid.UUID) (Stats, error) {
	st := Stats{BroadcastID: broadcastID}
	var targeted *int64
	err := a.pool.QueryRow(ctx, statsSQL, broadcastID).Scan(&targeted, &st.CountedAt, &st.Delivered, &st.Read)
	if errors.Is(err, pgx.ErrNoRows) {
		return Stats{}, fmt.Errorf("broadcast %s: %w", broadcastID, ErrNotFound)
	}
	if err != nil {
		return Stats{}, fmt.Errorf("read statistics of broadcast %s: %w", broadcastID, err)
	}
	if targeted != nil {
		st.Targeted, st.Counted = *targeted, true
		at := st.CountedAt.UTC()
		st.CountedAt = &at
	}
	st.DeliveryRate, st.ReadRate = rate(st.Delivered, st.Targeted), rate(st.Read, st.Targeted)
	if st.Waves, err = waveStats(ctx, a.pool, broadcastID); err != nil {
		return Stats{}, err
	}
	return st, nil
}

// rate is n/of rounded to 4 decimals, capped at 1: an ALL or ROLE broadcast
// can reach users who joined after its audience was counted.
func rate(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return math.Min(1, math.Round(float64(n)/float64(of)*10_000)/10_000)
}
