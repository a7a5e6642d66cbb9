package audience

import (
	"context"
	"fmt"
	"strings"

	"github.com/crier/crier/internal/broadcast"
)

// CountAudience reports how many users target reaches now: every user of
// the directory for ALL; users holding at least one of the roles for ROLE
// (each user once, however many roles match; served by the GIN index on
// roles); the distinct ids for SELECTED, known to the directory or not.
func (a *Audience) CountAudience(ctx context.Context, target broadcast.Target) (int64, error) {
	return countAudience(ctx, a.pool, target)
}

func countAudience(ctx context.Context, q querier, target broadcast.Target) (int64, error) {
	var n int64
	switch target.Type {
	case broadcast.TargetAll:
		if err := q.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
			return 0, fmt.Errorf("count all users: %w", err)
		}
	case broadcast.TargetRole:
		roles := normalizeRoles(target.IDs)
		if len(roles) == 0 {
			return 0, nil
		}
		if err := q.QueryRow(ctx, `SELECT count(*) FROM users WHERE roles && $1::text[]`, roles).Scan(&n); err != nil {
			return 0, fmt.Errorf("count users with roles %v: %w", roles, err)
		}
	case broadcast.TargetSelected:
		n = int64(len(selectedIDs(target.IDs)))
	default:
		return 0, fmt.Errorf("count audience: unknown target type %q", target.Type)
	}
	return n, nil
}

// selectedIDs returns the distinct non-empty ids of a SELECTED target,
// trimmed as validation trims them, in their first order.
func selectedIDs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
