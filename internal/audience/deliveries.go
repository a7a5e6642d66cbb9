package audience

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/cursor"
)

// Delivery is one user's state for a broadcast.
type Delivery struct {
	UserID      string     `json:"user_id"`
	Status      string     `json:"status"`
	DeliveredAt *time.Time `json:"delivered_at"`
	ReadAt      *time.Time `json:"read_at"`
}

// Page sizes of Deliveries.
const (
	DefaultDeliveriesLimit = 50
	MaxDeliveriesLimit     = 500
)

// Deliveries returns a page of a broadcast's per-user delivery rows ordered
// by user id, and the cursor of the next page (empty on the last).
// pageCursor is empty for the first page; limit is 1 to MaxDeliveriesLimit,
// 0 meaning DefaultDeliveriesLimit. An unknown broadcast is ErrNotFound, a
// cursor not made here ErrBadCursor.
func (a *Audience) Deliveries(ctx context.Context, broadcastID uuid.UUID, pageCursor string, limit int) ([]Delivery, string, error) {
	if limit == 0 {
		limit = DefaultDeliveriesLimit
	}
	if limit < 1 || limit > MaxDeliveriesLimit {
		return nil, "", fmt.Errorf("deliveries page size must be 1 to %d, got %d", MaxDeliveriesLimit, limit)
	}
	after, err := afterKey(pageCursor)
	if err != nil {
		return nil, "", err
	}
	var exists bool
	if err := a.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM broadcasts WHERE id = $1)`, broadcastID).Scan(&exists); err != nil {
		return nil, "", fmt.Errorf("read broadcast %s: %w", broadcastID, err)
	}
	if !exists {
		return nil, "", fmt.Errorf("broadcast %s: %w", broadcastID, ErrNotFound)
	}
	rows, err := a.pool.Query(ctx, `
		SELECT user_id, status, delivered_at, read_at FROM deliveries
		WHERE broadcast_id = $1 AND user_id > $2
		ORDER BY user_id LIMIT $3`, broadcastID, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries of broadcast %s: %w", broadcastID, err)
	}
	page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		err := r.Scan(&d.UserID, &d.Status, &d.DeliveredAt, &d.ReadAt)
		d.DeliveredAt, d.ReadAt = utc(d.DeliveredAt), utc(d.ReadAt)
		return d, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries of broadcast %s: %w", broadcastID, err)
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		next = cursor.EncodeKey(page[len(page)-1].UserID)
	}
	return page, next, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// afterKey is the user id a page continues after: "" for the first page
// (c empty), else the one cursor c names; ErrBadCursor for a cursor not
// made here.
func afterKey(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	return cursor.DecodeKey(c)
}
