package inbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/cursor"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/tracing"
)

// ErrNotFound means the broadcast is not active or not targeted at the user:
// to them it does not exist.
var ErrNotFound = errors.New("no such broadcast in your inbox")

// ErrBadCursor means a paging cursor was not one this inbox produced.
var ErrBadCursor = cursor.ErrBad

// User is the reader: their id and roles, from their token, and their time
// zone: the token's OIDC zoneinfo, which the user directory's time_zone
// overrides (ZoneOf), for broadcasts sent at each recipient's local time.
type User struct {
	ID       string
	Roles    []string
	TimeZone string
}

// Item is one broadcast in a user's inbox.
type Item struct {
	ID          uuid.UUID          `json:"id"`
	Title       string             `json:"title"`
	Content     string             `json:"content"`
	Category    string             `json:"category"`
	Priority    broadcast.Priority `json:"priority"`
	Sender      broadcast.Sender   `json:"sender"`
	PublishedAt *time.Time         `json:"published_at"`
	ExpiresAt   *time.Time         `json:"expires_at"`
	Read        bool               `json:"read"`
	ReadAt      *time.Time         `json:"read_at"`
}

// Inbox answers users' inbox requests.
type Inbox struct {
	pool  *pgxpool.Pool
	cache *Cache
}

// New returns an Inbox reading content from cache and read state from pool.
func New(pool *pgxpool.Pool, cache *Cache) *Inbox {
	return &Inbox{pool: pool, cache: cache}
}

// ListParams selects a page of a user's inbox.
type ListParams struct {
	UnreadOnly bool
	// Cursor continues after the previous page; empty starts at the newest.
	Cursor string
	// Limit is the page size, 1 to 100. Default 20.
	Limit int
}

// List returns a page of the user's inbox, newest first, and the next page's
// cursor (empty on the last page).
func (in *Inbox) List(ctx context.Context, u User, p ListParams) ([]Item, string, error) {
	if p.Limit <= 0 {
		p.Limit = 20
	}
	p.Limit = min(p.Limit, 100)
	bs, err := in.broadcasts(ctx, u)
	if err != nil {
		return nil, "", err
	}
	if p.Cursor != "" {
		at, id, err := cursor.Decode(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		i := sort.Search(len(bs), func(i int) bool { return after(bs[i], at, id) })
		bs = bs[i:]
	}
	var items []Item
	if p.UnreadOnly {
		items = itemsOf(bs)
		if err := in.withReadState(ctx, u.ID, items); err != nil {
			return nil, "", err
		}
		items = slices.DeleteFunc(items, func(it Item) bool { return it.Read })
	} else {
		// One more than a page tells whether there is a next page; only the
		// page's read state is looked up, not the whole inbox's.
		items = itemsOf(bs[:min(len(bs), p.Limit+1)])
		if err := in.withReadState(ctx, u.ID, items[:min(len(items), p.Limit)]); err != nil {
			return nil, "", err
		}
	}
	next := ""
	if len(items) > p.Limit {
		items = items[:p.Limit]
		last := items[len(items)-1]
		next = cursor.Encode(*last.PublishedAt, last.ID)
	}
	return items, next, nil
}

// Unread returns every unread broadcast of the user, oldest first: what a
// stream sends a client connecting for the first time.
func (in *Inbox) Unread(ctx context.Context, u User) ([]Item, error) {
	bs, err := in.broadcasts(ctx, u)
	if err != nil {
		return nil, err
	}
	items := itemsOf(bs)
	if err := in.withReadState(ctx, u.ID, items); err != nil {
		return nil, err
	}
	var unread []Item
	for i := len(items) - 1; i >= 0; i-- {
		if !items[i].Read {
			unread = append(unread, items[i])
		}
	}
	return unread, nil
}

// broadcasts are the active broadcasts that have reached u, newest first. A
// local-time broadcast reaches them at its local time in their zone, which
// is then its publication to them: its place in their inbox and the
// published_at they see.
func (in *Inbox) broadcasts(ctx context.Context, u User) ([]*broadcast.Broadcast, error) {
	bs, err := in.cache.For(ctx, u.ID, u.Roles)
	if err != nil || !slices.ContainsFunc(bs, func(b *broadcast.Broadcast) bool { return b.LocalTime != nil }) {
		return bs, err
	}
	zone, err := in.ZoneOf(ctx, u)
	if err != nil {
		return nil, err
	}
	now := in.cache.now()
	shown := make([]*broadcast.Broadcast, 0, len(bs))
	for _, b := range bs {
		switch {
		case b.LocalTime == nil:
			shown = append(shown, b)
		case b.Shown(zone, now):
			mine := *b // the cache's own is shared: a copy with their time
			at := b.ShownFrom(zone)
			mine.PublishedAt = &at
			shown = append(shown, &mine)
		}
	}
	slices.SortStableFunc(shown, newestFirst)
	return shown, nil
}

// ZoneOf is u's time zone: the user directory's time_zone for them, set by
// an admin or learned from a token, else their token's (u.TimeZone); "" when
// neither is known (a local-time broadcast then uses its default).
func (in *Inbox) ZoneOf(ctx context.Context, u User) (string, error) {
	var zone string
	err := in.pool.QueryRow(ctx, `SELECT time_zone FROM users WHERE id = $1`, u.ID).Scan(&zone)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("read the time zone of user %q: %w", u.ID, err)
	}
	if zone != "" {
		return zone, nil
	}
	return u.TimeZone, nil
}

