package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/series"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/window"
)

// newSeries stores a series, its schedule "created" by a recording
// beforeCommit.
func (tb *testBundle) newSeries(t *testing.T, r series.Recurrence) series.Series {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	sr, created, err := tb.store.CreateSeries(tb.ctx, by, series.Series{
		ID: id, Status: series.StatusActive, Sender: broadcast.Sender{ID: "alice", Name: "Alice"},
		Title: "Stand-up", Content: "In five minutes", Category: "team", Priority: broadcast.PriorityNormal,
		Target: broadcast.Target{Type: broadcast.TargetRole, IDs: []string{"dev"}}, Recurrence: r,
		ExpiresAfter: series.Duration(time.Hour), ScheduleID: series.ScheduleID(id),
	}, []byte("hash"), func(context.Context, series.Series) error { return nil })
	require.NoError(t, err)
	require.True(t, created)
	return sr
}

func TestCreateSeriesIsIdempotentAndAudited(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	sr := tb.newSeries(t, series.Recurrence{Cron: "0 9 * * MON-FRI", TimeZone: "Europe/Berlin", Count: 3})
	require.Equal(t, series.StatusActive, sr.Status)
	require.Equal(t, series.Duration(time.Hour), sr.ExpiresAfter)
	require.Equal(t, "Europe/Berlin", sr.Recurrence.TimeZone)
	require.Equal(t, []string{"dev"}, sr.Target.IDs)

	calls := 0
	again, created, err := tb.store.CreateSeries(tb.ctx, by, sr, []byte("hash"), func(context.Context, series.Series) error {
		calls++
		return nil
	})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, 1, calls, "a retry finishes what a failed attempt began: the schedule")
	require.Equal(t, sr.ID, again.ID)
	_, _, err = tb.store.CreateSeries(tb.ctx, by, sr, []byte("other"), nil)
	require.ErrorIs(t, err, store.ErrIdempotencyMismatch)

	failed := sr
	failed.ID = uuid.New()
	_, _, err = tb.store.CreateSeries(tb.ctx, by, failed, nil, func(context.Context, series.Series) error {
		return errors.New("temporal down")
	})
	require.Error(t, err)
	_, err = tb.store.GetSeries(tb.ctx, failed.ID)
	require.ErrorIs(t, err, store.ErrSeriesNotFound, "no schedule, no series")

	entries := tb.auditOf(t, sr.ID.String())
	require.Equal(t, []audit.Action{audit.ActionSeriesCreate}, entries)
}

func TestSeriesChangesAreGuarded(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	sr := tb.newSeries(t, series.Recurrence{Every: "1h"})
	change := func(op series.Operation, action audit.Action) store.SeriesResult {
		t.Helper()
		res, err := tb.store.ChangeSeries(tb.ctx, by, sr.ID, store.SeriesChange{Op: op, Action: action})
		require.NoError(t, err)
		return res
	}
	require.True(t, change(series.OpPause, audit.ActionSeriesPause).Applied)
	require.False(t, change(series.OpPause, audit.ActionSeriesPause).Applied, "already paused")
	require.True(t, change(series.OpResume, audit.ActionSeriesResume).Applied)

	next := sr
	next.Title, next.Recurrence = "Stand-up (moved)", series.Recurrence{Cron: "30 9 * * *", TimeZone: "UTC"}
	res, err := tb.store.ChangeSeries(tb.ctx, by, sr.ID, store.SeriesChange{Op: series.OpUpdate, Action: audit.ActionSeriesUpdate, Template: &next})
	require.NoError(t, err)
	require.True(t, res.Applied)
	require.Equal(t, "Stand-up (moved)", res.Series.Title)
	require.Equal(t, "30 9 * * *", res.Series.Recurrence.Cron)

	rolledBack, err := tb.store.ChangeSeries(tb.ctx, by, sr.ID, store.SeriesChange{Op: series.OpCancel, Action: audit.ActionSeriesCancel,
		BeforeCommit: func(context.Context, series.Series) error { return errors.New("temporal down") }})
	require.Error(t, err)
	require.False(t, rolledBack.Applied && err == nil)
	got, err := tb.store.GetSeries(tb.ctx, sr.ID)
	require.NoError(t, err)
	require.Equal(t, series.StatusActive, got.Status, "the schedule's failure rolled the cancel back")

	cancelled := change(series.OpCancel, audit.ActionSeriesCancel)
	require.True(t, cancelled.Applied)
	require.Equal(t, series.StatusCancelled, cancelled.Series.Status)
	require.NotNil(t, cancelled.Series.CancelledAt)
	for _, op := range []series.Operation{series.OpResume, series.OpPause, series.OpUpdate, series.OpCancel} {
		require.False(t, change(op, audit.ActionSeriesUpdate).Applied, "%s after cancel", op)
	}
	require.Equal(t, []audit.Action{audit.ActionSeriesCreate, audit.ActionSeriesPause, audit.ActionSeriesResume,
		audit.ActionSeriesUpdate, audit.ActionSeriesCancel}, tb.auditOf(t, sr.ID.String()))
}

