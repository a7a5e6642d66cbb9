package stream

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/inbox"
)

func TestPositionRoundTrip(t *testing.T) {
	t.Parallel()
	p := Position{41, -1, 7}
	got, err := parsePosition(p.String(), 3)
	require.NoError(t, err)
	require.Equal(t, p, got)
	require.Equal(t, "v1:41.-1.7", p.String())
}

func TestPositionRefusesWhatItDidNotWrite(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", "41.-1.7", "v1:41.-1", "v1:41.-1.7.8", "v1:a.b.c", "v1:1.-2.3", "v2:1.2.3",
		"v1:99999999999999999999.1.1", "v1:1.2.3\nevent: x"} {
		_, err := parsePosition(id, 3)
		require.ErrorIs(t, err, errBadPosition, "%q", id)
	}
}

func TestPositionOnlyMovesForward(t *testing.T) {
	t.Parallel()
	p := Position{5, -1}
	p.advance(0, 3)
	p.advance(1, 2)
	p.advance(7, 1) // a partition this position does not know
	require.Equal(t, Position{5, 2}, p)
}

func published(target broadcast.Target) Event {
	return Event{Value: broadcast.Event{EventID: uuid.New(), EventType: broadcast.EventPublished,
		Broadcast: broadcast.Broadcast{ID: uuid.New(), Target: target}}}
}

func TestHubOffersEventsOnlyToTheirAudience(t *testing.T) {
	t.Parallel()
	h := NewHub(HubConfig{})
	h.start(Position{-1})
	ops := newConn(inbox.User{ID: "alice", Roles: []string{"ops"}}, 4)
	sales := newConn(inbox.User{ID: "carol", Roles: []string{"sales"}}, 4)
	h.register(ops)
	h.register(sales)

	ev := published(broadcast.Target{Type: broadcast.TargetRole, IDs: []string{"ops"}})
	ev.Offset = 0
	h.Dispatch([]Event{ev})
	read := Event{Offset: 1, Value: broadcast.Event{EventID: uuid.New(), EventType: broadcast.EventRead, UserID: "carol"}}
	h.Dispatch([]Event{read})

	require.Len(t, ops.pending, 1)
	require.Len(t, sales.pending, 1)
	require.Equal(t, broadcast.EventRead, sales.take()[0].Value.EventType)
	require.Empty(t, sales.take(), "taking empties the queue")
	require.Equal(t, Position{1}, h.register(newConn(inbox.User{ID: "bob"}, 1)), "a new connection starts after both")
}

// A client that stops reading is disconnected instead of slowing the others.
func TestHubDisconnectsAClientThatFallsBehind(t *testing.T) {
	t.Parallel()
	h := NewHub(HubConfig{})
	h.start(Position{-1})
	slow := newConn(inbox.User{ID: "slow"}, 2)
	fast := newConn(inbox.User{ID: "fast"}, 8)
	h.register(slow)
	h.register(fast)

	for i := range 3 {
		ev := published(broadcast.Target{Type: broadcast.TargetAll})
		ev.Offset = int64(i)
		h.Dispatch([]Event{ev})
	}

	select {
	case <-slow.done:
		require.Equal(t, endSlow, slow.why)
	default:
		t.Fatal("the slow client was not disconnected")
	}
	require.Len(t, fast.pending, 3, "the others still get everything")
}

func TestRecentIDsDropRepeatsAndForgetTheOldest(t *testing.T) {
	t.Parallel()
	r := newRecentIDs(2)
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	require.True(t, r.add(a))
	require.False(t, r.add(a), "a repeat is dropped")
	require.True(t, r.add(b))
	require.True(t, r.add(c)) // forgets a
	require.True(t, r.add(a))
	require.False(t, r.add(c))
}
