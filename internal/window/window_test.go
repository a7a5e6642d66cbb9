package window_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/window"
)

func berlin(t *testing.T, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	at, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	require.NoError(t, err)
	return at
}

func TestNextOpeningOfOfficeHours(t *testing.T) {
	t.Parallel()
	c, errs := window.Window{Days: []string{"mon", "TUE", "wed", "THU", "FRI"}, From: "08:00", To: "18:00", TimeZone: "Europe/Berlin"}.Compile("delivery_window")
	require.Empty(t, errs)
	require.Equal(t, []string{"MON", "TUE", "WED", "THU", "FRI"}, c.Days)
	for _, tc := range []struct{ at, want, why string }{
		{"2027-01-05 10:00", "2027-01-05 10:00", "open: itself"},
		{"2027-01-05 07:00", "2027-01-05 08:00", "before opening: today's"},
		{"2027-01-05 18:00", "2027-01-06 08:00", "at closing: tomorrow's"},
		{"2027-01-08 17:59", "2027-01-08 17:59", "Friday, a minute before closing"},
		{"2027-01-08 19:00", "2027-01-11 08:00", "Friday evening: Monday"},
		{"2027-01-09 12:00", "2027-01-11 08:00", "Saturday: Monday"},
		{"2027-03-26 20:00", "2027-03-29 08:00", "across the change to summer time"},
	} {
		require.True(t, berlin(t, tc.want).Equal(c.NextOpening(berlin(t, tc.at))), "%s: %s, got %s", tc.why, tc.at, c.NextOpening(berlin(t, tc.at)).In(berlin(t, tc.at).Location()))
	}
}

// A window whose end is before its start runs past midnight: off-peak
// nights.
func TestNextOpeningOfANightWindow(t *testing.T) {
	t.Parallel()
	c, errs := window.Window{From: "22:00", To: "06:00", TimeZone: "Europe/Berlin"}.Compile("delivery_window")
	require.Empty(t, errs)
	require.Len(t, c.Days, 7, "every day by default")
	require.True(t, berlin(t, "2027-01-05 03:00").Equal(c.NextOpening(berlin(t, "2027-01-05 03:00"))), "opened the evening before")
	require.True(t, berlin(t, "2027-01-05 22:00").Equal(c.NextOpening(berlin(t, "2027-01-05 12:00"))))
	require.True(t, berlin(t, "2027-01-05 22:00").Equal(c.NextOpening(berlin(t, "2027-01-05 06:00"))), "closed at six")

	fridays, errs := window.Window{Days: []string{"FRI"}, From: "22:00", To: "02:00"}.Compile("w")
	require.Empty(t, errs)
	sat := time.Date(2027, 1, 9, 1, 0, 0, 0, time.UTC)
	require.True(t, sat.Equal(fridays.NextOpening(sat)), "Friday's night runs into Saturday")
	require.True(t, time.Date(2027, 1, 15, 22, 0, 0, 0, time.UTC).Equal(fridays.NextOpening(sat.Add(2*time.Hour))))
}

func TestCompileRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		w     window.Window
		field string
	}{
		{window.Window{Days: []string{"Monday"}, From: "08:00", To: "18:00"}, "delivery_window.days"},
		{window.Window{From: "8", To: "18:00"}, "delivery_window.from"},
		{window.Window{From: "08:00", To: "24:01"}, "delivery_window.to"},
		{window.Window{From: "08:00", To: "08:00"}, "delivery_window.to"},
		{window.Window{From: "08:00", To: "18:00", TimeZone: "Berlin"}, "delivery_window.time_zone"},
	} {
		_, errs := tc.w.Compile("delivery_window")
		require.Len(t, errs, 1, "%+v: %+v", tc.w, errs)
		require.Equal(t, tc.field, errs[0].Field)
	}
	_, errs := window.Window{From: "08:00", To: "24:00"}.Compile("delivery_window")
	require.Empty(t, errs, "24:00 is midnight at the end of the day")
}
