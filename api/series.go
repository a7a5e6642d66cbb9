package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/series"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/window"
	"github.com/crier/crier/workflows"
)

// SeriesStore is what the API needs of the series store. Each change
// commits its audit entry in its own transaction.
type SeriesStore interface {
	CreateSeries(ctx context.Context, by audit.Origin, sr series.Series, requestHash []byte,
		beforeCommit func(context.Context, series.Series) error) (series.Series, bool, error)
	GetSeries(ctx context.Context, id uuid.UUID) (series.Series, error)
	ListSeries(ctx context.Context, p store.SeriesListParams) ([]series.Series, string, error)
	ChangeSeries(ctx context.Context, by audit.Origin, id uuid.UUID, c store.SeriesChange) (store.SeriesResult, error)
	Occurrences(ctx context.Context, id uuid.UUID, cursor string, limit int) ([]broadcast.Broadcast, string, error)
	ActiveOccurrences(ctx context.Context, id uuid.UUID) ([]broadcast.Broadcast, error)
}

// Schedules is what the API needs of the series' Temporal Schedules
// (workflows.Schedules). A failure of Temporal's is workflows.ErrUnavailable.
type Schedules interface {
	Create(ctx context.Context, sr series.Series, c series.Compiled) error
	Update(ctx context.Context, sr series.Series, c series.Compiled) error
	Pause(ctx context.Context, sr series.Series) error
	Unpause(ctx context.Context, sr series.Series) error
	Trigger(ctx context.Context, sr series.Series, key string) error
	Delete(ctx context.Context, scheduleID string) error
	Next(ctx context.Context, sr series.Series, c series.Compiled, n int) ([]time.Time, error)
}

// SeriesConfig serves the /api/v1/series routes.
type SeriesConfig struct {
	Store     SeriesStore
	Schedules Schedules
}

// seriesNamespace derives series ids from Idempotency-Key headers.
var seriesNamespace = uuid.MustParse("9a3c1f4e-2b7d-4e8a-b1c6-5d0f3e2a7b94")

// nextShown is how many coming occurrences GET of a series shows.
const nextShown = 5

// seriesRoutes registers the series routes: a sender (admin or
// broadcaster) manages their own series, as with broadcasts; changing a
// series' template or recurrence is an admin's, as rescheduling is.
func (h *handlers) seriesRoutes(v1 *echo.Group, admin, sender echo.MiddlewareFunc) {
	v1.POST("/series", h.createSeries, sender)
	v1.GET("/series", h.listSeries, sender)
	v1.GET("/series/:id", h.getSeries, sender)
	v1.PATCH("/series/:id", h.patchSeries, admin)
	v1.POST("/series/:id/pause", h.pauseSeries, sender)
	v1.POST("/series/:id/resume", h.resumeSeries, sender)
	v1.POST("/series/:id/trigger", h.triggerSeries, sender)
	v1.POST("/series/:id/cancel", h.cancelSeries, sender)
	v1.GET("/series/:id/occurrences", h.seriesOccurrences, sender)
}

