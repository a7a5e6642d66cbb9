package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/cursor"
	"github.com/crier/crier/internal/series"
)

// ErrSeriesNotFound means no series has the given id.
var ErrSeriesNotFound = errors.New("series not found")

// seriesColumns is the series row as scanSeries reads it.
const seriesColumns = `id, status, sender_id, sender_name, title, content, category, priority, target_type, target_ids,
	recurrence, expires_after, schedule_id, occurrences, last_occurrence_at, skipped, last_skipped_at,
	created_at, updated_at, cancelled_at, ended_at, delivery_window`

func scanSeries(row pgx.Row) (series.Series, error) {
	var (
		s          series.Series
		recurrence []byte
		expires    pgtype.Interval
	)
	err := row.Scan(&s.ID, &s.Status, &s.Sender.ID, &s.Sender.Name, &s.Title, &s.Content, &s.Category, &s.Priority,
		&s.Target.Type, &s.Target.IDs, &recurrence, &expires, &s.ScheduleID, &s.Occurrences, &s.LastOccurrenceAt,
		&s.Skipped, &s.LastSkippedAt, &s.CreatedAt, &s.UpdatedAt, &s.CancelledAt, &s.EndedAt, &s.DeliveryWindow)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(recurrence, &s.Recurrence); err != nil {
		return s, fmt.Errorf("decode the recurrence of series %s: %w", s.ID, err)
	}
	s.ExpiresAfter = series.Duration(time.Duration(expires.Microseconds)*time.Microsecond +
		time.Duration(expires.Days)*24*time.Hour + time.Duration(expires.Months)*30*24*time.Hour)
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	for _, t := range []**time.Time{&s.LastOccurrenceAt, &s.LastSkippedAt, &s.CancelledAt, &s.EndedAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	if s.Target.IDs == nil {
		s.Target.IDs = []string{}
	}
	return s, nil
}

// CreateSeries stores s (whose ID the caller chose), runs beforeCommit (the
// API creates the series' Temporal Schedule there) and records the creation
// in the audit log, in one transaction: a series row never exists without
// its schedule. A series with s.ID already stored (a retried request with
// the same Idempotency-Key) is returned with created false, after
// beforeCommit ran again to finish what a failed attempt began, or
// ErrIdempotencyMismatch when requestHash differs.
func (s *Store) CreateSeries(ctx context.Context, by audit.Origin, sr series.Series, requestHash []byte,
	beforeCommit func(context.Context, series.Series) error) (stored series.Series, created bool, err error) {
	recurrence, err := json.Marshal(sr.Recurrence)
	if err != nil {
		return stored, false, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		stored, err = scanSeries(tx.QueryRow(ctx, `
			INSERT INTO series (id, status, sender_id, sender_name, title, content, category, priority, target_type,
				target_ids, recurrence, expires_after, schedule_id, request_hash, delivery_window)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT (id) DO NOTHING
			RETURNING `+seriesColumns,
			sr.ID, sr.Status, sr.Sender.ID, sr.Sender.Name, sr.Title, sr.Content, sr.Category, sr.Priority, sr.Target.Type,
			sr.Target.IDs, recurrence, time.Duration(sr.ExpiresAfter), sr.ScheduleID, requestHash, sr.DeliveryWindow))
		created = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			var storedHash []byte
			if err = tx.QueryRow(ctx, `SELECT request_hash FROM series WHERE id = $1`, sr.ID).Scan(&storedHash); err == nil {
				if !bytes.Equal(storedHash, requestHash) {
					return ErrIdempotencyMismatch
				}
				stored, err = getSeries(ctx, tx, sr.ID, false)
			}
		}
		if err != nil {
			return fmt.Errorf("insert series %s: %w", sr.ID, err)
		}
		if stored.Status.Terminal() {
			return nil
		}
		if err := beforeCommit(ctx, stored); err != nil {
			return err
		}
		if !created {
			return nil
		}
		return recordSeries(ctx, tx, by, audit.ActionSeriesCreate, nil, stored, nil)
	})
	return stored, created, err
}

