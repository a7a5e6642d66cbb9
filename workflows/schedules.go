package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crier/crier/internal/series"
)

// Schedules creates and steers the Temporal Schedules of series: one per
// series, whose actions start SeriesOccurrence.
type Schedules struct {
	Temporal  client.Client
	TaskQueue string
	// CatchupWindow is the schedules' catch-up window. Default
	// series.DefaultCatchupWindow.
	CatchupWindow time.Duration
	// Now is the clock the specs are computed at. Default time.Now.
	Now func() time.Time
}

// now is the wall clock of the process calling Temporal (an API node or a
// worker's activity), never read inside a workflow: Schedules is a client,
// like Client in client.go, so the determinism rule does not apply here
// (.golangci.yml excludes this file from it by name, for that reason).
func (s *Schedules) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Schedules) catchup() time.Duration { return series.CatchupWindow(s.CatchupWindow) }

// unavailable wraps a failure of Temporal's as ErrUnavailable.
func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}

// Create makes the series' schedule, paused when the series is. Making one
// that exists (a retried request) brings it in line instead.
func (s *Schedules) Create(ctx context.Context, sr series.Series, c series.Compiled) error {
	_, err := s.Temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: sr.ScheduleID, Spec: c.ScheduleSpec(s.now(), sr.CreatedAt), Action: s.action(sr),
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL, CatchupWindow: s.catchup(),
		Paused: sr.Status == series.StatusPaused, Note: note(sr),
	})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return s.Update(ctx, sr, c)
	}
	if err != nil {
		return unavailable("create schedule "+sr.ScheduleID, err)
	}
	return nil
}

// Update gives the series' schedule the recurrence and template of sr,
// keeping its pause as sr's status says.
func (s *Schedules) Update(ctx context.Context, sr series.Series, c series.Compiled) error {
	spec := c.ScheduleSpec(s.now(), sr.CreatedAt)
	err := s.Temporal.ScheduleClient().GetHandle(ctx, sr.ScheduleID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			sch := in.Description.Schedule
			sch.Spec, sch.Action = &spec, s.action(sr)
			sch.Policy = &client.SchedulePolicies{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL, CatchupWindow: s.catchup()}
			if sch.State == nil {
				sch.State = &client.ScheduleState{}
			}
			sch.State.Paused, sch.State.Note = sr.Status == series.StatusPaused, note(sr)
			return &client.ScheduleUpdate{Schedule: &sch}, nil
		},
	})
	if err != nil {
		return unavailable("update schedule "+sr.ScheduleID, err)
	}
	return nil
}

// Pause stops the schedule's actions until Unpause; a trigger still acts.
func (s *Schedules) Pause(ctx context.Context, sr series.Series) error {
	if err := s.Temporal.ScheduleClient().GetHandle(ctx, sr.ScheduleID).Pause(ctx, client.SchedulePauseOptions{Note: note(sr)}); err != nil {
		return unavailable("pause schedule "+sr.ScheduleID, err)
	}
	return nil
}

// Unpause resumes the schedule's actions.
func (s *Schedules) Unpause(ctx context.Context, sr series.Series) error {
	if err := s.Temporal.ScheduleClient().GetHandle(ctx, sr.ScheduleID).Unpause(ctx, client.ScheduleUnpauseOptions{Note: note(sr)}); err != nil {
		return unavailable("unpause schedule "+sr.ScheduleID, err)
	}
	return nil
}

// Trigger makes one occurrence of the series now, paused or not: a run of
// SeriesOccurrence of its own, named by key (the request's id), so a
// retried request makes one occurrence and a trigger in the same second as
// a scheduled occurrence is not taken for it. (A Temporal schedule's own
// trigger names its run by the second, and would be.)
func (s *Schedules) Trigger(ctx context.Context, sr series.Series, key string) error {
	id := "series-occurrence:" + sr.ID.String() + "-trigger:" + key
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: s.TaskQueue, StaticSummary: "Occurrence of the series " + sr.Title + " (triggered)",
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, SeriesOccurrenceName, SeriesOccurrenceInput{SeriesID: sr.ID, Key: "trigger:" + key, Nominal: s.now().UTC()})
	if err != nil {
		return unavailable("trigger series "+sr.ID.String(), err)
	}
	return nil
}

// Delete removes the schedule; one already gone is fine.
func (s *Schedules) Delete(ctx context.Context, scheduleID string) error {
	err := s.Temporal.ScheduleClient().GetHandle(ctx, scheduleID).Delete(ctx)
	var gone *serviceerror.NotFound
	if err != nil && !errors.As(err, &gone) {
		return unavailable("delete schedule "+scheduleID, err)
	}
	return nil
}

// Next are the series' next n occurrences, as its schedule will make them
// (Temporal's next action times, one per occurrence), within its count.
func (s *Schedules) Next(ctx context.Context, sr series.Series, c series.Compiled, n int) ([]time.Time, error) {
	d, err := s.Temporal.ScheduleClient().GetHandle(ctx, sr.ScheduleID).Describe(ctx)
	if err != nil {
		return nil, unavailable("describe schedule "+sr.ScheduleID, err)
	}
	next := c.Next(d.Info.NextActionTimes)
	if left := sr.Recurrence.Count - sr.Occurrences; sr.Recurrence.Count > 0 && left < n {
		n = max(left, 0)
	}
	return next[:min(n, len(next))], nil
}

func (s *Schedules) action(sr series.Series) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID: "series-occurrence:" + sr.ID.String(), Workflow: SeriesOccurrenceName, TaskQueue: s.TaskQueue,
		// No run timeout: a run that waited out an outage still records its
		// occurrence as skipped when it came too late.
		Args:          []any{SeriesOccurrenceInput{SeriesID: sr.ID}},
		StaticSummary: "Occurrence of the series " + sr.Title,
	}
}

// note is what Temporal Web UI shows of the series.
func note(sr series.Series) string {
	when := sr.Recurrence.Cron
	if when == "" {
		when = "every " + sr.Recurrence.Every
	}
	return fmt.Sprintf("Crier series %q (%s): %s in %s, sent by %s", sr.Title, sr.ID, when, sr.Recurrence.TimeZone, sr.Sender.Name)
}
