package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/temporal"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
)

// ErrTypeNotFound is the application error type of an activity whose
// broadcast does not exist: its creating transaction never committed. No
// retry can fix that.
const ErrTypeNotFound = "BroadcastNotFound"

// ErrTypeRefused is the application error type of a change PostgreSQL
// refuses for its data (SQLSTATE classes 22 and 23): no retry can fix it.
const ErrTypeRefused = "ChangeRefused"

// Store is what the activities need of the broadcast store.
type Store interface {
	Publish(ctx context.Context, id uuid.UUID) (store.Result, error)
	Cancel(ctx context.Context, by audit.Origin, id uuid.UUID) (store.Result, error)
	Expire(ctx context.Context, id uuid.UUID) (store.Result, error)
	Reschedule(ctx context.Context, by audit.Origin, id uuid.UUID, scheduledAt, expiresAt *time.Time) (store.Result, error)
	Fail(ctx context.Context, id uuid.UUID, reason string) (store.Result, error)
	RecordRefusal(ctx context.Context, by audit.Origin, id uuid.UUID, detail any) (store.Result, error)
	BeginWaves(ctx context.Context, id uuid.UUID) (store.Result, error)
	SendWave(ctx context.Context, id uuid.UUID, n int) (store.Result, error)
}

// Activities are the broadcast workflow's activities, registered as one value.
type Activities struct {
	Store Store
	// WaitUntil waits until a time or until ctx ends. Default: a timer on
	// the worker's clock; tests replace it.
	WaitUntil func(ctx context.Context, t time.Time) error
}

// TransitionInput names the broadcast an activity changes.
type TransitionInput struct {
	BroadcastID uuid.UUID
	// NotBefore, when set, is when Publish may write: the workflow woke a
	// little early and the activity waits for the exact time in the worker.
	NotBefore time.Time `json:",omitzero"`
}

// CancelInput names the broadcast to cancel and who asked, for the audit
// entry the cancel commits with.
type CancelInput struct {
	BroadcastID uuid.UUID
	By          audit.Origin
}

// RescheduleInput carries new times (nil keeps the current one) and who
// asked, for the audit entry the change commits with.
type RescheduleInput struct {
	BroadcastID uuid.UUID
	ScheduledAt *time.Time
	ExpiresAt   *time.Time
	By          audit.Origin
}

// FailInput carries the reason publication failed for good.
type FailInput struct {
	BroadcastID uuid.UUID
	Reason      string
}

// RefusalInput is a change asked of a broadcast's workflow by signal that
// the workflow refused, for the audit log.
type RefusalInput struct {
	BroadcastID uuid.UUID
	By          audit.Origin
	Refusal     Refusal
}

