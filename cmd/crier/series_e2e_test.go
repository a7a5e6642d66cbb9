package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/series"
	"github.com/crier/crier/internal/testenv"
)

// seriesZone is the series' zone: not UTC, and half an hour off it, so a
// minute read in the wrong zone names another occurrence.
const seriesZone = "Asia/Kolkata"

// TestSeriesEndToEnd: on the real stack, a series every minute in a non-UTC
// zone publishes consecutive occurrences on their minutes; pause stops the
// next, trigger publishes one at once, a PATCH changes the next occurrence
// and not those already published, resume continues, and cancel with
// cancel_active retracts the active ones and removes the schedule.
func TestSeriesEndToEnd(t *testing.T) {
	e := startCrier(t)
	loc, err := time.LoadLocation(seriesZone)
	require.NoError(t, err)
	var sr series.Series
	require.Equal(t, http.StatusCreated, e.call(http.MethodPost, "/api/v1/series", map[string]any{
		"title": "Every minute", "content": "first content", "priority": "HIGH", "target": map[string]any{"type": "ALL"},
		"recurrence": map[string]any{"cron": "* * * * *", "time_zone": seriesZone}, "expires_after": "1h",
	}, &sr))
	require.Equal(t, series.StatusActive, sr.Status)
	require.Len(t, sr.Next, 5)
	first := sr.Next[0].At
	require.Equal(t, first.Truncate(time.Minute), first, "on the minute")
	require.Equal(t, first.In(loc).Format(time.RFC3339), sr.Next[0].Local)
	occurrence := func(at time.Time) uuid.UUID {
		return series.OccurrenceID(sr.ID, at.In(loc).Format("2006-01-02T15:04:05"))
	}
	path := "/api/v1/series/" + sr.ID.String()

	// Two consecutive occurrences, each on its minute.
	for _, at := range []time.Time{first, first.Add(time.Minute)} {
		ev := e.awaitUntil(occurrence(at), broadcast.EventPublished, at.Add(30*time.Second))
		late := ev.Broadcast.PublishedAt.Sub(at)
		t.Logf("occurrence of %s published %s after its minute", at.Format(time.TimeOnly), late.Round(time.Millisecond))
		require.Less(t, late, time.Second, "published within a second of its minute")
		require.GreaterOrEqual(t, late, time.Duration(0))
		require.Equal(t, &sr.ID, ev.Broadcast.SeriesID)
		require.True(t, at.Equal(*ev.Broadcast.OccurrenceAt))
		require.Equal(t, "first content", ev.Broadcast.Content)
	}
	second := first.Add(time.Minute)

	// Pause: the next minute makes nothing.
	var paused series.Series
	require.Equal(t, http.StatusOK, e.call(http.MethodPost, path+"/pause", nil, &paused))
	require.Equal(t, series.StatusPaused, paused.Status)
	skipped := second.Add(time.Minute)
	if time.Until(skipped) < 3*time.Second { // too close to tell a pause from a race
		skipped = skipped.Add(time.Minute)
	}

	// Trigger, paused: one occurrence at once.
	triggered := time.Now()
	require.Equal(t, http.StatusAccepted, e.call(http.MethodPost, path+"/trigger", nil, nil))
	var now broadcast.Broadcast
	testenv.Eventually(t, 15*time.Second, func() error {
		var page struct{ Items []broadcast.Broadcast }
		require.Equal(t, http.StatusOK, e.call(http.MethodGet, path+"/occurrences", nil, &page))
		if len(page.Items) < 3 {
			return fmt.Errorf("%d occurrences", len(page.Items))
		}
		now = page.Items[0]
		return nil
	})
	e.awaitUntil(now.ID, broadcast.EventPublished, time.Now().Add(15*time.Second))
	t.Logf("the trigger's occurrence was published %s after the request", time.Since(triggered).Round(time.Millisecond))

	// PATCH: the next occurrence is made from the new content.
	var patched series.Series
	require.Equal(t, http.StatusOK, e.call(http.MethodPatch, path, map[string]any{"content": "new content"}, &patched))
	require.Equal(t, "new content", patched.Content)

	time.Sleep(time.Until(skipped.Add(3 * time.Second)))
	var page struct{ Items []broadcast.Broadcast }
	require.Equal(t, http.StatusOK, e.call(http.MethodGet, path+"/occurrences", nil, &page))
	require.Len(t, page.Items, 3, "nothing made while paused but the trigger's")
	require.Equal(t, http.StatusNotFound, e.call(http.MethodGet, "/api/v1/broadcasts/"+occurrence(skipped).String(), nil, nil))

	// Resume: the next minute publishes, with the new content; those
	// already published keep theirs.
	var resumed series.Series
	require.Equal(t, http.StatusOK, e.call(http.MethodPost, path+"/resume", nil, &resumed))
	require.Equal(t, series.StatusActive, resumed.Status)
	next := resumed.Next[0].At
	ev := e.awaitUntil(occurrence(next), broadcast.EventPublished, next.Add(30*time.Second))
	require.Equal(t, "new content", ev.Broadcast.Content)
	require.Equal(t, "first content", e.get(occurrence(first)).Content)
	require.Equal(t, "first content", e.get(now.ID).Content, "the trigger's came before the PATCH")

	e.cancelSeries(t, sr, []uuid.UUID{occurrence(first), occurrence(second), now.ID, occurrence(next)})
}

// cancelSeries cancels sr with cancel_active and checks that every active
// occurrence is retracted and the schedule is gone.
func (e *e2e) cancelSeries(t *testing.T, sr series.Series, active []uuid.UUID) {
	path := "/api/v1/series/" + sr.ID.String()
	var cancelled series.Series
	require.Equal(t, http.StatusOK, e.call(http.MethodPost, path+"/cancel", map[string]any{"cancel_active": true}, &cancelled))
	require.Equal(t, series.StatusCancelled, cancelled.Status)
	for _, id := range active {
		e.awaitUntil(id, broadcast.EventCancelled, time.Now().Add(30*time.Second))
		require.Equal(t, broadcast.StatusCancelled, e.get(id).Status)
	}
	_, err := e.temporal.ScheduleClient().GetHandle(e.ctx, sr.ScheduleID).Describe(e.ctx)
	var gone *serviceerror.NotFound
	require.ErrorAs(t, err, &gone, "the schedule is gone")
	require.Equal(t, http.StatusConflict, e.call(http.MethodPost, path+"/resume", nil, nil))
}

// awaitUntil waits for an event by deadline: an occurrence falls on its
// minute, up to a minute ahead.
func (e *e2e) awaitUntil(id uuid.UUID, typ broadcast.EventType, deadline time.Time) broadcast.Event {
	e.t.Helper()
	ev, _ := e.awaitBy(id, typ, deadline)
	return ev
}
