package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
)

// Audience is what the API needs of the user directory and statistics.
type Audience interface {
	Upsert(ctx context.Context, by audit.Origin, u audience.User) (audience.User, error)
	Get(ctx context.Context, id string) (audience.User, error)
	// List is a page of the directory by user id, filtered; a cursor not
	// made by it is audience.ErrBadCursor.
	List(ctx context.Context, p audience.ListParams) ([]audience.User, string, error)
	// Roles are the roles users hold, by role, with how many hold each.
	Roles(ctx context.Context) ([]audience.RoleCount, error)
	// CountAudience is how many users a (valid) target reaches now.
	CountAudience(ctx context.Context, target broadcast.Target) (int64, error)
	Import(ctx context.Context, by audit.Origin, users []audience.User) (int, error)
	Stats(ctx context.Context, broadcastID uuid.UUID) (audience.Stats, error)
	Deliveries(ctx context.Context, broadcastID uuid.UUID, cursor string, limit int) ([]audience.Delivery, string, error)
}

// audienceRoutes registers the user directory and statistics routes. A
// broadcaster may read the directory (search it, list its roles, count a
// target's users) to choose a broadcast's target; changing it is an
// admin's.
func (h *handlers) audienceRoutes(v1 *echo.Group, admin, sender echo.MiddlewareFunc) {
	v1.GET("/users", h.listUsers, sender)
	v1.PUT("/users/:id", h.putUser, admin)
	v1.GET("/users/:id", h.getUser, admin)
	v1.POST("/users/import", h.importUsers, admin)
	v1.GET("/roles", h.listRoles, sender)
	v1.POST("/audience/count", h.countAudience, sender)
	v1.GET("/broadcasts/:id/stats", h.stats, admin)
	v1.GET("/broadcasts/:id/deliveries", h.deliveries, admin)
}

// userRequest is the body of PUT /users/{id} and one entry of an import.
type userRequest struct {
	ID       string   `json:"id,omitempty"` // imports only; PUT takes it from the path
	Name     string   `json:"name"`
	Roles    []string `json:"roles"`
	TimeZone string   `json:"time_zone,omitempty"`
}

func (r userRequest) user() audience.User {
	return audience.User{ID: r.ID, Name: r.Name, Roles: r.Roles, TimeZone: r.TimeZone}
}

// userParam is the :id path parameter, unescaped (an id may hold a "/").
func userParam(c echo.Context) string {
	id := c.Param("id")
	if c.Request().URL.RawPath != "" { // the router matched the escaped path
		if unescaped, err := url.PathUnescape(id); err == nil {
			id = unescaped
		}
	}
	return id
}

