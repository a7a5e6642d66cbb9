package workflows

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
)

// BroadcastInput starts a broadcast's workflow.
type BroadcastInput struct {
	BroadcastID uuid.UUID
	ScheduledAt time.Time
	ExpiresAt   time.Time
	// PublishLead is how long before ScheduledAt the workflow wakes up; its
	// publish activity then holds in the worker until ScheduledAt itself.
	// Workflows started from December 2026 get zero and wake at ScheduledAt:
	// the exact instant is kept by every worker's due dispatcher
	// (internal/due), which a stopped or dead worker cannot delay, and the
	// workflow's own publish then finds the broadcast SENT. Workflows started
	// with a lead (up to a minute, spread over a burst) still hold as they
	// were written to, until the last of them has run.
	PublishLead time.Duration `json:",omitempty"`
	// SendNowTolerance is how far in the past a new scheduled_at may lie
	// and still be taken as "now" (CRIER_SEND_NOW_TOLERANCE, as the API
	// judges a new broadcast's): the API's clock and the workflow's differ
	// a little. Zero (workflows started before it existed) is
	// broadcast.DefaultSendNowTolerance, the grace they always had.
	SendNowTolerance time.Duration `json:",omitempty"`
	// LocalTime marks a broadcast sent at each recipient's local time: at
	// ScheduledAt it begins its waves (activities.BeginWaves) and sends each
	// later one at its instant. Workflows started before it existed have
	// none and publish at once, as they always did.
	LocalTime bool `json:",omitempty"`
}

// BroadcastResult is how a broadcast's workflow ended.
type BroadcastResult struct {
	Status broadcast.Status
}

// CancelRequest asks a broadcast to cancel.
type CancelRequest struct {
	// By is who asked and under which request, for the audit entry the
	// cancel activity commits with the change. The API always sets it; a
	// signal's is replaced by ActorSignal (see originOf).
	By audit.Origin `json:",omitzero"`
}

// RescheduleRequest gives a broadcast new times (a nil time is kept), asked
// by By (as in CancelRequest).
type RescheduleRequest struct {
	broadcast.Change
	By audit.Origin `json:",omitzero"`
}

// UpdateResult answers an update with the broadcast's state after it.
type UpdateResult = State

// State is what the workflow knows of its broadcast.
type State struct {
	Status      broadcast.Status
	ScheduledAt time.Time
	ExpiresAt   time.Time
}

// acts lets the workflow name activities by method, so names cannot drift.
var acts *activities.Activities

// Broadcast is the workflow of one broadcast.
func Broadcast(ctx workflow.Context, in BroadcastInput) (BroadcastResult, error) {
	w := &broadcastWorkflow{
		id:           in.BroadcastID,
		status:       broadcast.StatusScheduled,
		scheduledAt:  in.ScheduledAt,
		expiresAt:    in.ExpiresAt,
		lead:         max(in.PublishLead, 0),
		grace:        in.SendNowTolerance,
		local:        in.LocalTime,
		cancelCh:     workflow.GetSignalChannel(ctx, SignalCancel),
		rescheduleCh: workflow.GetSignalChannel(ctx, SignalReschedule),
		logger:       log.With(workflow.GetLogger(ctx), "broadcast_id", in.BroadcastID),
	}
	if w.grace <= 0 {
		w.grace = broadcast.DefaultSendNowTolerance
	}
	if err := w.registerHandlers(ctx); err != nil {
		return BroadcastResult{}, err
	}
	return w.run(ctx)
}

type broadcastWorkflow struct {
	id                     uuid.UUID
	status                 broadcast.Status
	scheduledAt, expiresAt time.Time
	lead                   time.Duration
	grace                  time.Duration // BroadcastInput.SendNowTolerance
	local                  bool          // BroadcastInput.LocalTime
	// cancelRequested is set as soon as a cancel arrives, before the cancel
	// activity has run, so the workflow never starts publishing after it.
	cancelRequested bool
	// changes counts applied reschedules; a wait restarts when it moves.
	changes int
	// notFound is set when the broadcast's row never committed.
	notFound bool

	cancelCh, rescheduleCh workflow.ReceiveChannel
	logger                 log.Logger
}

func (w *broadcastWorkflow) run(ctx workflow.Context) (BroadcastResult, error) {
	if w.waitUntil(ctx, "until scheduled_at", func() time.Time { return w.scheduledAt.Add(-w.lead) }) {
		if w.local {
			w.publishWaves(ctx)
		} else {
			w.publish(ctx)
		}
	}
	if w.status.Published() && w.waitUntil(ctx, "until expires_at", func() time.Time { return w.expiresAt }) {
		w.expire(ctx)
	}
	if ctx.Err() != nil {
		w.cancelAfterWorkflowCancel(ctx)
	}
	// An update still running its activity must finish before the workflow
	// completes, or its caller would never get an answer.
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	if w.notFound {
		return BroadcastResult{}, temporal.NewNonRetryableApplicationError(
			"broadcast does not exist: the request that started this workflow never committed it", activities.ErrTypeNotFound, nil)
	}
	w.logger.Info("Broadcast workflow done", "status", w.status)
	return BroadcastResult{Status: w.status}, nil
}