// GetSeries returns the series with the given id, or ErrSeriesNotFound.
func (s *Store) GetSeries(ctx context.Context, id uuid.UUID) (series.Series, error) {
	return getSeries(ctx, s.pool, id, false)
}

func getSeries(ctx context.Context, q querier, id uuid.UUID, forUpdate bool) (series.Series, error) {
	sql := `SELECT ` + seriesColumns + ` FROM series WHERE id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	sr, err := scanSeries(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return sr, ErrSeriesNotFound
	}
	if err != nil {
		return sr, fmt.Errorf("get series %s: %w", id, err)
	}
	return sr, nil
}

// SeriesListParams selects a page of series, newest first.
type SeriesListParams struct {
	// Statuses keeps only series in one of these statuses; empty keeps all.
	Statuses []series.Status
	// Cursor continues after the previous page; empty starts at the newest.
	Cursor string
	// Limit is the page size, 1 to 100. Default 20.
	Limit int
	// SenderID keeps only this sender's series; empty keeps all.
	SenderID string
}

// ListSeries returns a page of series and the cursor of the next page,
// empty when this page is the last.
func (s *Store) ListSeries(ctx context.Context, p SeriesListParams) ([]series.Series, string, error) {
	statuses := make([]string, len(p.Statuses))
	for i, st := range p.Statuses {
		statuses[i] = string(st)
	}
	return page(ctx, s.pool, pageQuery[series.Series]{
		from: `SELECT ` + seriesColumns + ` FROM series WHERE (cardinality($2::text[]) = 0 OR status = ANY($2))
			AND ($3 = '' OR sender_id = $3)`,
		order: "created_at", args: []any{statuses, p.SenderID}, cursor: p.Cursor, limit: p.Limit,
		scan: scanSeries, key: func(sr series.Series) (time.Time, uuid.UUID) { return sr.CreatedAt, sr.ID },
	})
}

// Occurrences returns a page of the series' occurrences, newest first.
func (s *Store) Occurrences(ctx context.Context, id uuid.UUID, cur string, limit int) ([]broadcast.Broadcast, string, error) {
	return page(ctx, s.pool, pageQuery[broadcast.Broadcast]{
		from:  `SELECT ` + columns + ` FROM broadcasts WHERE series_id = $2`,
		order: "occurrence_at", args: []any{id}, cursor: cur, limit: limit,
		scan: scanBroadcast, key: func(b broadcast.Broadcast) (time.Time, uuid.UUID) { return *b.OccurrenceAt, b.ID },
	})
}

// ActiveOccurrences lists the series' occurrences not yet ended (scheduled
// or published and not expired), oldest first.
func (s *Store) ActiveOccurrences(ctx context.Context, id uuid.UUID) ([]broadcast.Broadcast, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM broadcasts WHERE series_id = $1 AND NOT status = ANY($2)
		ORDER BY occurrence_at`, id, terminalStatuses())
	if err != nil {
		return nil, fmt.Errorf("list the active occurrences of series %s: %w", id, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (broadcast.Broadcast, error) { return scanBroadcast(r) })
}

// terminalStatuses are the broadcast statuses nothing follows.
func terminalStatuses() []string {
	var out []string
	for _, st := range broadcast.Statuses {
		if st.Terminal() {
			out = append(out, string(st))
		}
	}
	return out
}

// pageQuery is a keyset-paged query, newest first by (order, id): from
// selects the rows with $1 the limit and args from $2.
type pageQuery[T any] struct {
	from, order string
	args        []any
	cursor      string
	limit       int
	scan        func(pgx.Row) (T, error)
	key         func(T) (time.Time, uuid.UUID)
}

