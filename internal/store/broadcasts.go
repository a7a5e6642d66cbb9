package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/cursor"
	"github.com/crier/crier/internal/like"
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

// ListParams selects a page of broadcasts, newest first. Its filters
// combine with AND; an empty one keeps every broadcast.
type ListParams struct {
	// Statuses keeps only broadcasts in one of these statuses; empty keeps all.
	Statuses []broadcast.Status
	// Categories keeps only broadcasts of one of these categories (exact
	// match); empty keeps all.
	Categories []string
	// Priorities keeps only broadcasts of one of these priorities; empty
	// keeps all.
	Priorities []broadcast.Priority
	// SeriesID, when set, keeps only the occurrences of this series.
	SeriesID *uuid.UUID
	// Text, when not empty, keeps only broadcasts whose title or content
	// holds it, in any case; its %, _ and \ are matched as themselves.
	Text string
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
// when this page is the last. Every filter is a parameter of one statement,
// so the cursor pages through the filtered broadcasts.
func (s *Store) List(ctx context.Context, p ListParams) ([]broadcast.Broadcast, string, error) {
	if p.Limit <= 0 {
		p.Limit = 20
	}
	p.Limit = min(p.Limit, 100)
	where, args, err := p.where()
	if err != nil {
		return nil, "", err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM broadcasts WHERE `+where+
		` ORDER BY created_at DESC, id DESC LIMIT $1`, append([]any{p.Limit + 1}, args...)...)
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

// where is List's WHERE clause for p and its arguments, numbered from $2
// ($1 is the limit); ErrBadCursor for a cursor not made by List.
func (p ListParams) where() (string, []any, error) {
	var args []any
	where := []string{"true"}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args)+1)
	}
	if len(p.Statuses) > 0 {
		where = append(where, "status = ANY("+arg(p.Statuses)+")")
	}
	if len(p.Categories) > 0 {
		where = append(where, "category = ANY("+arg(p.Categories)+")")
	}
	if len(p.Priorities) > 0 {
		where = append(where, "priority = ANY("+arg(p.Priorities)+")")
	}
	if p.SenderID != "" {
		where = append(where, "sender_id = "+arg(p.SenderID))
	}
	if p.SeriesID != nil {
		where = append(where, "series_id = "+arg(*p.SeriesID))
	}
	if p.Text != "" {
		pattern := arg(like.Contains(p.Text))
		where = append(where, fmt.Sprintf(`(title ILIKE %s ESCAPE '\' OR content ILIKE %s ESCAPE '\')`, pattern, pattern))
	}
	if p.Cursor != "" {
		at, id, err := cursor.Decode(p.Cursor)
		if err != nil {
			return "", nil, err
		}
		where = append(where, fmt.Sprintf("(created_at, id) < (%s, %s)", arg(at), arg(id)))
	}
	return strings.Join(where, " AND "), args, nil
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
