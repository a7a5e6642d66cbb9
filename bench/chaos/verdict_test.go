package chaos

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
)

// scene is a small scenario's observation that passes every check: a plain
// ALL broadcast, an expiring ops one, one for eve and fay cancelled early
// and a sales one cancelled in the hold (published, then retracted), with
// a resent copy of one event; clients ann (ops), bob (sales) and eve.
type scene struct {
	o                              observation
	plain, expiring, early, inHold *planned
	ann, bob, eve                  int // indexes into o.Clients
}

func newScene() *scene {
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	mk := func(f fate, target broadcast.Target) *planned {
		return &planned{ID: uuid.New(), Fate: f, Target: target, Due: due, Expires: due.Add(time.Hour)}
	}
	s := &scene{
		plain:    mk(fatePlain, broadcast.Target{Type: broadcast.TargetAll}),
		expiring: mk(fateExpiring, broadcast.Target{Type: broadcast.TargetRole, IDs: []string{"ops"}}),
		early:    mk(fateCancelEarly, broadcast.Target{Type: broadcast.TargetSelected, IDs: []string{"eve", "fay"}}),
		inHold:   mk(fateCancelInHold, broadcast.Target{Type: broadcast.TargetRole, IDs: []string{"sales"}}),
	}
	s.expiring.Expires = due.Add(20 * time.Second)
	s.early.Cancelled, s.inHold.Cancelled = true, true
	at := due.Add
	ev := func(p *planned, t broadcast.EventType, off int64, d time.Duration) record {
		return record{Partition: int32(off % 2), Offset: off, AppendedAt: at(d), EventID: uuid.New(), Type: t, Broadcast: p.ID}
	}
	pubPlain := ev(s.plain, broadcast.EventPublished, 2, 100*time.Millisecond)
	s.o = observation{
		Plan: []*planned{s.plain, s.expiring, s.early, s.inHold},
		Records: []record{
			pubPlain,
			ev(s.expiring, broadcast.EventPublished, 3, 200*time.Millisecond),
			ev(s.inHold, broadcast.EventPublished, 5, 150*time.Millisecond),
			ev(s.inHold, broadcast.EventCancelled, 7, 300*time.Millisecond),
			ev(s.expiring, broadcast.EventExpired, 9, 20*time.Second+50*time.Millisecond),
			{Partition: pubPlain.Partition, Offset: 12, AppendedAt: at(time.Second), EventID: pubPlain.EventID,
				Type: broadcast.EventPublished, Broadcast: s.plain.ID}, // the relay's resend
		},
		Rows: map[uuid.UUID]row{
			s.plain.ID: {Status: broadcast.StatusSent, Published: true}, s.expiring.ID: {Status: broadcast.StatusExpired, Published: true},
			s.early.ID: {Status: broadcast.StatusCancelled}, s.inHold.ID: {Status: broadcast.StatusCancelled, Published: true},
		},
	}
	got := func(name string, p *planned, d time.Duration) delivery {
		return delivery{Name: name, Broadcast: p.ID, At: at(d)}
	}
	s.ann, s.bob, s.eve = 0, 1, 2
	s.o.Clients = []clientView{
		{Name: "ann", User: user{ID: "ann", Roles: []string{"ops"}}, Connects: 1, Deliveries: []delivery{
			got("broadcast", s.plain, 300*time.Millisecond), got("broadcast", s.expiring, 400*time.Millisecond),
			got("retract", s.expiring, 21*time.Second)}},
		{Name: "bob", User: user{ID: "bob", Roles: []string{"sales"}}, Connects: 2, Deliveries: []delivery{
			got("broadcast", s.plain, 300*time.Millisecond), got("broadcast", s.inHold, 200*time.Millisecond),
			got("retract", s.inHold, 400*time.Millisecond), got("broadcast", s.plain, 2*time.Second)}},
		{Name: "eve", User: user{ID: "eve"}, Connects: 1, Deliveries: []delivery{got("broadcast", s.plain, 250*time.Millisecond)}},
	}
	return s
}

func TestJudgePassesAScenarioThatKeptEveryPromise(t *testing.T) {
	t.Parallel()
	v := judge(newScene().o)
	require.True(t, v.OK(), "notes: %v", v.Notes)
	require.Equal(t, 4, v.Planned)
	require.Equal(t, 2, v.MustPublish, "the cancelled ones need not be published")
	require.Equal(t, 3, v.Published)
	require.Equal(t, 1, v.Copies, "a resend with the same event_id is a copy, not a duplicate")
	require.Equal(t, 1, v.ClientCopies, "bob's second read after reconnecting")
	require.Equal(t, 1, v.Reconnects)
	require.Equal(t, 3, v.Lateness.Count)
	require.Equal(t, 200*time.Millisecond, v.Lateness.Max)
	require.Equal(t, 50*time.Millisecond, v.ExpiryLateness.Max)
	require.Equal(t, 5, v.ClientLateness.Count, "each client's first read of each broadcast meant for it")
}

