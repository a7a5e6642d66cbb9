package audience

import (
	"container/list"
	"sync"
)

// lruCache maps user ids to the hash of what Learn last stored (or found
// authoritative) for them, evicting the least recently used id beyond its
// size. It is safe for concurrent use.
type lruCache struct {
	mu    sync.Mutex
	size  int
	order *list.List // front = most recently used; values are *lruEntry
	byKey map[string]*list.Element
}

type lruEntry struct {
	key  string
	hash uint64
}

func newLRUCache(size int) *lruCache {
	return &lruCache{size: size, order: list.New(), byKey: make(map[string]*list.Element)}
}

// get returns the hash remembered for key.
func (c *lruCache) get(key string) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return 0, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).hash, true
}

// put remembers hash for key.
func (c *lruCache) put(key string, hash uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		el.Value.(*lruEntry).hash = hash
		c.order.MoveToFront(el)
		return
	}
	c.byKey[key] = c.order.PushFront(&lruEntry{key: key, hash: hash})
	if c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.byKey, oldest.Value.(*lruEntry).key)
	}
}
