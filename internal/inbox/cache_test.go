package inbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
)

// cacheBundle is a cache on a fresh database, with a clock the test moves.
type cacheBundle struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	cache *Cache

	mu    sync.Mutex
	clock time.Time
}

func newCacheBundle(t *testing.T) *cacheBundle {
	t.Helper()
	cb := &cacheBundle{ctx: context.Background(), pool: testenv.Pool(t), clock: time.Now()}
	cb.cache = NewCache(cb.pool, CacheConfig{Logger: testenv.Logger(t)})
	cb.cache.now = func() time.Time {
		cb.mu.Lock()
		defer cb.mu.Unlock()
		return cb.clock
	}
	return cb
}

// pass moves the cache's clock on by d.
func (cb *cacheBundle) pass(d time.Duration) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	cb.clock = cb.clock.Add(d)
}

// published stores a SENT broadcast for everyone and returns it as read back.
func (cb *cacheBundle) published(t *testing.T, title string) broadcast.Broadcast {
	t.Helper()
	id := uuid.New()
	b, err := store.Scan(cb.pool.QueryRow(cb.ctx, `INSERT INTO broadcasts (id, status, sender_id, sender_name, title,
			content, category, priority, target_type, target_ids, scheduled_at, expires_at, published_at, workflow_id)
		VALUES ($1, 'SENT', 'admin', 'Admin', $2, 'content', 'general', 'NORMAL', 'ALL', '{}', now(),
			now() + interval '1 hour', now(), $3)
		RETURNING `+store.Columns, id, title, broadcast.WorkflowID(id)))
	require.NoError(t, err)
	return b
}

// inbox is what the cache holds for any user, by title.
func (cb *cacheBundle) inbox(t *testing.T) []string {
	t.Helper()
	// A request must not wait on a reload: a bounded wait makes one that
	// does fail here rather than hang the test.
	ctx, cancel := context.WithTimeout(cb.ctx, 5*time.Second)
	defer cancel()
	bs, err := cb.cache.For(ctx, "anyone", nil)
	require.NoError(t, err)
	titles := []string{}
	for _, b := range bs {
		titles = append(titles, b.Title)
	}
	return titles
}

// holdLoads locks the broadcasts table until release is called, so that a
// load's SELECT waits; waitForLoad returns once one is waiting.
func (cb *cacheBundle) holdLoads(t *testing.T) (waitForLoad, release func()) {
	t.Helper()
	tx, err := cb.pool.Begin(cb.ctx)
	require.NoError(t, err)
	_, err = tx.Exec(cb.ctx, `LOCK TABLE broadcasts IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)
	var once sync.Once
	release = func() { once.Do(func() { require.NoError(t, tx.Rollback(cb.ctx)) }) }
	t.Cleanup(release)
	waitForLoad = func() {
		testenv.Eventually(t, 10*time.Second, func() error {
			var waiting bool
			err := cb.pool.QueryRow(cb.ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'
				AND query LIKE '%FROM broadcasts%WHERE status IN %')`).Scan(&waiting)
			if err == nil && !waiting {
				err = pgx.ErrNoRows
			}
			return err
		})
	}
	return waitForLoad, release
}

// TestStaleCacheAnswersWhileItReloads: once MaxAge has passed, requests are
// answered from the current copy at once, and a reload in the background
// brings in what no event said.
func TestStaleCacheAnswersWhileItReloads(t *testing.T) {
	t.Parallel()
	cb := newCacheBundle(t)
	cb.published(t, "first")
	require.Equal(t, []string{"first"}, cb.inbox(t), "the first request loads")

	cb.published(t, "missed") // as if its event never reached this node
	require.Equal(t, []string{"first"}, cb.inbox(t), "a fresh copy is not reloaded")

	waitForLoad, release := cb.holdLoads(t)
	cb.pass(cb.cache.maxAge + time.Second)
	require.Equal(t, []string{"first"}, cb.inbox(t), "a stale copy answers while the reload waits")
	waitForLoad()
	require.Equal(t, []string{"first"}, cb.inbox(t), "one reload at a time; the copy still answers")
	release()
	testenv.Eventually(t, 10*time.Second, func() error {
		if got := cb.inbox(t); len(got) != 2 {
			return fmt.Errorf("the inbox has %v", got)
		}
		return nil
	})
}

// TestReloadKeepsWhatEventsSaid: a reload racing events keeps the events'
// word: a broadcast an event removed stays removed though PostgreSQL still
// lists it, and one an event added during the load stays.
func TestReloadKeepsWhatEventsSaid(t *testing.T) {
	t.Parallel()
	cb := newCacheBundle(t)
	kept := cb.published(t, "kept")
	cancelled := cb.published(t, "cancelled")
	require.ElementsMatch(t, []string{"kept", "cancelled"}, cb.inbox(t))

	// The cancel's event arrives; PostgreSQL is not told here, as if the
	// reload read it before the change committed.
	cb.cache.Apply(broadcast.Event{EventID: uuid.New(), EventType: broadcast.EventCancelled, BroadcastID: cancelled.ID, Broadcast: cancelled})
	require.Equal(t, []string{"kept"}, cb.inbox(t))

	waitForLoad, release := cb.holdLoads(t)
	cb.pass(cb.cache.maxAge + time.Second)
	require.Equal(t, []string{"kept"}, cb.inbox(t)) // starts the reload
	waitForLoad()
	// Published while the reload reads: PostgreSQL's answer will not have it.
	now := cb.cache.now()
	expires := now.Add(time.Hour)
	late := broadcast.Broadcast{ID: uuid.New(), Status: broadcast.StatusSent, Title: "published during the load",
		Target: broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}}, PublishedAt: &now, ScheduledAt: &now,
		ExpiresAt: &expires}
	cb.cache.Apply(broadcast.Event{EventID: uuid.New(), EventType: broadcast.EventPublished, BroadcastID: late.ID, Broadcast: late})
	release()

	testenv.Eventually(t, 10*time.Second, func() error {
		cb.cache.mu.RLock()
		defer cb.cache.mu.RUnlock()
		if !cb.cache.loadedAt.Equal(cb.cache.now()) {
			return errors.New("the reload has not finished")
		}
		return nil
	})
	require.ElementsMatch(t, []string{"kept", "published during the load"}, cb.inbox(t))
	_, found, err := cb.cache.Get(cb.ctx, kept.ID)
	require.NoError(t, err)
	require.True(t, found)
	_, found, err = cb.cache.Get(cb.ctx, cancelled.ID)
	require.NoError(t, err)
	require.False(t, found, "an event removed it; the reload must not bring it back")
}
