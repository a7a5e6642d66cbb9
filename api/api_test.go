package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
	"github.com/crier/crier/workflows"
)

// fakeWorkflows stands in for Temporal. It records every call and, unless
// told to fail, applies the change to the real store the way the workflow's
// activities would, so the handlers' re-read sees the result.
type fakeWorkflows struct {
	store *store.Store

	mu    sync.Mutex
	calls []call
	// startErr, cancelErr and rescheduleErr make the matching call fail.
	startErr, cancelErr, rescheduleErr error
	// cancelAnyway applies the cancel to the store even when cancelErr is
	// set: a workflow that ended by cancelling just before the request.
	cancelAnyway bool
}

// call is one request the API made of the workflows.
type call struct {
	Op     string
	ID     uuid.UUID
	Change broadcast.Change
}

func (f *fakeWorkflows) record(c call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeWorkflows) fail(start, cancel, reschedule error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.startErr, f.cancelErr, f.rescheduleErr = start, cancel, reschedule
}

// ops lists the operations called so far, in order.
func (f *fakeWorkflows) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ops := []string{}
	for _, c := range f.calls {
		ops = append(ops, c.Op)
	}
	return ops
}

func (f *fakeWorkflows) recorded() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeWorkflows) Start(_ context.Context, b broadcast.Broadcast) error {
	f.record(call{Op: "start", ID: b.ID})
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.startErr
}

// Restart records a new run; it fails as Start does.
func (f *fakeWorkflows) Restart(_ context.Context, b broadcast.Broadcast) error {
	f.record(call{Op: "restart", ID: b.ID})
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.startErr
}

func (f *fakeWorkflows) Cancel(ctx context.Context, by audit.Origin, id uuid.UUID) (workflows.State, error) {
	f.record(call{Op: "cancel", ID: id})
	f.mu.Lock()
	err, anyway := f.cancelErr, f.cancelAnyway
	f.mu.Unlock()
	if err != nil && !anyway {
		return workflows.State{}, err
	}
	if anyway {
		by = seeder // cancelled by someone else, before this request's update failed
	}
	res, storeErr := f.store.Cancel(ctx, by, id)
	if storeErr != nil {
		return workflows.State{}, storeErr
	}
	if err != nil {
		return workflows.State{}, err
	}
	if !res.Applied {
		return workflows.State{}, temporal.NewApplicationError("broadcast is "+string(res.Broadcast.Status), workflows.ErrTypeConflict)
	}
	return stateOf(res.Broadcast), nil
}

func (f *fakeWorkflows) Reschedule(ctx context.Context, id uuid.UUID, req workflows.RescheduleRequest) (workflows.State, error) {
	f.record(call{Op: "reschedule", ID: id, Change: req.Change})
	f.mu.Lock()
	err := f.rescheduleErr
	f.mu.Unlock()
	if err != nil {
		return workflows.State{}, err
	}
	res, err := f.store.Reschedule(ctx, req.By, id, req.ScheduledAt, req.ExpiresAt)
	if err != nil {
		return workflows.State{}, err
	}
	if !res.Applied {
		return workflows.State{}, temporal.NewApplicationError("broadcast is "+string(res.Broadcast.Status), workflows.ErrTypeConflict)
	}
	return stateOf(res.Broadcast), nil
}

// unavailable is the error workflows.Client returns when Temporal does not
// answer: ErrUnavailable wrapping the SDK's gRPC error.
func unavailable(op string) error {
	return fmt.Errorf("%w: %s workflow broadcast:x: %w", workflows.ErrUnavailable, op,
		serviceerror.NewUnavailable(`connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:7233: connect: connection refused"`))
}

func stateOf(b broadcast.Broadcast) workflows.State {
	return workflows.State{Status: b.Status, ScheduledAt: *b.ScheduledAt, ExpiresAt: *b.ExpiresAt}
}

var _ api.Workflows = (*fakeWorkflows)(nil)

// seeder is who the broadcasts a test stores directly are recorded as made by.
var seeder = audit.Origin{Actor: audit.Actor{ID: "test-seeder", Name: "Test seeder"}}

// testBundle is one API on a fresh database with a fake Temporal.
type testBundle struct {
	e      *echo.Echo
	pool   *pgxpool.Pool
	store  *store.Store
	wf     *fakeWorkflows
	secret []byte
	// token is an admin token of subject "admin-1", named "Ada Admin".
	token string
	// now is the API's fixed clock.
	now time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := testenv.Pool(t)
	st := store.New(pool)
	secret := []byte("crier-api-test-secret-0123456789")
	now := time.Now().UTC().Truncate(time.Second)
	wf := &fakeWorkflows{store: st}
	e := api.New(st, wf, api.Config{
		Verifier: auth.NewVerifier(secret),
		Clock:    func() time.Time { return now },
		Logger:   testenv.Logger(t),
	})
	return &testBundle{
		e: e, pool: pool, store: st, wf: wf, secret: secret, now: now,
		token: issue(t, secret, "admin-1", "Ada Admin", []string{auth.RoleAdmin}, time.Hour, time.Now()),
	}
}

func issue(t *testing.T, secret []byte, subject, name string, roles []string, ttl time.Duration, now time.Time) string {
	t.Helper()
	token, err := auth.Issue(secret, subject, name, roles, ttl, now)
	require.NoError(t, err)
	return token
}

// option changes a request before it is served.
type option func(*http.Request)

// withToken replaces the admin token; "" sends no Authorization header.
func withToken(token string) option {
	return func(r *http.Request) {
		r.Header.Del(echo.HeaderAuthorization)
		if token != "" {
			r.Header.Set(echo.HeaderAuthorization, "Bearer "+token)
		}
	}
}

func withHeader(key, value string) option {
	return func(r *http.Request) { r.Header.Set(key, value) }
}

// do serves one request, with the admin token unless an option says otherwise.
func (tb *testBundle) do(t *testing.T, method, path, body string, opts ...option) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	}
	req.Header.Set(echo.HeaderAuthorization, "Bearer "+tb.token)
	for _, opt := range opts {
		opt(req)
	}
	rec := httptest.NewRecorder()
	tb.e.ServeHTTP(rec, req)
	return rec
}

// create posts a broadcast and requires 201.
func (tb *testBundle) create(t *testing.T, body string, opts ...option) broadcast.Broadcast {
	t.Helper()
	return requireBroadcast(t, tb.do(t, http.MethodPost, "/api/v1/broadcasts", body, opts...), http.StatusCreated)
}

