package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/broadcast"
)

// The directory reads that help choose a broadcast's recipients: search the
// users, list their roles, count whom a target reaches. Admins and
// broadcasters may use them (audienceRoutes).

// userList is a page of the user directory, by id.
type userList struct {
	Items      []audience.User `json:"items"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// listUsers answers a page of the directory by user id: q (in the id or
// the name, any case), role (users holding it), limit and cursor.
func (h *handlers) listUsers(c echo.Context) error {
	p := audience.ListParams{Cursor: c.QueryParam("cursor")}
	var err error
	if p.Text, err = textParam(c, "q", maxSearchBytes); err != nil {
		return err
	}
	if p.Role, err = textParam(c, "role", 0); err != nil {
		return err
	}
	p.Role = strings.TrimSpace(p.Role) // as the directory stores roles
	if p.Limit, err = pageLimit(c); err != nil {
		return err
	}
	page, next, err := h.cfg.Audience.List(c.Request().Context(), p)
	if errors.Is(err, audience.ErrBadCursor) {
		return problem(http.StatusBadRequest, "%v", err)
	}
	if err != nil {
		return err
	}
	if page == nil {
		page = []audience.User{}
	}
	return c.JSON(http.StatusOK, userList{Items: page, NextCursor: next})
}

// roleList is the directory's roles, by role.
type roleList struct {
	Items []audience.RoleCount `json:"items"`
}

// listRoles answers the roles users hold, with how many users hold each:
// what a ROLE target can name.
func (h *handlers) listRoles(c echo.Context) error {
	roles, err := h.cfg.Audience.Roles(c.Request().Context())
	if err != nil {
		return err
	}
	if roles == nil {
		roles = []audience.RoleCount{}
	}
	return c.JSON(http.StatusOK, roleList{Items: roles})
}

// countRequest is the body of POST /audience/count.
type countRequest struct {
	Target *targetRequest `json:"target"`
}

// audienceCount is the answer of POST /audience/count.
type audienceCount struct {
	Count int64 `json:"count"`
}

// countAudience answers how many users a target reaches now: the count a
// broadcast's statistics fix as targeted when it is published. The target is
// validated by the rule a broadcast's is (422 otherwise), so a count is
// never shown for a target that create would refuse.
func (h *handlers) countAudience(c echo.Context) error {
	var req countRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	target, err := broadcast.NormalizeTarget(req.Target.target())
	if err != nil {
		return asProblem(err)
	}
	n, err := h.cfg.Audience.CountAudience(c.Request().Context(), target)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, audienceCount{Count: n})
}