// recurrenceRequest is a series' recurrence in a request body.
type recurrenceRequest struct {
	Cron     string `json:"cron,omitempty"`
	Every    string `json:"every,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	StartsAt *Time  `json:"starts_at,omitempty"`
	EndsAt   *Time  `json:"ends_at,omitempty"`
	Count    int    `json:"count,omitempty"`
}

func (r *recurrenceRequest) recurrence() series.Recurrence {
	if r == nil {
		return series.Recurrence{}
	}
	return series.Recurrence{Cron: r.Cron, Every: r.Every, TimeZone: r.TimeZone, StartsAt: r.StartsAt.ptr(), EndsAt: r.EndsAt.ptr(), Count: r.Count}
}

// seriesRequest is the body of POST /series.
type seriesRequest struct {
	Title        string             `json:"title"`
	Content      string             `json:"content"`
	Category     string             `json:"category,omitempty"`
	Priority     broadcast.Priority `json:"priority,omitempty"`
	Target       *targetRequest     `json:"target"`
	Recurrence   *recurrenceRequest `json:"recurrence"`
	ExpiresAfter *series.Duration   `json:"expires_after,omitempty"`
	Paused       bool               `json:"paused,omitempty"`
	// DeliveryWindow holds each occurrence to its days and hours.
	DeliveryWindow *window.Window `json:"delivery_window,omitempty"`
}

// seriesPatch is the body of PATCH /series/{id}: the fields given replace
// the series' own; a recurrence given replaces the whole recurrence.
type seriesPatch struct {
	Title        *string             `json:"title,omitempty"`
	Content      *string             `json:"content,omitempty"`
	Category     *string             `json:"category,omitempty"`
	Priority     *broadcast.Priority `json:"priority,omitempty"`
	Target       *targetRequest      `json:"target,omitempty"`
	Recurrence   *recurrenceRequest  `json:"recurrence,omitempty"`
	ExpiresAfter *series.Duration    `json:"expires_after,omitempty"`
	// DeliveryWindow given replaces the series' window.
	DeliveryWindow *window.Window `json:"delivery_window,omitempty"`
}

// seriesCancel is the body of POST /series/{id}/cancel.
type seriesCancel struct {
	// CancelActive also cancels the occurrences still active (scheduled,
	// or published and not expired): those published are retracted.
	CancelActive bool `json:"cancel_active,omitempty"`
}

// seriesList is a page of series.
type seriesList struct {
	Items      []series.Series `json:"items"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// normalizeSeries checks the template, the recurrence and the lifetime of
// sr together, fills their defaults, and reports every problem at once.
func (h *handlers) normalizeSeries(sr *series.Series) (series.Compiled, error) {
	rules := h.rules()
	spec := broadcast.Spec{Title: sr.Title, Content: sr.Content, Category: sr.Category, Priority: sr.Priority, Target: sr.Target,
		DeliveryWindow: sr.DeliveryWindow}
	var problems []broadcast.FieldError
	var v *broadcast.ValidationError
	if err := spec.Normalize(rules, true); errors.As(err, &v) {
		problems = append(problems, v.Errors...)
	} else if err != nil {
		return series.Compiled{}, err
	}
	sr.Title, sr.Content, sr.Category, sr.Priority, sr.Target = spec.Title, spec.Content, spec.Category, spec.Priority, spec.Target
	sr.DeliveryWindow = spec.DeliveryWindow
	compiled, errs := sr.Recurrence.Compile(rules.Now)
	problems = append(problems, errs...)
	sr.Recurrence = compiled.Recurrence
	if sr.ExpiresAfter == 0 {
		sr.ExpiresAfter = series.Duration(series.DefaultExpiresAfter)
	}
	if d := time.Duration(sr.ExpiresAfter); d < time.Minute || d > broadcast.MaxScheduleAhead {
		problems = append(problems, broadcast.FieldError{Field: "expires_after",
			Message: "must be from 1m to 8784h (a year), like \"24h\"; got " + time.Duration(sr.ExpiresAfter).String()})
	}
	if len(problems) > 0 {
		return compiled, validationProblem(&broadcast.ValidationError{Errors: problems})
	}
	return compiled, nil
}

func (h *handlers) createSeries(c echo.Context) error {
	var req seriesRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	claims := auth.ClaimsFrom(c)
	sr := series.Series{Status: series.StatusActive, Sender: broadcast.Sender{ID: claims.Subject, Name: claims.DisplayName()},
		Title: req.Title, Content: req.Content, Category: req.Category, Priority: req.Priority, Recurrence: req.Recurrence.recurrence(),
		Target: req.Target.target()}
	if req.ExpiresAfter != nil {
		sr.ExpiresAfter = *req.ExpiresAfter
	}
	if req.Paused {
		sr.Status = series.StatusPaused
	}
	sr.DeliveryWindow = req.DeliveryWindow
	if req.Recurrence == nil {
		return validationProblem(&broadcast.ValidationError{Errors: []broadcast.FieldError{{Field: "recurrence",
			Message: `is required: {"cron": "0 9 * * MON-FRI", "time_zone": "Europe/Berlin"} or {"every": "6h"}`}}})
	}
	compiled, err := h.normalizeSeries(&sr)
	if err != nil {
		return err
	}
	id, err := derivedID(c, seriesNamespace, claims.Subject)
	if err != nil {
		return err
	}
	sr.ID, sr.ScheduleID, sr.CreatedAt = id, series.ScheduleID(id), h.cfg.Clock().UTC()
	stored, created, err := h.cfg.Series.Store.CreateSeries(c.Request().Context(), origin(c), sr, requestHash(req),
		func(ctx context.Context, stored series.Series) error {
			return h.cfg.Series.Schedules.Create(ctx, stored, compiled)
		})
	switch {
	case errors.Is(err, store.ErrIdempotencyMismatch):
		return problem(http.StatusUnprocessableEntity, "Idempotency-Key %s was already used for a different request; use a new key for a new series",
			broadcast.Quote(c.Request().Header.Get("Idempotency-Key")))
	case err != nil:
		return err // Temporal not taking the schedule is a 503: nothing stored
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/series/"+stored.ID.String())
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	return c.JSON(status, h.withNext(c, stored))
}

func (h *handlers) listSeries(c echo.Context) error {
	p := store.SeriesListParams{Cursor: c.QueryParam("cursor")}
	if claims := auth.ClaimsFrom(c); !claims.HasRole(auth.RoleAdmin) {
		p.SenderID = claims.Subject
	}
	var err error
	if p.Statuses, err = enumFilter(c, "status", series.Statuses); err != nil {
		return err
	}
	if p.Limit, err = pageLimit(c); err != nil {
		return err
	}
	items, next, err := h.cfg.Series.Store.ListSeries(c.Request().Context(), p)
	if errors.Is(err, store.ErrBadCursor) {
		return problem(http.StatusBadRequest, "%v", err)
	}
	if err != nil {
		return err
	}
	if items == nil {
		items = []series.Series{}
	}
	return c.JSON(http.StatusOK, seriesList{Items: items, NextCursor: next})
}

func (h *handlers) getSeries(c echo.Context) error {
	sr, err := h.loadSeries(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.withNext(c, sr))
}

// withNext adds the next occurrences of an active or paused series, as its
// schedule will make them. Temporal not answering leaves them out (the
// series itself is PostgreSQL's): the answer says so in a Warning header.
func (h *handlers) withNext(c echo.Context, sr series.Series) series.Series {
	if sr.Status.Terminal() {
		return sr
	}
	compiled, _ := sr.Recurrence.Compile(sr.CreatedAt)
	next, err := h.cfg.Series.Schedules.Next(c.Request().Context(), sr, compiled, nextShown)
	if err != nil {
		h.cfg.Logger.Warn("Could not read a series' next occurrences from Temporal", "series_id", sr.ID, "error", err)
		c.Response().Header().Set("Warning", `199 crier "next_occurrences left out: Temporal did not answer"`)
		return sr
	}
	sr.Next = make([]series.Upcoming, len(next))
	for i, at := range next {
		sr.Next[i] = series.Upcoming{At: at.UTC(), Local: at.In(compiled.Location).Format(time.RFC3339)}
	}
	return sr
}

// loadSeries reads the series named by :id; a malformed or unknown id, or
// another sender's series for a broadcaster, is a 404.
func (h *handlers) loadSeries(c echo.Context) (series.Series, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return series.Series{}, problem(http.StatusNotFound, "no series has id %s", broadcast.Quote(c.Param("id")))
	}
	sr, err := h.cfg.Series.Store.GetSeries(c.Request().Context(), id)
	if errors.Is(err, store.ErrSeriesNotFound) || (err == nil && !mayManage(auth.ClaimsFrom(c), broadcast.Broadcast{Sender: sr.Sender})) {
		return series.Series{}, problem(http.StatusNotFound, "no series has id %s", id)
	}
	return sr, err
}

func (h *handlers) patchSeries(c echo.Context) error {
	sr, err := h.loadSeries(c)
	if err != nil {
		return err
	}
	var req seriesPatch
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	if sr.Status.Terminal() {
		return problem(http.StatusConflict, "the series is %s and can no longer change", sr.Status)
	}
	next := sr
	patchTemplate(&next, req)
	compiled, err := h.normalizeSeries(&next)
	if err != nil {
		return err
	}
	return h.changeSeries(c, sr, store.SeriesChange{Op: series.OpUpdate, Action: audit.ActionSeriesUpdate, Template: &next,
		BeforeCommit: func(ctx context.Context, after series.Series) error {
			return h.cfg.Series.Schedules.Update(ctx, after, compiled)
		}})
}

// patchTemplate applies the fields req gives to sr.
func patchTemplate(sr *series.Series, req seriesPatch) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&sr.Title, req.Title)
	set(&sr.Content, req.Content)
	set(&sr.Category, req.Category)
	if req.Priority != nil {
		sr.Priority = *req.Priority
	}
	if req.Target != nil {
		sr.Target = req.Target.target()
	}
	if req.Recurrence != nil {
		sr.Recurrence = req.Recurrence.recurrence()
	}
	if req.ExpiresAfter != nil {
		sr.ExpiresAfter = *req.ExpiresAfter
	}
	if req.DeliveryWindow != nil {
		sr.DeliveryWindow = req.DeliveryWindow
	}
}