// waitUntil sleeps until at() while handling signals, restarting the timer
// when a reschedule moves at(). It reports false when the broadcast ended
// meanwhile (cancelled) or the workflow itself was cancelled.
func (w *broadcastWorkflow) waitUntil(ctx workflow.Context, summary string, at func() time.Time) bool {
	for {
		w.handleSignals(ctx)
		if w.ending() {
			return false
		}
		d := at().Sub(workflow.Now(ctx))
		if d <= 0 {
			return true
		}
		seen := w.changes
		_, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
			Timeout:      d,
			TimerOptions: workflow.TimerOptions{Summary: summary},
		}, func() bool {
			return w.ending() || w.changes != seen || w.cancelCh.Len() > 0 || w.rescheduleCh.Len() > 0
		})
		if err != nil { // the workflow itself was cancelled
			return false
		}
	}
}

func (w *broadcastWorkflow) ending() bool {
	return w.cancelRequested || w.notFound || w.status.Terminal()
}

// handleSignals applies every signal received so far, in order, exactly as
// the matching update would, but with no one to answer: refusals are logged
// and recorded in the audit log (refuse). Signals arrive at least once, so
// each is idempotent.
func (w *broadcastWorkflow) handleSignals(ctx workflow.Context) {
	for {
		var cancel CancelRequest
		var change RescheduleRequest
		switch {
		case w.cancelCh.ReceiveAsync(&cancel):
			cancel.By = temporalOrigin(ActorSignal)
			if err := w.validateCancel(ctx, cancel); err != nil {
				w.refuse(ctx, SignalCancel, err, activities.Refusal{})
				continue
			}
			if _, err := w.cancel(ctx, cancel); err != nil {
				w.logger.Warn("Cancel signal failed", "error", err)
			}
		case w.rescheduleCh.ReceiveAsync(&change):
			change.By = temporalOrigin(ActorSignal)
			if err := w.validateReschedule(ctx, change); err != nil {
				w.refuse(ctx, SignalReschedule, err,
					activities.Refusal{ScheduledAt: change.ScheduledAt, ExpiresAt: change.ExpiresAt})
				continue
			}
			if _, err := w.reschedule(ctx, change); err != nil {
				w.logger.Warn("Reschedule signal failed", "error", err)
			}
		default:
			return
		}
	}
}

// versionAuditRefusedSignals is the change that records refused signals in
// the audit log: workflows that refused one before it recorded nothing.
const versionAuditRefusedSignals = "audit-refused-signals"

