package inbox

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
)

// TestActiveSetAnswersAsTargets checks the index against the rule it
// replaces: a user's inbox is every live broadcast whose Target.Targets
// says so, newest first, whatever puts, replacements and removals came
// before.
func TestActiveSetAnswersAsTargets(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	pick := func(prefix string, n int) string { return fmt.Sprintf("%s%d", prefix, rng.IntN(n)) }
	random := func(id uuid.UUID) broadcast.Broadcast {
		b := broadcast.Broadcast{ID: id, Target: broadcast.Target{Type: broadcast.TargetTypes[rng.IntN(3)]}}
		for range rng.IntN(4) {
			prefix := map[broadcast.TargetType]string{broadcast.TargetRole: "role", broadcast.TargetSelected: "user"}[b.Target.Type]
			if prefix != "" {
				b.Target.IDs = append(b.Target.IDs, pick(prefix, 6)) // repeats on purpose
			}
		}
		// Few distinct times, so that ties are common; some drafts-like
		// broadcasts without publication, some expired, some never.
		if rng.IntN(10) > 0 {
			at := now.Add(-time.Duration(rng.IntN(5)) * time.Minute)
			b.PublishedAt = &at
		}
		switch rng.IntN(4) {
		case 0:
		case 1:
			at := now.Add(-time.Second)
			b.ExpiresAt = &at
		case 2:
			at := now // expired exactly now: not live
			b.ExpiresAt = &at
		default:
			at := now.Add(time.Hour)
			b.ExpiresAt = &at
		}
		return b
	}
	set := newActiveSet(0)
	ids := make([]uuid.UUID, 40)
	for i := range ids {
		ids[i] = uuid.New()
	}
	for step := range 2000 {
		id := ids[rng.IntN(len(ids))]
		if rng.IntN(4) == 0 {
			set.remove(id)
		} else {
			set.put(random(id))
		}
		userID := pick("user", 6)
		var roles []string
		for range rng.IntN(4) {
			roles = append(roles, pick("role", 6))
		}
		var want []*broadcast.Broadcast
		for _, b := range set.byID {
			if b.Target.Targets(userID, roles) && live(b, now) {
				want = append(want, b)
			}
		}
		slices.SortFunc(want, newestFirst)
		require.Equal(t, want, set.inbox(userID, roles, now), "step %d: %s with roles %v", step, userID, roles)
	}
	for _, id := range ids {
		set.remove(id)
	}
	require.Empty(t, set.everyone)
	require.Empty(t, set.byRole)
	require.Empty(t, set.byUser)
}
