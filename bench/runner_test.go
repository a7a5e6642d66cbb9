package bench

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

type fakeReader map[uuid.UUID]time.Time

func (f fakeReader) ReadAt() map[uuid.UUID]time.Time { return f }

// Each broadcast counts once at the client, against its own due time; one
// the client never read is missing, and one it read that the run did not
// create is ignored.
func TestToClientCountsEachBroadcastOnce(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	a, b, never, foreign := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	dueOf := map[uuid.UUID]time.Time{a: due, b: due, never: due}
	read := fakeReader{a: due.Add(100 * time.Millisecond), b: due.Add(300 * time.Millisecond), foreign: due.Add(time.Hour)}

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no waiting for the one that never comes
	s, missing := toClient(ctx, read, dueOf)

	require.Equal(t, 1, missing)
	require.Equal(t, 2, s.Count)
	require.Equal(t, 100*time.Millisecond, s.P50)
	require.Equal(t, 300*time.Millisecond, s.Max)
}

func TestRunsAtRespectsMaxBurst(t *testing.T) {
	t.Parallel()
	require.True(t, runsAt(&Poller{}, 10000), "a system without a limit runs every size")
	limited := &Crier{cfg: CrierConfig{MaxBurst: 1000}}
	require.True(t, runsAt(limited, 1000))
	require.False(t, runsAt(limited, 10000))
	require.True(t, runsAt(&Crier{}, 10000), "zero: no limit")
}
