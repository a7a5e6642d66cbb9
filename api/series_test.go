package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/series"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
	"github.com/crier/crier/workflows"
)

// fakeSchedules records what the API asks of the series' schedules; down
// makes every call fail as Temporal unreachable does.
type fakeSchedules struct {
	mu    sync.Mutex
	calls []string
	down  bool
}

func (f *fakeSchedules) call(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return workflows.ErrUnavailable
	}
	f.calls = append(f.calls, name)
	return nil
}

func (f *fakeSchedules) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeSchedules) Create(context.Context, series.Series, series.Compiled) error {
	return f.call("create")
}
func (f *fakeSchedules) Update(context.Context, series.Series, series.Compiled) error {
	return f.call("update")
}
func (f *fakeSchedules) Pause(context.Context, series.Series) error   { return f.call("pause") }
func (f *fakeSchedules) Unpause(context.Context, series.Series) error { return f.call("unpause") }
func (f *fakeSchedules) Trigger(context.Context, series.Series, string) error {
	return f.call("trigger")
}
func (f *fakeSchedules) Delete(context.Context, string) error { return f.call("delete") }
func (f *fakeSchedules) Next(_ context.Context, _ series.Series, c series.Compiled, n int) ([]time.Time, error) {
	if err := f.call("next"); err != nil {
		return nil, err
	}
	at := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
	out := make([]time.Time, n)
	for i := range out {
		out[i] = at.Add(time.Duration(i) * 24 * time.Hour)
	}
	return c.Next(out), nil
}

type seriesBundle struct {
	*testBundle
	schedules *fakeSchedules
}

func setupSeries(t *testing.T) *seriesBundle {
	t.Helper()
	return setupSeriesAt(t, time.Time{})
}

// setupSeriesAt is setupSeries with the API's clock at now (zero: the
// test bundle's).
func setupSeriesAt(t *testing.T, now time.Time) *seriesBundle {
	t.Helper()
	tb := setup(t)
	if !now.IsZero() {
		tb.now = now
	}
	sb := &seriesBundle{testBundle: tb, schedules: &fakeSchedules{}}
	tb.e = api.New(tb.store, tb.wf, api.Config{
		Verifier: auth.NewVerifier(tb.secret),
		Clock:    func() time.Time { return tb.now },
		Logger:   testenv.Logger(t),
		Series:   &api.SeriesConfig{Store: tb.store, Schedules: sb.schedules},
	})
	return sb
}

const weekdaySeries = `{"title":"Stand-up","content":"In five minutes","target":{"type":"ROLE","ids":["dev"]},
	"recurrence":{"cron":"55 8 * * MON-FRI","time_zone":"Europe/Berlin"},"expires_after":"1h"}`

func requireSeries(t *testing.T, rec *httptest.ResponseRecorder, status int) series.Series {
	t.Helper()
	require.Equal(t, status, rec.Code, "body: %s", rec.Body)
	var sr series.Series
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &sr))
	return sr
}

