package main

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/config"
	"github.com/crier/crier/internal/testenv"
)

// TestLocalTimeEndToEnd sends a broadcast at each recipient's local time on
// the real services to two users whose zones are a quarter of an hour apart
// (Asia/Kathmandu, UTC+5:45, and Asia/Kolkata, UTC+5:30): at Kathmandu's
// instant its user receives it, live and in the inbox, and the one in
// Kolkata does not; the broadcast is IN_PROGRESS; a cancel retracts the wave
// sent and the second is never sent.
func TestLocalTimeEndToEnd(t *testing.T) {
	s := newStack(t)
	n := s.start(t, "all", "node-local-time")
	issue := func(sub string, roles ...string) string {
		tok, err := auth.Issue([]byte(config.DevJWTSecret), sub, sub, roles, time.Hour, time.Now())
		require.NoError(t, err)
		return tok
	}
	admin, kathmandu, kolkata := issue("boss", auth.RoleAdmin), issue("lt-kathmandu"), issue("lt-kolkata")
	for id, zone := range map[string]string{"lt-kathmandu": "Asia/Kathmandu", "lt-kolkata": "Asia/Kolkata"} {
		require.Equal(t, http.StatusOK, call(t, n, admin, http.MethodPut, "/api/v1/users/"+id,
			map[string]any{"name": id, "roles": []string{}, "time_zone": zone}, nil))
	}
	first := openStream(t, t, "Kathmandu", n.baseURL, kathmandu, "")
	second := openStream(t, t, "Kolkata", n.baseURL, kolkata, "")
	forKolkata := func(title string) broadcast.Broadcast {
		return createOn(t, n, admin, map[string]any{"title": title, "content": "now", "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339),
			"target": map[string]any{"type": "SELECTED", "ids": []string{"lt-kolkata"}}})
	}
	// Kolkata's client goes away before the first wave and resumes after it.
	second.expect(t, "broadcast", forKolkata("before").ID)
	resumeFrom := second.lastID
	second.close()

	kathmanduZone, _ := broadcast.Zone("Asia/Kathmandu")
	at := time.Now().Add(4 * time.Second).Truncate(time.Second)
	local := broadcast.LocalTimeOf(at.In(kathmanduZone))
	b := createOn(t, n, admin, map[string]any{
		"title": "at nine, your time", "content": "each in their own zone", "category": "ops",
		"target":     map[string]any{"type": "SELECTED", "ids": []string{"lt-kathmandu", "lt-kolkata"}},
		"local_time": local.String(), "default_time_zone": "UTC", "expires_at": at.Add(time.Hour).Format(time.RFC3339),
	})
	require.Equal(t, broadcast.StatusScheduled, b.Status)
	require.Equal(t, []broadcast.Wave{
		{At: at.UTC(), Zones: []string{"Asia/Kathmandu"}},
		{At: at.Add(15 * time.Minute).UTC(), Zones: []string{"Asia/Kolkata"}},
	}, b.Waves)
	require.True(t, at.Equal(*b.ScheduledAt), "scheduled_at is the first wave's instant")

	ev := first.expect(t, "broadcast", b.ID)
	require.False(t, ev.At.Before(at), "Kathmandu: not before its instant")
	t.Logf("Kathmandu received it %s after its local time", ev.At.Sub(at).Round(time.Millisecond))
	require.Equal(t, broadcast.StatusInProgress, e2eGet(t, n, admin, b).Status)
	require.Equal(t, 1, e2eGet(t, n, admin, b).WavesSent)

	var inbox inboxPage
	require.Equal(t, http.StatusOK, call(t, n, kathmandu, http.MethodGet, "/api/v1/me/broadcasts", nil, &inbox))
	require.Len(t, inbox.Items, 1, "in Kathmandu's inbox")
	require.Equal(t, b.ID, inbox.Items[0].ID)
	inbox = inboxPage{}
	require.Equal(t, http.StatusOK, call(t, n, kolkata, http.MethodGet, "/api/v1/me/broadcasts", nil, &inbox))
	require.Len(t, inbox.Items, 1, "only the broadcast sent to Kolkata before")
	require.NotEqual(t, b.ID, inbox.Items[0].ID, "not in Kolkata's: its 09:00 is a quarter of an hour away")
	require.Equal(t, http.StatusNotFound, call(t, n, kolkata, http.MethodPost, "/api/v1/me/broadcasts/"+b.ID.String()+"/read", nil, nil))

	// Resumed, Kolkata's client is replayed what it missed but Kathmandu's
	// wave: its next event is a broadcast sent to it now.
	second = openStream(t, t, "Kolkata resumed", n.baseURL, kolkata, resumeFrom)
	second.expect(t, "broadcast", forKolkata("marker").ID)

	// Statistics count each wave: Kathmandu's reader, Kolkata's not yet sent.
	require.Equal(t, http.StatusOK, call(t, n, kathmandu, http.MethodPost, "/api/v1/me/broadcasts/"+b.ID.String()+"/read", nil, nil))
	first.expect(t, "read", b.ID) // their other tabs learn it
	testenv.Eventually(t, 10*time.Second, func() error {
		var st audience.Stats
		if code := call(t, n, admin, http.MethodGet, "/api/v1/broadcasts/"+b.ID.String()+"/stats", nil, &st); code != http.StatusOK {
			return fmt.Errorf("stats: %d", code)
		}
		want := []audience.WaveStats{
			{At: b.Waves[0].At, Zones: b.Waves[0].Zones, Sent: true, Targeted: 1, Delivered: 1, Read: 1},
			{At: b.Waves[1].At, Zones: b.Waves[1].Zones, Targeted: 1},
		}
		if len(st.Waves) == 2 && st.Waves[0].At.Sub(b.Waves[0].At).Abs() < time.Second {
			want[0].At = st.Waves[0].At // planned again, at the instant it was sent
		}
		if !reflect.DeepEqual(want, st.Waves) {
			return fmt.Errorf("waves %+v, want %+v", st.Waves, want)
		}
		return nil
	})

	require.Equal(t, http.StatusOK, call(t, n, admin, http.MethodPost, "/api/v1/broadcasts/"+b.ID.String()+"/cancel", nil, nil))
	first.expect(t, "retract", b.ID)
	got := e2eGet(t, n, admin, b)
	require.Equal(t, broadcast.StatusCancelled, got.Status)
	require.Equal(t, 1, got.WavesSent, "the second wave is never sent")
}

func e2eGet(t *testing.T, n *node, admin string, b broadcast.Broadcast) broadcast.Broadcast {
	t.Helper()
	var got broadcast.Broadcast
	require.Equal(t, http.StatusOK, call(t, n, admin, http.MethodGet, "/api/v1/broadcasts/"+b.ID.String(), nil, &got))
	return got
}