func (h *handlers) pauseSeries(c echo.Context) error {
	return h.toggleSeries(c, series.OpPause, audit.ActionSeriesPause, series.StatusPaused, h.cfg.Series.Schedules.Pause)
}

func (h *handlers) resumeSeries(c echo.Context) error {
	return h.toggleSeries(c, series.OpResume, audit.ActionSeriesResume, series.StatusActive, h.cfg.Series.Schedules.Unpause)
}

// toggleSeries pauses or resumes: a series already there is answered as it
// is (a retried request succeeds).
func (h *handlers) toggleSeries(c echo.Context, op series.Operation, action audit.Action, to series.Status,
	schedule func(context.Context, series.Series) error) error {
	sr, err := h.loadSeries(c)
	if err != nil {
		return err
	}
	if sr.Status == to {
		return c.JSON(http.StatusOK, h.withNext(c, sr))
	}
	return h.changeSeries(c, sr, store.SeriesChange{Op: op, Action: action, BeforeCommit: schedule})
}

func (h *handlers) triggerSeries(c echo.Context) error {
	sr, err := h.loadSeries(c)
	if err != nil {
		return err
	}
	if !series.Allows(series.OpTrigger, sr.Status) {
		return problem(http.StatusConflict, "the series is %s and makes no more occurrences", sr.Status)
	}
	// The occurrence is named by the request, or by its Idempotency-Key, so
	// a retried request makes one.
	key := requestID(c)
	if k := c.Request().Header.Get("Idempotency-Key"); k != "" {
		key = derivedKey(auth.ClaimsFrom(c).Subject, k)
	}
	res, err := h.cfg.Series.Store.ChangeSeries(c.Request().Context(), origin(c), sr.ID, store.SeriesChange{
		Op: series.OpTrigger, Action: audit.ActionSeriesTrigger, Detail: map[string]string{"occurrence": "trigger:" + key},
		BeforeCommit: func(ctx context.Context, sr series.Series) error { return h.cfg.Series.Schedules.Trigger(ctx, sr, key) }})
	if err != nil {
		return err
	}
	if !res.Applied {
		return problem(http.StatusConflict, "the series is now %s and makes no more occurrences", res.Series.Status)
	}
	// The occurrence is made by the schedule's action, within moments:
	// GET .../occurrences lists it.
	return c.JSON(http.StatusAccepted, h.withNext(c, res.Series))
}

