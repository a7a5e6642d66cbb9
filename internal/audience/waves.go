package audience

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/broadcast"
)

// WaveStats is how far one wave of a local-time broadcast got: the
// recipients its zones hold in the user directory now, and those of them
// who received and read it.
type WaveStats struct {
	At        time.Time `json:"at"`
	Zones     []string  `json:"zones"`
	Sent      bool      `json:"sent"`
	Targeted  int64     `json:"targeted"`
	Delivered int64     `json:"delivered"`
	Read      int64     `json:"read"`
}

// waveZonesSQL counts a target's recipients by their zone in the directory
// (” for none, or not in it), with $1 the target's ids (ROLE, SELECTED).
var waveZonesSQL = map[broadcast.TargetType]string{
	broadcast.TargetAll:      `SELECT time_zone, count(*) FROM users GROUP BY 1`,
	broadcast.TargetRole:     `SELECT time_zone, count(*) FROM users WHERE roles && $1::text[] GROUP BY 1`,
	broadcast.TargetSelected: `SELECT COALESCE(u.time_zone, ''), count(*) FROM unnest($1::text[]) AS t(id) LEFT JOIN users u ON u.id = t.id GROUP BY 1`,
}

// waveDeliveriesSQL counts a broadcast's ($1) deliveries and reads by the
// zone of their users.
const waveDeliveriesSQL = `SELECT COALESCE(u.time_zone, ''),
	count(*) FILTER (WHERE d.delivered_at IS NOT NULL OR d.read_at IS NOT NULL), count(*) FILTER (WHERE d.read_at IS NOT NULL)
FROM deliveries d LEFT JOIN users u ON u.id = d.user_id WHERE d.broadcast_id = $1 GROUP BY 1`

// waveStats counts each wave of b; nil for a broadcast without waves. A
// recipient counts in the wave whose instant is theirs (their zone's, or
// the default's): one whose zone has no wave (moved since) counts in none.
func waveStats(ctx context.Context, q querier, id uuid.UUID) ([]WaveStats, error) {
	var b broadcast.Broadcast
	var local *time.Time
	err := q.QueryRow(ctx, `SELECT target_type, target_ids, local_time, default_time_zone, COALESCE(waves, '[]'), waves_sent
		FROM broadcasts WHERE id = $1`, id).Scan(&b.Target.Type, &b.Target.IDs, &local, &b.DefaultTimeZone, &b.Waves, &b.WavesSent)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (local == nil || len(b.Waves) == 0)) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the waves of broadcast %s: %w", id, err)
	}
	l := broadcast.LocalTimeOf(*local)
	b.LocalTime = &l
	waves := make([]WaveStats, len(b.Waves))
	for i, w := range b.Waves {
		waves[i] = WaveStats{At: w.At, Zones: w.Zones, Sent: i < b.WavesSent}
	}
	// waveOf is the wave reaching a recipient in zone: the last whose
	// instant is at or before theirs (the first for an earlier one).
	waveOf := func(zone string) int {
		at, i := b.ShownFrom(zone), 0
		for j, w := range b.Waves {
			if !w.At.After(at) {
				i = j
			}
		}
		return i
	}
	var args []any
	if b.Target.Type != broadcast.TargetAll {
		args = append(args, b.Target.IDs)
	}
	if err := sumByZone(ctx, q, waveZonesSQL[b.Target.Type], args, func(zone string, n []int64) {
		waves[waveOf(zone)].Targeted += n[0]
	}); err != nil {
		return nil, err
	}
	if err := sumByZone(ctx, q, waveDeliveriesSQL, []any{id}, func(zone string, n []int64) {
		waves[waveOf(zone)].Delivered += n[0]
		waves[waveOf(zone)].Read += n[1]
	}); err != nil {
		return nil, err
	}
	return waves, nil
}

// sumByZone runs a query of a zone and counts per row, handing each row's
// to add.
func sumByZone(ctx context.Context, q querier, sql string, args []any, add func(zone string, n []int64)) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("count by time zone: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var zone string
		n := make([]int64, len(rows.FieldDescriptions())-1)
		dest := []any{&zone}
		for i := range n {
			dest = append(dest, &n[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("count by time zone: %w", err)
		}
		add(zone, n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count by time zone: %w", err)
	}
	return nil
}
