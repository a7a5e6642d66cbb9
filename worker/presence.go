package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/workflows"
)

// PresenceScheduleID is the id of the maintenance schedule (named when it
// only cleaned up presence), and the prefix of the workflow ids it starts
// (Temporal appends the start time).
const PresenceScheduleID = "crier-presence-cleanup"

// scheduleNote is the schedule's note in Temporal Web UI.
const scheduleNote = "Crier's maintenance run: removes connections of API nodes that stopped refreshing them, " +
	"and deletes rows past their retention horizons (crier worker creates this)"

// ScheduleConfig configures the maintenance schedule.
type ScheduleConfig struct {
	// ID of the schedule and of its workflows. Default PresenceScheduleID.
	ID string
	// TaskQueue the workflows run on: the workers' queue. Required.
	TaskQueue string
	// Every is the time between runs. Default one minute.
	Every time.Duration
	// StaleAfter is how old a connection's last refresh must be for a run to
	// remove it. Default presence.DefaultRemoveAfter (60 s); at least twice
	// presence.DefaultHeartbeatInterval, or live connections would go.
	StaleAfter time.Duration
	// Retention is how long each table keeps its rows before a run deletes
	// them; a zero horizon leaves its table alone. Default: none (the
	// process's configuration gives every horizon, config.Retention).
	Retention workflows.RetentionHorizons
	// Logger receives what was done. Default slog.Default().
	Logger *slog.Logger
}

func (cfg *ScheduleConfig) fill() error {
	if cfg.ID == "" {
		cfg.ID = PresenceScheduleID
	}
	if cfg.Every == 0 {
		cfg.Every = time.Minute
	}
	if cfg.StaleAfter == 0 {
		cfg.StaleAfter = presence.DefaultRemoveAfter
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case cfg.TaskQueue == "":
		return errors.New("presence schedule: a task queue is required")
	case cfg.Every < time.Second:
		return fmt.Errorf("presence schedule: interval %s is under a second", cfg.Every)
	case cfg.StaleAfter < 2*presence.DefaultHeartbeatInterval:
		return fmt.Errorf("presence schedule: StaleAfter %s is under two heartbeats (%s): live connections would be removed",
			cfg.StaleAfter, 2*presence.DefaultHeartbeatInterval)
	}
	h := cfg.Retention
	if h.Outbox < 0 || h.ProcessedEvents < 0 || h.Deliveries < 0 || h.StreamEvents < 0 {
		return fmt.Errorf("presence schedule: retention horizons must not be negative: %+v", h)
	}
	return nil
}

// RegisterPresence registers the PresenceCleanup workflow (the maintenance
// run) and its activities on w. New calls it when its Config has Presence.
func RegisterPresence(w worker.Registry, acts *activities.PresenceActivities) {
	w.RegisterWorkflowWithOptions(workflows.PresenceCleanup, workflow.RegisterOptions{Name: workflows.PresenceCleanupName})
	w.RegisterActivity(acts)
}

// EnsurePresenceSchedule makes sure the schedule that starts PresenceCleanup
// exists as cfg describes it. Every worker calls it at start: the first
// creates the schedule, the others find it and leave it alone when it
// matches, or bring it in line (a new task queue, interval or retention
// horizon: the last worker started wins) when it does not. A pause an
// operator set, and PauseOnFailure, are kept.
func EnsurePresenceSchedule(ctx context.Context, c client.Client, cfg ScheduleConfig) error {
	if err := cfg.fill(); err != nil {
		return err
	}
	spec, action, policy := presenceSchedule(cfg)
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:            cfg.ID,
		Spec:          spec,
		Action:        action,
		Overlap:       policy.Overlap,
		CatchupWindow: policy.CatchupWindow,
		Note:          scheduleNote,
	})
	if err == nil {
		cfg.Logger.Info("Created the maintenance schedule", "schedule_id", cfg.ID, "every", cfg.Every, "task_queue", cfg.TaskQueue,
			"retention", cfg.Retention)
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %s: %w", cfg.ID, err)
	}
	updated := false
	var superseded []client.ScheduleWorkflowExecution
	err = c.ScheduleClient().GetHandle(ctx, cfg.ID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			if scheduleMatches(s, cfg) {
				return nil, temporal.ErrSkipScheduleUpdate
			}
			if s.Policy != nil { // an operator's choice, kept
				policy.PauseOnFailure = s.Policy.PauseOnFailure
			}
			s.Spec, s.Action, s.Policy = &spec, action, &policy
			if s.State != nil {
				s.State.Note = scheduleNote
			}
			updated, superseded = true, in.Description.Info.RunningWorkflows
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", cfg.ID, err)
	}
	if updated {
		cfg.Logger.Info("Updated the maintenance schedule", "schedule_id", cfg.ID, "every", cfg.Every, "task_queue", cfg.TaskQueue,
			"retention", cfg.Retention)
		terminateSuperseded(ctx, c, superseded, cfg.Logger)
	}
	return nil
}

