package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
)

// ErrUnavailable means Temporal did not answer (down, overloaded or too
// slow); nothing was changed and the caller may retry.
var ErrUnavailable = errors.New("temporal unavailable")

// ErrNotRunning means the broadcast's workflow has already completed, so it
// can take no more requests; the broadcast's stored status tells why.
var ErrNotRunning = errors.New("broadcast workflow is not running")

// Client starts and steers broadcast workflows.
type Client struct {
	Temporal  client.Client
	TaskQueue string
	// SendNowTolerance is each new workflow's BroadcastInput.SendNowTolerance
	// (CRIER_SEND_NOW_TOLERANCE); zero gives broadcast.DefaultSendNowTolerance.
	SendNowTolerance time.Duration
}

// Start starts the workflow of a scheduled broadcast. It is idempotent: a
// second start of the same broadcast, while its workflow runs or after it
// completed, starts nothing and succeeds.
func (c *Client) Start(ctx context.Context, b broadcast.Broadcast) error {
	err := c.execute(ctx, b, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil
	}
	return err
}

// execute starts a run of b's workflow with the given id policies. A failure
// of Temporal's is ErrUnavailable.
func (c *Client) execute(ctx context.Context, b broadcast.Broadcast, reuse enumspb.WorkflowIdReusePolicy,
	conflict enumspb.WorkflowIdConflictPolicy) error {
	if b.ScheduledAt == nil || b.ExpiresAt == nil {
		return fmt.Errorf("broadcast %s has no schedule", b.ID)
	}
	_, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       b.WorkflowID,
		TaskQueue:                c.TaskQueue,
		WorkflowIDReusePolicy:    reuse,
		WorkflowIDConflictPolicy: conflict,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			StatusKey.ValueSet(string(broadcast.StatusScheduled)),
			ScheduledAtKey.ValueSet(*b.ScheduledAt),
		),
		StaticSummary: Summary(b),
		StaticDetails: details(b),
	}, WorkflowName, BroadcastInput{
		BroadcastID: b.ID, ScheduledAt: *b.ScheduledAt, ExpiresAt: *b.ExpiresAt, SendNowTolerance: c.SendNowTolerance,
		LocalTime: b.LocalTime != nil,
	})
	if err != nil {
		return fmt.Errorf("%w: start workflow %s: %w", ErrUnavailable, b.WorkflowID, err)
	}
	return nil
}

// Summary is the line Temporal Web UI and the CLI show for b's workflow, so
// an operator finds "the 09:00 maintenance notice" by its title and
// audience rather than by its id.
func Summary(b broadcast.Broadcast) string {
	return broadcast.Cut(fmt.Sprintf("%s · to %s", b.Title, b.Target.Describe()), 200)
}

// details are the fixed facts Temporal Web UI shows on b's workflow page
// (Markdown): who sent it, to whom, when, and its id in Crier.
func details(b broadcast.Broadcast) string {
	return fmt.Sprintf("**%s** (%s priority, category %s)\n\nSent by %s (%s) to %s.\n\nScheduled %s, expires %s.\n\nCrier broadcast `%s`; its status is in the `CrierStatus` search attribute.",
		broadcast.Cut(b.Title, 200), b.Priority, b.Category, b.Sender.Name, b.Sender.ID, b.Target.Describe(),
		b.ScheduledAt.UTC().Format(time.RFC3339), b.ExpiresAt.UTC().Format(time.RFC3339), b.ID)
}

// Cancel cancels a broadcast through its workflow, as asked by by, and waits
// for the answer. The workflow's activity records by's cancel in the audit
// log in the change's transaction.
func (c *Client) Cancel(ctx context.Context, by audit.Origin, id uuid.UUID) (State, error) {
	return c.update(ctx, id, UpdateCancel, CancelRequest{By: by})
}

// Reschedule gives a broadcast new times through its workflow and waits for
// the answer; req.By is recorded as in Cancel.
func (c *Client) Reschedule(ctx context.Context, id uuid.UUID, req RescheduleRequest) (State, error) {
	return c.update(ctx, id, UpdateReschedule, req)
}

// UpdateWait bounds how long a cancel or reschedule waits for its
// workflow's answer. A worker that died holding the workflow hands it on
// within the workflow task timeout (10 s), so an answer comes well within
// it; past it the caller gets ErrUnavailable, before the API server's write
// timeout (30 s) would cut the connection without an answer.
const UpdateWait = 20 * time.Second

func (c *Client) update(ctx context.Context, id uuid.UUID, name string, arg any) (State, error) {
	var state State
	ctx, cancel := context.WithTimeout(ctx, UpdateWait)
	defer cancel()
	handle, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   broadcast.WorkflowID(id),
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = handle.Get(ctx, &state)
	}
	var (
		notFound *serviceerror.NotFound
		appErr   *temporal.ApplicationError
	)
	switch {
	case err == nil:
		return state, nil
	case errors.As(err, &notFound):
		return state, ErrNotRunning
	case errors.As(err, &appErr):
		return state, err // the workflow's own answer, such as a conflict
	default:
		return state, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, name, broadcast.WorkflowID(id), err)
	}
}

// IsConflict reports whether err is the workflow refusing a request its
// broadcast's state does not allow, and returns the workflow's reason.
func IsConflict(err error) (string, bool) {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == ErrTypeConflict {
		return appErr.Message(), true
	}
	return "", false
}

// Restart starts a new run of the workflow of a FAILED broadcast being
// retried, under the same workflow id. A run that ended (publication
// failed) is followed by the new one; a run still open is terminated first:
// its broadcast is FAILED, so all it had left to do was wait (until
// expires_at, when the relay failed a published broadcast) and find that
// out. Two runs of one broadcast never coexist.
func (c *Client) Restart(ctx context.Context, b broadcast.Broadcast) error {
	return c.execute(ctx, b, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, enumspb.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING)
}