// refuse makes a signal the workflow refused visible: a signal has no one to
// answer, and an operator whose reschedule named a past time would otherwise
// see it "succeed" and nothing happen. The reason is logged and, in the
// signal's actor's name, recorded in the audit log.
func (w *broadcastWorkflow) refuse(ctx workflow.Context, signal string, reason error, refusal activities.Refusal) {
	refusal.Signal, refusal.Reason = signal, message(reason)
	w.logger.Warn("Signal refused", "signal", signal, "reason", refusal.Reason)
	if workflow.GetVersion(ctx, versionAuditRefusedSignals, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	in := activities.RefusalInput{BroadcastID: w.id, By: temporalOrigin(ActorSignal), Refusal: refusal}
	if _, err := w.execute(ctx, acts.RecordRefusal, in); err != nil {
		w.logger.Error("Could not record the refused signal in the audit log", "signal", signal, "error", err)
	}
}

// message is err's own message: an application error's without the type
// and retry details its Error adds.
func message(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// publish runs the publish activity: at scheduled_at, usually to find the
// broadcast published already by a due dispatcher (internal/due), or else to
// publish it. A workflow started with a lead woke early and its activity
// waits in the worker until scheduled_at (see BroadcastInput.PublishLead);
// signals and updates that arrive meanwhile are handled once it is done.
func (w *broadcastWorkflow) publish(ctx workflow.Context) {
	in := activities.TransitionInput{BroadcastID: w.id}
	if w.lead > 0 {
		in.NotBefore = w.scheduledAt
	}
	out, err := w.execute(ctx, acts.Publish, in)
	if err != nil && !w.notFound {
		// Only a non-retryable error gets here: transient ones retry forever.
		w.fail(ctx, err)
		return
	}
	if out.Applied {
		w.logger.Info("Broadcast published")
	}
}

// versionLocalTimeWaves is the change that publishes a local-time broadcast
// in waves. Only workflows started with BroadcastInput.LocalTime take that
// path, all of them after the change; its marker lets the next change to
// the waves tell their histories apart.
const versionLocalTimeWaves = "local-time-waves"

// publishWaves publishes a local-time broadcast: its first wave at
// scheduled_at (which plans them all), then each later one at its instant,
// until the last leaves it SENT. A cancel stops the waves not yet sent (the
// cancel itself retracts those sent).
func (w *broadcastWorkflow) publishWaves(ctx workflow.Context) {
	workflow.GetVersion(ctx, versionLocalTimeWaves, workflow.DefaultVersion, 1)
	out, err := w.execute(ctx, acts.BeginWaves, activities.TransitionInput{BroadcastID: w.id})
	if err != nil {
		if !w.notFound {
			w.fail(ctx, err)
		}
		return
	}
	w.logger.Info("Broadcast began its waves", "waves", len(out.Waves), "sent", out.WavesSent)
	for n := out.WavesSent + 1; n <= len(out.Waves); n++ {
		at := out.Waves[n-1]
		if !w.waitUntil(ctx, fmt.Sprintf("until wave %d of %d", n, len(out.Waves)), func() time.Time { return at }) {
			return
		}
		if _, err := w.execute(ctx, acts.SendWave, activities.WaveInput{BroadcastID: w.id, Wave: n}); err != nil {
			w.fail(ctx, err)
			return
		}
		w.logger.Info("Broadcast sent a wave", "wave", n, "waves", len(out.Waves))
	}
}

func (w *broadcastWorkflow) expire(ctx workflow.Context) {
	if out, err := w.execute(ctx, acts.Expire, activities.TransitionInput{BroadcastID: w.id}); err == nil && out.Applied {
		w.logger.Info("Broadcast expired")
	}
}

func (w *broadcastWorkflow) fail(ctx workflow.Context, cause error) {
	reason := message(cause)
	w.logger.Error("Broadcast publication failed for good", "error", cause)
	if _, err := w.execute(ctx, acts.Fail, activities.FailInput{BroadcastID: w.id, Reason: reason}); err != nil {
		w.logger.Error("Could not record failure", "error", err)
	}
}

// cancelAfterWorkflowCancel honours a cancel request made on the workflow
// itself (Temporal Web UI's Cancel button) as a cancel of the broadcast.
func (w *broadcastWorkflow) cancelAfterWorkflowCancel(ctx workflow.Context) {
	if w.status.Terminal() {
		return
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if _, err := w.cancel(dctx, CancelRequest{By: temporalOrigin(ActorWorkflowCancel)}); err != nil {
		w.logger.Error("Cancel after workflow cancellation failed", "error", err)
	}
}

// execute runs a transition as a local activity (no task queue round trip:
// thousands of broadcasts may fall due in the same second) and applies its
// outcome.
func (w *broadcastWorkflow) execute(ctx workflow.Context, activity, input any) (activities.Outcome, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		// The publish activity may first wait up to the lead.
		StartToCloseTimeout: 10*time.Second + w.lead,
		// Without it the SDK stops retrying after StartToCloseTimeout: an
		// outage of PostgreSQL longer than that would fail the broadcast.
		// A year is "until it passes" for any outage anyone lives through.
		ScheduleToCloseTimeout: 365 * 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    200 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
			// No maximum attempts: PostgreSQL being down must delay a
			// broadcast, never lose it.
		},
	})
	var out activities.Outcome
	err := workflow.ExecuteLocalActivity(ctx, activity, input).Get(ctx, &out)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeNotFound {
		w.notFound = true
	}
	if err != nil {
		return out, err
	}
	w.observe(ctx, out)
	return out, nil
}

// observe records an activity's outcome. Status only moves forward (in the
// lifecycle's Rank): two activities racing (a publish and a cancel) may
// complete in either order.
func (w *broadcastWorkflow) observe(ctx workflow.Context, out activities.Outcome) {
	if !out.ScheduledAt.IsZero() && !out.ScheduledAt.Equal(w.scheduledAt) {
		w.scheduledAt = out.ScheduledAt
		w.upsert(ctx, ScheduledAtKey.ValueSet(w.scheduledAt))
	}
	if !out.ExpiresAt.IsZero() {
		w.expiresAt = out.ExpiresAt
	}
	if w.status.Terminal() || broadcast.Transitions.Rank(out.Status) <= broadcast.Transitions.Rank(w.status) {
		return
	}
	w.status = out.Status
	w.upsert(ctx, StatusKey.ValueSet(string(w.status)))
}

func (w *broadcastWorkflow) upsert(ctx workflow.Context, update temporal.SearchAttributeUpdate) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, update); err != nil {
		w.logger.Warn("Could not update search attribute", "error", err)
	}
}

func conflict(format string, args ...any) error {
	return temporal.NewApplicationError(fmt.Sprintf(format, args...), ErrTypeConflict)
}