// insert stores a broadcast directly and moves it to status through the
// store's transitions. Non-draft broadcasts are scheduled an hour ahead.
func (tb *testBundle) insert(t *testing.T, status broadcast.Status) broadcast.Broadcast {
	t.Helper()
	ctx := context.Background()
	id := uuid.New()
	scheduled, expires := tb.now.Add(time.Hour), tb.now.Add(time.Hour+30*24*time.Hour)
	initial := broadcast.StatusScheduled
	if status == broadcast.StatusDraft {
		initial = broadcast.StatusDraft
	}
	b, created, err := tb.store.Insert(ctx, seeder, broadcast.Broadcast{
		ID: id, Status: initial, Sender: broadcast.Sender{ID: "admin-1", Name: "Ada Admin"},
		Title: "Stored broadcast", Content: "Inserted by the test", Category: "general",
		Priority: broadcast.PriorityNormal, Target: broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}},
		ScheduledAt: &scheduled, ExpiresAt: &expires, WorkflowID: broadcast.WorkflowID(id),
	}, nil, nil)
	require.NoError(t, err)
	require.True(t, created)
	steps := map[broadcast.Status][]func(context.Context, uuid.UUID) (store.Result, error){
		broadcast.StatusSent:    {tb.store.Publish},
		broadcast.StatusExpired: {tb.store.Publish, tb.store.Expire},
		broadcast.StatusCancelled: {func(ctx context.Context, id uuid.UUID) (store.Result, error) {
			return tb.store.Cancel(ctx, seeder, id)
		}},
		broadcast.StatusFailed: {func(ctx context.Context, id uuid.UUID) (store.Result, error) {
			return tb.store.Fail(ctx, id, "no recipients")
		}},
	}
	for _, step := range steps[status] {
		res, err := step(ctx, id)
		require.NoError(t, err)
		require.True(t, res.Applied)
		b = res.Broadcast
	}
	require.Equal(t, status, b.Status)
	return b
}

func (tb *testBundle) get(t *testing.T, id uuid.UUID) broadcast.Broadcast {
	t.Helper()
	b, err := tb.store.Get(context.Background(), id)
	require.NoError(t, err)
	return b
}

// rows counts the rows of a table.
func (tb *testBundle) rows(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, tb.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

func (tb *testBundle) requireNothingStored(t *testing.T) {
	t.Helper()
	require.Zero(t, tb.rows(t, "broadcasts"), "no broadcast may be stored")
	require.Zero(t, tb.rows(t, "outbox"), "no event may be recorded")
}

// requireUnchanged checks that before is still exactly what is stored and
// that the outbox holds outbox rows.
func (tb *testBundle) requireUnchanged(t *testing.T, before broadcast.Broadcast, outbox int) {
	t.Helper()
	require.Equal(t, before, tb.get(t, before.ID), "the broadcast must not change")
	require.Equal(t, outbox, tb.rows(t, "outbox"), "no event may be recorded")
}

// requireProblem checks an error answer: its status, problem+json type, a
// detail a person can act on (containing want), and returns it.
func requireProblem(t *testing.T, rec *httptest.ResponseRecorder, status int, want string) api.Problem {
	t.Helper()
	require.Equal(t, status, rec.Code, "body: %s", rec.Body)
	require.Equal(t, "application/problem+json", rec.Header().Get(echo.HeaderContentType))
	var p api.Problem
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&p))
	require.Equal(t, status, p.Status)
	require.Equal(t, http.StatusText(status), p.Title)
	require.NotEmpty(t, p.RequestID)
	require.Greater(t, len(p.Detail), 20, "detail %q is too short to help", p.Detail)
	require.Contains(t, p.Detail, want)
	return p
}

// requireBroadcast checks a successful answer and decodes its broadcast.
func requireBroadcast(t *testing.T, rec *httptest.ResponseRecorder, status int) broadcast.Broadcast {
	t.Helper()
	require.Equal(t, status, rec.Code, "body: %s", rec.Body)
	require.True(t, strings.HasPrefix(rec.Header().Get(echo.HeaderContentType), echo.MIMEApplicationJSON))
	var b broadcast.Broadcast
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b))
	return b
}

// omit removes a field from createBody's defaults.
type omitField struct{}

var omit = omitField{}

// createBody is a valid create request with changes applied.
func createBody(t *testing.T, changes map[string]any) string {
	t.Helper()
	body := map[string]any{
		"title":   "Planned maintenance",
		"content": "The portal is down on Saturday from 09:00 to 11:00.",
		"target":  map[string]any{"type": "ALL"},
	}
	for k, v := range changes {
		if v == omit {
			delete(body, k)
			continue
		}
		body[k] = v
	}
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	return string(raw)
}

func rfc3339(at time.Time) string { return at.Format(time.RFC3339) }

func path(id any, action string) string {
	p := fmt.Sprintf("/api/v1/broadcasts/%v", id)
	if action != "" {
		p += "/" + action
	}
	return p
}

func TestCreate(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	plus2 := time.FixedZone("+02:00", 2*60*60)
	scheduled, expires := tb.now.Add(time.Hour), tb.now.Add(48*time.Hour)

	rec := tb.do(t, http.MethodPost, "/api/v1/broadcasts", createBody(t, map[string]any{
		"title":        "  Planned maintenance  ",
		"target":       map[string]any{"type": "SELECTED", "ids": []string{" u1 ", "u2", "u1"}},
		"scheduled_at": rfc3339(scheduled.In(plus2)),
		"expires_at":   rfc3339(expires.In(plus2)),
	}))
	got := requireBroadcast(t, rec, http.StatusCreated)

	require.NotEqual(t, uuid.Nil, got.ID)
	require.Equal(t, "/api/v1/broadcasts/"+got.ID.String(), rec.Header().Get(echo.HeaderLocation))
	require.Equal(t, broadcast.StatusScheduled, got.Status)
	require.Equal(t, broadcast.Sender{ID: "admin-1", Name: "Ada Admin"}, got.Sender)
	require.Equal(t, "Planned maintenance", got.Title)
	require.Equal(t, "The portal is down on Saturday from 09:00 to 11:00.", got.Content)
	require.Equal(t, "general", got.Category)
	require.Equal(t, broadcast.PriorityNormal, got.Priority)
	require.Equal(t, broadcast.Target{Type: broadcast.TargetSelected, IDs: []string{"u1", "u2"}}, got.Target)
	require.Equal(t, "broadcast:"+got.ID.String(), got.WorkflowID)
	require.WithinDuration(t, time.Now(), got.CreatedAt, time.Minute)
	require.WithinDuration(t, time.Now(), got.UpdatedAt, time.Minute)

	var raw map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	require.ElementsMatch(t, []string{"id", "status", "sender", "title", "content", "category", "priority", "target",
		"scheduled_at", "expires_at", "created_at", "updated_at", "published_at", "expired_at", "cancelled_at",
		"workflow_id"}, keys)
	require.Equal(t, scheduled.UTC().Format(time.RFC3339Nano), raw["scheduled_at"], "scheduled_at is answered in UTC")
	require.Equal(t, expires.UTC().Format(time.RFC3339Nano), raw["expires_at"], "expires_at is answered in UTC")
	require.True(t, strings.HasSuffix(raw["created_at"].(string), "Z"))
	require.True(t, strings.HasSuffix(raw["updated_at"].(string), "Z"))
	require.Nil(t, raw["published_at"])
	require.Nil(t, raw["expired_at"])
	require.Nil(t, raw["cancelled_at"])

	require.Equal(t, []call{{Op: "start", ID: got.ID}}, tb.wf.recorded())
	require.Equal(t, 1, tb.rows(t, "broadcasts"))
	require.Equal(t, got, tb.get(t, got.ID), "the answer is the stored broadcast")
}

