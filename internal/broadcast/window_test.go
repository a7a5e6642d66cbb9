package broadcast_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/window"
)

// office is weekdays 08:00-18:00 in Berlin.
var office = window.Window{Days: []string{"MON", "TUE", "WED", "THU", "FRI"}, From: "08:00", To: "18:00", TimeZone: "Europe/Berlin"}

// Saturday 2027-01-09 12:00 UTC.
var saturday = time.Date(2027, 1, 9, 12, 0, 0, 0, time.UTC)

func spec(at *time.Time, expires *time.Time) broadcast.Spec {
	w := office
	return broadcast.Spec{Title: "t", Content: "c", Target: broadcast.Target{Type: broadcast.TargetAll},
		ScheduledAt: at, ExpiresAt: expires, DeliveryWindow: &w}
}

// A broadcast due outside its window is published at the next opening,
// and its default expiry counts from then.
func TestDeliveryWindowMovesScheduledAtToTheNextOpening(t *testing.T) {
	t.Parallel()
	s := spec(nil, nil)
	require.NoError(t, s.Normalize(broadcast.Rules{Now: saturday}, false))
	monday := time.Date(2027, 1, 11, 7, 0, 0, 0, time.UTC) // 08:00 in Berlin
	require.Equal(t, monday, *s.ScheduledAt, "sent now on a Saturday: Monday morning")
	require.Equal(t, monday.Add(30*24*time.Hour), *s.ExpiresAt)
	require.Equal(t, "Europe/Berlin", s.DeliveryWindow.TimeZone)

	tuesday := time.Date(2027, 1, 12, 10, 0, 0, 0, time.UTC)
	s = spec(&tuesday, nil)
	require.NoError(t, s.Normalize(broadcast.Rules{Now: saturday}, false))
	require.Equal(t, tuesday, *s.ScheduledAt, "inside the window: as asked")
}

// Expiry wins: a window that opens only after the broadcast expires is
// refused, with what to do.
func TestDeliveryWindowAfterTheExpiryIsRefused(t *testing.T) {
	t.Parallel()
	sunday := saturday.Add(24 * time.Hour)
	s := spec(nil, &sunday)
	var v *broadcast.ValidationError
	require.ErrorAs(t, s.Normalize(broadcast.Rules{Now: saturday}, false), &v)
	require.Len(t, v.Errors, 1)
	require.Equal(t, "delivery_window", v.Errors[0].Field)
	require.Contains(t, v.Errors[0].Message, "would expire unpublished")

	bad := broadcast.Spec{Title: "t", Content: "c", Target: broadcast.Target{Type: broadcast.TargetAll},
		DeliveryWindow: &window.Window{From: "8am", To: "18:00"}}
	require.ErrorAs(t, bad.Normalize(broadcast.Rules{Now: saturday}, false), &v)
	require.Equal(t, "delivery_window.from", v.Errors[0].Field)
}

// A reschedule keeps the broadcast's window.
func TestRescheduleKeepsTheWindow(t *testing.T) {
	t.Parallel()
	w := office
	at, exp := saturday.Add(48*time.Hour), saturday.Add(30*24*time.Hour)
	current := broadcast.Broadcast{Status: broadcast.StatusScheduled, ScheduledAt: &at, ExpiresAt: &exp, DeliveryWindow: &w}
	evening := time.Date(2027, 1, 12, 19, 0, 0, 0, time.UTC) // Tuesday 20:00 in Berlin: closed
	c := broadcast.Change{ScheduledAt: &evening}
	require.NoError(t, c.Normalize(broadcast.Rules{Now: saturday}, current))
	require.Equal(t, time.Date(2027, 1, 13, 7, 0, 0, 0, time.UTC), *c.ScheduledAt, "Wednesday 08:00 in Berlin")
}
