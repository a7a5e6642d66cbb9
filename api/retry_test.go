package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
)

// insertFailed stores a broadcast with the given times (relative to the
// API's clock) whose publication failed.
func (tb *testBundle) insertFailed(t *testing.T, scheduledIn, expiresIn time.Duration) broadcast.Broadcast {
	t.Helper()
	ctx := context.Background()
	id := uuid.New()
	at, exp := tb.now.Add(scheduledIn), tb.now.Add(expiresIn)
	_, created, err := tb.store.Insert(ctx, seeder, broadcast.Broadcast{
		ID: id, Status: broadcast.StatusScheduled, Sender: broadcast.Sender{ID: "admin-1", Name: "Ada Admin"},
		Title: "Failed broadcast", Content: "Refused by PostgreSQL", Category: "general",
		Priority: broadcast.PriorityNormal, Target: broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}},
		ScheduledAt: &at, ExpiresAt: &exp, WorkflowID: broadcast.WorkflowID(id),
	}, nil, nil)
	require.NoError(t, err)
	require.True(t, created)
	res, err := tb.store.Fail(ctx, id, "PostgreSQL refused the change: new row violates check constraint")
	require.NoError(t, err)
	require.True(t, res.Applied)
	return res.Broadcast
}

func retryPath(id uuid.UUID) string { return "/api/v1/broadcasts/" + id.String() + "/retry" }

// TestRetryFailedBroadcast: a FAILED broadcast whose time has passed goes
// out now, with its expiry, through a new run of its workflow, and the
// retry is audited; one whose time is ahead keeps it.
func TestRetryFailedBroadcast(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	passed := tb.insertFailed(t, -time.Hour, time.Hour)

	got := requireBroadcast(t, tb.do(t, http.MethodPost, retryPath(passed.ID), ""), http.StatusOK)

	require.Equal(t, broadcast.StatusScheduled, got.Status)
	require.Empty(t, got.FailureReason)
	require.True(t, tb.now.Equal(*got.ScheduledAt), "a scheduled_at that has passed means now: %s", got.ScheduledAt)
	require.True(t, passed.ExpiresAt.Equal(*got.ExpiresAt))
	require.Equal(t, got, tb.get(t, passed.ID))
	require.Equal(t, []call{{Op: "restart", ID: passed.ID}}, tb.wf.recorded())
	page, _, err := auditLog(t, tb).List(context.Background(), audit.Filter{TargetID: passed.ID.String(), Action: audit.ActionBroadcastRetry})
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, ada, page[0].Actor)

	ahead := tb.insertFailed(t, time.Hour, 2*time.Hour)
	got = requireBroadcast(t, tb.do(t, http.MethodPost, retryPath(ahead.ID), ""), http.StatusOK)
	require.True(t, ahead.ScheduledAt.Equal(*got.ScheduledAt), "a scheduled_at still ahead is kept")

	requireProblem(t, tb.do(t, http.MethodPost, retryPath(ahead.ID), ""), http.StatusConflict, "only a FAILED broadcast can be retried")
	require.Len(t, tb.wf.recorded(), 2, "retrying twice starts one new run")
}

// TestRetryRefusals: what a retry cannot do is refused with what to do, and
// changes nothing.
func TestRetryRefusals(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	expired := tb.insertFailed(t, -2*time.Hour, -time.Hour)
	scheduled := tb.insert(t, broadcast.StatusScheduled)
	future := tb.now.Add(time.Hour).Format(time.RFC3339)
	past := tb.now.Add(-time.Minute).Format(time.RFC3339)
	for _, tc := range []struct {
		name   string
		b      broadcast.Broadcast
		body   string
		status int
		detail string
	}{
		{"expiry passed", expired, "", http.StatusConflict, `retry with a new expiry in the body, e.g. {"expires_at"`},
		{"new expiry in the past", expired, `{"expires_at":"` + past + `"}`, http.StatusUnprocessableEntity, "expires_at: is in the past"},
		{"new time after the expiry", expired, `{"scheduled_at":"` + future + `","expires_at":"` + future + `"}`,
			http.StatusUnprocessableEntity, "must be after scheduled_at"},
		{"not failed", scheduled, "", http.StatusConflict, "this broadcast is SCHEDULED"},
		{"unknown field", expired, `{"when":"now"}`, http.StatusBadRequest, "unknown field"},
	} {
		// In turn, not as parallel subtests: the checks after the loop
		// need every refusal done.
		requireProblem(t, tb.do(t, http.MethodPost, retryPath(tc.b.ID), tc.body), tc.status, tc.detail)
		require.Equal(t, tc.b, tb.get(t, tc.b.ID), "%s: nothing changed", tc.name)
	}
	requireProblem(t, tb.do(t, http.MethodPost, retryPath(uuid.New()), ""), http.StatusNotFound, "no broadcast has id")
	require.Empty(t, tb.wf.recorded(), "no run was started")

	// The expiry the conflict asked for: the retry goes through.
	got := requireBroadcast(t, tb.do(t, http.MethodPost, retryPath(expired.ID), `{"expires_at":"`+future+`"}`), http.StatusOK)
	require.Equal(t, broadcast.StatusScheduled, got.Status)
	require.Equal(t, future, got.ExpiresAt.Format(time.RFC3339))
}

// TestRetryWithoutItsRun: when the new run cannot start (Temporal down), the
// broadcast stays FAILED: a 503.
func TestRetryWithoutItsRun(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insertFailed(t, -time.Hour, time.Hour)
	tb.wf.fail(unavailable("restart"), nil, nil)
	requireProblem(t, tb.do(t, http.MethodPost, retryPath(b.ID), ""), http.StatusServiceUnavailable, "Temporal is unavailable")
	require.Equal(t, b, tb.get(t, b.ID))
}

func auditLog(t *testing.T, tb *testBundle) *audit.Log {
	t.Helper()
	log, err := audit.New(tb.pool)
	require.NoError(t, err)
	return log
}