func TestCreateSeries(t *testing.T) {
	t.Parallel()
	sb := setupSeries(t)
	rec := sb.do(t, http.MethodPost, "/api/v1/series", weekdaySeries, withHeader("Idempotency-Key", "standup"))
	sr := requireSeries(t, rec, http.StatusCreated)
	require.Equal(t, "/api/v1/series/"+sr.ID.String(), rec.Header().Get("Location"))
	require.Equal(t, series.StatusActive, sr.Status)
	require.Equal(t, "general", sr.Category, "a broadcast's defaults")
	require.Equal(t, series.Duration(time.Hour), sr.ExpiresAfter)
	require.Equal(t, series.ScheduleID(sr.ID), sr.ScheduleID)
	require.Equal(t, "Ada Admin", sr.Sender.Name)
	require.Len(t, sr.Next, 5)
	require.Equal(t, "2027-01-04T09:00:00+01:00", sr.Next[0].Local, "in the series' zone")
	require.Contains(t, rec.Body.String(), `"expires_after":"1h"`)

	again := requireSeries(t, sb.do(t, http.MethodPost, "/api/v1/series", weekdaySeries, withHeader("Idempotency-Key", "standup")), http.StatusOK)
	require.Equal(t, sr.ID, again.ID, "a retry names the first attempt's series")
	requireProblem(t, sb.do(t, http.MethodPost, "/api/v1/series", `{"title":"Other","content":"x","target":{"type":"ALL"},
		"recurrence":{"every":"1h"}}`, withHeader("Idempotency-Key", "standup")), http.StatusUnprocessableEntity, "already used")
	require.Equal(t, []string{"create", "next", "create", "next"}, sb.schedules.recorded(), "the retry brings the schedule in line")

	paused := requireSeries(t, sb.do(t, http.MethodPost, "/api/v1/series",
		`{"title":"Later","content":"x","target":{"type":"ALL"},"recurrence":{"every":"6h"},"paused":true}`), http.StatusCreated)
	require.Equal(t, series.StatusPaused, paused.Status)
	require.Equal(t, series.Duration(series.DefaultExpiresAfter), paused.ExpiresAfter)
	require.Equal(t, "UTC", paused.Recurrence.TimeZone)
}

// Every bad series is refused with what to fix, and nothing is stored or
// scheduled.
func TestCreateSeriesRefusals(t *testing.T) {
	t.Parallel()
	sb := setupSeries(t)
	for _, tc := range []struct {
		name, body string
		status     int
		detail     string
	}{
		{"no recurrence", `{"title":"t","content":"c","target":{"type":"ALL"}}`, http.StatusUnprocessableEntity, "recurrence: is required"},
		{"bad cron", `{"title":"t","content":"c","target":{"type":"ALL"},"recurrence":{"cron":"every day"}}`,
			http.StatusUnprocessableEntity, "recurrence.cron"},
		{"bad zone", `{"title":"t","content":"c","target":{"type":"ALL"},"recurrence":{"cron":"0 9 * * *","time_zone":"Berlin"}}`,
			http.StatusUnprocessableEntity, "recurrence.time_zone"},
		{"template and recurrence at once", `{"title":"","content":"c","target":{"type":"ROLE"},"recurrence":{"every":"1s"}}`,
			http.StatusUnprocessableEntity, "title: must not be empty; target.ids"},
		{"short lifetime", `{"title":"t","content":"c","target":{"type":"ALL"},"recurrence":{"every":"1h"},"expires_after":"10s"}`,
			http.StatusUnprocessableEntity, "expires_after: must be from 1m"},
		{"lifetime not a duration", `{"title":"t","content":"c","target":{"type":"ALL"},"recurrence":{"every":"1h"},"expires_after":"a day"}`,
			http.StatusBadRequest, "is not a duration"},
		{"unknown field", `{"title":"t","content":"c","target":{"type":"ALL"},"recurrence":{"every":"1h","at":"9"}}`,
			http.StatusBadRequest, "unknown field"},
		{"bad time", `{"title":"t","content":"c","target":{"type":"ALL"},"recurrence":{"every":"1h","ends_at":"tomorrow"}}`,
			http.StatusBadRequest, "RFC 3339"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requireProblem(t, sb.do(t, http.MethodPost, "/api/v1/series", tc.body), tc.status, tc.detail)
		})
	}
	t.Run("Temporal down", func(t *testing.T) {
		t.Parallel()
		down := setupSeries(t)
		down.schedules.down = true
		requireProblem(t, down.do(t, http.MethodPost, "/api/v1/series", weekdaySeries), http.StatusServiceUnavailable, "Temporal")
		page, _, err := down.store.ListSeries(context.Background(), store.SeriesListParams{SenderID: "admin-1"})
		require.NoError(t, err)
		require.Empty(t, page, "no schedule, nothing stored")
	})
}

