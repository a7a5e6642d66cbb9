package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
)

// Auditor is what the API needs of the audit log.
type Auditor interface {
	Record(ctx context.Context, e audit.Entry) error
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, string, error)
}

// auditTimeout bounds the recording of one entry. Recording outlives the
// request's context: the change is made, so a client hanging up must not
// keep it out of the log.
const auditTimeout = 5 * time.Second

// auditRoutes registers GET /api/v1/audit.
func (h *handlers) auditRoutes(v1 *echo.Group, admin echo.MiddlewareFunc) {
	v1.GET("/audit", h.listAudit, admin)
}

// audit records a change the request made, after it was made: the actor is
// the token's subject, the request id the X-Request-Id answered. before,
// after and detail are written as the API shows them (nil: none). A failure
// is logged, never answered: the change happened, and its client must learn
// so.
func (h *handlers) audit(c echo.Context, action audit.Action, targetType audit.TargetType, targetID string, before, after, detail any) {
	if h.cfg.Audit == nil {
		return
	}
	e := audit.Entry{Action: action, TargetType: targetType, TargetID: targetID, RequestID: requestID(c)}
	if claims := auth.ClaimsFrom(c); claims != nil {
		e.Actor = audit.Actor{ID: claims.Subject, Name: claims.DisplayName(), Roles: claims.Roles}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), auditTimeout)
	defer cancel()
	err := errors.Join(marshalInto(&e.Before, before), marshalInto(&e.After, after), marshalInto(&e.Detail, detail))
	if err == nil {
		err = h.cfg.Audit.Record(ctx, e)
	}
	if err != nil {
		h.cfg.Logger.LogAttrs(ctx, slog.LevelError, "Audit entry not recorded; the change itself was made",
			slog.String("action", string(action)), slog.String("target_type", string(targetType)),
			slog.String("target_id", targetID), slog.String("actor", e.Actor.ID),
			slog.String("request_id", e.RequestID), slog.Any("error", err))
	}
}

func marshalInto(dst *json.RawMessage, v any) error {
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	*dst = raw
	return err
}

// userBefore reads the user a PUT is about to change, for its audit entry:
// nil when there is none yet, or no audit log to record it in.
func (h *handlers) userBefore(c echo.Context, id string) (*audience.User, error) {
	if h.cfg.Audit == nil {
		return nil, nil
	}
	u, err := h.cfg.Audience.Get(c.Request().Context(), id)
	if errors.Is(err, audience.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// auditUserUpsert records a PUT of a user unless it left the entry as it was.
func (h *handlers) auditUserUpsert(c echo.Context, before *audience.User, after audience.User) {
	if before != nil && before.Name == after.Name && slices.Equal(before.Roles, after.Roles) &&
		before.Source == after.Source && before.UpdatedAt.Equal(after.UpdatedAt) {
		return
	}
	h.audit(c, audit.ActionUserUpsert, audit.TargetUser, after.ID, before, after, nil)
}

// auditResponse is a page of audit entries.
type auditResponse struct {
	Items      []audit.Entry `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// listAudit answers audit entries, newest first, filtered by target_type,
// target_id, actor (a token subject) and action.
func (h *handlers) listAudit(c echo.Context) error {
	f := audit.Filter{
		TargetType: audit.TargetType(c.QueryParam("target_type")),
		TargetID:   c.QueryParam("target_id"),
		ActorID:    c.QueryParam("actor"),
		Action:     audit.Action(c.QueryParam("action")),
		Cursor:     c.QueryParam("cursor"),
	}
	if f.TargetType != "" && !f.TargetType.Valid() {
		return problem(http.StatusBadRequest, "target_type %s is not one of %v", broadcast.Quote(string(f.TargetType)), audit.TargetTypes)
	}
	if f.Action != "" && !f.Action.Valid() {
		return problem(http.StatusBadRequest, "action %s is not one of %v", broadcast.Quote(string(f.Action)), audit.Actions)
	}
	if raw := c.QueryParam("limit"); raw != "" {
		var err error
		if f.Limit, err = strconv.Atoi(raw); err != nil || f.Limit < 1 || f.Limit > audit.MaxLimit {
			return problem(http.StatusBadRequest, "limit must be a whole number from 1 to %d, got %s", audit.MaxLimit, broadcast.Quote(raw))
		}
	}
	page, next, err := h.cfg.Audit.List(c.Request().Context(), f)
	if errors.Is(err, audit.ErrBadCursor) {
		return problem(http.StatusBadRequest, "%v", err)
	}
	if err != nil {
		return err
	}
	if page == nil {
		page = []audit.Entry{}
	}
	return c.JSON(http.StatusOK, auditResponse{Items: page, NextCursor: next})
}