// An occurrence is made once per key, however many actions ask, from the
// template as it stands; the count ends the series.
func TestMakeOccurrenceOncePerKey(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	sr := tb.newSeries(t, series.Recurrence{Every: "1h", Count: 2})
	due := time.Now().Add(time.Minute).UTC().Truncate(time.Millisecond)
	starts := 0
	var mu sync.Mutex
	start := func(_ context.Context, b broadcast.Broadcast) error {
		mu.Lock()
		defer mu.Unlock()
		starts++
		require.Equal(t, broadcast.WorkflowID(b.ID), b.WorkflowID)
		return nil
	}
	req := store.OccurrenceRequest{SeriesID: sr.ID, Key: "k1", Due: due}
	var wg sync.WaitGroup
	results := make([]store.OccurrenceResult, 4)
	for i := range results {
		wg.Go(func() {
			res, err := tb.store.MakeOccurrence(tb.ctx, req, start)
			require.NoError(t, err)
			results[i] = res
		})
	}
	wg.Wait()
	made := 0
	for _, r := range results {
		if r.Made {
			made++
		}
		require.Equal(t, series.OccurrenceID(sr.ID, "k1"), r.Broadcast.ID)
	}
	require.Equal(t, 1, made, "one action makes it; the others find it")
	require.Equal(t, 1, starts)
	b := results[0].Broadcast
	require.Equal(t, &sr.ID, b.SeriesID)
	require.True(t, due.Equal(*b.OccurrenceAt))
	require.True(t, due.Equal(*b.ScheduledAt))
	require.True(t, due.Add(time.Hour).Equal(*b.ExpiresAt), "expires_after after it is due")
	require.Equal(t, sr.Title, b.Title)
	require.Equal(t, sr.Target, b.Target)

	last, err := tb.store.MakeOccurrence(tb.ctx, store.OccurrenceRequest{SeriesID: sr.ID, Key: "k2", Due: due.Add(time.Hour)}, start)
	require.NoError(t, err)
	require.True(t, last.Made)
	require.True(t, last.Ended, "the second of two")
	after, err := tb.store.GetSeries(tb.ctx, sr.ID)
	require.NoError(t, err)
	require.Equal(t, series.StatusEnded, after.Status)
	require.Equal(t, 2, after.Occurrences)
	require.True(t, due.Add(time.Hour).Equal(*after.LastOccurrenceAt))

	none, err := tb.store.MakeOccurrence(tb.ctx, store.OccurrenceRequest{SeriesID: sr.ID, Key: "k3", Due: due.Add(2 * time.Hour)}, start)
	require.NoError(t, err)
	require.False(t, none.Made)
	require.Contains(t, none.Refused, "ENDED")

	page, next, err := tb.store.Occurrences(tb.ctx, sr.ID, "", 1)
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, last.Broadcast.ID, page[0].ID, "newest first")
	page, next, err = tb.store.Occurrences(tb.ctx, sr.ID, next, 1)
	require.NoError(t, err)
	require.Equal(t, b.ID, page[0].ID)
	require.Empty(t, next)
	active, err := tb.store.ActiveOccurrences(tb.ctx, sr.ID)
	require.NoError(t, err)
	require.Len(t, active, 2)
}

func TestSkipOccurrenceIsRecordedOnce(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	sr := tb.newSeries(t, series.Recurrence{Every: "1h"})
	due := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	sk := store.SkippedOccurrence{SeriesID: sr.ID, Key: "k", Due: due, LateBy: time.Hour, CatchupWindow: 10 * time.Minute}
	require.NoError(t, tb.store.SkipOccurrence(tb.ctx, sk))
	require.NoError(t, tb.store.SkipOccurrence(tb.ctx, sk), "a retried record")
	got, err := tb.store.GetSeries(tb.ctx, sr.ID)
	require.NoError(t, err)
	require.Equal(t, 1, got.Skipped)
	require.True(t, due.Equal(*got.LastSkippedAt))
	require.Equal(t, []audit.Action{audit.ActionSeriesCreate, audit.ActionSeriesOccurrenceSkipped}, tb.auditOf(t, sr.ID.String()))
}