func TestCreateTimes(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	plus2 := time.FixedZone("+02:00", 2*60*60)
	month := 30 * 24 * time.Hour

	tests := []struct {
		name                       string
		changes                    map[string]any
		wantScheduled, wantExpires time.Time
	}{
		{"absent scheduled_at means now, expiry 30 days later", nil,
			tb.now, tb.now.Add(month)},
		{"scheduled_at 2 s in the past means now", map[string]any{"scheduled_at": rfc3339(tb.now.Add(-2 * time.Second))},
			tb.now, tb.now.Add(month)},
		{"future scheduled_at with offset is kept, in UTC", map[string]any{"scheduled_at": rfc3339(tb.now.Add(3 * time.Hour).In(plus2))},
			tb.now.Add(3 * time.Hour), tb.now.Add(3*time.Hour + month)},
		{"expires_at alone is kept", map[string]any{"expires_at": rfc3339(tb.now.Add(2 * time.Hour).In(plus2))},
			tb.now, tb.now.Add(2 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := tb.do(t, http.MethodPost, "/api/v1/broadcasts", createBody(t, tt.changes))
			got := requireBroadcast(t, rec, http.StatusCreated)
			require.Equal(t, tt.wantScheduled, *got.ScheduledAt)
			require.Equal(t, tt.wantExpires, *got.ExpiresAt)
			var raw map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
			require.Equal(t, tt.wantScheduled.UTC().Format(time.RFC3339Nano), raw["scheduled_at"])
			require.Equal(t, tt.wantExpires.UTC().Format(time.RFC3339Nano), raw["expires_at"])
		})
	}
}

func TestCreateDraft(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	rec := tb.do(t, http.MethodPost, "/api/v1/broadcasts", createBody(t, map[string]any{"draft": true, "priority": "HIGH"}))
	got := requireBroadcast(t, rec, http.StatusCreated)
	require.Equal(t, broadcast.StatusDraft, got.Status)
	require.Equal(t, broadcast.PriorityHigh, got.Priority)
	require.Nil(t, got.ScheduledAt, "a draft given no time keeps none")
	require.Nil(t, got.ExpiresAt)
	require.Empty(t, tb.wf.recorded(), "a draft has no workflow")
	require.Equal(t, got, tb.get(t, got.ID))

	// Temporal being down does not matter to a draft.
	tb.wf.fail(unavailable("start"), nil, nil)
	tb.create(t, createBody(t, map[string]any{"draft": true}))
	require.Equal(t, 2, tb.rows(t, "broadcasts"))
}

func TestCreateIdempotency(t *testing.T) {
	t.Parallel()

	t.Run("same key and body answers the first broadcast", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		body := createBody(t, nil)
		first := tb.do(t, http.MethodPost, "/api/v1/broadcasts", body, withHeader("Idempotency-Key", "k-1"))
		created := requireBroadcast(t, first, http.StatusCreated)
		again := tb.do(t, http.MethodPost, "/api/v1/broadcasts", body, withHeader("Idempotency-Key", "k-1"))
		retried := requireBroadcast(t, again, http.StatusOK)
		require.Equal(t, created, retried)
		require.Equal(t, first.Header().Get(echo.HeaderLocation), again.Header().Get(echo.HeaderLocation))
		require.Equal(t, 1, tb.rows(t, "broadcasts"))
		for _, c := range tb.wf.recorded() {
			require.Equal(t, call{Op: "start", ID: created.ID}, c, "a retry may only restart the same workflow")
		}
	})

	t.Run("same key with another body is refused", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		created := tb.create(t, createBody(t, nil), withHeader("Idempotency-Key", "k-1"))
		rec := tb.do(t, http.MethodPost, "/api/v1/broadcasts", createBody(t, map[string]any{"title": "Something else"}),
			withHeader("Idempotency-Key", "k-1"))
		requireProblem(t, rec, http.StatusUnprocessableEntity, `"k-1"`)
		tb.requireUnchanged(t, created, 0)
		require.Equal(t, 1, tb.rows(t, "broadcasts"))
	})

	t.Run("same key from another sender is another broadcast", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		other := issue(t, tb.secret, "admin-2", "", []string{auth.RoleAdmin}, time.Hour, time.Now())
		body := createBody(t, nil)
		mine := tb.create(t, body, withHeader("Idempotency-Key", "k-1"))
		theirs := tb.create(t, body, withHeader("Idempotency-Key", "k-1"), withToken(other))
		require.NotEqual(t, mine.ID, theirs.ID)
		require.Equal(t, broadcast.Sender{ID: "admin-2", Name: "admin-2"}, theirs.Sender)
		require.Equal(t, 2, tb.rows(t, "broadcasts"))
	})
}

func TestCreateWorkflowUnavailable(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.wf.fail(unavailable("start"), nil, nil)
	body := createBody(t, nil)

	rec := tb.do(t, http.MethodPost, "/api/v1/broadcasts", body, withHeader("Idempotency-Key", "k-1"))
	requireProblem(t, rec, http.StatusServiceUnavailable, "Temporal is unavailable, so nothing was changed")
	require.Equal(t, "5", rec.Header().Get("Retry-After"))
	require.Equal(t, []string{"start"}, tb.wf.ops())
	tb.requireNothingStored(t)

	// Once Temporal is back, the retry with the same key succeeds.
	tb.wf.fail(nil, nil, nil)
	tb.create(t, body, withHeader("Idempotency-Key", "k-1"))
	require.Equal(t, 1, tb.rows(t, "broadcasts"))
}

