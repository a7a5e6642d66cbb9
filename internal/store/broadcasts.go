package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/cursor"
	"github.com/crier/crier/internal/tracing"
)

// Insert stores b (whose ID is chosen by the caller) with the trace of ctx
// (its events continue it), runs beforeCommit and
// records the creation by by in the audit log, all in one transaction, so a
// failing beforeCommit or audit entry leaves nothing behind. The API starts the broadcast's workflow there: a broadcast row then
// never exists without its workflow. The workflow may start acting before the
// commit; its first change waits on the advisory lock taken here.
//
// When a broadcast with b.ID already exists (a retried request with the same
// Idempotency-Key), Insert returns it with created false, or
// ErrIdempotencyMismatch when requestHash differs from the stored one.
// beforeCommit also runs then, so a retry finishes what a failed attempt began;
// only the creation is recorded.
func (s *Store) Insert(ctx context.Context, by audit.Origin, b broadcast.Broadcast, requestHash []byte,
	beforeCommit func(context.Context, broadcast.Broadcast) error) (stored broadcast.Broadcast, created bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		stored, created, err = insert(ctx, tx, by, b, requestHash, beforeCommit)
		return err
	})
	return stored, created, err
}

// insert is Insert inside tx.
func insert(ctx context.Context, tx pgx.Tx, by audit.Origin, b broadcast.Broadcast, requestHash []byte,
	beforeCommit func(context.Context, broadcast.Broadcast) error) (stored broadcast.Broadcast, created bool, err error) {
	if err := lockBroadcast(ctx, tx, b.ID); err != nil {
		return stored, false, err
	}
	stored, err = scanBroadcast(tx.QueryRow(ctx, `
		INSERT INTO broadcasts (id, status, sender_id, sender_name, title, content, category, priority,
			target_type, target_ids, scheduled_at, expires_at, workflow_id, request_hash, trace_context,
			series_id, occurrence_at, delivery_window, local_time, default_time_zone, waves)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULLIF($15, ''), $16, $17, $18, $19, $20, $21)
		ON CONFLICT (id) DO NOTHING
		RETURNING `+columns,
		b.ID, b.Status, b.Sender.ID, b.Sender.Name, b.Title, b.Content, b.Category, b.Priority,
		b.Target.Type, b.Target.IDs, b.ScheduledAt, b.ExpiresAt, b.WorkflowID, requestHash, tracing.TraceParent(ctx),
		b.SeriesID, b.OccurrenceAt, b.DeliveryWindow, localWall(b.LocalTime), b.DefaultTimeZone, wavesArg(b.Waves)))
	created = err == nil
	if errors.Is(err, pgx.ErrNoRows) {
		var storedHash []byte
		stored, err = get(ctx, tx, b.ID)
		if err == nil {
			err = tx.QueryRow(ctx, `SELECT request_hash FROM broadcasts WHERE id = $1`, b.ID).Scan(&storedHash)
		}
		if err == nil && !bytes.Equal(storedHash, requestHash) {
			return stored, false, ErrIdempotencyMismatch
		}
	}
	if err != nil {
		return stored, false, fmt.Errorf("insert broadcast %s: %w", b.ID, err)
	}
	if beforeCommit != nil && stored.Status == broadcast.StatusScheduled {
		if err := beforeCommit(ctx, stored); err != nil {
			return stored, false, err
		}
	}
	if !created {
		return stored, false, nil
	}
	return stored, true, record(ctx, tx, by, audit.ActionBroadcastCreate, nil, stored)
}

// ListParams selects a page of broadcasts, newest first.
type ListParams struct {
	// Statuses keeps only broadcasts in one of these statuses; empty keeps all.
	Statuses []broadcast.Status
	// Cursor continues after the last broadcast of the previous page; empty
	// starts at the newest.
	Cursor string
	// Limit is the page size, 1 to 100. Default 20.
	Limit int
	// SenderID keeps only broadcasts of this sender; empty keeps all.
	SenderID string
}

// ErrBadCursor means a paging cursor was not one this store produced.
var ErrBadCursor = cursor.ErrBad

// List returns a page of broadcasts and the cursor of the next page, empty
// when this page is the last.
func (s *Store) List(ctx context.Context, p ListParams) ([]broadcast.Broadcast, string, error) {
	if p.Limit <= 0 {
		p.Limit = 20
	}
	p.Limit = min(p.Limit, 100)
	args := []any{p.Limit + 1}
	where := []string{"true"}
	if len(p.Statuses) > 0 {
		args = append(args, p.Statuses)
		where = append(where, fmt.Sprintf("status = ANY($%d)", len(args)))
	}
	if p.SenderID != "" {
		args = append(args, p.SenderID)
		where = append(where, fmt.Sprintf("sender_id = $%d", len(args)))
	}
	if p.Cursor != "" {
		at, id, err := cursor.Decode(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		args = append(args, at, id)
		where = append(where, fmt.Sprintf("(created_at, id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM broadcasts WHERE `+strings.Join(where, " AND ")+
		` ORDER BY created_at DESC, id DESC LIMIT $1`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list broadcasts: %w", err)
	}
	page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (broadcast.Broadcast, error) { return scanBroadcast(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list broadcasts: %w", err)
	}
	next := ""
	if len(page) > p.Limit {
		page = page[:p.Limit]
		last := page[len(page)-1]
		next = cursor.Encode(last.CreatedAt, last.ID)
	}
	return page, next, nil
}

// localWall is l as its timestamp (without time zone) column stores it.
func localWall(l *broadcast.LocalTime) *time.Time {
	if l == nil {
		return nil
	}
	w := l.Wall()
	return &w
}

// wavesArg is waves for their jsonb column: NULL for none.
func wavesArg(waves []broadcast.Wave) any {
	if len(waves) == 0 {
		return nil
	}
	return waves
}