// Refusal is the audit entry's detail of a refused signal: which one, why,
// and the times a reschedule asked for.
type Refusal struct {
	Signal      string     `json:"signal"`
	Reason      string     `json:"reason"`
	ScheduledAt *time.Time `json:"scheduled_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

// Outcome is the small result an activity records in workflow history: the
// broadcast's status after the attempt, and whether this attempt changed it.
// The full broadcast stays in PostgreSQL, keeping histories small.
type Outcome struct {
	Status  broadcast.Status
	Applied bool
	// ScheduledAt and ExpiresAt are the broadcast's times after the attempt.
	ScheduledAt time.Time
	ExpiresAt   time.Time
	// Waves are the instants of a local-time broadcast's waves once planned,
	// WavesSent how many of them are sent.
	Waves     []time.Time `json:",omitempty"`
	WavesSent int         `json:",omitempty"`
}

// WaveInput names a wave of a local-time broadcast: its number, from 2 (the
// first is BeginWaves).
type WaveInput struct {
	BroadcastID uuid.UUID
	Wave        int
}

// Publish moves the broadcast to SENT and records BROADCAST_PUBLISHED. A
// broadcast still in a status publication starts from (SCHEDULED) was not
// published for a reason a retry may fix, so that is an error, never an
// answer.
func (a *Activities) Publish(ctx context.Context, in TransitionInput) (Outcome, error) {
	wait := a.WaitUntil
	if wait == nil {
		wait = sleepUntil
	}
	if err := wait(ctx, in.NotBefore); err != nil {
		return Outcome{}, err
	}
	out, err := outcome(a.Store.Publish(ctx, in.BroadcastID))
	if err == nil && !out.Applied && broadcast.Transitions.Allows(broadcast.OpPublish, out.Status) {
		return out, fmt.Errorf("broadcast is still %s after its publication; retrying", out.Status)
	}
	return out, err
}

// BeginWaves sends the first wave of a local-time broadcast: the waves are
// planned from its recipients' zones as they stand, and the broadcast is
// IN_PROGRESS, or SENT when one wave reaches them all. Like Publish, one
// still SCHEDULED afterwards is an error a retry may fix.
func (a *Activities) BeginWaves(ctx context.Context, in TransitionInput) (Outcome, error) {
	out, err := outcome(a.Store.BeginWaves(ctx, in.BroadcastID))
	if err == nil && !out.Applied && broadcast.Transitions.Allows(broadcast.OpBeginWaves, out.Status) {
		return out, fmt.Errorf("broadcast is still %s after its first wave; retrying", out.Status)
	}
	return out, err
}

// SendWave sends wave in.Wave of a local-time broadcast IN_PROGRESS; the last
// leaves it SENT. A wave sent already (a retried attempt) is not applied.
func (a *Activities) SendWave(ctx context.Context, in WaveInput) (Outcome, error) {
	return outcome(a.Store.SendWave(ctx, in.BroadcastID, in.Wave))
}

// Cancel moves the broadcast to CANCELLED, with BROADCAST_CANCELLED when it
// had been published, and records in.By's cancel in the audit log in the
// same transaction.
func (a *Activities) Cancel(ctx context.Context, in CancelInput) (Outcome, error) {
	return outcome(a.Store.Cancel(ctx, in.By, in.BroadcastID))
}

// Expire moves the broadcast to EXPIRED and records BROADCAST_EXPIRED.
func (a *Activities) Expire(ctx context.Context, in TransitionInput) (Outcome, error) {
	return outcome(a.Store.Expire(ctx, in.BroadcastID))
}

// Reschedule sets new times, records BROADCAST_RESCHEDULED and records
// in.By's reschedule in the audit log, in one transaction.
func (a *Activities) Reschedule(ctx context.Context, in RescheduleInput) (Outcome, error) {
	return outcome(a.Store.Reschedule(ctx, in.By, in.BroadcastID, in.ScheduledAt, in.ExpiresAt))
}

// RecordRefusal records in.By's refused change in the audit log, changing
// nothing else. A signal has no one to answer: this entry is where an
// operator finds why their signal did nothing.
func (a *Activities) RecordRefusal(ctx context.Context, in RefusalInput) (Outcome, error) {
	return outcome(a.Store.RecordRefusal(ctx, in.By, in.BroadcastID, in.Refusal))
}

// Fail moves the broadcast to FAILED with its reason.
func (a *Activities) Fail(ctx context.Context, in FailInput) (Outcome, error) {
	return outcome(a.Store.Fail(ctx, in.BroadcastID, in.Reason))
}

func outcome(res store.Result, err error) (Outcome, error) {
	if errors.Is(err, store.ErrNotFound) {
		return Outcome{}, temporal.NewNonRetryableApplicationError("broadcast does not exist: its creation never committed", ErrTypeNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23")) {
		// A data or integrity error: the same statement fails every time.
		return Outcome{}, temporal.NewNonRetryableApplicationError("PostgreSQL refused the change: "+pgErr.Message, ErrTypeRefused, err)
	}
	if err != nil {
		return Outcome{}, err // transient: PostgreSQL unreachable and the like; retried
	}
	o := Outcome{Status: res.Broadcast.Status, Applied: res.Applied}
	if res.Broadcast.ScheduledAt != nil {
		o.ScheduledAt = *res.Broadcast.ScheduledAt
	}
	if res.Broadcast.ExpiresAt != nil {
		o.ExpiresAt = *res.Broadcast.ExpiresAt
	}
	for _, w := range res.Broadcast.Waves {
		o.Waves = append(o.Waves, w.At)
	}
	o.WavesSent = res.Broadcast.WavesSent
	return o, nil
}

// sleepUntil waits until t on the worker's clock, or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	wait := time.Until(t)
	if wait <= 0 {
		return nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
