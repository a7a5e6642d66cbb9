package broadcast_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
)

func mustLocal(t *testing.T, s string) broadcast.LocalTime {
	t.Helper()
	l, err := broadcast.ParseLocalTime(s)
	require.NoError(t, err)
	return l
}

func TestLocalTimeParsesAndWritesItsOwnForm(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"2027-01-05T09:00": "2027-01-05T09:00", "2027-01-05T09:00:30": "2027-01-05T09:00:30", "2027-01-05T09:00:00": "2027-01-05T09:00"} {
		require.Equal(t, want, mustLocal(t, in).String())
	}
	for _, bad := range []string{"", "2027-01-05", "2027-01-05T09:00Z", "2027-01-05T09:00+01:00", "09:00", "2027-13-05T09:00"} {
		_, err := broadcast.ParseLocalTime(bad)
		require.Error(t, err, bad)
	}
	var b struct {
		L broadcast.LocalTime `json:"l"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"l":"2027-01-05T09:00"}`), &b))
	raw, err := json.Marshal(b)
	require.NoError(t, err)
	require.JSONEq(t, `{"l":"2027-01-05T09:00"}`, string(raw))
	require.Error(t, json.Unmarshal([]byte(`{"l":"tomorrow"}`), &b))
}

func TestLocalTimeInAZone(t *testing.T) {
	t.Parallel()
	ny, _ := broadcast.Zone("America/New_York")
	for _, c := range []struct{ local, want, why string }{
		{"2027-01-05T09:00", "2027-01-05T14:00:00Z", "winter, UTC-5"},
		{"2027-07-05T09:00", "2027-07-05T13:00:00Z", "summer, UTC-4"},
		{"2027-03-14T02:30", "2027-03-14T07:30:00Z", "skipped: reads as 03:30 EDT"},
		{"2027-11-07T01:30", "2027-11-07T05:30:00Z", "shown twice: the first, 01:30 EDT"},
	} {
		require.Equal(t, c.want, mustLocal(t, c.local).In(ny).Format(time.RFC3339), c.why)
	}
	_, ok := broadcast.Zone("Local")
	require.False(t, ok, "the machine's zone is no IANA zone")
	_, ok = broadcast.Zone("Mars/Olympus")
	require.False(t, ok)
}

func TestPlanWavesOnePerInstant(t *testing.T) {
	t.Parallel()
	local := mustLocal(t, "2027-01-05T09:00")
	waves, dropped := broadcast.PlanWaves(local, "Europe/Berlin",
		[]string{"", "America/New_York", "Europe/Paris", "Asia/Tokyo", "Nowhere/Zone", "America/New_York"},
		time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{})
	require.Empty(t, dropped)
	require.Equal(t, []broadcast.Wave{
		{At: time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC), Zones: []string{"Asia/Tokyo"}},
		{At: time.Date(2027, 1, 5, 8, 0, 0, 0, time.UTC), Zones: []string{"Europe/Berlin", "Europe/Paris"}},
		{At: time.Date(2027, 1, 5, 14, 0, 0, 0, time.UTC), Zones: []string{"America/New_York"}},
	}, waves, "users without a zone, or with one that is none, take the default's wave")

	waves, dropped = broadcast.PlanWaves(local, "Europe/Berlin", []string{"Asia/Tokyo", "America/New_York", ""},
		time.Date(2027, 1, 5, 7, 0, 0, 0, time.UTC), time.Date(2027, 1, 5, 12, 0, 0, 0, time.UTC))
	require.Equal(t, []broadcast.Wave{
		{At: time.Date(2027, 1, 5, 7, 0, 0, 0, time.UTC), Zones: []string{"Asia/Tokyo"}},
		{At: time.Date(2027, 1, 5, 8, 0, 0, 0, time.UTC), Zones: []string{"Europe/Berlin"}},
	}, waves, "a passed instant is sent at once, never in the past")
	require.Equal(t, []string{"America/New_York"}, dropped, "after the expiry: left out")

	waves, _ = broadcast.PlanWaves(local, "Europe/Berlin", []string{"Asia/Tokyo"}, time.Time{}, time.Time{})
	require.Equal(t, []broadcast.Wave{{At: time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC), Zones: []string{"Asia/Tokyo"}}}, waves,
		"the default has no wave when every recipient's zone is known")
}

func TestEachRecipientFromTheirOwnInstant(t *testing.T) {
	t.Parallel()
	local := mustLocal(t, "2027-01-05T09:00")
	zones := []string{"Asia/Tokyo", "Europe/Berlin", "America/New_York"}
	waves, _ := broadcast.PlanWaves(local, "Europe/Berlin", zones, time.Time{}, time.Time{})
	published := waves[0].At
	b := broadcast.Broadcast{LocalTime: &local, DefaultTimeZone: "Europe/Berlin", Waves: waves, PublishedAt: &published}
	for i, zone := range zones {
		require.Equal(t, waves[i].At, b.ShownFrom(zone))
		require.False(t, b.Shown(zone, waves[i].At.Add(-time.Microsecond)), "%s: not before its instant", zone)
		require.True(t, b.Shown(zone, waves[i].At), zone)
	}
	require.Equal(t, waves[1].At, b.ShownFrom(""), "no zone: the default")
	for sent := 1; sent <= len(waves); sent++ {
		b.WavesSent = sent
		for i, zone := range zones {
			require.Equal(t, i == sent-1, b.BroughtBy(zone), "wave %d, %s", sent, zone)
		}
	}
	b.WavesSent = 1
	require.True(t, b.BroughtBy("Pacific/Kiritimati"), "an earlier zone nobody planned for: the first wave")
	b.WavesSent = 3
	require.False(t, b.BroughtBy("Pacific/Honolulu"), "a later one: no wave, never early")

	plain := broadcast.Broadcast{PublishedAt: &published}
	require.True(t, plain.BroughtBy("Asia/Tokyo"))
	require.True(t, plain.Shown("", published))
	require.False(t, (&broadcast.Broadcast{}).Shown("", published), "not published")
}
