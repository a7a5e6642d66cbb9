package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/tracing"
)

// A local-time broadcast is published in waves (broadcast.PlanWaves): its
// first at scheduled_at plans them again from the directory as it stands
// then and sends the first; each later one is its own guarded change. Every
// wave records a BROADCAST_PUBLISHED whose snapshot says which wave it is
// (waves_sent), so consumers bring it to the recipients of that wave only.
var (
	// beginWavesSQL: $4 the waves, $5 the traceparent. As OpPublish (one
	// wave) it leads to SENT, as OpBeginWaves to IN_PROGRESS.
	beginWavesSQL = transition{
		set:      "published_at = now(), waves = $4, waves_sent = 1",
		where:    "local_time IS NOT NULL",
		event:    broadcast.EventPublished,
		traceArg: 5,
	}.sql()
	// sendWaveSQL: $4 the wave's number, from 2; $5 the traceparent. As
	// OpSendWave it stays IN_PROGRESS, as OpFinishWaves (the last) it leads
	// to SENT. Each wave is sent once, after the one before it.
	sendWaveSQL = transition{
		set:      "waves_sent = $4",
		where:    "waves_sent = $4 - 1 AND $4 <= jsonb_array_length(waves)",
		event:    broadcast.EventPublished,
		traceArg: 5,
	}.sql()
)

// audienceZonesSQL lists the distinct time zones of a target's recipients as
// the directory holds them, ” for recipients without one and, for a
// SELECTED target, for ids the directory does not hold.
var audienceZonesSQL = map[broadcast.TargetType]string{
	broadcast.TargetAll:      `SELECT DISTINCT time_zone FROM users`,
	broadcast.TargetRole:     `SELECT DISTINCT time_zone FROM users WHERE roles && $1::text[]`,
	broadcast.TargetSelected: `SELECT DISTINCT COALESCE(u.time_zone, '') FROM unnest($1::text[]) AS t(id) LEFT JOIN users u ON u.id = t.id`,
}

// AudienceZones lists the distinct time zones of target's recipients in the
// user directory, "" standing for recipients whose zone it does not know.
func (s *Store) AudienceZones(ctx context.Context, target broadcast.Target) ([]string, error) {
	return audienceZones(ctx, s.pool, target)
}

func audienceZones(ctx context.Context, q querier, target broadcast.Target) ([]string, error) {
	sql, ok := audienceZonesSQL[target.Type]
	if !ok {
		return nil, fmt.Errorf("audience zones: unknown target type %q", target.Type)
	}
	var args []any
	if target.Type != broadcast.TargetAll {
		args = append(args, target.IDs)
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("read the audience's time zones: %w", err)
	}
	zones, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read the audience's time zones: %w", err)
	}
	return zones, nil
}

// BeginWaves sends the first wave of a local-time broadcast still
// SCHEDULED: it plans the waves from its recipients' zones now (an instant
// passed joins this first wave; one at or after expires_at is left out) and
// records them, publishing it at once when one wave reaches everyone.
func (s *Store) BeginWaves(ctx context.Context, id uuid.UUID) (Result, error) {
	return s.afterCreator(ctx, broadcast.OpBeginWaves, id, func() (Result, error) {
		var res Result
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			b, err := getForUpdate(ctx, tx, id)
			if err != nil {
				return err
			}
			res.Broadcast = b
			if b.LocalTime == nil || !broadcast.Transitions.Allows(broadcast.OpBeginWaves, b.Status) {
				return nil
			}
			waves, err := planNow(ctx, tx, b)
			if err != nil {
				return err
			}
			op := broadcast.OpBeginWaves
			if len(waves) == 1 {
				op = broadcast.OpPublish
			}
			res, err = applyOnce(ctx, tx, op, beginWavesSQL, id, waves, tracing.TraceParent(ctx))
			return err
		})
		return res, err
	})
}

// planNow plans b's waves from its recipients' zones as they stand, on
// PostgreSQL's clock.
func planNow(ctx context.Context, tx pgx.Tx, b broadcast.Broadcast) ([]broadcast.Wave, error) {
	zones, err := audienceZones(ctx, tx, b.Target)
	if err != nil {
		return nil, err
	}
	var now time.Time
	if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return nil, fmt.Errorf("read PostgreSQL's clock: %w", err)
	}
	var notAfter time.Time
	if b.ExpiresAt != nil {
		notAfter = *b.ExpiresAt
	}
	waves, _ := broadcast.PlanWaves(*b.LocalTime, b.DefaultTimeZone, zones, now, notAfter)
	if len(waves) == 0 { // every instant after the expiry: reach the default zone's at once
		waves = []broadcast.Wave{{At: now.UTC().Truncate(broadcast.Precision), Zones: []string{b.DefaultTimeZone}}}
	}
	return waves, nil
}

// SendWave sends wave n (from 2) of a local-time broadcast IN_PROGRESS whose
// wave n-1 was the last sent: the last wave leaves it SENT.
func (s *Store) SendWave(ctx context.Context, id uuid.UUID, n int) (Result, error) {
	b, err := s.Get(ctx, id)
	if err != nil {
		return Result{}, err
	}
	op := broadcast.OpSendWave
	if n >= len(b.Waves) {
		op = broadcast.OpFinishWaves
	}
	res, err := applyOnce(ctx, s.pool, op, sendWaveSQL, id, n, tracing.TraceParent(ctx))
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("send wave %d of broadcast %s: %w", n, id, err)
	}
	return res, err
}
