package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/deadletter"
	"github.com/crier/crier/internal/outage"
	"github.com/crier/crier/internal/stream"
	"github.com/crier/crier/workflows"
)

// The dependencies a request may find down, as an answer names them.
const (
	dependencyPostgreSQL = "PostgreSQL"
	dependencyTemporal   = "Temporal"
	dependencyKafka      = "Kafka"
)

// retryAfterSeconds is the Retry-After of a 503: a blip (a failover, a
// restart) is over in seconds, and clients retrying sooner would only add
// to the load of a dependency coming back.
const retryAfterSeconds = 5

// unavailableDependency names the dependency whose being down made err:
// Temporal (workflows.ErrUnavailable: unreachable, overloaded, too slow),
// Kafka (stream.ErrNotReady: the node has not started reading the topic, so
// it cannot open a stream; deadletter.ErrUnavailable: it did not take a
// redriven message) or PostgreSQL (outage.PostgreSQL: unreachable,
// refusing connections, shutting down, a connection cut). It is the one
// place such errors become answers: errorHandler turns them into a 503
// problem.
func unavailableDependency(err error) (string, bool) {
	switch {
	case errors.Is(err, workflows.ErrUnavailable):
		return dependencyTemporal, true
	case errors.Is(err, stream.ErrNotReady), errors.Is(err, deadletter.ErrUnavailable):
		return dependencyKafka, true
	case outage.PostgreSQL(err):
		return dependencyPostgreSQL, true
	}
	return "", false
}

// unavailableProblem is the 503 answer when dependency is down: nothing was
// changed, the client may retry after Retry-After. The cause is logged once,
// with the request id the answer quotes, and never sent.
func unavailableProblem(c echo.Context, logger *slog.Logger, dependency string, err error) *Problem {
	logger.WarnContext(c.Request().Context(), "A dependency is unavailable; answered 503", "dependency", dependency, "error", err,
		"method", c.Request().Method, "path", c.Path(), "request_id", requestID(c))
	c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	p := problem(http.StatusServiceUnavailable, "%s is unavailable, so nothing was changed; retry in %d s", dependency, retryAfterSeconds)
	p.Dependency = dependency
	return p
}
