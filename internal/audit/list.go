package audit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Page sizes of List.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// ErrBadCursor means a paging cursor was not one List produced.
var ErrBadCursor = errors.New("cursor is not valid: pass the next_cursor of a previous page unchanged")

// Filter selects a page of entries, newest first. Empty fields select all.
type Filter struct {
	TargetType TargetType
	TargetID   string
	// ActorID keeps the entries of one actor (a token subject).
	ActorID string
	Action  Action
	// Cursor continues after the last entry of the previous page; empty
	// starts at the newest.
	Cursor string
	// Limit is the page size, 1 to MaxLimit (larger is cut to MaxLimit).
	// Default DefaultLimit.
	Limit int
}

// List returns a page of entries, newest first, and the cursor of the next
// page, empty when this page is the last.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, string, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultLimit
	}
	f.Limit = min(f.Limit, MaxLimit)
	args := []any{f.Limit + 1}
	where := []string{"true"}
	add := func(column string, value any) {
		args = append(args, value)
		where = append(where, fmt.Sprintf("%s = $%d", column, len(args)))
	}
	if f.TargetType != "" {
		add("target_type", f.TargetType)
	}
	if f.TargetID != "" {
		add("target_id", f.TargetID)
	}
	if f.ActorID != "" {
		add("actor_id", f.ActorID)
	}
	if f.Action != "" {
		add("action", f.Action)
	}
	if f.Cursor != "" {
		after, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		args = append(args, after)
		where = append(where, fmt.Sprintf("id < $%d", len(args)))
	}
	rows, err := l.pool.Query(ctx, `SELECT `+entryColumns+` FROM audit_log WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT $1`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit entries: %w", err)
	}
	page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) { return scanEntry(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list audit entries: %w", err)
	}
	next := ""
	if len(page) > f.Limit {
		page = page[:f.Limit]
		next = encodeCursor(page[len(page)-1].ID)
	}
	return page, next, nil
}

// A cursor is the id of the last entry of a page, encoded so that clients
// treat it as opaque.
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("audit:" + strconv.FormatInt(id, 10)))
}

func decodeCursor(cursor string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, ErrBadCursor
	}
	text, ok := strings.CutPrefix(string(raw), "audit:")
	if !ok {
		return 0, ErrBadCursor
	}
	id, err := strconv.ParseInt(text, 10, 64)
	if err != nil || id <= 0 {
		return 0, ErrBadCursor
	}
	return id, nil
}
