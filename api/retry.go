package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/broadcast"
)

// retry schedules a FAILED broadcast again, once whatever failed it is
// fixed, and starts a new run of its workflow in the same transaction. It
// goes out now, or at its scheduled_at if that is still ahead, and expires
// at its expires_at; an optional body gives new times instead. Like
// schedule, it is an admin's: it sends a broadcast.
func (h *handlers) retry(c echo.Context) error {
	b, err := h.load(c)
	if err != nil {
		return err
	}
	var req timesRequest
	if err := decodeJSON(c, &req, true); err != nil {
		return err
	}
	if !broadcast.Transitions.Allows(broadcast.OpRetry, b.Status) {
		return problem(http.StatusConflict, "only a FAILED broadcast can be retried; this broadcast is %s", b.Status)
	}
	spec, err := h.retryTimes(b, req)
	if err != nil {
		return err
	}
	res, err := h.store.Retry(c.Request().Context(), origin(c), b.ID, *spec.ScheduledAt, *spec.ExpiresAt, h.workflows.Restart)
	switch {
	case err != nil:
		return workflowProblem(err)
	case !res.Applied:
		return problem(http.StatusConflict, "only a FAILED broadcast can be retried; this broadcast is now %s", res.Broadcast.Status)
	}
	return c.JSON(http.StatusOK, res.Broadcast)
}

// retryTimes are the times a retried broadcast runs with: those of the
// request, else its own, with a scheduled_at that has passed meaning now. An
// expires_at that has passed is a conflict the request can resolve by
// giving a new one.
func (h *handlers) retryTimes(b broadcast.Broadcast, req timesRequest) (broadcast.Spec, error) {
	rules := h.rules()
	spec := broadcast.Spec{Title: b.Title, Content: b.Content, Category: b.Category, Priority: b.Priority,
		Target: b.Target, ScheduledAt: b.ScheduledAt, ExpiresAt: b.ExpiresAt, DeliveryWindow: b.DeliveryWindow}
	if spec.ScheduledAt != nil && spec.ScheduledAt.Before(rules.Now) {
		spec.ScheduledAt = nil // now
	}
	if req.ScheduledAt != nil {
		spec.ScheduledAt = req.ScheduledAt.ptr()
	}
	if req.ExpiresAt != nil {
		spec.ExpiresAt = req.ExpiresAt.ptr()
	} else if spec.ExpiresAt != nil && !spec.ExpiresAt.After(rules.Now) {
		return spec, problem(http.StatusConflict, "the broadcast's expires_at (%s) has passed, so a retry would publish nothing; "+
			`retry with a new expiry in the body, e.g. {"expires_at": "%s"}`, spec.ExpiresAt.Format(time.RFC3339),
			rules.Now.Add(24*time.Hour).Format(time.RFC3339))
	}
	if err := spec.Normalize(rules, false); err != nil {
		return spec, asProblem(err)
	}
	return spec, nil
}