func page[T any](ctx context.Context, q querier, p pageQuery[T]) ([]T, string, error) {
	if p.limit <= 0 {
		p.limit = 20
	}
	p.limit = min(p.limit, 100)
	args := append([]any{p.limit + 1}, p.args...)
	sql := p.from
	if p.cursor != "" {
		at, id, err := cursor.Decode(p.cursor)
		if err != nil {
			return nil, "", err
		}
		args = append(args, at, id)
		sql += fmt.Sprintf(" AND (%s, id) < ($%d, $%d)", p.order, len(args)-1, len(args))
	}
	rows, err := q.Query(ctx, sql+fmt.Sprintf(" ORDER BY %s DESC, id DESC LIMIT $1", p.order), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return p.scan(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list: %w", err)
	}
	next := ""
	if len(items) > p.limit {
		items = items[:p.limit]
		at, id := p.key(items[len(items)-1])
		next = cursor.Encode(at, id)
	}
	return items, next, nil
}

// SeriesChange is a guarded change of a series.
type SeriesChange struct {
	Op     series.Operation
	Action audit.Action
	// Template, when set, replaces the series' template and recurrence
	// (a PATCH).
	Template *series.Series
	// Detail is recorded with the audit entry; nil for none.
	Detail any
	// BeforeCommit runs after the change, before it commits (the API
	// changes the series' Temporal Schedule there): its failure rolls the
	// change back. Nil for none.
	BeforeCommit func(context.Context, series.Series) error
}

// SeriesResult is the outcome of a change of a series.
type SeriesResult struct {
	// Series is the series after the change, or as it stands when the
	// change was not applied.
	Series series.Series
	// Applied is false when the series' status did not allow the change.
	Applied bool
}

// ChangeSeries applies c to the series id in one transaction: the guarded
// update (only from the statuses series.Transitions allows c.Op from), then
// c.BeforeCommit, then the audit entry.
func (s *Store) ChangeSeries(ctx context.Context, by audit.Origin, id uuid.UUID, c SeriesChange) (SeriesResult, error) {
	var res SeriesResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := getSeries(ctx, tx, id, true)
		if err != nil {
			return err
		}
		res.Series = before
		if !series.Allows(c.Op, before.Status) {
			return nil
		}
		after, err := changeSeries(ctx, tx, id, c)
		if err != nil {
			return err
		}
		res = SeriesResult{Series: after, Applied: true}
		if c.BeforeCommit != nil {
			if err := c.BeforeCommit(ctx, after); err != nil {
				return err
			}
		}
		return recordSeries(ctx, tx, by, c.Action, &before, after, c.Detail)
	})
	return res, err
}

func changeSeries(ctx context.Context, tx pgx.Tx, id uuid.UUID, c SeriesChange) (series.Series, error) {
	to := series.Transitions[c.Op].To
	args := []any{id, series.From(c.Op), string(to)}
	set := ""
	switch to {
	case series.StatusCancelled:
		set = ", cancelled_at = now()"
	case series.StatusEnded:
		set = ", ended_at = now()"
	case series.StatusActive, series.StatusPaused, "": // no time of its own
	}
	if t := c.Template; t != nil {
		recurrence, err := json.Marshal(t.Recurrence)
		if err != nil {
			return series.Series{}, err
		}
		args = append(args, t.Title, t.Content, t.Category, t.Priority, t.Target.Type, t.Target.IDs, recurrence,
			time.Duration(t.ExpiresAfter), t.DeliveryWindow)
		set += ", title = $4, content = $5, category = $6, priority = $7, target_type = $8, target_ids = $9, " +
			"recurrence = $10, expires_after = $11, delivery_window = $12"
	}
	sr, err := scanSeries(tx.QueryRow(ctx, `UPDATE series SET status = COALESCE(NULLIF($3::text, ''), status), updated_at = now()`+
		set+` WHERE id = $1 AND status = ANY($2::text[]) RETURNING `+seriesColumns, args...))
	if err != nil {
		return sr, fmt.Errorf("%s series %s: %w", c.Op, id, err)
	}
	return sr, nil
}

// recordSeries writes the audit entry of by's action on a series.
func recordSeries(ctx context.Context, tx pgx.Tx, by audit.Origin, action audit.Action, before *series.Series, after series.Series, detail any) error {
	var b any
	if before != nil {
		b = before
	}
	e, err := audit.NewEntry(by, action, audit.TargetSeries, after.ID.String(), b, after, detail)
	if err != nil {
		return err
	}
	return audit.Record(ctx, tx, e)
}