func (h *handlers) putUser(c echo.Context) error {
	var req struct {
		Name     string   `json:"name"`
		Roles    []string `json:"roles"`
		TimeZone string   `json:"time_zone,omitempty"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	u := audience.User{ID: userParam(c), Name: req.Name, Roles: req.Roles, TimeZone: req.TimeZone}
	if errs := u.Normalize(); len(errs) > 0 {
		return usersProblem("the user is not valid", errs)
	}
	stored, err := h.cfg.Audience.Upsert(c.Request().Context(), origin(c), u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, stored)
}

func (h *handlers) getUser(c echo.Context) error {
	id := userParam(c)
	u, err := h.cfg.Audience.Get(c.Request().Context(), id)
	if errors.Is(err, audience.ErrNotFound) {
		return problem(http.StatusNotFound, "no user has id %s; PUT /api/v1/users/{id} adds one", broadcast.Quote(id))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u)
}

// usersProblem is a 422 answer listing field errors.
func usersProblem(what string, errs []broadcast.FieldError) *Problem {
	return fieldsProblem(what, errs)
}

func (h *handlers) stats(c echo.Context) error {
	id, err := broadcastParam(c)
	if err != nil {
		return err
	}
	st, err := h.cfg.Audience.Stats(c.Request().Context(), id)
	if errors.Is(err, audience.ErrNotFound) {
		return problem(http.StatusNotFound, "no broadcast has id %s", id)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

// deliveriesResponse is a page of a broadcast's per-user deliveries.
type deliveriesResponse struct {
	Items      []audience.Delivery `json:"items"`
	NextCursor string              `json:"next_cursor,omitempty"`
}

func (h *handlers) deliveries(c echo.Context) error {
	id, err := broadcastParam(c)
	if err != nil {
		return err
	}
	limit := audience.DefaultDeliveriesLimit
	if raw := c.QueryParam("limit"); raw != "" {
		if limit, err = strconv.Atoi(raw); err != nil || limit < 1 || limit > audience.MaxDeliveriesLimit {
			return problem(http.StatusBadRequest, "limit must be a whole number from 1 to %d, got %s", audience.MaxDeliveriesLimit, broadcast.Quote(raw))
		}
	}
	page, next, err := h.cfg.Audience.Deliveries(c.Request().Context(), id, c.QueryParam("cursor"), limit)
	switch {
	case errors.Is(err, audience.ErrNotFound):
		return problem(http.StatusNotFound, "no broadcast has id %s", id)
	case errors.Is(err, audience.ErrBadCursor):
		return problem(http.StatusBadRequest, "%v", err)
	case err != nil:
		return err
	}
	if page == nil {
		page = []audience.Delivery{}
	}
	return c.JSON(http.StatusOK, deliveriesResponse{Items: page, NextCursor: next})
}

// broadcastParam is the :id path parameter as a broadcast id; a malformed
// one names no broadcast: 404.
func broadcastParam(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, problem(http.StatusNotFound, "no broadcast has id %s", broadcast.Quote(c.Param("id")))
	}
	return id, nil
}

// maxImportBytes is the largest body of POST /users/import.
const maxImportBytes = 32 << 20

// importUsers upserts many users at once, all or none. The body is a JSON
// array of users, or NDJSON (one user per line) with Content-Type
// application/x-ndjson.
func (h *handlers) importUsers(c echo.Context) error {
	ndjson, err := importFormat(c.Request())
	if err != nil {
		return err
	}
	body := http.MaxBytesReader(c.Response(), c.Request().Body, maxImportBytes)
	entries, err := readImport(body, ndjson)
	if err != nil {
		return err
	}
	users := make([]audience.User, len(entries))
	var (
		errs []broadcast.FieldError
		bad  int
	)
	for i, e := range entries {
		users[i] = e.user()
		check := e.user() // Import normalizes users[i] itself
		if fieldErrs := check.Normalize(); len(fieldErrs) > 0 {
			for _, fe := range fieldErrs {
				errs = append(errs, broadcast.FieldError{Field: fmt.Sprintf("[%d].%s", i, fe.Field), Message: fe.Message})
			}
			bad++
		}
	}
	if bad > 0 {
		return usersProblem(fmt.Sprintf("%d of %d users are not valid, so none was imported", bad, len(users)), errs)
	}
	n, err := h.cfg.Audience.Import(c.Request().Context(), origin(c), users)
	var v *audience.ValidationError
	if errors.As(err, &v) {
		return usersProblem("the import is not valid", v.Errors)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"imported": n})
}

// importFormat reports whether the body is NDJSON (true) or a JSON array.
func importFormat(r *http.Request) (bool, error) {
	media, err := bodyMediaType(r)
	switch {
	case err != nil:
		return false, err
	case media == "application/x-ndjson":
		return true, nil
	case media == "" || isJSONMediaType(media):
		return false, nil
	}
	return false, problem(http.StatusUnsupportedMediaType,
		"send the users as a JSON array (Content-Type application/json) or as NDJSON (application/x-ndjson), not %s",
		broadcast.Quote(r.Header.Get(echo.HeaderContentType)))
}

// readImport decodes the users of an import strictly, stopping at the first
// malformed entry or at one entry past the limit.
func readImport(body io.Reader, ndjson bool) ([]userRequest, error) {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if !ndjson {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil, problem(http.StatusBadRequest, "the request needs a body: a JSON array of users")
		}
		if err != nil {
			return nil, importProblem(-1, err)
		}
		if tok != json.Delim('[') {
			return nil, problem(http.StatusBadRequest, "the body must be a JSON array of users, or NDJSON with Content-Type application/x-ndjson")
		}
	}
	entries := []userRequest{}
	for ndjson || dec.More() {
		var e userRequest
		err := dec.Decode(&e)
		if ndjson && errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, importProblem(len(entries), err)
		}
		if len(entries) == audience.MaxImportUsers {
			return nil, usersProblem("the import is too large", []broadcast.FieldError{{Field: fmt.Sprintf("[%d]", len(entries)),
				Message: fmt.Sprintf("is one user too many: an import holds at most %d users; split it", audience.MaxImportUsers)}})
		}
		entries = append(entries, e)
	}
	if !ndjson {
		if _, err := dec.Token(); err != nil { // the closing ]
			return nil, importProblem(len(entries), err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
				return nil, importProblem(len(entries), err)
			}
			return nil, problem(http.StatusBadRequest, "the body must hold one JSON array and nothing after it")
		}
	}
	if ndjson && len(entries) == 0 {
		return nil, problem(http.StatusBadRequest, "the request needs a body: one JSON user per line")
	}
	return entries, nil
}

// importProblem explains why entry i (-1: the body itself) could not be read.
func importProblem(i int, err error) error {
	where := "the body"
	if i >= 0 {
		where = fmt.Sprintf("user [%d]", i)
	}
	var (
		tooLarge  *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return problem(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes (32 MiB); split the import", maxImportBytes)
	case errors.As(err, &syntaxErr):
		return problem(http.StatusBadRequest, "malformed JSON in %s at byte %d: %v", where, syntaxErr.Offset, syntaxErr)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return problem(http.StatusBadRequest, "malformed JSON: the body ends inside %s", where)
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return problem(http.StatusBadRequest, "%s must be a JSON object, not a JSON %s", where, typeErr.Value)
	case errors.As(err, &typeErr):
		return problem(http.StatusBadRequest, "field %s of %s must be %s, not a JSON %s", broadcast.Quote(typeErr.Field), where, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return problem(http.StatusBadRequest, "unknown field %s in %s; a user has id, name and roles", unknownField(err), where)
	}
	return problem(http.StatusBadRequest, "%s is not valid JSON for a user: %v", where, err)
}