func TestCreateBadRequest(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	valid := createBody(t, nil)

	tests := []struct {
		name   string
		body   string
		opts   []option
		status int
		detail string
	}{
		{"malformed JSON", `{"title": "x",`, nil, http.StatusBadRequest, "malformed JSON"},
		{"syntax error", `{"title" "x"}`, nil, http.StatusBadRequest, "malformed JSON"},
		{"unknown field", createBody(t, map[string]any{"colour": "red"}), nil, http.StatusBadRequest, `unknown field "colour"`},
		{"sender is never taken from the body", createBody(t, map[string]any{"sender": map[string]any{"id": "mallory", "name": "Mallory"}}),
			nil, http.StatusBadRequest, `unknown field "sender"`},
		{"wrong type", createBody(t, map[string]any{"title": 5}), nil, http.StatusBadRequest, `"title" must be a string`},
		{"wrong type nested", createBody(t, map[string]any{"target": map[string]any{"type": "ROLE", "ids": "ops"}}),
			nil, http.StatusBadRequest, `"target.ids" must be an array`},
		{"draft not a bool", createBody(t, map[string]any{"draft": "yes"}), nil, http.StatusBadRequest, "true or false"},
		{"bad time format", createBody(t, map[string]any{"scheduled_at": "tomorrow"}), nil, http.StatusBadRequest, "not an RFC 3339 time"},
		{"time as a number", createBody(t, map[string]any{"expires_at": 1700000000}), nil, http.StatusBadRequest, "not an RFC 3339 time"},
		{"trailing data", valid + ` {"title": "again"}`, nil, http.StatusBadRequest, "nothing after it"},
		{"trailing garbage", valid + `x`, nil, http.StatusBadRequest, "nothing after it"},
		{"empty body", "", nil, http.StatusBadRequest, "needs a JSON body"},
		{"whitespace body", "  \n", nil, http.StatusBadRequest, "needs a JSON body"},
		{"array instead of object", `[]`, nil, http.StatusBadRequest, "must be a JSON object"},
		{"body over 1 MiB", createBody(t, map[string]any{"content": strings.Repeat("a", 1<<20)}), nil,
			http.StatusRequestEntityTooLarge, "larger than 1048576 bytes"},
		{"Idempotency-Key too long", valid, []option{withHeader("Idempotency-Key", strings.Repeat("k", 256))},
			http.StatusBadRequest, "at most 255 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := tb.do(t, http.MethodPost, "/api/v1/broadcasts", tt.body, tt.opts...)
			requireProblem(t, rec, tt.status, tt.detail)
			tb.requireNothingStored(t)
		})
	}
	require.Empty(t, tb.wf.recorded())
}

func TestCreateInvalid(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tooManyIDs := make([]string, broadcast.MaxTargetIDs+1)
	for i := range tooManyIDs {
		tooManyIDs[i] = fmt.Sprintf("u%d", i)
	}

	tests := []struct {
		name    string
		changes map[string]any
		field   string
	}{
		{"empty content", map[string]any{"content": ""}, "content"},
		{"whitespace-only content", map[string]any{"content": " \n\t "}, "content"},
		{"content over 64 KiB", map[string]any{"content": strings.Repeat("a", broadcast.MaxContentBytes+1)}, "content"},
		{"missing content", map[string]any{"content": omit}, "content"},
		{"empty title", map[string]any{"title": ""}, "title"},
		{"whitespace-only title", map[string]any{"title": "   "}, "title"},
		{"title over 200 characters", map[string]any{"title": strings.Repeat("é", broadcast.MaxTitleChars+1)}, "title"},
		{"category over 64 characters", map[string]any{"category": strings.Repeat("c", broadcast.MaxCategoryChars+1)}, "category"},
		{"expires_at equal to scheduled_at", map[string]any{
			"scheduled_at": rfc3339(tb.now.Add(2 * time.Hour)), "expires_at": rfc3339(tb.now.Add(2 * time.Hour))}, "expires_at"},
		{"expires_at before scheduled_at", map[string]any{
			"scheduled_at": rfc3339(tb.now.Add(2 * time.Hour)), "expires_at": rfc3339(tb.now.Add(time.Hour))}, "expires_at"},
		{"expires_at in the past", map[string]any{"expires_at": rfc3339(tb.now.Add(-time.Hour))}, "expires_at"},
		{"unknown target type", map[string]any{"target": map[string]any{"type": "EVERYONE"}}, "target.type"},
		{"missing target", map[string]any{"target": omit}, "target.type"},
		{"null target", map[string]any{"target": nil}, "target.type"},
		{"unknown priority", map[string]any{"priority": "CRITICAL"}, "priority"},
		{"SELECTED without ids", map[string]any{"target": map[string]any{"type": "SELECTED", "ids": []string{}}}, "target.ids"},
		{"ROLE without ids", map[string]any{"target": map[string]any{"type": "ROLE"}}, "target.ids"},
		{"ALL with ids", map[string]any{"target": map[string]any{"type": "ALL", "ids": []string{"u1"}}}, "target.ids"},
		{"blank id", map[string]any{"target": map[string]any{"type": "SELECTED", "ids": []string{"u1", " "}}}, "target.ids[1]"},
		{"more than 10,000 ids", map[string]any{"target": map[string]any{"type": "SELECTED", "ids": tooManyIDs}}, "target.ids"},
		{"scheduled_at more than a year ahead", map[string]any{"scheduled_at": rfc3339(tb.now.Add(broadcast.MaxScheduleAhead + time.Hour))}, "scheduled_at"},
		{"scheduled_at an hour in the past", map[string]any{"scheduled_at": rfc3339(tb.now.Add(-time.Hour))}, "scheduled_at"},
		{"scheduled_at 6 s in the past", map[string]any{"scheduled_at": rfc3339(tb.now.Add(-6 * time.Second))}, "scheduled_at"},
		{"draft is validated too", map[string]any{"draft": true, "title": ""}, "title"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := tb.do(t, http.MethodPost, "/api/v1/broadcasts", createBody(t, tt.changes))
			p := requireProblem(t, rec, http.StatusUnprocessableEntity, tt.field+":")
			require.NotEmpty(t, p.Errors)
			fields := []string{}
			for _, fe := range p.Errors {
				require.NotEmpty(t, fe.Message)
				fields = append(fields, fe.Field)
			}
			require.Equal(t, []string{tt.field}, fields, "errors: %+v", p.Errors)
			tb.requireNothingStored(t)
		})
	}
	require.Empty(t, tb.wf.recorded())
}