func (h *handlers) cancelSeries(c echo.Context) error {
	sr, err := h.loadSeries(c)
	if err != nil {
		return err
	}
	var req seriesCancel
	if err := decodeJSON(c, &req, true); err != nil {
		return err
	}
	ctx := c.Request().Context()
	switch sr.Status {
	case series.StatusCancelled: // a retried cancel succeeds, and finishes cancelling the occurrences
	case series.StatusEnded:
		if !req.CancelActive {
			return problem(http.StatusConflict, "the series has ENDED (it made all its occurrences); "+
				`cancel its active occurrences with {"cancel_active": true}`)
		}
	default:
		res, err := h.cfg.Series.Store.ChangeSeries(ctx, origin(c), sr.ID, store.SeriesChange{Op: series.OpCancel, Action: audit.ActionSeriesCancel,
			Detail: req, BeforeCommit: func(ctx context.Context, after series.Series) error {
				return h.cfg.Series.Schedules.Delete(ctx, after.ScheduleID)
			}})
		if err != nil {
			return err
		}
		sr = res.Series
	}
	if req.CancelActive {
		active, err := h.cfg.Series.Store.ActiveOccurrences(ctx, sr.ID)
		if err != nil {
			return err
		}
		for _, b := range active {
			if _, err := h.workflows.Cancel(ctx, origin(c), b.ID); err != nil && !errors.Is(err, workflows.ErrNotRunning) {
				if _, conflict := workflows.IsConflict(err); !conflict {
					return err // Temporal unavailable: a 503, and a retry finishes the rest
				}
			}
		}
	}
	return c.JSON(http.StatusOK, sr)
}

