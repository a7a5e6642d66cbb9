package inbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
)

// Cache holds the node's copy of every active broadcast: published, not
// cancelled, not expired; indexed by audience, so that one user's inbox
// costs their broadcasts only. Apply keeps it current from consumed events; a
// broadcast removed by a cancel or expiry event is never served again, even
// by a reload that read PostgreSQL before the change committed.
type Cache struct {
	pool   *pgxpool.Pool
	maxAge time.Duration
	logger *slog.Logger
	now    func() time.Time

	mu     sync.RWMutex
	active *activeSet
	// removed and added record the generation (count of applied events) at
	// which an event removed or added a broadcast, so a load racing events
	// keeps the events' word. Tombstones live for an hour.
	removed  map[uuid.UUID]tombstone
	added    map[uuid.UUID]uint64
	gen      uint64
	loadedAt time.Time
	// retryAt is when a background reload may run again after one failed.
	retryAt time.Time
	loading sync.Mutex
}

// CacheConfig configures a Cache.
type CacheConfig struct {
	// MaxAge bounds how long a load is trusted before a full reload, which
	// heals anything an event could not (a node that missed events while
	// down). Default 5 minutes. The reload runs in the background: requests
	// meanwhile are answered from the current copy, which events keep
	// current, rather than waiting for every active broadcast to be read.
	MaxAge time.Duration
	// Logger reports background reloads that failed. Default slog.Default().
	Logger *slog.Logger
}

// NewCache returns an empty cache that loads from pool on first use.
func NewCache(pool *pgxpool.Pool, cfg CacheConfig) *Cache {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Cache{pool: pool, maxAge: cfg.MaxAge, logger: cfg.Logger, now: time.Now, active: newActiveSet(0),
		removed: map[uuid.UUID]tombstone{}, added: map[uuid.UUID]uint64{}}
}

type tombstone struct {
	gen uint64
	at  time.Time
}

// For returns the active broadcasts targeted at the user with the given id
// and roles (as Target.Targets decides), newest first. It costs the user's
// broadcasts, not a pass over every active one. The broadcasts are the
// cache's own, shared with every caller: read them, never change them.
func (c *Cache) For(ctx context.Context, userID string, roles []string) ([]*broadcast.Broadcast, error) {
	if err := c.ensure(ctx); err != nil {
		return nil, err
	}
	now := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.active.inbox(userID, roles, now), nil
}

// Get returns an active broadcast by id.
func (c *Cache) Get(ctx context.Context, id uuid.UUID) (broadcast.Broadcast, bool, error) {
	if err := c.ensure(ctx); err != nil {
		return broadcast.Broadcast{}, false, err
	}
	now := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.active.get(id)
	if !ok || !live(b, now) {
		return broadcast.Broadcast{}, false, nil
	}
	return *b, true, nil
}

// live reports whether b has not expired at now.
func live(b *broadcast.Broadcast, now time.Time) bool {
	return b.ExpiresAt == nil || b.ExpiresAt.After(now)
}

// reloadTimeout bounds a background reload; reloadRetry spaces the
// attempts after one failed.
const (
	reloadTimeout = time.Minute
	reloadRetry   = 10 * time.Second
)

// ensure loads the cache when it was never loaded, and starts a background
// reload when it is older than MaxAge.
func (c *Cache) ensure(ctx context.Context) error {
	now := c.now()
	c.mu.RLock()
	loaded := !c.loadedAt.IsZero()
	fresh := loaded && (now.Sub(c.loadedAt) < c.maxAge || now.Before(c.retryAt))
	c.mu.RUnlock()
	switch {
	case fresh:
		return nil
	case !loaded:
		c.loading.Lock() // one load at a time; others wait and reuse it
		defer c.loading.Unlock()
		c.mu.RLock()
		loaded = !c.loadedAt.IsZero()
		c.mu.RUnlock()
		if loaded {
			return nil
		}
		return c.load(ctx)
	}
	if c.loading.TryLock() { // else a load is under way already
		go func() {
			defer c.loading.Unlock()
			// The reload serves every later request: the one that started
			// it must not cancel it by ending, but its trace still shows it.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reloadTimeout)
			defer cancel()
			if err := c.load(ctx); err != nil {
				c.mu.Lock()
				c.retryAt = c.now().Add(reloadRetry)
				c.mu.Unlock()
				c.logger.Warn("Reloading the active broadcasts failed; serving the current copy meanwhile",
					"retry_in", reloadRetry, "error", err)
			}
		}()
	}
	return nil
}

// load reads every active broadcast from PostgreSQL and replaces the copy,
// keeping what events said meanwhile. The caller holds c.loading.
func (c *Cache) load(ctx context.Context) error {
	c.mu.RLock()
	startGen := c.gen
	c.mu.RUnlock()
	rows, err := c.pool.Query(ctx, `SELECT `+store.Columns+` FROM broadcasts
		WHERE status IN ('IN_PROGRESS', 'SENT') AND expires_at > now()`)
	if err != nil {
		return fmt.Errorf("load active broadcasts: %w", err)
	}
	loaded, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (broadcast.Broadcast, error) { return store.Scan(r) })
	if err != nil {
		return fmt.Errorf("load active broadcasts: %w", err)
	}
	// Indexing is the costly part: done before taking the lock, so readers
	// go on meanwhile.
	active := newActiveSet(len(loaded))
	for _, b := range loaded {
		active.put(b)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.removed {
		active.remove(id) // an event removed it; PostgreSQL may not have said so yet
	}
	// Events applied during the load are newer than what it read.
	for id, gen := range c.added {
		if b, ok := c.active.get(id); ok && gen >= startGen {
			if _, loaded := active.get(id); !loaded {
				active.put(*b)
			}
		}
	}
	c.active = active
	c.loadedAt = c.now()
	c.added = map[uuid.UUID]uint64{}
	for id, t := range c.removed {
		if c.now().Sub(t.at) > time.Hour {
			delete(c.removed, id)
		}
	}
	return nil
}

// Apply updates the cache from a consumed lifecycle event.
func (c *Cache) Apply(ev broadcast.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	switch ev.EventType {
	case broadcast.EventPublished:
		if _, gone := c.removed[ev.BroadcastID]; !gone {
			c.active.put(ev.Broadcast)
			c.added[ev.BroadcastID] = c.gen
		}
	case broadcast.EventCancelled, broadcast.EventExpired:
		c.active.remove(ev.BroadcastID)
		c.removed[ev.BroadcastID] = tombstone{gen: c.gen, at: c.now()}
	case broadcast.EventRescheduled:
		if b, ok := c.active.get(ev.BroadcastID); ok {
			changed := *b
			changed.ExpiresAt = ev.Broadcast.ExpiresAt
			c.active.put(changed)
		}
	case broadcast.EventRead:
		// A read receipt changes no broadcast, so nothing the cache holds.
	}
}