func TestCreateInvalidListsEveryError(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	rec := tb.do(t, http.MethodPost, "/api/v1/broadcasts", `{"title": "", "content": "", "priority": "MEH"}`)
	p := requireProblem(t, rec, http.StatusUnprocessableEntity, "title")
	fields := []string{}
	for _, fe := range p.Errors {
		fields = append(fields, fe.Field)
	}
	require.Equal(t, []string{"title", "content", "priority", "target.type"}, fields)
	tb.requireNothingStored(t)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	now := time.Now()
	admin := []string{auth.RoleAdmin}
	unsigned, err := jwt.NewWithClaims(jwt.SigningMethodNone, auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "admin-1", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))},
		Roles:            admin,
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)

	tests := []struct {
		name   string
		header string // the whole Authorization header; "" sends none
		status int
		detail string
	}{
		{"no Authorization header", "", http.StatusUnauthorized, "send a bearer token"},
		{"not a bearer token", "Basic YWRtaW46YWRtaW4=", http.StatusUnauthorized, "must be: Bearer <token>"},
		{"empty bearer token", "Bearer  ", http.StatusUnauthorized, "must be: Bearer <token>"},
		{"garbage token", "Bearer garbage", http.StatusUnauthorized, "token refused"},
		{"signed with another secret", "Bearer " + issue(t, []byte("another-secret-another-secret-42"), "admin-1", "", admin, time.Hour, now),
			http.StatusUnauthorized, "token refused"},
		{"expired (negative ttl)", "Bearer " + issue(t, tb.secret, "admin-1", "", admin, -time.Hour, now),
			http.StatusUnauthorized, "expired"},
		{"expired (issued in the past)", "Bearer " + issue(t, tb.secret, "admin-1", "", admin, time.Hour, now.Add(-2*time.Hour)),
			http.StatusUnauthorized, "expired"},
		{"unsigned (alg none)", "Bearer " + unsigned, http.StatusUnauthorized, "token refused"},
		{"no subject", "Bearer " + issue(t, tb.secret, "", "", admin, time.Hour, now), http.StatusUnauthorized, "no subject"},
		{"without the admin role", "Bearer " + issue(t, tb.secret, "user-1", "", []string{"user"}, time.Hour, now),
			http.StatusForbidden, `needs the "admin" or "broadcaster" role`},
		{"without any role", "Bearer " + issue(t, tb.secret, "user-1", "", nil, time.Hour, now),
			http.StatusForbidden, `needs the "admin" or "broadcaster" role`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := tb.do(t, http.MethodPost, "/api/v1/broadcasts", createBody(t, nil),
				withToken(""), withHeader(echo.HeaderAuthorization, tt.header))
			requireProblem(t, rec, tt.status, tt.detail)
			if tt.status == http.StatusUnauthorized {
				require.Contains(t, rec.Header().Get(echo.HeaderWWWAuthenticate), "Bearer")
			}
			tb.requireNothingStored(t)
		})
	}
	require.Empty(t, tb.wf.recorded())
}

func TestAdminRoutesRequireToken(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	existing := tb.insert(t, broadcast.StatusScheduled)

	admin := []string{}
	for _, r := range tb.e.Routes() {
		if !strings.HasPrefix(r.Path, "/api/") {
			require.True(t, publicRoutes[r.Path], "%s: only the probes, metrics and the API description may be public", r.Path)
			continue
		}
		admin = append(admin, r.Method+" "+r.Path)
	}
	for _, want := range []string{
		"POST /api/v1/broadcasts", "GET /api/v1/broadcasts", "GET /api/v1/broadcasts/:id",
		"POST /api/v1/broadcasts/:id/cancel", "POST /api/v1/broadcasts/:id/reschedule", "POST /api/v1/broadcasts/:id/schedule",
	} {
		require.Contains(t, admin, want)
	}

	for _, route := range admin {
		t.Run(route, func(t *testing.T) {
			t.Parallel()
			method, p, _ := strings.Cut(route, " ")
			if method == echo.RouteNotFound {
				method = http.MethodGet
			}
			p = strings.ReplaceAll(p, ":id", existing.ID.String())
			p = strings.ReplaceAll(p, "*", "anything")
			rec := tb.do(t, method, p, `{"expires_at": "`+rfc3339(tb.now.Add(48*time.Hour))+`"}`, withToken(""))
			requireProblem(t, rec, http.StatusUnauthorized, "bearer token")
		})
	}
	require.Empty(t, tb.wf.recorded())
	require.Equal(t, 1, tb.rows(t, "broadcasts"))
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	unknown := uuid.New()
	times := `{"scheduled_at": "` + rfc3339(tb.now.Add(2*time.Hour)) + `"}`

	tests := []struct {
		name, method, path, body, detail string
	}{
		{"get unknown id", http.MethodGet, path(unknown, ""), "", unknown.String()},
		{"get malformed id", http.MethodGet, path("not-a-uuid", ""), "", `"not-a-uuid"`},
		{"cancel unknown id", http.MethodPost, path(unknown, "cancel"), "", unknown.String()},
		{"cancel malformed id", http.MethodPost, path("not-a-uuid", "cancel"), "", `"not-a-uuid"`},
		{"reschedule unknown id", http.MethodPost, path(unknown, "reschedule"), times, unknown.String()},
		{"reschedule malformed id", http.MethodPost, path("not-a-uuid", "reschedule"), times, `"not-a-uuid"`},
		{"schedule unknown id", http.MethodPost, path(unknown, "schedule"), "", unknown.String()},
		{"schedule malformed id", http.MethodPost, path("not-a-uuid", "schedule"), times, `"not-a-uuid"`},
		{"unknown admin route", http.MethodGet, "/api/v1/nothing-here", "", "no route"},
		{"unknown broadcast action", http.MethodPost, path(unknown, "publish"), "", "no route"},
		{"unknown public route", http.MethodGet, "/nothing-here", "", "no route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := tb.do(t, tt.method, tt.path, tt.body)
			requireProblem(t, rec, http.StatusNotFound, tt.detail)
		})
	}
	require.Empty(t, tb.wf.recorded())
	tb.requireNothingStored(t)

	t.Run("a known route with another method is 405, not 404", func(t *testing.T) {
		rec := tb.do(t, http.MethodPut, "/api/v1/broadcasts", `{}`)
		requireProblem(t, rec, http.StatusMethodNotAllowed, "does not take PUT")
	})
}