// changeSeries applies a guarded change and answers the series after it; a
// change the series' status no longer allows (a race) is a 409.
func (h *handlers) changeSeries(c echo.Context, sr series.Series, change store.SeriesChange) error {
	res, err := h.cfg.Series.Store.ChangeSeries(c.Request().Context(), origin(c), sr.ID, change)
	if err != nil {
		return err
	}
	if !res.Applied {
		return problem(http.StatusConflict, "the series is %s and cannot be changed that way", res.Series.Status)
	}
	return c.JSON(http.StatusOK, h.withNext(c, res.Series))
}

func (h *handlers) seriesOccurrences(c echo.Context) error {
	sr, err := h.loadSeries(c)
	if err != nil {
		return err
	}
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	items, next, err := h.cfg.Series.Store.Occurrences(c.Request().Context(), sr.ID, c.QueryParam("cursor"), limit)
	if errors.Is(err, store.ErrBadCursor) {
		return problem(http.StatusBadRequest, "%v", err)
	}
	if err != nil {
		return err
	}
	if items == nil {
		items = []broadcast.Broadcast{}
	}
	return c.JSON(http.StatusOK, listResponse{Items: items, NextCursor: next})
}

// derivedKey names what an Idempotency-Key asks for, for one sender.
func derivedKey(sender, key string) string {
	return uuid.NewSHA1(seriesNamespace, []byte(sender+"\x00"+key)).String()
}

// pageLimit reads ?limit=, 1 to 100; 0 when absent (the store's default).
func pageLimit(c echo.Context) (int, error) {
	raw := c.QueryParam("limit")
	if raw == "" {
		return 0, nil
	}
	var n int
	if err := echo.QueryParamsBinder(c).Int("limit", &n).BindError(); err != nil || n < 1 || n > 100 {
		return 0, problem(http.StatusBadRequest, "limit must be a whole number from 1 to 100, got %s", broadcast.Quote(raw))
	}
	return n, nil
}