func TestListSeriesPagesNewestFirst(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	first := tb.newSeries(t, series.Recurrence{Every: "1h"})
	second := tb.newSeries(t, series.Recurrence{Every: "2h"})
	page, next, err := tb.store.ListSeries(tb.ctx, store.SeriesListParams{Limit: 1, SenderID: "alice"})
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.NotEmpty(t, next)
	seen := []uuid.UUID{page[0].ID}
	for next != "" {
		page, next, err = tb.store.ListSeries(tb.ctx, store.SeriesListParams{Limit: 100, SenderID: "alice", Cursor: next})
		require.NoError(t, err)
		for _, sr := range page {
			seen = append(seen, sr.ID)
		}
	}
	require.Less(t, indexOf(seen, second.ID), indexOf(seen, first.ID), "newest first")
	paused, _, err := tb.store.ListSeries(tb.ctx, store.SeriesListParams{Statuses: []series.Status{series.StatusCancelled}, SenderID: "nobody"})
	require.NoError(t, err)
	require.Empty(t, paused)
}

func indexOf(ids []uuid.UUID, id uuid.UUID) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return -1
}

// auditOf lists the actions recorded on a target, oldest first.
func (tb *testBundle) auditOf(t *testing.T, targetID string) []audit.Action {
	t.Helper()
	rows, err := tb.pool.Query(tb.ctx, `SELECT action FROM audit_log WHERE target_id = $1 ORDER BY id`, targetID)
	require.NoError(t, err)
	defer rows.Close()
	var out []audit.Action
	for rows.Next() {
		var a audit.Action
		require.NoError(t, rows.Scan(&a))
		out = append(out, a)
	}
	require.NoError(t, rows.Err())
	return out
}

// An occurrence due outside the series' delivery window is published at
// its next opening and expires as if it had not waited; one the window
// would hold past its expiry is skipped and recorded.
func TestOccurrenceKeepsToTheDeliveryWindow(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	sr := tb.newSeries(t, series.Recurrence{Every: "1h"})
	w := window.Window{Days: []string{"MON", "TUE", "WED", "THU", "FRI"}, From: "08:00", To: "18:00", TimeZone: "UTC"}
	with := sr
	with.DeliveryWindow = &w
	_, err := tb.store.ChangeSeries(tb.ctx, by, sr.ID, store.SeriesChange{Op: series.OpUpdate, Action: audit.ActionSeriesUpdate, Template: &with})
	require.NoError(t, err)

	friday := time.Date(2031, 1, 10, 17, 30, 0, 0, time.UTC) // expires 18:30, after closing
	skipped, err := tb.store.MakeOccurrence(tb.ctx, store.OccurrenceRequest{SeriesID: sr.ID, Key: "friday", Due: friday.Add(time.Hour)}, nil)
	require.NoError(t, err)
	require.True(t, skipped.Skipped, "due Friday 18:30, the window opens Monday, after its expiry at 19:30")
	require.Contains(t, skipped.Refused, "after the occurrence expires")
	got, err := tb.store.GetSeries(tb.ctx, sr.ID)
	require.NoError(t, err)
	require.Equal(t, 1, got.Skipped)

	long := with
	long.ExpiresAfter = series.Duration(72 * time.Hour)
	_, err = tb.store.ChangeSeries(tb.ctx, by, sr.ID, store.SeriesChange{Op: series.OpUpdate, Action: audit.ActionSeriesUpdate, Template: &long})
	require.NoError(t, err)
	res, err := tb.store.MakeOccurrence(tb.ctx, store.OccurrenceRequest{SeriesID: sr.ID, Key: "friday-late", Due: friday.Add(time.Hour)},
		func(context.Context, broadcast.Broadcast) error { return nil })
	require.NoError(t, err)
	require.True(t, res.Made)
	monday := time.Date(2031, 1, 13, 8, 0, 0, 0, time.UTC)
	require.Equal(t, monday, res.Broadcast.ScheduledAt.UTC(), "held to Monday's opening")
	require.True(t, friday.Add(time.Hour).Equal(*res.Broadcast.OccurrenceAt))
	require.True(t, friday.Add(73*time.Hour).Equal(*res.Broadcast.ExpiresAt), "expires 72 h after it was due")
	require.Equal(t, &w, res.Broadcast.DeliveryWindow)
}
