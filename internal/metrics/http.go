package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// HTTP is Echo middleware counting requests and timing answers. Every label
// comes from a fixed set, whatever the client sends, because series never
// expire: the method is one of httpMethods or "other", the route is a
// registered route template or "unmatched" (never the raw path), and the
// status one of httpStatuses or its class. An outside review made 32,000
// series from 2,000 made-up methods when the raw method was a label.
//
// It must run before the rate limiters, so refused requests are counted too.
func HTTP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		if err != nil {
			// The error handler writes the answer after us; its status is
			// the error's (an HTTPError's code, or 500 otherwise).
			status = statusOf(err)
		}
		route, method := routeLabel(c, err), methodLabel(c.Request().Method)
		HTTPRequests.WithLabelValues(route, method, statusLabel(status)).Inc()
		if route != "/api/v1/me/stream" {
			HTTPDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		}
		return err
	}
}

// httpMethods are the methods counted under their own name.
var httpMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// methodLabel is the method label of a request: its method when it is one
// of GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS (case matters, as in
// HTTP), else "other".
func methodLabel(method string) string {
	if httpMethods[method] {
		return method
	}
	return "other"
}

// routeLabel is the route template Echo matched, or "unmatched" when no
// route did. Echo's router only ever sets a registered template (a 405 keeps
// the template of the path it matched), so the set is the route table.
func routeLabel(c echo.Context, err error) string {
	if route := c.Path(); route != "" && !errors.Is(err, echo.ErrNotFound) {
		return route
	}
	return "unmatched"
}

// httpStatuses are the statuses Crier answers, counted under their own code.
var httpStatuses = map[int]bool{
	200: true, 201: true, 202: true, 204: true, 304: true,
	400: true, 401: true, 403: true, 404: true, 405: true, 409: true, 413: true, 415: true, 422: true, 429: true,
	500: true, 502: true, 503: true, 504: true,
}

// statusLabel is the status label of an answer: the code when Crier answers
// it (httpStatuses), else its class ("2xx" … "5xx"), else "other".
func statusLabel(status int) string {
	switch {
	case httpStatuses[status]:
		return strconv.Itoa(status)
	case status >= 100 && status <= 599:
		return strconv.Itoa(status/100) + "xx"
	}
	return "other"
}

// statusOf is the status an error will be answered with.
func statusOf(err error) int {
	var (
		he    *echo.HTTPError
		coded interface{ StatusCode() int }
	)
	switch {
	case errors.As(err, &he):
		return he.Code
	case errors.As(err, &coded):
		return coded.StatusCode()
	}
	return 500
}
