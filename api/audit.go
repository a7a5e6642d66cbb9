package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
)

// Auditor is what the API needs of the audit log: its entries are written
// by the store and the audience, in each change's transaction.
type Auditor interface {
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, string, error)
}

// auditRoutes registers GET /api/v1/audit.
func (h *handlers) auditRoutes(v1 *echo.Group, admin echo.MiddlewareFunc) {
	v1.GET("/audit", h.listAudit, admin)
}

// origin is who a change the request makes is recorded as made by: the
// token's subject, the request id Crier gave the request, and the one its
// client sent.
func origin(c echo.Context) audit.Origin {
	o := audit.Origin{RequestID: requestID(c), ClientRequestID: clientRequestID(c)}
	if claims := auth.ClaimsFrom(c); claims != nil {
		o.Actor = audit.Actor{ID: claims.Subject, Name: claims.DisplayName(), Roles: claims.Roles}
	}
	return o
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
