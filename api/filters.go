package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/broadcast"
)

// The query parameters lists are filtered by. Each refuses what it cannot
// mean with a 400 naming the parameter, rather than answering a page that
// silently ignores it.

// maxSearchBytes is the longest search text (?q=) a list takes: what a
// person types in a search box. It is matched against every row a list
// reads (ILIKE), so its cost is bounded too.
const maxSearchBytes = 200

// queryValues are the values of the query parameter name, repeated or
// comma-separated, trimmed; empty ones are left out, so ?status= means no
// filter.
func queryValues(c echo.Context, name string) []string {
	var out []string
	for _, raw := range c.QueryParams()[name] {
		for _, v := range strings.Split(raw, ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

// enumFilter reads a filter on an enumeration (?status=, ?priority=): its
// values as queryValues reads them, in any case; one not in all is a 400
// naming the accepted ones.
func enumFilter[S ~string](c echo.Context, name string, all []S) ([]S, error) {
	var out []S
	for _, v := range queryValues(c, name) {
		s := S(strings.ToUpper(v))
		if !slices.Contains(all, s) {
			return nil, problem(http.StatusBadRequest, "%s %s is not one of %v", name, broadcast.Quote(v), all)
		}
		out = append(out, s)
	}
	return out, nil
}

// categoryFilter reads ?category=: categories as queryValues reads them,
// each one a broadcast could have (broadcast.CategoryFault), else a 400.
func categoryFilter(c echo.Context) ([]string, error) {
	categories := queryValues(c, "category")
	for _, category := range categories {
		if fault := broadcast.CategoryFault(category); fault != "" {
			return nil, problem(http.StatusBadRequest, "category %s %s", broadcast.Quote(category), fault)
		}
	}
	return categories, nil
}

// textParam is the query parameter name as given, "" when absent. A value
// PostgreSQL cannot compare as text (not UTF-8, or holding NUL) is a 400
// rather than a failed query, as is one longer than maxBytes (0: no bound).
func textParam(c echo.Context, name string, maxBytes int) (string, error) {
	v := c.QueryParam(name)
	switch {
	case maxBytes > 0 && len(v) > maxBytes:
		return "", problem(http.StatusBadRequest, "%s must be at most %d bytes, got %d", name, maxBytes, len(v))
	case !broadcast.Storable(v):
		return "", problem(http.StatusBadRequest, "%s must be valid UTF-8 without NUL characters", name)
	}
	return v, nil
}

// seriesFilter reads ?series_id=: nil when absent, else a series' id (a
// UUID, else a 400).
func seriesFilter(c echo.Context) (*uuid.UUID, error) {
	raw := c.QueryParam("series_id")
	if raw == "" {
		return nil, nil
	}
	id, err := uuid.Parse(raw)
	if err != nil {
		return nil, problem(http.StatusBadRequest, "series_id %s is not a series id (a UUID)", broadcast.Quote(raw))
	}
	return &id, nil
}
