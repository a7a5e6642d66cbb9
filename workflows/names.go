package workflows

import (
	"go.temporal.io/sdk/temporal"
)

// Names shared by the workflow, its worker and its callers.
const (
	// TaskQueue is the default task queue of broadcast workflows.
	TaskQueue = "crier-broadcasts"
	// WorkflowName is the registered name of the Broadcast workflow.
	WorkflowName = "Broadcast"

	// SignalCancel asks a broadcast to cancel; payload CancelRequest.
	SignalCancel = "cancel"
	// SignalReschedule gives a broadcast new times; payload RescheduleRequest.
	SignalReschedule = "reschedule"
	// UpdateCancel is SignalCancel with a validated, synchronous answer.
	UpdateCancel = "cancel"
	// UpdateReschedule is SignalReschedule with a validated, synchronous answer.
	UpdateReschedule = "reschedule"
	// QueryState returns the workflow's State.
	QueryState = "state"

	// ErrTypeConflict is the application error type of an update refused
	// because the broadcast's state does not allow it (HTTP 409).
	ErrTypeConflict = "Conflict"
)

// Custom search attributes, kept current so Temporal Web UI can filter
// broadcasts, e.g. `CrierStatus = "SCHEDULED"`. The worker registers them at
// start; the dev server gets them with --search-attribute.
var (
	StatusKey      = temporal.NewSearchAttributeKeyKeyword("CrierStatus")
	ScheduledAtKey = temporal.NewSearchAttributeKeyTime("CrierScheduledAt")
)