func TestConflicts(t *testing.T) {
	t.Parallel()
	conflict := temporal.NewApplicationError("the broadcast is being published right now", workflows.ErrTypeConflict)
	at := func(tb *testBundle, d time.Duration) string { return rfc3339(tb.now.Add(d)) }

	tests := []struct {
		name      string
		status    broadcast.Status
		fail      func(*fakeWorkflows)
		action    string
		body      func(*testBundle) string
		detail    string
		wantCalls []string
	}{
		{name: "cancel an EXPIRED broadcast", status: broadcast.StatusExpired, action: "cancel",
			detail: "already EXPIRED", wantCalls: []string{}},
		{name: "cancel a FAILED broadcast", status: broadcast.StatusFailed, action: "cancel",
			detail: "already FAILED", wantCalls: []string{}},
		{name: "cancel refused by the workflow", status: broadcast.StatusScheduled, action: "cancel",
			fail:   func(f *fakeWorkflows) { f.fail(nil, conflict, nil) },
			detail: "being published right now", wantCalls: []string{"cancel"}},
		{name: "cancel after the workflow ended, not cancelled", status: broadcast.StatusSent, action: "cancel",
			fail:   func(f *fakeWorkflows) { f.fail(nil, workflows.ErrNotRunning, nil) },
			detail: "broadcast is SENT", wantCalls: []string{"cancel"}},
		{name: "reschedule a SCHEDULED broadcast into the past", status: broadcast.StatusScheduled, action: "reschedule",
			body:   func(tb *testBundle) string { return `{"scheduled_at": "` + at(tb, -time.Hour) + `"}` },
			detail: "already passed", wantCalls: []string{}},
		{name: "reschedule scheduled_at of a SENT broadcast", status: broadcast.StatusSent, action: "reschedule",
			body:   func(tb *testBundle) string { return `{"scheduled_at": "` + at(tb, 2*time.Hour) + `"}` },
			detail: "only expires_at can change", wantCalls: []string{}},
		{name: "reschedule a CANCELLED broadcast", status: broadcast.StatusCancelled, action: "reschedule",
			body:   func(tb *testBundle) string { return `{"expires_at": "` + at(tb, 48*time.Hour) + `"}` },
			detail: "already CANCELLED", wantCalls: []string{}},
		{name: "reschedule refused by the workflow", status: broadcast.StatusScheduled, action: "reschedule",
			fail:   func(f *fakeWorkflows) { f.fail(nil, nil, conflict) },
			body:   func(tb *testBundle) string { return `{"scheduled_at": "` + at(tb, 2*time.Hour) + `"}` },
			detail: "being published right now", wantCalls: []string{"reschedule"}},
		{name: "reschedule after the workflow ended", status: broadcast.StatusSent, action: "reschedule",
			fail:   func(f *fakeWorkflows) { f.fail(nil, nil, workflows.ErrNotRunning) },
			body:   func(tb *testBundle) string { return `{"expires_at": "` + at(tb, 48*time.Hour) + `"}` },
			detail: "workflow has already ended", wantCalls: []string{"reschedule"}},
		{name: "schedule a SCHEDULED broadcast", status: broadcast.StatusScheduled, action: "schedule",
			detail: "only a DRAFT can be scheduled", wantCalls: []string{}},
		{name: "schedule a SENT broadcast", status: broadcast.StatusSent, action: "schedule",
			body:   func(tb *testBundle) string { return `{"scheduled_at": "` + at(tb, 2*time.Hour) + `"}` },
			detail: "only a DRAFT can be scheduled", wantCalls: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			before := tb.insert(t, tt.status)
			outbox := tb.rows(t, "outbox")
			if tt.fail != nil {
				tt.fail(tb.wf)
			}
			body := ""
			if tt.body != nil {
				body = tt.body(tb)
			}
			rec := tb.do(t, http.MethodPost, path(before.ID, tt.action), body)
			requireProblem(t, rec, http.StatusConflict, tt.detail)
			require.Equal(t, tt.wantCalls, tb.wf.ops())
			tb.requireUnchanged(t, before, outbox)
		})
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	created := tb.create(t, createBody(t, map[string]any{"category": "ops", "priority": "URGENT"}))
	got := requireBroadcast(t, tb.do(t, http.MethodGet, path(created.ID, ""), ""), http.StatusOK)
	require.Equal(t, created, got)

	upper := requireBroadcast(t, tb.do(t, http.MethodGet, path(strings.ToUpper(created.ID.String()), ""), ""), http.StatusOK)
	require.Equal(t, created.ID, upper.ID, "ids are not case-sensitive")
}

// listPage is the body of GET /broadcasts.
type listPage struct {
	Items      []broadcast.Broadcast `json:"items"`
	NextCursor string                `json:"next_cursor"`
}

func (tb *testBundle) list(t *testing.T, query string) listPage {
	t.Helper()
	rec := tb.do(t, http.MethodGet, "/api/v1/broadcasts"+query, "")
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	require.True(t, strings.HasPrefix(rec.Header().Get(echo.HeaderContentType), echo.MIMEApplicationJSON))
	require.Contains(t, rec.Body.String(), `"items":[`, "items is always an array")
	var page listPage
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&page))
	return page
}

func ids(bs []broadcast.Broadcast) []uuid.UUID {
	out := []uuid.UUID{}
	for _, b := range bs {
		out = append(out, b.ID)
	}
	return out
}

func TestList(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	draft1 := tb.create(t, createBody(t, map[string]any{"draft": true}))
	scheduled := tb.create(t, createBody(t, nil))
	draft2 := tb.create(t, createBody(t, map[string]any{"draft": true}))

	tests := []struct {
		name, query string
		want        []uuid.UUID
		more        bool
	}{
		{"all, newest first", "", []uuid.UUID{draft2.ID, scheduled.ID, draft1.ID}, false},
		{"status filter", "?status=DRAFT", []uuid.UUID{draft2.ID, draft1.ID}, false},
		{"status filter in lower case", "?status=scheduled", []uuid.UUID{scheduled.ID}, false},
		{"several statuses, comma-separated", "?status=DRAFT,SCHEDULED", []uuid.UUID{draft2.ID, scheduled.ID, draft1.ID}, false},
		{"several statuses, repeated", "?status=SCHEDULED&status=DRAFT", []uuid.UUID{draft2.ID, scheduled.ID, draft1.ID}, false},
		{"status with no match", "?status=SENT", []uuid.UUID{}, false},
		{"limit", "?limit=1", []uuid.UUID{draft2.ID}, true},
		{"limit with status", "?status=DRAFT&limit=1", []uuid.UUID{draft2.ID}, true},
		{"limit equal to the count", "?limit=3", []uuid.UUID{draft2.ID, scheduled.ID, draft1.ID}, false},
		{"largest limit", "?limit=100", []uuid.UUID{draft2.ID, scheduled.ID, draft1.ID}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			page := tb.list(t, tt.query)
			require.Equal(t, tt.want, ids(page.Items))
			require.Equal(t, tt.more, page.NextCursor != "")
		})
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	var created []uuid.UUID
	for i := range 5 {
		b := tb.create(t, createBody(t, map[string]any{"title": fmt.Sprintf("Broadcast %d", i)}))
		created = append([]uuid.UUID{b.ID}, created...) // newest first
	}

	var seen []uuid.UUID
	cursor, pages := "", 0
	for {
		query := "?limit=2"
		if cursor != "" {
			query += "&cursor=" + cursor
		}
		page := tb.list(t, query)
		pages++
		require.LessOrEqual(t, len(page.Items), 2)
		seen = append(seen, ids(page.Items)...)
		if page.NextCursor == "" {
			break
		}
		require.Less(t, pages, 3, "five broadcasts in pages of two need three pages")
		cursor = page.NextCursor
	}
	require.Equal(t, 3, pages)
	require.Equal(t, created, seen, "every broadcast once, newest first, no gaps")
}

