package bench

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
)

func event(t *testing.T, typ broadcast.EventType, id uuid.UUID) []byte {
	t.Helper()
	return eventAt(t, typ, id, time.Time{})
}

func eventAt(t *testing.T, typ broadcast.EventType, id uuid.UUID, occurredAt time.Time) []byte {
	t.Helper()
	raw, err := json.Marshal(broadcast.Event{EventID: uuid.New(), EventType: typ, BroadcastID: id, OccurredAt: occurredAt})
	require.NoError(t, err)
	return raw
}

func TestTallyCountsEachBroadcastOnce(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	tally := NewTally(map[uuid.UUID]time.Time{a: due, b: due, c: due})

	require.True(t, tally.Record(event(t, broadcast.EventPublished, a), due.Add(10*time.Millisecond)))
	require.False(t, tally.Record(event(t, broadcast.EventPublished, a), due.Add(30*time.Millisecond)), "a redelivery is no new publication")
	require.False(t, tally.Record(event(t, broadcast.EventPublished, uuid.New()), due), "another scenario's broadcast")
	require.False(t, tally.Record(event(t, broadcast.EventExpired, b), due), "not a publication")
	require.False(t, tally.Record([]byte("not json"), due))
	require.True(t, tally.Record(event(t, broadcast.EventPublished, b), due.Add(20*time.Millisecond)))

	require.Equal(t, 2, tally.Published())
	require.Equal(t, 3, tally.Expected())
	require.Equal(t, 1, tally.Missing())
	require.Equal(t, []uuid.UUID{c}, tally.MissingIDs(5))
	require.False(t, tally.Done())
	require.Equal(t, 1, tally.Duplicates)
	require.Equal(t, 1, tally.Foreign)
	require.Equal(t, 2, tally.Other)
	require.ElementsMatch(t, ms(10, 20), tally.Lateness(), "one lateness per broadcast, the duplicate's ignored")

	require.True(t, tally.Record(event(t, broadcast.EventPublished, c), due.Add(-time.Millisecond)))
	require.True(t, tally.Done())
	require.ElementsMatch(t, ms(10, 20, -1), tally.Lateness(), "early is negative, not clamped")
}

func TestTallyKeepsTheEarliestAppend(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	a := uuid.New()
	tally := NewTally(map[uuid.UUID]time.Time{a: due})
	tally.Record(event(t, broadcast.EventPublished, a), due.Add(50*time.Millisecond))
	tally.Record(event(t, broadcast.EventPublished, a), due.Add(40*time.Millisecond))
	require.Equal(t, ms(40), tally.Lateness())
	require.Equal(t, 1, tally.Duplicates)
}

func TestTallyToCommit(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	a := uuid.New()
	tally := NewTally(map[uuid.UUID]time.Time{a: due})
	tally.Record(eventAt(t, broadcast.EventPublished, a, due.Add(7*time.Millisecond)), due.Add(9*time.Millisecond))
	tally.Record(eventAt(t, broadcast.EventPublished, a, due.Add(8*time.Millisecond)), due.Add(12*time.Millisecond))
	require.Equal(t, ms(7), tally.ToCommit(), "the counted event's, not the duplicate's")
	require.Equal(t, ms(9), tally.Lateness())
}

func TestTallyOfNothingIsDone(t *testing.T) {
	t.Parallel()
	tally := NewTally(map[uuid.UUID]time.Time{})
	require.True(t, tally.Done())
	require.Empty(t, tally.Lateness())
}
