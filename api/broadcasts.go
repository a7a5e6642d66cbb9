package api

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/workflows"
)

type handlers struct {
	store     Store
	workflows Workflows
	cfg       Config
	limits    *limits
	ready     *readiness
}

// idempotencyNamespace derives broadcast ids from Idempotency-Key headers.
var idempotencyNamespace = uuid.MustParse("6f1d2c8e-6a53-4b8e-9d0e-8c4b7f0b1a2d")

func (h *handlers) rules() broadcast.Rules {
	r := h.cfg.Rules
	r.Now = h.cfg.Clock().UTC()
	return r
}

// create stores a broadcast and starts its workflow in one transaction.
func (h *handlers) create(c echo.Context) error {
	var req createRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	spec := req.spec()
	if err := spec.Normalize(h.rules(), req.Draft); err != nil {
		return asProblem(err)
	}
	if spec.LocalTime != nil {
		zones, err := h.store.AudienceZones(c.Request().Context(), spec.Target)
		if err != nil {
			return err
		}
		if err := spec.PlanWaves(zones); err != nil {
			return asProblem(err)
		}
	}
	claims := auth.ClaimsFrom(c)
	id, err := derivedID(c, idempotencyNamespace, claims.Subject)
	if err != nil {
		return err
	}
	status := broadcast.StatusScheduled
	if req.Draft {
		status = broadcast.StatusDraft
	}
	b := broadcast.Broadcast{
		ID: id, Status: status, Sender: broadcast.Sender{ID: claims.Subject, Name: claims.DisplayName()},
		Title: spec.Title, Content: spec.Content, Category: spec.Category, Priority: spec.Priority, Target: spec.Target,
		ScheduledAt: spec.ScheduledAt, ExpiresAt: spec.ExpiresAt, WorkflowID: broadcast.WorkflowID(id), DeliveryWindow: spec.DeliveryWindow,
		LocalTime: spec.LocalTime, DefaultTimeZone: spec.DefaultTimeZone, Waves: spec.Waves,
	}
	stored, created, err := h.store.Insert(c.Request().Context(), origin(c), b, requestHash(req), h.workflows.Start)
	switch {
	case errors.Is(err, store.ErrIdempotencyMismatch):
		return problem(http.StatusUnprocessableEntity, "Idempotency-Key %s was already used for a different request; use a new key for a new broadcast", broadcast.Quote(c.Request().Header.Get("Idempotency-Key")))
	case err != nil:
		return err // Temporal not accepting the workflow is a 503 (unavailableDependency): nothing stored
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/broadcasts/"+stored.ID.String())
	if !created {
		return c.JSON(http.StatusOK, stored)
	}
	return c.JSON(http.StatusCreated, stored)
}

// derivedID is the id of what a create request makes: derived (in
// namespace) from the sender and the Idempotency-Key when there is one, so a
// retried request names what the first attempt created; otherwise a
// time-ordered UUIDv7.
func derivedID(c echo.Context, namespace uuid.UUID, sender string) (uuid.UUID, error) {
	key := c.Request().Header.Get("Idempotency-Key")
	if key == "" {
		return uuid.NewV7()
	}
	if len(key) > 255 {
		return uuid.Nil, problem(http.StatusBadRequest, "Idempotency-Key must be at most 255 characters")
	}
	return uuid.NewSHA1(namespace, []byte(sender+"\x00"+key)), nil
}

// requestHash is the SHA-256 of a create request's body as decoded, which
// tells a retry from a different request under the same Idempotency-Key.
func requestHash(req any) []byte {
	raw, _ := json.Marshal(req)
	sum := sha256.Sum256(raw)
	return sum[:]
}

// list answers a page of broadcasts, newest first, filtered as the query
// asks (listParams); a broadcaster's are only their own.
func (h *handlers) list(c echo.Context) error {
	p, err := listParams(c)
	if err != nil {
		return err
	}
	if claims := auth.ClaimsFrom(c); !claims.HasRole(auth.RoleAdmin) {
		if p.SenderID != "" && p.SenderID != claims.Subject {
			// Another sender's broadcasts do not exist for a broadcaster
			// (each is a 404 to them), so asking for them finds none.
			return c.JSON(http.StatusOK, listResponse{Items: []broadcast.Broadcast{}})
		}
		p.SenderID = claims.Subject // a broadcaster lists their own
	}
	page, next, err := h.store.List(c.Request().Context(), p)
	if errors.Is(err, store.ErrBadCursor) {
		return problem(http.StatusBadRequest, "%v", err)
	}
	if err != nil {
		return err
	}
	if page == nil {
		page = []broadcast.Broadcast{}
	}
	return c.JSON(http.StatusOK, listResponse{Items: page, NextCursor: next})
}

// listParams reads the query of GET /broadcasts: the filters status,
// priority, category, sender, series_id and q, the page size and the
// cursor; each bad one is a 400 naming it.
func listParams(c echo.Context) (store.ListParams, error) {
	p := store.ListParams{Cursor: c.QueryParam("cursor")}
	var err error
	if p.Statuses, err = enumFilter(c, "status", broadcast.Statuses); err != nil {
		return p, err
	}
	if p.Priorities, err = enumFilter(c, "priority", broadcast.Priorities); err != nil {
		return p, err
	}
	if p.Categories, err = categoryFilter(c); err != nil {
		return p, err
	}
	if p.SenderID, err = textParam(c, "sender", 0); err != nil {
		return p, err
	}
	if p.SeriesID, err = seriesFilter(c); err != nil {
		return p, err
	}
	if p.Text, err = textParam(c, "q", maxSearchBytes); err != nil {
		return p, err
	}
	p.Limit, err = pageLimit(c)
	return p, err
}

func (h *handlers) get(c echo.Context) error {
	b, err := h.load(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, b)
}

// load reads the broadcast named by the :id path parameter; a malformed or
// unknown id is a 404.
func (h *handlers) load(c echo.Context) (broadcast.Broadcast, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return broadcast.Broadcast{}, problem(http.StatusNotFound, "no broadcast has id %s", broadcast.Quote(c.Param("id")))
	}
	b, err := h.store.Get(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !mayManage(auth.ClaimsFrom(c), b)) {
		// Another sender's broadcast does not exist for a broadcaster.
		return broadcast.Broadcast{}, problem(http.StatusNotFound, "no broadcast has id %s", id)
	}
	return b, err
}

