package presence

import (
	"context"
	"fmt"
	"time"
)

// removeBatch bounds the rows one statement of RemoveStale deletes, so a
// large clean-up (a node with thousands of connections died) holds its locks
// briefly and never outlives its activity's timeout in one statement.
const removeBatch = 5000

// RemoveStale deletes the connections last refreshed more than olderThan ago
// and returns how many, in batches until none is left. olderThan must be
// positive: zero would remove every connection, live ones too.
func (s *Store) RemoveStale(ctx context.Context, olderThan time.Duration) (int64, error) {
	if olderThan <= 0 {
		return 0, fmt.Errorf("remove stale connections: age %s must be positive", olderThan)
	}
	var removed int64
	for {
		tag, err := s.pool.Exec(ctx, sqlRemoveStale, micros(olderThan), removeBatch)
		if err != nil {
			return removed, fmt.Errorf("remove connections older than %s (%d removed so far): %w", olderThan, removed, err)
		}
		removed += tag.RowsAffected()
		if tag.RowsAffected() < removeBatch {
			return removed, nil
		}
	}
}
