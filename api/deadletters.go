package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/deadletter"
)

// DeadLetters is what the API needs of the dead letters: messages a Kafka
// consumer could not process, for admins to redrive or drop. Redrive and
// Drop record their audit entry in their own transaction.
type DeadLetters interface {
	List(ctx context.Context, f deadletter.Filter) ([]deadletter.Letter, string, error)
	Get(ctx context.Context, id uuid.UUID) (deadletter.Letter, error)
	Redrive(ctx context.Context, by audit.Origin, id uuid.UUID) (deadletter.Letter, error)
	Drop(ctx context.Context, by audit.Origin, id uuid.UUID) (deadletter.Letter, error)
}

// deadLetterRoutes registers the dead-letter routes (admin).
func (h *handlers) deadLetterRoutes(v1 *echo.Group, admin echo.MiddlewareFunc) {
	v1.GET("/dead-letters", h.listDeadLetters, admin)
	v1.GET("/dead-letters/:id", h.getDeadLetter, admin)
	v1.POST("/dead-letters/:id/redrive", h.redriveDeadLetter, admin)
	v1.DELETE("/dead-letters/:id", h.dropDeadLetter, admin)
}

// deadLetterList is a page of dead letters.
type deadLetterList struct {
	Items      []deadletter.Letter `json:"items"`
	NextCursor string              `json:"next_cursor,omitempty"`
}

// maxConsumerBytes bounds the consumer filter: consumer names are short.
const maxConsumerBytes = 64

// listDeadLetters answers dead letters, newest first, by consumer and status.
func (h *handlers) listDeadLetters(c echo.Context) error {
	f := deadletter.Filter{Consumer: c.QueryParam("consumer"), Cursor: c.QueryParam("cursor")}
	if len(f.Consumer) > maxConsumerBytes {
		return problem(http.StatusBadRequest, "consumer must be at most %d bytes, such as \"audience\" or \"stream-tail\"", maxConsumerBytes)
	}
	var err error
	if f.Statuses, err = enumFilter(c, "status", deadletter.Statuses); err != nil {
		return err
	}
	if raw := c.QueryParam("limit"); raw != "" {
		if f.Limit, err = strconv.Atoi(raw); err != nil || f.Limit < 1 || f.Limit > deadletter.MaxLimit {
			return problem(http.StatusBadRequest, "limit must be a whole number from 1 to %d, got %s", deadletter.MaxLimit, broadcast.Quote(raw))
		}
	}
	page, next, err := h.cfg.DeadLetters.List(c.Request().Context(), f)
	if errors.Is(err, deadletter.ErrBadCursor) {
		return problem(http.StatusBadRequest, "%v", err)
	}
	if err != nil {
		return err
	}
	if page == nil {
		page = []deadletter.Letter{}
	}
	return c.JSON(http.StatusOK, deadLetterList{Items: page, NextCursor: next})
}

// deadLetterID is the :id path parameter; a malformed one names no dead
// letter.
func deadLetterID(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, problem(http.StatusNotFound, "no dead letter has id %s", broadcast.Quote(c.Param("id")))
	}
	return id, nil
}

func (h *handlers) getDeadLetter(c echo.Context) error {
	id, err := deadLetterID(c)
	if err != nil {
		return err
	}
	l, err := h.cfg.DeadLetters.Get(c.Request().Context(), id)
	if err != nil {
		return deadLetterProblem(id, l, err)
	}
	return c.JSON(http.StatusOK, l)
}

// redriveDeadLetter sends a dead letter to its consumer once more: 202, as
// the consumer processes it after the answer and records the outcome on
// the dead letter (RESOLVED, or FAILED with the new error).
func (h *handlers) redriveDeadLetter(c echo.Context) error {
	id, err := deadLetterID(c)
	if err != nil {
		return err
	}
	l, err := h.cfg.DeadLetters.Redrive(c.Request().Context(), origin(c), id)
	if err != nil {
		return deadLetterProblem(id, l, err)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/dead-letters/"+id.String())
	return c.JSON(http.StatusAccepted, l)
}

// dropDeadLetter gives up on a dead letter, which stays, DROPPED.
func (h *handlers) dropDeadLetter(c echo.Context) error {
	id, err := deadLetterID(c)
	if err != nil {
		return err
	}
	l, err := h.cfg.DeadLetters.Drop(c.Request().Context(), origin(c), id)
	if err != nil {
		return deadLetterProblem(id, l, err)
	}
	return c.JSON(http.StatusOK, l)
}

// deadLetterProblem is the answer to a dead-letter operation that failed; l
// is the dead letter as it stands, for a conflict.
func deadLetterProblem(id uuid.UUID, l deadletter.Letter, err error) error {
	switch {
	case errors.Is(err, deadletter.ErrNotFound):
		return problem(http.StatusNotFound, "no dead letter has id %s", id)
	case errors.Is(err, deadletter.ErrConflict) && l.Status == deadletter.StatusRedriving:
		return problem(http.StatusConflict, "dead letter %s is being redriven; GET it to see the outcome (RESOLVED, or FAILED to redrive or drop it again)", id)
	case errors.Is(err, deadletter.ErrConflict):
		return problem(http.StatusConflict, "dead letter %s is %s: only a PENDING or FAILED dead letter can be redriven or dropped", id, l.Status)
	}
	return err // a dependency down is a 503 (unavailableDependency)
}
