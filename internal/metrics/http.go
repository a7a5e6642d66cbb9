package metrics

import (
	"errors"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// HTTP is Echo middleware counting requests and timing answers, labelled by
// route template (never by raw path, which would explode the series).
func HTTP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		if err != nil {
			// The error handler writes the answer after us; its status is
			// the error's (an HTTPError's code, or 500 otherwise).
			status = statusOf(err)
		}
		method := c.Request().Method
		HTTPRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		if route != "/api/v1/me/stream" {
			HTTPDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		}
		return err
	}
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