// mayManage reports whether the caller may see and change b: an admin any
// broadcast, a broadcaster only their own.
func mayManage(claims *auth.Claims, b broadcast.Broadcast) bool {
	return claims == nil || claims.HasRole(auth.RoleAdmin) || b.Sender.ID == claims.Subject
}

func (h *handlers) cancel(c echo.Context) error {
	b, err := h.load(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	switch {
	case b.Status == broadcast.StatusCancelled:
		return c.JSON(http.StatusOK, b) // a retried cancel succeeds
	case b.Status.Terminal():
		return problem(http.StatusConflict, "broadcast is already %s and cannot be cancelled", b.Status)
	case b.Status == broadcast.StatusDraft:
		// A draft has no workflow yet; the guarded update races safely with
		// a concurrent schedule.
		if _, err := h.store.Cancel(ctx, origin(c), b.ID); err != nil {
			return err
		}
	default:
		// The workflow's cancel activity records the entry; an ended
		// workflow (cancelled by someone else, or expired: 409) changes
		// nothing.
		if _, err := h.workflows.Cancel(ctx, origin(c), b.ID); err != nil && !errors.Is(err, workflows.ErrNotRunning) {
			return workflowProblem(err)
		}
	}
	return h.answerAfter(c, b, broadcast.StatusCancelled)
}

func (h *handlers) reschedule(c echo.Context) error {
	b, err := h.load(c)
	if err != nil {
		return err
	}
	var req timesRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	change := req.change()
	// What the broadcast's state forbids is a conflict (409) whatever the
	// times say, so it is checked before the times are validated.
	switch {
	case b.Status.Terminal():
		return problem(http.StatusConflict, "broadcast is already %s and cannot be rescheduled", b.Status)
	case change.ScheduledAt != nil && b.Status.Published():
		return problem(http.StatusConflict, "broadcast was already published; only expires_at can change now")
	}
	if err := change.Normalize(h.rules(), b); err != nil {
		return asProblem(err)
	}
	ctx := c.Request().Context()
	if b.Status == broadcast.StatusDraft {
		res, err := h.store.RescheduleDraft(ctx, origin(c), b.ID, change.ScheduledAt, change.ExpiresAt)
		if err != nil {
			return err
		}
		if !res.Applied {
			return problem(http.StatusConflict, "broadcast is now %s; reschedule it again", res.Broadcast.Status)
		}
		return c.JSON(http.StatusOK, res.Broadcast)
	}
	if _, err := h.workflows.Reschedule(ctx, b.ID, workflows.RescheduleRequest{Change: change, By: origin(c)}); err != nil {
		return workflowProblem(err)
	}
	return h.answerAfter(c, b, "")
}

// schedule moves a draft to SCHEDULED (optionally with new times) and starts
// its workflow in one transaction.
func (h *handlers) schedule(c echo.Context) error {
	b, err := h.load(c)
	if err != nil {
		return err
	}
	var req timesRequest
	if err := decodeJSON(c, &req, true); err != nil {
		return err
	}
	if b.Status != broadcast.StatusDraft {
		return problem(http.StatusConflict, "only a DRAFT can be scheduled; this broadcast is %s", b.Status)
	}
	rules := h.rules()
	if req.ScheduledAt == nil && b.ScheduledAt != nil && b.ScheduledAt.Before(rules.Now.Add(-h.cfg.Rules.SendNowTolerance)) {
		return validationProblem(&broadcast.ValidationError{Errors: []broadcast.FieldError{{Field: "scheduled_at",
			Message: fmt.Sprintf("the draft's scheduled_at (%s) has passed; give a new scheduled_at in the body", b.ScheduledAt.Format(time.RFC3339))}}})
	}
	spec := broadcast.Spec{Title: b.Title, Content: b.Content, Category: b.Category, Priority: b.Priority,
		Target: b.Target, ScheduledAt: b.ScheduledAt, ExpiresAt: b.ExpiresAt, DeliveryWindow: b.DeliveryWindow}
	if req.ScheduledAt != nil {
		spec.ScheduledAt = req.ScheduledAt.ptr()
	}
	if req.ExpiresAt != nil {
		spec.ExpiresAt = req.ExpiresAt.ptr()
	}
	if err := spec.Normalize(rules, false); err != nil {
		return asProblem(err)
	}
	res, err := h.store.ScheduleDraft(c.Request().Context(), origin(c), b.ID, *spec.ScheduledAt, *spec.ExpiresAt, h.workflows.Start)
	if err != nil {
		return workflowProblem(err)
	}
	if !res.Applied {
		return problem(http.StatusConflict, "only a DRAFT can be scheduled; this broadcast is now %s", res.Broadcast.Status)
	}
	return c.JSON(http.StatusOK, res.Broadcast)
}

// answerAfter answers with the broadcast as stored after a change. When want
// is set and the broadcast did not reach it, the change lost a race: 409.
func (h *handlers) answerAfter(c echo.Context, before broadcast.Broadcast, want broadcast.Status) error {
	b, err := h.store.Get(c.Request().Context(), before.ID)
	if err != nil {
		return err
	}
	if want != "" && b.Status != want {
		return problem(http.StatusConflict, "broadcast is %s and cannot be changed that way", b.Status)
	}
	return c.JSON(http.StatusOK, b)
}

func asProblem(err error) error {
	var v *broadcast.ValidationError
	switch {
	case errors.As(err, &v):
		return validationProblem(v)
	case errors.Is(err, broadcast.ErrScheduledInPast):
		return problem(http.StatusConflict, "%v", err)
	}
	return err
}

// workflowProblem turns a workflow's refusal into 409 and its absence into
// 409. Temporal being unreachable is left to the error handler's 503
// (unavailableDependency), as PostgreSQL being down is.
func workflowProblem(err error) error {
	if reason, ok := workflows.IsConflict(err); ok {
		return problem(http.StatusConflict, "%s", reason)
	}
	if errors.Is(err, workflows.ErrNotRunning) {
		return problem(http.StatusConflict, "the broadcast's workflow has already ended, so it can no longer change")
	}
	return err
}
