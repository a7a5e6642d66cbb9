package broadcast

import "slices"

// Operation is a change a broadcast may undergo once created.
type Operation string

// The operations. Each is allowed only from the statuses Transitions lists
// for it.
const (
	// OpSchedule gives a draft its times and starts its workflow.
	OpSchedule Operation = "schedule"
	// OpRescheduleDraft changes a draft's times.
	OpRescheduleDraft Operation = "reschedule draft"
	// OpReschedule gives a broadcast a new scheduled_at (and, if asked,
	// a new expires_at with it).
	OpReschedule Operation = "reschedule"
	// OpRescheduleExpiry gives a broadcast a new expires_at alone.
	OpRescheduleExpiry Operation = "reschedule expires_at"
	// OpPublish publishes a broadcast at its scheduled time.
	OpPublish Operation = "publish"
	// OpBeginWaves sends the first wave of a local-time broadcast whose
	// recipients' local time comes at more than one instant.
	OpBeginWaves Operation = "begin waves"
	// OpSendWave sends a later wave, not the last.
	OpSendWave Operation = "send wave"
	// OpFinishWaves sends the last wave.
	OpFinishWaves Operation = "finish waves"
	// OpExpire takes a published broadcast down at its expiry.
	OpExpire Operation = "expire"
	// OpCancel cancels a broadcast, retracting it if it was published.
	OpCancel Operation = "cancel"
	// OpFail records that publication failed for a reason no retry can fix.
	OpFail Operation = "fail"
	// OpRetry gives a FAILED broadcast another chance, once an admin has
	// fixed what failed it: it is scheduled again (failure_reason cleared)
	// and its workflow starts a new run.
	OpRetry Operation = "retry"
)

// Transition is what an operation may do.
type Transition struct {
	// From are the statuses the operation may start from.
	From []Status
	// To is the status it leads to; empty when it changes times only.
	To Status
	// NewRun marks an operation that starts the broadcast's workflow again,
	// as a new run, from a status its last run ended in. Within one run a
	// status only moves forward; Terminal and Rank describe one run, so they
	// leave these operations out.
	NewRun bool
}

// Lifecycle is the set of allowed transitions, by operation.
type Lifecycle map[Operation]Transition

// Transitions is Crier's broadcast lifecycle, its one definition: the
// store's SQL guards take their status lists from it as parameters, the
// workflow's validators and rank follow it, and the test fakes apply it.
// Change a rule here and all of them change (lifecycle_test.go in
// internal/store, workflows and api shows it).
//
//	DRAFT ──schedule──▶ SCHEDULED ──publish──▶ SENT ──expire──▶ EXPIRED
//	  │                     │  ▲                 │
//	  │          begin waves│  │finish waves     │
//	  │                     ▼  │                 │
//	  │                 IN_PROGRESS ◀─send wave  │
//	  │                     │                    │
//	  └──────cancel─────────┴──────cancel────────┴──▶ CANCELLED
//	                        └────────fail────────┴──▶ FAILED
//	                        ▲                              │
//	                        └──retry (a new workflow run)──┘
//
// Publication is one statement, except for a local-time broadcast whose
// recipients' local time comes at several instants: it is IN_PROGRESS from
// its first wave to its last.
var Transitions = Lifecycle{
	OpSchedule:         {From: []Status{StatusDraft}, To: StatusScheduled},
	OpRescheduleDraft:  {From: []Status{StatusDraft}},
	OpReschedule:       {From: []Status{StatusScheduled}},
	OpRescheduleExpiry: {From: []Status{StatusScheduled, StatusSent}},
	OpPublish:          {From: []Status{StatusScheduled}, To: StatusSent},
	OpBeginWaves:       {From: []Status{StatusScheduled}, To: StatusInProgress},
	OpSendWave:         {From: []Status{StatusInProgress}},
	OpFinishWaves:      {From: []Status{StatusInProgress}, To: StatusSent},
	OpExpire:           {From: []Status{StatusSent}, To: StatusExpired},
	OpCancel:           {From: []Status{StatusDraft, StatusScheduled, StatusInProgress, StatusSent}, To: StatusCancelled},
	OpFail:             {From: []Status{StatusScheduled, StatusInProgress, StatusSent}, To: StatusFailed},
	OpRetry:            {From: []Status{StatusFailed}, To: StatusScheduled, NewRun: true},
}

// Allows reports whether op may start from s.
func (l Lifecycle) Allows(op Operation, s Status) bool {
	return slices.Contains(l[op].From, s)
}

// Enables reports whether some operation takes a broadcast in status s
// straight to a status op may start from: a FAILED one is retried into
// SCHEDULED, a draft scheduled. A reader that sees s while such a change
// may be committing cannot take "op does not apply" for an answer yet.
func (l Lifecycle) Enables(s Status, op Operation) bool {
	for _, t := range l {
		if t.To != "" && t.To != s && slices.Contains(t.From, s) && slices.Contains(l[op].From, t.To) {
			return true
		}
	}
	return false
}

// From lists the statuses op may start from as text, the form the store's
// guards take them in (`status = ANY($n::text[])`).
func (l Lifecycle) From(op Operation) []string {
	from := make([]string, len(l[op].From))
	for i, s := range l[op].From {
		from[i] = string(s)
	}
	return from
}

// Terminal reports whether no operation of a workflow run starts from s: a
// run that reaches s ends (a NewRun operation such as OpRetry may start
// another).
func (l Lifecycle) Terminal(s Status) bool {
	for _, t := range l {
		if !t.NewRun && slices.Contains(t.From, s) {
			return false
		}
	}
	return true
}

// Rank orders statuses along the lifecycle: every transition leads to a
// higher rank than it starts from. It is the length of the longest chain of
// status changes that reaches s, so DRAFT is 0 and the terminal statuses
// share the highest rank. The workflow uses it to keep its status moving
// forward when two activities complete out of order. NewRun operations are
// left out: each run starts again from the rank of the status it starts in.
func (l Lifecycle) Rank(s Status) int {
	rank := map[Status]int{}
	// The lifecycle has no cycles (a test checks it), so a chain is at
	// most len(Statuses) long and that many rounds settle every rank.
	for range Statuses {
		for _, t := range l {
			if t.To == "" || t.NewRun {
				continue
			}
			for _, from := range t.From {
				if from != t.To && rank[from]+1 > rank[t.To] {
					rank[t.To] = rank[from] + 1
				}
			}
		}
	}
	return rank[s]
}
