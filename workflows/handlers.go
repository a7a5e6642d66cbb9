package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
)

// The actors the audit log names for changes that reach a workflow other
// than through the API, which always says who asked.
const (
	// ActorSignal is a cancel or reschedule signal, sent with the Temporal
	// CLI or Web UI: Temporal does not say by whom.
	ActorSignal = "temporal-signal"
	// ActorWorkflowCancel is a cancel of the workflow itself (Web UI's
	// Cancel button), which cancels the broadcast.
	ActorWorkflowCancel = "temporal-workflow-cancel"
	// ActorUpdate is an update that names no actor: sent by hand with the
	// Temporal CLI.
	ActorUpdate = "temporal-update"
)

// temporalOrigin is the origin of a change made through Temporal by actor.
func temporalOrigin(actor string) audit.Origin {
	return audit.Origin{Actor: audit.Actor{ID: actor, Name: actor, Roles: []string{}}}
}

// originOf is by, or ActorUpdate when by names no actor.
func originOf(by audit.Origin) audit.Origin {
	if by.Actor.ID == "" {
		return temporalOrigin(ActorUpdate)
	}
	return by
}

func (w *broadcastWorkflow) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return w.state(), nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateCancel, w.cancel,
		workflow.UpdateHandlerOptions{Validator: w.validateCancel}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateReschedule, w.reschedule,
		workflow.UpdateHandlerOptions{Validator: w.validateReschedule})
}

func (w *broadcastWorkflow) state() State {
	return State{Status: w.status, ScheduledAt: w.scheduledAt, ExpiresAt: w.expiresAt}
}

// validateCancel refuses a cancel the lifecycle does not allow from the
// broadcast's status; cancelling a cancelled broadcast succeeds, so a
// retried request does too.
func (w *broadcastWorkflow) validateCancel(_ workflow.Context, _ CancelRequest) error {
	cancel := broadcast.Transitions[broadcast.OpCancel]
	if w.status != cancel.To && !broadcast.Transitions.Allows(broadcast.OpCancel, w.status) {
		return conflict("broadcast is already %s", w.status)
	}
	return nil
}

func (w *broadcastWorkflow) cancel(ctx workflow.Context, req CancelRequest) (UpdateResult, error) {
	w.cancelRequested = true
	if w.status == broadcast.StatusCancelled {
		return w.state(), nil
	}
	out, err := w.execute(ctx, acts.Cancel, activities.CancelInput{BroadcastID: w.id, By: originOf(req.By)})
	if err != nil {
		return w.state(), err
	}
	if !out.Applied && out.Status != broadcast.StatusCancelled {
		return w.state(), conflict("broadcast is already %s", out.Status)
	}
	w.logger.Info("Broadcast cancelled")
	return w.state(), nil
}

// validateReschedule refuses, before anything is recorded in history, a
// change the broadcast's state cannot take: one the lifecycle does not allow
// from its status (a new scheduled_at after publication, any change once it
// has ended), a new scheduled_at further in the past than the send-now
// tolerance, or a new expires_at not after both now and the scheduled time.
func (w *broadcastWorkflow) validateReschedule(ctx workflow.Context, req RescheduleRequest) error {
	now := workflow.Now(ctx)
	op := broadcast.OpRescheduleExpiry
	if req.ScheduledAt != nil {
		op = broadcast.OpReschedule
	}
	switch {
	case w.status.Terminal() || w.cancelRequested:
		return conflict("broadcast is already %s", w.finalStatus())
	case req.ScheduledAt == nil && req.ExpiresAt == nil:
		return conflict("give scheduled_at, expires_at or both")
	case !broadcast.Transitions.Allows(op, w.status) && broadcast.Transitions.Allows(broadcast.OpRescheduleExpiry, w.status):
		return conflict("broadcast was already published at its scheduled time; only expires_at can change now")
	case !broadcast.Transitions.Allows(op, w.status):
		return conflict("broadcast is %s: it can no longer take this change", w.status)
	case req.ScheduledAt != nil && req.ScheduledAt.Before(now.Add(-w.grace)):
		return conflict("scheduled_at %s has already passed", req.ScheduledAt.Format(time.RFC3339))
	}
	scheduledAt := w.scheduledAt
	if req.ScheduledAt != nil {
		scheduledAt = *req.ScheduledAt
	}
	expiresAt := w.expiresAt
	if req.ExpiresAt != nil {
		expiresAt = *req.ExpiresAt
	}
	if !expiresAt.After(scheduledAt) || !expiresAt.After(now) {
		return conflict("expires_at %s must be after scheduled_at %s and after now",
			expiresAt.Format(time.RFC3339), scheduledAt.Format(time.RFC3339))
	}
	return nil
}

func (w *broadcastWorkflow) finalStatus() broadcast.Status {
	if w.cancelRequested && !w.status.Terminal() {
		return broadcast.StatusCancelled
	}
	return w.status
}

func (w *broadcastWorkflow) reschedule(ctx workflow.Context, req RescheduleRequest) (UpdateResult, error) {
	out, err := w.execute(ctx, acts.Reschedule, activities.RescheduleInput{
		BroadcastID: w.id, ScheduledAt: req.ScheduledAt, ExpiresAt: req.ExpiresAt, By: originOf(req.By),
	})
	if err != nil {
		return w.state(), err
	}
	if !out.Applied {
		return w.state(), conflict("broadcast is %s: it can no longer take this change", out.Status)
	}
	w.changes++
	w.logger.Info("Broadcast rescheduled", "scheduled_at", w.scheduledAt, "expires_at", w.expiresAt)
	return w.state(), nil
}
