package bench

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// relayBacklog is two broadcasts of two events each, and their ids in
// queue order.
func relayBacklog() (want map[uuid.UUID]seededEvent, a, b [2]uuid.UUID) {
	ba, bb := uuid.New(), uuid.New()
	a, b = [2]uuid.UUID{uuid.New(), uuid.New()}, [2]uuid.UUID{uuid.New(), uuid.New()}
	want = map[uuid.UUID]seededEvent{
		a[0]: {broadcast: ba, place: 0}, a[1]: {broadcast: ba, place: 1},
		b[0]: {broadcast: bb, place: 0}, b[1]: {broadcast: bb, place: 1},
	}
	return want, a, b
}

func TestRelayTallyCountsEachEventOnce(t *testing.T) {
	t.Parallel()
	want, a, b := relayBacklog()
	tally := newRelayTally(want)
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

	require.True(t, tally.Record(a[0].String(), at))
	require.True(t, tally.Record(b[0].String(), at.Add(3*time.Millisecond)))
	require.False(t, tally.Record(a[0].String(), at.Add(5*time.Millisecond)), "a redelivery is no new event")
	require.False(t, tally.Record(uuid.NewString(), at), "another run's event")
	require.False(t, tally.Record("", at), "a message without an event_id header")
	require.True(t, tally.Record(a[1].String(), at.Add(2*time.Millisecond)))

	require.Equal(t, 3, tally.Seen())
	require.Equal(t, 4, tally.Expected())
	require.False(t, tally.Done())
	require.Equal(t, 1, tally.Duplicates)
	require.Equal(t, 2, tally.Foreign)
	require.Zero(t, tally.OutOfOrder)
	require.Equal(t, at.Add(3*time.Millisecond), tally.Last(), "the latest first append, not the redelivery's")

	require.True(t, tally.Record(b[1].String(), at.Add(4*time.Millisecond)))
	require.True(t, tally.Done())
	require.Equal(t, at.Add(4*time.Millisecond), tally.Last())
}

func TestRelayTallyNoticesABroadcastOutOfOrder(t *testing.T) {
	t.Parallel()
	want, a, b := relayBacklog()
	tally := newRelayTally(want)
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

	tally.Record(b[0].String(), at)
	tally.Record(a[1].String(), at) // before a[0]
	tally.Record(a[0].String(), at)
	tally.Record(b[0].String(), at) // a redelivery of an earlier event is no disorder
	tally.Record(b[1].String(), at)

	require.True(t, tally.Done())
	require.Equal(t, 2, tally.OutOfOrder, "a[1] came early and so a[0] came late")
	require.Equal(t, 1, tally.Duplicates)
}

func TestRelayTallyOfNothingIsDone(t *testing.T) {
	t.Parallel()
	tally := newRelayTally(map[uuid.UUID]seededEvent{})
	require.True(t, tally.Done())
	require.True(t, tally.Last().IsZero())
}