func TestJudgeFindsEachBrokenPromise(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		breakIt func(s *scene)
		count   func(v Verdict) int
	}{
		"a publication lost": {func(s *scene) { s.o.Records = dropType(s.o.Records, s.plain, broadcast.EventPublished) },
			func(v Verdict) int { return v.Lost }},
		"a second publication under another event id": {func(s *scene) {
			s.o.Records = append(s.o.Records, record{Offset: 20, EventID: uuid.New(), Type: broadcast.EventPublished, Broadcast: s.plain.ID})
		}, func(v Verdict) int { return v.Duplicates }},
		"a cancel published without a retraction": {func(s *scene) {
			s.o.Records = dropType(s.o.Records, s.inHold, broadcast.EventCancelled)
		}, func(v Verdict) int { return v.Unretracted }},
		"a status other than the plan's": {func(s *scene) { s.o.Rows[s.plain.ID] = row{Status: broadcast.StatusScheduled} },
			func(v Verdict) int { return v.StatusWrong }},
		"a status the events contradict": {func(s *scene) { s.o.Rows[s.early.ID] = row{Status: broadcast.StatusCancelled, Published: true} },
			func(v Verdict) int { return v.StatusWrong }},
		"an outbox row left behind": {func(s *scene) { s.o.OutboxPending = 1 }, func(v Verdict) int { return v.OutboxLeft }},
		"a client that missed a broadcast": {func(s *scene) { s.o.Clients[s.eve].Deliveries = nil },
			func(v Verdict) int { return v.Missed }},
		"a client that got another's broadcast": {func(s *scene) {
			s.o.Clients[s.eve].Deliveries = append(s.o.Clients[s.eve].Deliveries, delivery{Name: "broadcast", Broadcast: s.inHold.ID})
		}, func(v Verdict) int { return v.Extra }},
		"a client that never got the retraction": {func(s *scene) { s.o.Clients[s.ann].Deliveries = s.o.Clients[s.ann].Deliveries[:2] },
			func(v Verdict) int { return v.RetractMissed }},
		"a replay refused": {func(s *scene) { s.o.Clients[s.bob].Resets = 1 }, func(v Verdict) int { return v.Resets }},
		"an event of a broadcast nobody made": {func(s *scene) {
			s.o.Records = append(s.o.Records, record{EventID: uuid.New(), Type: broadcast.EventPublished, Broadcast: uuid.New()})
		}, func(v Verdict) int { return v.Foreign }},
		"a creation stored while Temporal was away": {func(s *scene) {
			s.o.Outage = &outageView{Tried: 3, Unavailable: 3, Stored: 1, Answers: []int{503, 503, 503}}
		}, func(v Verdict) int { return v.OutageWrong }},
		"a creation answered 500 while Temporal was away": {func(s *scene) {
			s.o.Outage = &outageView{Tried: 3, Unavailable: 2, Answers: []int{503, 500, 503}}
		}, func(v Verdict) int { return v.OutageWrong }},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newScene()
			c.breakIt(s)
			v := judge(s.o)
			require.False(t, v.OK())
			require.Equal(t, 1, c.count(v), "notes: %v", v.Notes)
			require.NotEmpty(t, v.Notes, "a failure names what failed")
		})
	}
}

func TestJudgeAcceptsEitherEndOfACancelWithoutAnswer(t *testing.T) {
	t.Parallel()
	for _, status := range []broadcast.Status{broadcast.StatusCancelled, broadcast.StatusSent} {
		s := newScene()
		s.inHold.Cancelled, s.inHold.Uncertain = false, true
		if status == broadcast.StatusSent {
			s.o.Records = dropType(s.o.Records, s.inHold, broadcast.EventCancelled)
			s.o.Clients[s.bob].Deliveries = s.o.Clients[s.bob].Deliveries[:2]
		}
		s.o.Rows[s.inHold.ID] = row{Status: status, Published: true}
		v := judge(s.o)
		require.True(t, v.OK(), "ended %s; notes: %v", status, v.Notes)
	}
	s := newScene()
	s.inHold.Cancelled, s.inHold.Uncertain = false, true
	s.o.Records = dropType(s.o.Records, s.inHold, broadcast.EventCancelled)
	require.Equal(t, 1, judge(s.o).Unretracted, "ended cancelled, so its publication needs the retraction")
}

func dropType(rs []record, p *planned, t broadcast.EventType) []record {
	var out []record
	for _, r := range rs {
		if r.Broadcast != p.ID || r.Type != t {
			out = append(out, r)
		}
	}
	return out
}

func TestTrendsTellLevellingOffFromGrowth(t *testing.T) {
	t.Parallel()
	var samples []SoakSample
	for i := range 12 {
		// outbox grows steadily; stream_events rises, then is pruned back
		// and forth; the other two stay empty.
		level := int64(min(i, 6)*100 - (i%2)*50)
		samples = append(samples, SoakSample{At: time.Duration(i) * 10 * time.Second, Rows: []int64{int64(i) * 100, level, 0, 0}})
	}
	got := trends(samples)
	require.False(t, got[0].LevelsOff, "%+v", got[0])
	require.True(t, got[1].LevelsOff, "%+v", got[1])
	require.True(t, got[2].LevelsOff, "an empty table has levelled off")
	require.False(t, trends(samples[:2])[0].LevelsOff, "two samples cannot show a level")

	var v Verdict
	v.judgeSoak(&SoakResult{Trends: got})
	require.Equal(t, 1, v.Growing, "the outbox kept growing")
	require.False(t, v.OK(), "a table that keeps growing fails the soak")
	require.Contains(t, v.Notes[0], "outbox kept growing")
}