func itemsOf(bs []*broadcast.Broadcast) []Item {
	if len(bs) == 0 {
		return nil
	}
	items := make([]Item, len(bs))
	for i, b := range bs {
		items[i] = itemOf(*b)
	}
	return items
}

// withReadState sets the read state of items from the user's deliveries.
func (in *Inbox) withReadState(ctx context.Context, userID string, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	reads, err := in.readTimes(ctx, userID, ids)
	if err != nil {
		return err
	}
	for i := range items {
		if at, ok := reads[items[i].ID]; ok {
			items[i].Read, items[i].ReadAt = true, &at
		}
	}
	return nil
}

func (in *Inbox) readTimes(ctx context.Context, userID string, ids []uuid.UUID) (map[uuid.UUID]time.Time, error) {
	rows, err := in.pool.Query(ctx, `SELECT broadcast_id, read_at FROM deliveries
		WHERE user_id = $1 AND broadcast_id = ANY($2) AND read_at IS NOT NULL`, userID, pgUUIDs(ids))
	if err != nil {
		return nil, fmt.Errorf("read inbox state: %w", err)
	}
	defer rows.Close()
	reads := map[uuid.UUID]time.Time{}
	for rows.Next() {
		var (
			id pgtype.UUID
			at time.Time
		)
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("read inbox state: %w", err)
		}
		reads[id.Bytes] = at.UTC()
	}
	return reads, rows.Err()
}

// pgUUIDs converts ids for pgx. A uuid.UUID reaches pgx as a driver.Valuer,
// formatted as text and parsed back: some 2 µs an id, most of an inbox
// read's encoding; pgtype.UUID is copied as its 16 bytes.
func pgUUIDs(ids []uuid.UUID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		out[i] = pgtype.UUID{Bytes: id, Valid: true}
	}
	return out
}

