package inbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/cursor"
	"github.com/crier/crier/internal/testenv"
)

type testBundle struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	inbox *Inbox
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := testenv.Pool(t)
	return &testBundle{ctx: context.Background(), pool: pool, inbox: New(pool, NewCache(pool, CacheConfig{}))}
}

// seed stores 60 broadcasts of every target type and status, published
// within a few seconds of each other (ties included), and marks some read
// by some users.
func (tb *testBundle) seed(t *testing.T, rng *rand.Rand) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	statuses := []string{"SENT", "SENT", "SENT", "FAILED", "CANCELLED", "EXPIRED", "SCHEDULED"}
	for i := range 60 {
		id := uuid.New()
		kind := broadcast.TargetTypes[rng.IntN(3)]
		ids := []string{}
		for range 1 + rng.IntN(3) {
			switch kind {
			case broadcast.TargetRole:
				ids = append(ids, fmt.Sprintf("role%d", rng.IntN(3)))
			case broadcast.TargetSelected:
				ids = append(ids, fmt.Sprintf("user%d", rng.IntN(4)))
			case broadcast.TargetAll:
				// Everyone: no ids.
			}
		}
		published := now.Add(-time.Duration(rng.IntN(5)) * time.Second)
		expires := now.Add(time.Hour)
		if rng.IntN(8) == 0 {
			expires = now.Add(-time.Second)
		}
		_, err := tb.pool.Exec(tb.ctx, `INSERT INTO broadcasts (id, status, sender_id, sender_name, title, content, category,
			priority, target_type, target_ids, scheduled_at, expires_at, published_at, workflow_id)
			VALUES ($1, $2, 'admin', 'Admin', $3, 'content', 'general', 'NORMAL', $4, $5, $6, $7, $6, $8)`,
			id, statuses[rng.IntN(len(statuses))], fmt.Sprintf("broadcast %d", i), kind, append([]string{}, slices.Compact(slices.Sorted(slices.Values(ids)))...),
			published, expires, broadcast.WorkflowID(id))
		require.NoError(t, err)
		for u := range 4 {
			if rng.IntN(3) == 0 {
				_, err := tb.pool.Exec(tb.ctx, `INSERT INTO deliveries (broadcast_id, user_id, status, delivered_at, read_at)
					VALUES ($1, $2, 'DELIVERED', $3, $3)`, id, fmt.Sprintf("user%d", u), now.Add(-time.Duration(u)*time.Millisecond))
				require.NoError(t, err)
			}
		}
	}
}

// want is the inbox as List computed it before the cache was indexed: every
// active broadcast tested with Targets, read state for all, sorted, then
// the cursor, the unread filter and the page.
func (tb *testBundle) want(t *testing.T, u User, p ListParams) ([]Item, string) {
	t.Helper()
	active := allActive(t, tb.inbox.cache)
	var items []Item
	var ids []uuid.UUID
	for _, b := range active {
		if b.Target.Targets(u.ID, u.Roles) {
			items = append(items, itemOf(b))
			ids = append(ids, b.ID)
		}
	}
	reads, err := tb.inbox.readTimes(tb.ctx, u.ID, ids)
	require.NoError(t, err)
	for i := range items {
		if at, ok := reads[items[i].ID]; ok {
			items[i].Read, items[i].ReadAt = true, &at
		}
	}
	newer := func(a, b Item) bool {
		if !a.PublishedAt.Equal(*b.PublishedAt) {
			return a.PublishedAt.After(*b.PublishedAt)
		}
		return a.ID.String() > b.ID.String()
	}
	sort.Slice(items, func(i, j int) bool { return newer(items[i], items[j]) })
	if p.Cursor != "" {
		at, id, err := cursor.Decode(p.Cursor)
		require.NoError(t, err)
		i := sort.Search(len(items), func(i int) bool { return newer(Item{PublishedAt: &at, ID: id}, items[i]) })
		items = items[i:]
	}
	if p.UnreadOnly {
		items = slices.DeleteFunc(items, func(it Item) bool { return it.Read })
	}
	if len(items) > p.Limit {
		last := items[p.Limit-1]
		return items[:p.Limit], cursor.Encode(*last.PublishedAt, last.ID)
	}
	return items, ""
}

// allActive is every live broadcast in the cache, found without its
// audience index: what the index must agree with.
func allActive(t *testing.T, c *Cache) []broadcast.Broadcast {
	t.Helper()
	require.NoError(t, c.ensure(context.Background()))
	now := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []broadcast.Broadcast
	for _, b := range c.active.byID {
		if live(b, now) {
			out = append(out, *b)
		}
	}
	return out
}

// TestListAsBefore pages through the inboxes of users with various roles,
// with and without the unread filter, and compares every page with what
// List answered before it was indexed.
func TestListAsBefore(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	rng := rand.New(rand.NewPCG(3, 4))
	tb.seed(t, rng)
	users := []User{{ID: "user0"}, {ID: "user1", Roles: []string{"role0"}}, {ID: "user2", Roles: []string{"role1", "role2"}},
		{ID: "user3", Roles: []string{"role2", "role0", "role2"}}, {ID: "stranger"}}
	for _, u := range users {
		for _, unread := range []bool{false, true} {
			for _, limit := range []int{1, 3, 20} {
				p := ListParams{UnreadOnly: unread, Limit: limit}
				for page := 0; ; page++ {
					got, next, err := tb.inbox.List(tb.ctx, u, p)
					require.NoError(t, err)
					want, wantNext := tb.want(t, u, p)
					require.Equal(t, want, got, "%s, unread %t, limit %d, page %d", u.ID, unread, limit, page)
					require.Equal(t, wantNext, next)
					if next == "" {
						break
					}
					p.Cursor = next
				}
			}
		}
		got, err := tb.inbox.Unread(tb.ctx, u)
		require.NoError(t, err)
		all, _ := tb.want(t, u, ListParams{UnreadOnly: true, Limit: 1000})
		slices.Reverse(all)
		require.Equal(t, all, got, "%s: Unread is the unread items, oldest first", u.ID)
	}
	_, _, err := tb.inbox.List(tb.ctx, users[0], ListParams{Cursor: "not a cursor"})
	require.ErrorIs(t, err, ErrBadCursor)
}

// Issue 10: marking read records a BROADCAST_READ naming the broadcast and
// the reader, without a snapshot of the broadcast (which made every read of
// a large broadcast as large as it).
func TestMarkReadRecordsAReadWithoutSnapshot(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	id := uuid.New()
	now := time.Now().UTC()
	_, err := tb.pool.Exec(tb.ctx, `INSERT INTO broadcasts (id, status, sender_id, sender_name, title, content, category,
		priority, target_type, target_ids, scheduled_at, expires_at, published_at, workflow_id)
		VALUES ($1, 'SENT', 'admin', 'Admin', 'title', 'content', 'general', 'NORMAL', 'ALL', '{}', $2, $3, $2, $4)`,
		id, now, now.Add(time.Hour), broadcast.WorkflowID(id))
	require.NoError(t, err)

	_, err = tb.inbox.MarkRead(tb.ctx, User{ID: "alice"}, id)
	require.NoError(t, err)
	var (
		user        string
		hasSnapshot bool
	)
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `
		SELECT user_id, snapshot IS NOT NULL FROM outbox WHERE event_type = 'BROADCAST_READ' AND broadcast_id = $1`, id).
		Scan(&user, &hasSnapshot))
	require.Equal(t, "alice", user)
	require.False(t, hasSnapshot)
}