func TestListBadQuery(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.create(t, createBody(t, nil))

	tests := []struct {
		name, query, detail string
	}{
		{"unknown status", "?status=BOGUS", `"BOGUS"`},
		{"one bad status among good ones", "?status=DRAFT,NOPE", `"NOPE"`},
		{"limit 0", "?limit=0", "from 1 to 100"},
		{"limit 101", "?limit=101", "from 1 to 100"},
		{"negative limit", "?limit=-1", "from 1 to 100"},
		{"limit not a number", "?limit=x", `got "x"`},
		{"cursor not base64", "?cursor=!!!", "cursor is not valid"},
		{"cursor without separator", "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("nothing")), "cursor is not valid"},
		{"cursor with a bad time", "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("yesterday|"+uuid.NewString())), "cursor is not valid"},
		{"cursor with a bad id", "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte(time.Now().Format(time.RFC3339Nano)+"|x")), "cursor is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := tb.do(t, http.MethodGet, "/api/v1/broadcasts"+tt.query, "")
			requireProblem(t, rec, http.StatusBadRequest, tt.detail)
		})
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()

	t.Run("draft is cancelled without a workflow", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		draft := tb.create(t, createBody(t, map[string]any{"draft": true,
			"scheduled_at": rfc3339(tb.now.Add(time.Hour)), "expires_at": rfc3339(tb.now.Add(48 * time.Hour))}))
		got := requireBroadcast(t, tb.do(t, http.MethodPost, path(draft.ID, "cancel"), ""), http.StatusOK)
		require.Equal(t, broadcast.StatusCancelled, got.Status)
		require.NotNil(t, got.CancelledAt)
		require.Empty(t, tb.wf.recorded())
		require.Equal(t, got, tb.get(t, draft.ID))
		require.Zero(t, tb.rows(t, "outbox"), "nobody saw a draft, so there is nothing to retract")
	})

	t.Run("draft without times is cancelled", func(t *testing.T) {
		t.Parallel()
		// A draft may have no times; cancelled, it still has none.
		tb := setup(t)
		draft := tb.create(t, createBody(t, map[string]any{"draft": true}))
		got := requireBroadcast(t, tb.do(t, http.MethodPost, path(draft.ID, "cancel"), ""), http.StatusOK)
		require.Equal(t, broadcast.StatusCancelled, got.Status)
		require.Empty(t, tb.wf.recorded())
	})

	t.Run("scheduled broadcast is cancelled through its workflow, twice", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		b := tb.create(t, createBody(t, nil))
		first := requireBroadcast(t, tb.do(t, http.MethodPost, path(b.ID, "cancel"), ""), http.StatusOK)
		require.Equal(t, broadcast.StatusCancelled, first.Status)
		require.NotNil(t, first.CancelledAt)
		second := requireBroadcast(t, tb.do(t, http.MethodPost, path(b.ID, "cancel"), ""), http.StatusOK)
		require.Equal(t, first, second, "a retried cancel answers the same")
		require.Equal(t, []call{{Op: "start", ID: b.ID}, {Op: "cancel", ID: b.ID}}, tb.wf.recorded())
	})

	t.Run("sent broadcast is cancelled and retracted", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		b := tb.insert(t, broadcast.StatusSent)
		outbox := tb.rows(t, "outbox")
		got := requireBroadcast(t, tb.do(t, http.MethodPost, path(b.ID, "cancel"), ""), http.StatusOK)
		require.Equal(t, broadcast.StatusCancelled, got.Status)
		require.Equal(t, []string{"cancel"}, tb.wf.ops())
		require.Equal(t, outbox+1, tb.rows(t, "outbox"), "BROADCAST_CANCELLED is recorded")
	})

	t.Run("workflow already ended by a cancel", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		b := tb.insert(t, broadcast.StatusScheduled)
		tb.wf.fail(nil, workflows.ErrNotRunning, nil)
		tb.wf.cancelAnyway = true
		got := requireBroadcast(t, tb.do(t, http.MethodPost, path(b.ID, "cancel"), ""), http.StatusOK)
		require.Equal(t, broadcast.StatusCancelled, got.Status)
	})

	t.Run("Temporal unreachable", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		b := tb.insert(t, broadcast.StatusScheduled)
		tb.wf.fail(nil, unavailable("cancel"), nil)
		requireProblem(t, tb.do(t, http.MethodPost, path(b.ID, "cancel"), ""), http.StatusServiceUnavailable, "Temporal is unavailable")
		require.Equal(t, []string{"cancel"}, tb.wf.ops())
		tb.requireUnchanged(t, b, 0)
	})
}

func TestReschedule(t *testing.T) {
	t.Parallel()
	plus2 := time.FixedZone("+02:00", 2*60*60)

	t.Run("draft changes directly", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		draft := tb.create(t, createBody(t, map[string]any{"draft": true}))
		scheduled, expires := tb.now.Add(5*time.Hour), tb.now.Add(50*time.Hour)
		body := `{"scheduled_at": "` + rfc3339(scheduled.In(plus2)) + `", "expires_at": "` + rfc3339(expires) + `"}`
		got := requireBroadcast(t, tb.do(t, http.MethodPost, path(draft.ID, "reschedule"), body), http.StatusOK)
		require.Equal(t, broadcast.StatusDraft, got.Status)
		require.Equal(t, scheduled, *got.ScheduledAt)
		require.Equal(t, expires, *got.ExpiresAt)
		require.Empty(t, tb.wf.recorded())
		require.Equal(t, got, tb.get(t, draft.ID))
		require.Zero(t, tb.rows(t, "outbox"))
	})

	t.Run("scheduled broadcast goes through its workflow", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		b := tb.insert(t, broadcast.StatusScheduled)
		scheduled := tb.now.Add(3 * time.Hour)
		body := `{"scheduled_at": "` + rfc3339(scheduled.In(plus2)) + `"}`
		got := requireBroadcast(t, tb.do(t, http.MethodPost, path(b.ID, "reschedule"), body), http.StatusOK)
		require.Equal(t, broadcast.StatusScheduled, got.Status)
		require.Equal(t, scheduled, *got.ScheduledAt)
		require.Equal(t, *b.ExpiresAt, *got.ExpiresAt)
		calls := tb.wf.recorded()
		require.Len(t, calls, 1)
		require.Equal(t, "reschedule", calls[0].Op)
		require.Equal(t, time.UTC, calls[0].Change.ScheduledAt.Location(), "the workflow is given UTC")
		require.True(t, scheduled.Equal(*calls[0].Change.ScheduledAt))
		require.Nil(t, calls[0].Change.ExpiresAt)
	})

	t.Run("Temporal unreachable", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		b := tb.insert(t, broadcast.StatusScheduled)
		outbox := tb.rows(t, "outbox")
		tb.wf.fail(nil, nil, unavailable("reschedule"))
		body := `{"scheduled_at": "` + rfc3339(tb.now.Add(3*time.Hour)) + `"}`
		requireProblem(t, tb.do(t, http.MethodPost, path(b.ID, "reschedule"), body), http.StatusServiceUnavailable, "Temporal is unavailable")
		require.Equal(t, []string{"reschedule"}, tb.wf.ops())
		tb.requireUnchanged(t, b, outbox)
	})

	t.Run("expires_at of a SENT broadcast goes through its workflow", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		b := tb.insert(t, broadcast.StatusSent)
		expires := tb.now.Add(72 * time.Hour)
		body := `{"expires_at": "` + rfc3339(expires) + `"}`
		got := requireBroadcast(t, tb.do(t, http.MethodPost, path(b.ID, "reschedule"), body), http.StatusOK)
		require.Equal(t, broadcast.StatusSent, got.Status)
		require.Equal(t, expires, *got.ExpiresAt)
		require.Equal(t, *b.ScheduledAt, *got.ScheduledAt)
		require.Equal(t, []string{"reschedule"}, tb.wf.ops())
		require.Equal(t, got, tb.get(t, b.ID))
	})
}