// markReadSQL marks broadcasts ($1) read by a user ($2), creating their
// delivery rows when missing (fan-out on read), and records one
// BROADCAST_READ event per broadcast that was not read yet, in one statement.
// The event names the broadcast and the reader only: no snapshot.
const markReadSQL = `
WITH d AS (
	INSERT INTO deliveries (broadcast_id, user_id, status, delivered_at, read_at)
	SELECT id, $2, 'DELIVERED', now(), now() FROM unnest($1::uuid[]) AS id
	ON CONFLICT (broadcast_id, user_id) DO UPDATE
		SET read_at = now(),
		    delivered_at = COALESCE(deliveries.delivered_at, now()),
		    status = CASE WHEN deliveries.status = 'PENDING' THEN 'DELIVERED' ELSE deliveries.status END
		WHERE deliveries.read_at IS NULL
	RETURNING broadcast_id
), o AS (
	INSERT INTO outbox (event_type, broadcast_id, occurred_at, user_id, trace_context)
	SELECT 'BROADCAST_READ', broadcast_id, now(), $2, NULLIF($3::text, '') FROM d
	RETURNING 1
)
SELECT count(*), (SELECT count(pg_notify('` + store.OutboxChannel + `', '')) FROM o) FROM d`

// MarkRead marks one broadcast read for the user; marking it again changes
// nothing. A broadcast not active or not targeted at them is ErrNotFound.
func (in *Inbox) MarkRead(ctx context.Context, u User, id uuid.UUID) (Item, error) {
	b, ok, err := in.cache.Get(ctx, id)
	if err != nil {
		return Item{}, err
	}
	if !ok || !b.Target.Targets(u.ID, u.Roles) {
		return Item{}, ErrNotFound
	}
	if b.LocalTime != nil {
		zone, err := in.ZoneOf(ctx, u)
		if err != nil {
			return Item{}, err
		}
		if !b.Shown(zone, in.cache.now()) {
			return Item{}, ErrNotFound // not in their inbox yet
		}
		at := b.ShownFrom(zone)
		b.PublishedAt = &at
	}
	if _, err := in.markRead(ctx, u.ID, []uuid.UUID{id}); err != nil {
		return Item{}, err
	}
	item := itemOf(b)
	reads, err := in.readTimes(ctx, u.ID, []uuid.UUID{id})
	if err != nil {
		return Item{}, err
	}
	if at, ok := reads[id]; ok {
		item.Read, item.ReadAt = true, &at
	}
	return item, nil
}

// MarkAllRead marks every unread broadcast in the user's inbox read and
// reports how many it marked.
func (in *Inbox) MarkAllRead(ctx context.Context, u User) (int, error) {
	unread, err := in.Unread(ctx, u)
	if err != nil || len(unread) == 0 {
		return 0, err
	}
	ids := make([]uuid.UUID, len(unread))
	for i, it := range unread {
		ids[i] = it.ID
	}
	return in.markRead(ctx, u.ID, ids)
}

func (in *Inbox) markRead(ctx context.Context, userID string, ids []uuid.UUID) (int, error) {
	var marked, notified int64
	if err := in.pool.QueryRow(ctx, markReadSQL, pgUUIDs(ids), userID, tracing.TraceParent(ctx)).Scan(&marked, &notified); err != nil {
		return 0, fmt.Errorf("mark read: %w", err)
	}
	return int(marked), nil
}

func itemOf(b broadcast.Broadcast) Item {
	return Item{ID: b.ID, Title: b.Title, Content: b.Content, Category: b.Category, Priority: b.Priority,
		Sender: b.Sender, PublishedAt: b.PublishedAt, ExpiresAt: b.ExpiresAt}
}

func publishedAt(b *broadcast.Broadcast) time.Time {
	if b.PublishedAt == nil {
		return time.Time{}
	}
	return *b.PublishedAt
}

// newestFirst orders broadcasts by publication, newest first, then by id,
// so that the order is total and a cursor names one place in it.
func newestFirst(a, b *broadcast.Broadcast) int {
	if c := publishedAt(b).Compare(publishedAt(a)); c != 0 {
		return c
	}
	// Descending by id. The bytes order as the ids' text does (lower-case
	// hex at fixed places), without formatting two strings per comparison.
	return bytes.Compare(b.ID[:], a.ID[:])
}

// after reports whether b comes after the cursor position in newest-first
// order.
func after(b *broadcast.Broadcast, at time.Time, id uuid.UUID) bool {
	return newestFirst(&broadcast.Broadcast{PublishedAt: &at, ID: id}, b) < 0
}
