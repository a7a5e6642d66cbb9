package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/series"
	"github.com/crier/crier/internal/store"
	"github.com/google/uuid"
)

// OccurrenceInput is the MakeOccurrence activity's input: the series and
// the schedule action's nominal time.
type OccurrenceInput struct {
	SeriesID uuid.UUID
	Nominal  time.Time
	// Key, when set, names the occurrence (a trigger's), due at Nominal.
	Key string `json:",omitempty"`
}

// OccurrenceResult is what one action did: made the occurrence (or found
// the one an earlier action made), skipped it as too late, or made none
// because the series has ended.
type OccurrenceResult struct {
	BroadcastID uuid.UUID `json:",omitzero"`
	Made        bool      `json:",omitempty"`
	Skipped     bool      `json:",omitempty"`
	Refused     string    `json:",omitempty"`
}

// SeriesActivities make the occurrences of series, for SeriesOccurrence.
type SeriesActivities struct {
	Store *store.Store
	// Start starts an occurrence's Broadcast workflow, before its row
	// commits (workflows.Client.Start).
	Start func(context.Context, broadcast.Broadcast) error
	// DeleteSchedule removes the schedule of a series that made its last
	// occurrence (workflows.Schedules.Delete).
	DeleteSchedule func(ctx context.Context, scheduleID string) error
	// CatchupWindow is how late an occurrence may still be made. Default
	// series.DefaultCatchupWindow.
	CatchupWindow time.Duration
	// Now is the clock lateness is judged by. Default time.Now.
	Now func() time.Time
}

// MakeOccurrence makes the occurrence a schedule action at in.Nominal
// stands for (series.Compiled.Occurrence), unless the action runs later
// than the catch-up window after it is due: then it is recorded as skipped
// and not sent. A series that ended or is gone makes nothing.
func (a *SeriesActivities) MakeOccurrence(ctx context.Context, in OccurrenceInput) (OccurrenceResult, error) {
	logger := activity.GetLogger(ctx)
	sr, err := a.Store.GetSeries(ctx, in.SeriesID)
	if errors.Is(err, store.ErrSeriesNotFound) {
		return OccurrenceResult{Refused: "the series does not exist"}, nil
	}
	if err != nil {
		return OccurrenceResult{}, err
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	window := series.CatchupWindow(a.CatchupWindow)
	compiled, problems := sr.Recurrence.Compile(sr.CreatedAt)
	if len(problems) > 0 {
		// Stored recurrences were valid when stored; a zone Go no longer
		// knows reads as UTC rather than stopping the series.
		logger.Warn("The series' recurrence no longer compiles; its occurrence is made at the action's time",
			"series_id", sr.ID, "problems", problems)
	}
	key, due := compiled.Occurrence(in.Nominal)
	if in.Key != "" {
		key, due = in.Key, in.Nominal
	}
	if late := now().Sub(due); late > window {
		sk := store.SkippedOccurrence{SeriesID: sr.ID, Key: key, Due: due, LateBy: late, CatchupWindow: window}
		if err := a.Store.SkipOccurrence(ctx, sk); err != nil {
			return OccurrenceResult{}, err
		}
		logger.Warn("Skipped an occurrence that came later than the catch-up window (CRIER_SERIES_CATCHUP_WINDOW)",
			"series_id", sr.ID, "occurrence", key, "due_at", due, "late_by", late, "catchup_window", window)
		return OccurrenceResult{Skipped: true}, nil
	}
	res, err := a.Store.MakeOccurrence(ctx, store.OccurrenceRequest{SeriesID: sr.ID, Key: key, Due: due}, a.Start)
	if err != nil {
		return OccurrenceResult{}, err
	}
	if res.Ended && a.DeleteSchedule != nil {
		if err := a.DeleteSchedule(ctx, sr.ScheduleID); err != nil {
			// The series is ENDED: later actions make nothing; the schedule
			// goes on the next attempt or when the series is cancelled.
			logger.Warn("Could not delete the schedule of a series that ended", "series_id", sr.ID, "error", err)
		}
	}
	if res.Skipped {
		logger.Warn("Skipped an occurrence: its delivery window opens after it would expire", "series_id", sr.ID, "occurrence", key,
			"why", res.Refused)
		return OccurrenceResult{Skipped: true, Refused: res.Refused}, nil
	}
	if res.Made {
		logger.Info("Made an occurrence", "series_id", sr.ID, "occurrence", key, "broadcast_id", res.Broadcast.ID, "due_at", due)
	}
	return OccurrenceResult{BroadcastID: res.Broadcast.ID, Made: res.Made, Refused: res.Refused}, nil
}
