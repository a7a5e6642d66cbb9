package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/ratelimit"
)

// Readiness rounds. A round pings every dependency; its result is shared by
// the callers waiting for it and reused for readyCacheFor, so a flood of
// /readyz cannot multiply the pings of PostgreSQL, Kafka and Temporal.
const (
	readyCacheFor = time.Second
	// readyTimeout bounds a round: a dependency slower than this is unavailable.
	readyTimeout = 2 * time.Second
)

// readyLogEvery is how often a failing check is logged: its raw error goes
// only to the log, and a probe every second must not flood it.
var readyLogEvery = ratelimit.Limit{PerSecond: 0.1, Burst: 1}

// readiness runs and caches the readiness checks.
type readiness struct {
	checks []Check
	now    func() time.Time
	logger *slog.Logger
	logs   *ratelimit.Limiter // per check name

	mu    sync.Mutex
	ok    []bool        // the last round's result per check; nil before the first
	at    time.Time     // when the last round ended
	round chan struct{} // closed when the running round ends; nil when none runs
}

func newReadiness(cfg Config) *readiness {
	return &readiness{checks: cfg.Ready, now: cfg.Clock, logger: cfg.Logger, logs: ratelimit.New(readyLogEvery)}
}

// results is whether each check passed, from a round at most readyCacheFor
// old: the cached one, the one running, or one started now. done is false
// when ctx ended first.
func (r *readiness) results(ctx context.Context) (ok []bool, done bool) {
	r.mu.Lock()
	if r.ok != nil && r.now().Sub(r.at) < readyCacheFor {
		defer r.mu.Unlock()
		return r.ok, true
	}
	round := r.round
	if round == nil {
		round = make(chan struct{})
		r.round = round
		// The round outlives a caller who leaves: others wait for it.
		go r.run(context.WithoutCancel(ctx), round)
	}
	r.mu.Unlock()
	select {
	case <-round:
	case <-ctx.Done():
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ok, true
}

// run runs every check in parallel, records the result and closes done.
func (r *readiness) run(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	errs := make([]error, len(r.checks))
	var wg sync.WaitGroup
	for i, chk := range r.checks {
		wg.Go(func() { errs[i] = chk.Check(ctx) })
	}
	wg.Wait()
	ok := make([]bool, len(errs))
	for i, err := range errs {
		ok[i] = err == nil
		if err == nil {
			continue
		}
		if allowed, _ := r.logs.Allow(r.checks[i].Name); allowed {
			r.logger.WarnContext(ctx, "Readiness check failed", "check", r.checks[i].Name, "error", err)
		}
	}
	r.mu.Lock()
	r.ok, r.at, r.round = ok, r.now(), nil
	r.mu.Unlock()
	close(done)
}

// readyAnswer is the body of /readyz. Checks is only for an admin: an
// anonymous caller learns nothing about the dependencies.
type readyAnswer struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// readyz answers 200 "ready" when every check passed in the last round, else
// 503 "not ready"; to an admin's bearer token it also names each check "ok"
// or "unavailable". Raw errors go only to the log.
func (h *handlers) readyz(c echo.Context) error {
	ok, done := h.ready.results(c.Request().Context())
	status, answer := http.StatusOK, readyAnswer{Status: "ready"}
	if !done || !allTrue(ok) {
		status, answer.Status = http.StatusServiceUnavailable, "not ready"
	}
	if done && h.isAdmin(c) {
		answer.Checks = make(map[string]string, len(ok))
		for i, chk := range h.cfg.Ready {
			answer.Checks[chk.Name] = "ok"
			if !ok[i] {
				answer.Checks[chk.Name] = "unavailable"
			}
		}
	}
	return c.JSON(status, answer)
}

// isAdmin reports whether the request carries an admin's valid bearer
// token. Any other caller is anonymous here, never refused.
func (h *handlers) isAdmin(c echo.Context) bool {
	if c.Request().Header.Get(echo.HeaderAuthorization) == "" {
		return false
	}
	claims, err := h.cfg.Verifier.FromRequest(c)
	if err != nil {
		c.Response().Header().Del(echo.HeaderWWWAuthenticate)
		return false
	}
	return claims.HasRole(auth.RoleAdmin)
}

func allTrue(ok []bool) bool {
	for _, b := range ok {
		if !b {
			return false
		}
	}
	return true
}