// terminateSuperseded ends the runs the schedule started before it was
// brought in line. They run with the old input, perhaps on a task queue no
// worker polls any more (the queue moved), and under SKIP a run that cannot
// finish holds back every later one until its timeout. Their deletes are
// bounded and idempotent: the next run does the same work.
func terminateSuperseded(ctx context.Context, c client.Client, runs []client.ScheduleWorkflowExecution, logger *slog.Logger) {
	for _, r := range runs {
		err := c.TerminateWorkflow(ctx, r.WorkflowID, r.FirstExecutionRunID, "superseded: the maintenance schedule was updated")
		var gone *serviceerror.NotFound
		switch {
		case err == nil:
			logger.Info("Ended a maintenance run the updated schedule supersedes", "workflow_id", r.WorkflowID)
		case !errors.As(err, &gone): // a run that finished meanwhile is fine
			logger.Warn("Could not end a superseded maintenance run; its timeout ends it", "workflow_id", r.WorkflowID, "error", err)
		}
	}
}

// presenceSchedule is the schedule cfg describes. Overlap SKIP and a short
// catch-up window: a run missed while Temporal or the workers were down is
// not worth replaying, the next one does the same work.
func presenceSchedule(cfg ScheduleConfig) (client.ScheduleSpec, *client.ScheduleWorkflowAction, client.SchedulePolicies) {
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: cfg.Every}}}
	action := &client.ScheduleWorkflowAction{
		ID:        cfg.ID,
		Workflow:  workflows.PresenceCleanupName,
		Args:      []any{cfg.input()},
		TaskQueue: cfg.TaskQueue,
		// A run that cannot finish (no worker polls the queue) gives way to
		// the next instead of blocking every later one under SKIP.
		WorkflowExecutionTimeout: 5 * cfg.Every,
	}
	policy := client.SchedulePolicies{
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: time.Minute,
	}
	return spec, action, policy
}

// scheduleMatches reports whether an existing schedule already is what cfg
// describes.
func scheduleMatches(s client.Schedule, cfg ScheduleConfig) bool {
	want, wantAction, wantPolicy := presenceSchedule(cfg)
	if s.Spec == nil || len(s.Spec.Calendars) > 0 || len(s.Spec.CronExpressions) > 0 ||
		len(s.Spec.Intervals) != 1 || s.Spec.Intervals[0] != want.Intervals[0] {
		return false
	}
	if s.Policy == nil || s.Policy.Overlap != wantPolicy.Overlap || s.Policy.CatchupWindow != wantPolicy.CatchupWindow {
		return false
	}
	a, ok := s.Action.(*client.ScheduleWorkflowAction)
	if !ok || a.ID != wantAction.ID || a.Workflow != wantAction.Workflow || a.TaskQueue != wantAction.TaskQueue ||
		a.WorkflowExecutionTimeout != wantAction.WorkflowExecutionTimeout || len(a.Args) != 1 {
		return false
	}
	// A described schedule holds its arguments encoded.
	payload, ok := a.Args[0].(*commonpb.Payload)
	var in workflows.PresenceCleanupInput
	return ok && converter.GetDefaultDataConverter().FromPayload(payload, &in) == nil && in == cfg.input()
}

// input is what each run of the schedule is given.
func (cfg ScheduleConfig) input() workflows.PresenceCleanupInput {
	return workflows.PresenceCleanupInput{StaleAfter: cfg.StaleAfter, Retention: cfg.Retention}
}