func TestSeriesLifecycle(t *testing.T) {
	t.Parallel()
	sb := setupSeries(t)
	sr := requireSeries(t, sb.do(t, http.MethodPost, "/api/v1/series", weekdaySeries), http.StatusCreated)
	path := "/api/v1/series/" + sr.ID.String()

	paused := requireSeries(t, sb.do(t, http.MethodPost, path+"/pause", ""), http.StatusOK)
	require.Equal(t, series.StatusPaused, paused.Status)
	require.Equal(t, series.StatusPaused, requireSeries(t, sb.do(t, http.MethodPost, path+"/pause", ""), http.StatusOK).Status,
		"a retried pause succeeds")
	require.Equal(t, http.StatusAccepted, sb.do(t, http.MethodPost, path+"/trigger", "").Code, "a paused series can be triggered")
	resumed := requireSeries(t, sb.do(t, http.MethodPost, path+"/resume", ""), http.StatusOK)
	require.Equal(t, series.StatusActive, resumed.Status)

	patched := requireSeries(t, sb.do(t, http.MethodPatch, path, `{"content":"Now in room 2","recurrence":{"cron":"0 9 * * *","time_zone":"UTC"}}`), http.StatusOK)
	require.Equal(t, "Now in room 2", patched.Content)
	require.Equal(t, "Stand-up", patched.Title, "what the PATCH leaves out stays")
	require.Equal(t, "0 9 * * *", patched.Recurrence.Cron)
	requireProblem(t, sb.do(t, http.MethodPatch, path, `{"recurrence":{"cron":"61 * * * *"}}`), http.StatusUnprocessableEntity, "recurrence.cron")
	requireProblem(t, sb.do(t, http.MethodPatch, path, `{"colour":"red"}`), http.StatusBadRequest, "unknown field")

	cancelled := requireSeries(t, sb.do(t, http.MethodPost, path+"/cancel", `{"cancel_active":true}`), http.StatusOK)
	require.Equal(t, series.StatusCancelled, cancelled.Status)
	require.Equal(t, http.StatusOK, sb.do(t, http.MethodPost, path+"/cancel", "").Code, "a retried cancel succeeds")
	requireProblem(t, sb.do(t, http.MethodPost, path+"/resume", ""), http.StatusConflict, "CANCELLED")
	requireProblem(t, sb.do(t, http.MethodPost, path+"/trigger", ""), http.StatusConflict, "CANCELLED")
	requireProblem(t, sb.do(t, http.MethodPatch, path, `{"title":"x"}`), http.StatusConflict, "CANCELLED")
	got := requireSeries(t, sb.do(t, http.MethodGet, path, ""), http.StatusOK)
	require.Empty(t, got.Next, "an ended series has no next occurrences")
	require.Equal(t, []string{"create", "next", "pause", "next", "next", "trigger", "next", "unpause", "next", "update", "next", "delete"},
		sb.schedules.recorded())

	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	rec := sb.do(t, http.MethodGet, path+"/occurrences", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	require.Empty(t, page.Items)
	requireProblem(t, sb.do(t, http.MethodGet, "/api/v1/series/not-a-uuid", ""), http.StatusNotFound, "no series has id")
}

// A broadcaster manages their own series only; changing the template is an
// admin's.
func TestSeriesBelongToTheirSender(t *testing.T) {
	t.Parallel()
	sb := setupSeries(t)
	bob := issue(t, sb.secret, "bob", "Bob", []string{api.RoleBroadcaster}, time.Hour, time.Now())
	carol := issue(t, sb.secret, "carol", "Carol", []string{api.RoleBroadcaster}, time.Hour, time.Now())
	sr := requireSeries(t, sb.do(t, http.MethodPost, "/api/v1/series", weekdaySeries, withToken(bob)), http.StatusCreated)
	path := "/api/v1/series/" + sr.ID.String()
	require.Equal(t, http.StatusOK, sb.do(t, http.MethodPost, path+"/pause", "", withToken(bob)).Code)
	requireProblem(t, sb.do(t, http.MethodGet, path, "", withToken(carol)), http.StatusNotFound, "no series has id")
	requireProblem(t, sb.do(t, http.MethodPost, path+"/cancel", "", withToken(carol)), http.StatusNotFound, "no series has id")
	requireProblem(t, sb.do(t, http.MethodPatch, path, `{"title":"x"}`, withToken(bob)), http.StatusForbidden, "admin")
	require.Equal(t, http.StatusOK, sb.do(t, http.MethodGet, path, "").Code, "an admin sees every series")

	var list struct {
		Items []series.Series `json:"items"`
	}
	rec := sb.do(t, http.MethodGet, "/api/v1/series?status=paused", "", withToken(carol))
	require.Equal(t, http.StatusOK, rec.Code)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Empty(t, list.Items, "carol lists her own")
	requireProblem(t, sb.do(t, http.MethodGet, "/api/v1/series?status=SLEEPING", ""), http.StatusBadRequest, "is not one of")
}

// A broadcast given a delivery window answers with the effective time: the
// window's next opening; a window that would hold it past its expiry is a
// 422 that says so.
func TestBroadcastDeliveryWindow(t *testing.T) {
	t.Parallel()
	// A Tuesday at 10:00 UTC: a window that opened an hour ago and closes in
	// ten minutes is open, one that opens in two hours is not.
	now := time.Date(2031, 1, 7, 10, 0, 0, 0, time.UTC)
	sb := setupSeriesAt(t, now)
	open := func(from, to time.Time) string {
		return `"delivery_window":{"from":"` + from.Format("15:04") + `","to":"` + to.Format("15:04") + `","time_zone":"UTC"}`
	}
	b := requireBroadcast(t, sb.do(t, http.MethodPost, "/api/v1/broadcasts",
		`{"title":"t","content":"c","target":{"type":"ALL"},`+open(now.Add(-time.Hour), now.Add(10*time.Minute))+`}`), http.StatusCreated)
	require.True(t, now.Equal(*b.ScheduledAt), "open: now")
	require.Equal(t, "UTC", b.DeliveryWindow.TimeZone)
	require.Len(t, b.DeliveryWindow.Days, 7)

	later := now.Add(2 * time.Hour).Truncate(time.Minute)
	b = requireBroadcast(t, sb.do(t, http.MethodPost, "/api/v1/broadcasts",
		`{"title":"t","content":"c","target":{"type":"ALL"},`+open(later, later.Add(time.Hour))+`}`), http.StatusCreated)
	require.True(t, later.Equal(*b.ScheduledAt), "closed: its next opening, %s; got %s", later, b.ScheduledAt)
	got := requireBroadcast(t, sb.do(t, http.MethodGet, "/api/v1/broadcasts/"+b.ID.String(), ""), http.StatusOK)
	require.Equal(t, b.DeliveryWindow, got.DeliveryWindow, "stored")

	requireProblem(t, sb.do(t, http.MethodPost, "/api/v1/broadcasts",
		`{"title":"t","content":"c","target":{"type":"ALL"},"expires_at":"`+now.Add(time.Hour).Format(time.RFC3339)+`",`+
			open(later, later.Add(time.Hour))+`}`), http.StatusUnprocessableEntity, "would expire unpublished")
	requireProblem(t, sb.do(t, http.MethodPost, "/api/v1/broadcasts",
		`{"title":"t","content":"c","target":{"type":"ALL"},"delivery_window":{"from":"9","to":"17:00"}}`),
		http.StatusUnprocessableEntity, "delivery_window.from")
	requireProblem(t, sb.do(t, http.MethodPost, "/api/v1/broadcasts",
		`{"title":"t","content":"c","target":{"type":"ALL"},"delivery_window":{"from":"09:00","to":"17:00","hours":1}}`),
		http.StatusBadRequest, "unknown field")

	sr := requireSeries(t, sb.do(t, http.MethodPost, "/api/v1/series", `{"title":"t","content":"c","target":{"type":"ALL"},
		"recurrence":{"every":"1h"},"delivery_window":{"days":["sat","sun"],"from":"22:00","to":"06:00","time_zone":"Europe/Berlin"}}`),
		http.StatusCreated)
	require.Equal(t, []string{"SAT", "SUN"}, sr.DeliveryWindow.Days)
}

// TestBroadcastAtEachRecipientsLocalTime: local_time plans a wave per
// distinct instant among the recipients' zones (the fake store knows none:
// one wave, in default_time_zone); bad values are a 422 naming the field.
func TestBroadcastAtEachRecipientsLocalTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2031, 1, 7, 10, 0, 0, 0, time.UTC)
	sb := setupSeriesAt(t, now)
	b := requireBroadcast(t, sb.do(t, http.MethodPost, "/api/v1/broadcasts",
		`{"title":"t","content":"c","target":{"type":"ALL"},"local_time":"2031-01-08T09:00","default_time_zone":"Europe/Berlin"}`),
		http.StatusCreated)
	require.Equal(t, "2031-01-08T09:00", b.LocalTime.String())
	require.Equal(t, "Europe/Berlin", b.DefaultTimeZone)
	at := time.Date(2031, 1, 8, 8, 0, 0, 0, time.UTC)
	require.True(t, at.Equal(*b.ScheduledAt), "09:00 in Berlin; got %s", b.ScheduledAt)
	require.Equal(t, []broadcast.Wave{{At: at, Zones: []string{"Europe/Berlin"}}}, b.Waves)
	require.True(t, at.Add(30*24*time.Hour).Equal(*b.ExpiresAt), "the default expiry counts from the last wave")
	got := requireBroadcast(t, sb.do(t, http.MethodGet, "/api/v1/broadcasts/"+b.ID.String(), ""), http.StatusOK)
	require.Equal(t, b.Waves, got.Waves, "stored")

	b = requireBroadcast(t, sb.do(t, http.MethodPost, "/api/v1/broadcasts",
		`{"title":"t","content":"c","target":{"type":"ALL"},"local_time":"2031-01-08T09:00"}`), http.StatusCreated)
	require.Equal(t, broadcast.DefaultTimeZone, b.DefaultTimeZone)

	requireProblem(t, sb.do(t, http.MethodPost, "/api/v1/broadcasts", `{"title":"t","content":"c","target":{"type":"ALL"},"local_time":"tomorrow"}`),
		http.StatusBadRequest, "2027-01-05T09:00")
	for body, want := range map[string]string{
		`"local_time":"2031-01-08T09:00","default_time_zone":"Mars/Olympus"`:                                      "default_time_zone",
		`"local_time":"2031-01-08T09:00","scheduled_at":"2031-01-08T09:00:00Z"`:                                   "not both",
		`"local_time":"2031-01-05T09:00"`:                                                                         "has passed in every time zone",
		`"local_time":"2031-01-08T09:00","expires_at":"2031-01-08T07:00:00Z"`:                                     "comes before local_time in UTC",
		`"local_time":"2031-01-08T09:00","draft":true`:                                                            "draft",
		`"local_time":"2031-01-08T09:00","delivery_window":{"from":"09:00","to":"17:00"}`:                         "delivery_window",
		`"local_time":"2031-01-08T09:00","default_time_zone":"Europe/Berlin","expires_at":"2031-01-08T07:00:00Z"`: "Europe/Berlin",
	} {
		requireProblem(t, sb.do(t, http.MethodPost, "/api/v1/broadcasts", `{"title":"t","content":"c","target":{"type":"ALL"},`+body+`}`),
			http.StatusUnprocessableEntity, want)
	}
}