func TestRescheduleBadRequest(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t, broadcast.StatusScheduled)
	at := func(d time.Duration) string { return `"` + rfc3339(tb.now.Add(d)) + `"` }

	tests := []struct {
		name, body string
		status     int
		detail     string
	}{
		{"empty body", "", http.StatusBadRequest, "needs a JSON body"},
		{"malformed JSON", `{"scheduled_at": `, http.StatusBadRequest, "malformed JSON"},
		{"unknown field", `{"publish_at": ` + at(time.Hour) + `}`, http.StatusBadRequest, `unknown field "publish_at"`},
		{"bad time", `{"scheduled_at": "next week"}`, http.StatusBadRequest, "not an RFC 3339 time"},
		{"neither time", `{}`, http.StatusUnprocessableEntity, "scheduled_at:"},
		{"expires_at before scheduled_at", `{"scheduled_at": ` + at(3*time.Hour) + `, "expires_at": ` + at(2*time.Hour) + `}`,
			http.StatusUnprocessableEntity, "expires_at:"},
		{"expires_at in the past", `{"expires_at": ` + at(-time.Hour) + `}`, http.StatusUnprocessableEntity, "expires_at:"},
		{"scheduled_at after the current expires_at", `{"scheduled_at": ` + at(40*24*time.Hour) + `}`,
			http.StatusUnprocessableEntity, "scheduled_at:"},
		{"scheduled_at more than a year ahead", `{"scheduled_at": ` + at(broadcast.MaxScheduleAhead+time.Hour) +
			`, "expires_at": ` + at(broadcast.MaxScheduleAhead+48*time.Hour) + `}`, http.StatusUnprocessableEntity, "scheduled_at:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := tb.do(t, http.MethodPost, path(b.ID, "reschedule"), tt.body)
			p := requireProblem(t, rec, tt.status, tt.detail)
			if tt.status == http.StatusUnprocessableEntity {
				require.NotEmpty(t, p.Errors)
			}
			tb.requireUnchanged(t, b, 0)
		})
	}
	require.Empty(t, tb.wf.recorded())
}

func TestSchedule(t *testing.T) {
	t.Parallel()

	t.Run("draft with new scheduled_at", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		draft := tb.create(t, createBody(t, map[string]any{"draft": true}))
		scheduled := tb.now.Add(2 * time.Hour)
		got := requireBroadcast(t, tb.do(t, http.MethodPost, path(draft.ID, "schedule"),
			`{"scheduled_at": "`+rfc3339(scheduled)+`"}`), http.StatusOK)
		require.Equal(t, broadcast.StatusScheduled, got.Status)
		require.Equal(t, scheduled, *got.ScheduledAt)
		require.Equal(t, scheduled.Add(30*24*time.Hour), *got.ExpiresAt)
		require.Equal(t, []call{{Op: "start", ID: draft.ID}}, tb.wf.recorded())
		require.Equal(t, got, tb.get(t, draft.ID))
	})

	t.Run("draft without a body is sent now", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		draft := tb.create(t, createBody(t, map[string]any{"draft": true}))
		got := requireBroadcast(t, tb.do(t, http.MethodPost, path(draft.ID, "schedule"), ""), http.StatusOK)
		require.Equal(t, broadcast.StatusScheduled, got.Status)
		require.Equal(t, tb.now, *got.ScheduledAt)
		require.Equal(t, tb.now.Add(30*24*time.Hour), *got.ExpiresAt)
		require.Equal(t, []string{"start"}, tb.wf.ops())
	})

	t.Run("draft keeps its own times", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		draft := tb.insert(t, broadcast.StatusDraft)
		got := requireBroadcast(t, tb.do(t, http.MethodPost, path(draft.ID, "schedule"), "{}"), http.StatusOK)
		require.Equal(t, broadcast.StatusScheduled, got.Status)
		require.Equal(t, *draft.ScheduledAt, *got.ScheduledAt)
		require.Equal(t, *draft.ExpiresAt, *got.ExpiresAt)
	})

	t.Run("Temporal down leaves the draft", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		draft := tb.insert(t, broadcast.StatusDraft)
		tb.wf.fail(unavailable("start"), nil, nil)
		rec := tb.do(t, http.MethodPost, path(draft.ID, "schedule"), "")
		requireProblem(t, rec, http.StatusServiceUnavailable, "nothing was changed")
		require.Equal(t, []string{"start"}, tb.wf.ops())
		tb.requireUnchanged(t, draft, 0)
	})

	t.Run("invalid times leave the draft", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		draft := tb.insert(t, broadcast.StatusDraft)
		body := `{"scheduled_at": "` + rfc3339(tb.now.Add(3*time.Hour)) + `", "expires_at": "` + rfc3339(tb.now.Add(2*time.Hour)) + `"}`
		p := requireProblem(t, tb.do(t, http.MethodPost, path(draft.ID, "schedule"), body), http.StatusUnprocessableEntity, "expires_at:")
		require.Equal(t, "expires_at", p.Errors[0].Field)
		require.Empty(t, tb.wf.recorded())
		tb.requireUnchanged(t, draft, 0)
	})

	t.Run("trailing data is refused", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		draft := tb.insert(t, broadcast.StatusDraft)
		requireProblem(t, tb.do(t, http.MethodPost, path(draft.ID, "schedule"), "{} {}"), http.StatusBadRequest, "nothing after it")
		require.Empty(t, tb.wf.recorded())
		tb.requireUnchanged(t, draft, 0)
	})
}
