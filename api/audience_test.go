package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
)

// audienceBundle is an API with the audience routes on a fresh database.
type audienceBundle struct {
	e      *echo.Echo
	pool   *pgxpool.Pool
	store  *store.Store
	secret []byte
	token  string // an admin's
}

func setupAudience(t *testing.T) *audienceBundle {
	t.Helper()
	pool := testenv.Pool(t)
	st := store.New(pool)
	aud, err := audience.New(pool, audience.Config{})
	require.NoError(t, err)
	secret := []byte("crier-api-test-secret-0123456789")
	e := api.New(st, &fakeWorkflows{store: st}, api.Config{
		Verifier: auth.NewVerifier(secret),
		Logger:   testenv.Logger(t),
		Audience: aud,
	})
	return &audienceBundle{e: e, pool: pool, store: st, secret: secret,
		token: issue(t, secret, "admin-1", "Ada Admin", []string{auth.RoleAdmin}, time.Hour, time.Now())}
}

// do serves one request with the admin token and, for a body, the content
// type JSON, unless an option says otherwise.
func (ab *audienceBundle) do(t *testing.T, method, target, body string, opts ...option) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	}
	req.Header.Set(echo.HeaderAuthorization, "Bearer "+ab.token)
	for _, opt := range opts {
		opt(req)
	}
	rec := httptest.NewRecorder()
	ab.e.ServeHTTP(rec, req)
	return rec
}

// decode requires status and decodes the JSON answer into v.
func decode[T any](t *testing.T, rec *httptest.ResponseRecorder, status int) T {
	t.Helper()
	require.Equal(t, status, rec.Code, "body: %s", rec.Body)
	var v T
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
	return v
}

// keys lists the top-level keys of a JSON object answer.
func keys(t *testing.T, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	var raw map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	out := make([]string, 0, len(raw))
	for k := range raw {
		out = append(out, k)
	}
	return out
}

// insertBroadcast stores a scheduled broadcast for everyone.
func (ab *audienceBundle) insertBroadcast(t *testing.T) broadcast.Broadcast {
	t.Helper()
	id := uuid.New()
	at := time.Now().Add(time.Hour).UTC()
	exp := at.Add(time.Hour)
	b, _, err := ab.store.Insert(context.Background(), seeder, broadcast.Broadcast{
		ID: id, Status: broadcast.StatusScheduled, Sender: broadcast.Sender{ID: "admin-1", Name: "Ada Admin"},
		Title: "Hello", Content: "World", Category: "general", Priority: broadcast.PriorityNormal,
		Target: broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}}, ScheduledAt: &at, ExpiresAt: &exp,
		WorkflowID: broadcast.WorkflowID(id),
	}, nil, nil)
	require.NoError(t, err)
	return b
}

func (ab *audienceBundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := ab.pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

func (ab *audienceBundle) users(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, ab.pool.QueryRow(context.Background(), `SELECT count(*) FROM users`).Scan(&n))
	return n
}

func TestAudienceRoutesNeedAnAdmin(t *testing.T) {
	t.Parallel()
	ab := setupAudience(t)
	reader := issue(t, ab.secret, "u1", "", []string{"ops"}, time.Hour, time.Now())
	b := ab.insertBroadcast(t)
	// Checked once the parallel subtests are done.
	t.Cleanup(func() { require.Zero(t, ab.users(t), "nothing is stored") })
	routes := []struct{ method, target, body string }{
		{http.MethodPut, "/api/v1/users/u1", `{"name": "U"}`},
		{http.MethodGet, "/api/v1/users/u1", ""},
		{http.MethodPost, "/api/v1/users/import", `[{"id": "u1"}]`},
		{http.MethodGet, "/api/v1/broadcasts/" + b.ID.String() + "/stats", ""},
		{http.MethodGet, "/api/v1/broadcasts/" + b.ID.String() + "/deliveries", ""},
	}
	for _, r := range routes {
		t.Run(r.method+" "+r.target, func(t *testing.T) {
			t.Parallel()
			requireProblem(t, ab.do(t, r.method, r.target, r.body, withToken("")), http.StatusUnauthorized, "bearer token")
			requireProblem(t, ab.do(t, r.method, r.target, r.body, withToken(reader)), http.StatusForbidden, `"admin" role`)
		})
	}
}

func TestPutAndGetUser(t *testing.T) {
	t.Parallel()
	ab := setupAudience(t)

	rec := ab.do(t, http.MethodPut, "/api/v1/users/u1", `{"name": " Ada ", "roles": ["ops", "dev", "ops"]}`)
	put := decode[audience.User](t, rec, http.StatusOK)
	require.ElementsMatch(t, []string{"id", "name", "roles", "source", "time_zone", "created_at", "updated_at"}, keys(t, rec))
	require.Equal(t, "u1", put.ID)
	require.Equal(t, "Ada", put.Name)
	require.Equal(t, []string{"dev", "ops"}, put.Roles)
	require.Equal(t, audience.SourceAdmin, put.Source)
	require.WithinDuration(t, time.Now(), put.UpdatedAt, time.Minute)

	got := decode[audience.User](t, ab.do(t, http.MethodGet, "/api/v1/users/u1", ""), http.StatusOK)
	require.Equal(t, put, got)

	// A second PUT replaces the entry; absent roles mean none.
	replaced := decode[audience.User](t, ab.do(t, http.MethodPut, "/api/v1/users/u1", `{"name": "Ada L."}`), http.StatusOK)
	require.Equal(t, []string{}, replaced.Roles)
	require.Equal(t, put.CreatedAt, replaced.CreatedAt)

	// Ids may hold characters that must be escaped in a path.
	odd := decode[audience.User](t, ab.do(t, http.MethodPut, "/api/v1/users/team%2Fa%20b", `{"roles": []}`), http.StatusOK)
	require.Equal(t, "team/a b", odd.ID)
	require.Equal(t, odd, decode[audience.User](t, ab.do(t, http.MethodGet, "/api/v1/users/team%2Fa%20b", ""), http.StatusOK))

	requireProblem(t, ab.do(t, http.MethodGet, "/api/v1/users/nobody", ""), http.StatusNotFound, `"nobody"`)
}

func TestPutUserRefusals(t *testing.T) {
	t.Parallel()
	ab := setupAudience(t)
	t.Cleanup(func() { require.Zero(t, ab.users(t), "nothing is stored") })
	roles := make([]string, audience.MaxRoles+1)
	for i := range roles {
		roles[i] = fmt.Sprint("r", i)
	}
	tooMany, err := json.Marshal(map[string]any{"roles": roles})
	require.NoError(t, err)

	tests := []struct {
		name, id, body string
		status         int
		detail         string
		field          string
	}{
		{"no body", "u1", "", http.StatusBadRequest, "needs a JSON body", ""},
		{"malformed JSON", "u1", `{"name": `, http.StatusBadRequest, "malformed JSON", ""},
		{"unknown field", "u1", `{"name": "a", "id": "u2"}`, http.StatusBadRequest, `unknown field "id"`, ""},
		{"roles not an array", "u1", `{"roles": "ops"}`, http.StatusBadRequest, `"roles" must be an array`, ""},
		{"blank id", "%20", `{}`, http.StatusUnprocessableEntity, "id: must not be empty", "id"},
		{"id too long", strings.Repeat("x", audience.MaxUserIDChars+1), `{}`, http.StatusUnprocessableEntity, "id: must be at most 256", "id"},
		{"name too long", "u1", `{"name": "` + strings.Repeat("n", audience.MaxNameChars+1) + `"}`, http.StatusUnprocessableEntity, "name: must be at most 200", "name"},
		{"too many roles", "u1", string(tooMany), http.StatusUnprocessableEntity, "roles: must hold at most 100", "roles"},
		{"empty role", "u1", `{"roles": ["ops", ""]}`, http.StatusUnprocessableEntity, "roles[1]: must not be empty", "roles[1]"},
		{"role too long", "u1", `{"roles": ["` + strings.Repeat("r", audience.MaxRoleChars+1) + `"]}`, http.StatusUnprocessableEntity, "roles[0]: must be at most 64", "roles[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := requireProblem(t, ab.do(t, http.MethodPut, "/api/v1/users/"+tt.id, tt.body), tt.status, tt.detail)
			if tt.field != "" {
				require.Equal(t, tt.field, p.Errors[0].Field)
			}
		})
	}
}

func TestImportUsers(t *testing.T) {
	t.Parallel()
	ab := setupAudience(t)

	rec := ab.do(t, http.MethodPost, "/api/v1/users/import",
		`[{"id": "u1", "name": "One", "roles": ["ops"]}, {"id": "u2"}, {"id": "u1", "name": "One again", "roles": ["dev"]}]`)
	require.Equal(t, map[string]int{"imported": 2}, decode[map[string]int](t, rec, http.StatusOK), "u1 given twice is one user")
	u1 := decode[audience.User](t, ab.do(t, http.MethodGet, "/api/v1/users/u1", ""), http.StatusOK)
	require.Equal(t, "One again", u1.Name, "the last entry wins")
	require.Equal(t, []string{"dev"}, u1.Roles)

	rec = ab.do(t, http.MethodPost, "/api/v1/users/import", `[]`)
	require.Equal(t, map[string]int{"imported": 0}, decode[map[string]int](t, rec, http.StatusOK))

	// NDJSON, bigger than the API's usual 1 MiB limit.
	var body strings.Builder
	const n = 20_000
	for i := range n {
		fmt.Fprintf(&body, `{"id": "user-%05d", "name": "%s", "roles": ["staff"]}`+"\n", i, strings.Repeat("n", 100))
	}
	require.Greater(t, body.Len(), 2<<20)
	rec = ab.do(t, http.MethodPost, "/api/v1/users/import", body.String(), withHeader(echo.HeaderContentType, "application/x-ndjson; charset=utf-8"))
	require.Equal(t, map[string]int{"imported": n}, decode[map[string]int](t, rec, http.StatusOK))
	require.Equal(t, n+2, ab.users(t))
}

func TestImportUsersRefusals(t *testing.T) {
	t.Parallel()
	ab := setupAudience(t)
	t.Cleanup(func() { require.Zero(t, ab.users(t), "nothing is stored") })
	ndjson := withHeader(echo.HeaderContentType, "application/x-ndjson")

	tests := []struct {
		name, body string
		opts       []option
		status     int
		detail     string
	}{
		{"no body", "", nil, http.StatusBadRequest, "needs a body"},
		{"empty NDJSON", "\n", []option{ndjson}, http.StatusBadRequest, "needs a body"},
		{"an object, not an array", `{"id": "u1"}`, nil, http.StatusBadRequest, "must be a JSON array"},
		{"malformed entry", `[{"id": "u1"}, {"id": ]`, nil, http.StatusBadRequest, "malformed JSON in user [1]"},
		{"truncated", `[{"id": "u1"}`, nil, http.StatusBadRequest, "malformed JSON"},
		{"entry not an object", `[{"id": "u1"}, "u2"]`, nil, http.StatusBadRequest, "user [1] must be a JSON object"},
		{"unknown field", `[{"id": "u1", "email": "x"}]`, nil, http.StatusBadRequest, `unknown field "email" in user [0]`},
		{"wrong type", `[{"id": "u1", "roles": "ops"}]`, nil, http.StatusBadRequest, `field "roles" of user [0] must be an array`},
		{"trailing data", `[{"id": "u1"}] []`, nil, http.StatusBadRequest, "nothing after it"},
		{"malformed NDJSON line", "{\"id\": \"u1\"}\n{\"id\": \n", []option{ndjson}, http.StatusBadRequest, "user [1]"},
		{"unsupported type", "id\nu1\n", []option{withHeader(echo.HeaderContentType, "text/csv")}, http.StatusUnsupportedMediaType, `"text/csv"`},
		{"invalid entries", `[{"id": "ok"}, {"id": ""}, {"id": "x", "roles": [""]}]`, nil, http.StatusUnprocessableEntity, "2 of 3 users are not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			requireProblem(t, ab.do(t, http.MethodPost, "/api/v1/users/import", tt.body, tt.opts...), tt.status, tt.detail)
		})
	}

	t.Run("lists the first 20 bad entries", func(t *testing.T) {
		t.Parallel()
		entries := make([]map[string]any, 30)
		for i := range entries {
			entries[i] = map[string]any{"id": fmt.Sprint("u", i), "roles": []string{"ok", ""}}
		}
		raw, err := json.Marshal(entries)
		require.NoError(t, err)
		p := requireProblem(t, ab.do(t, http.MethodPost, "/api/v1/users/import", string(raw)), http.StatusUnprocessableEntity, "30 of 30 users")
		require.Len(t, p.Errors, 20)
		require.Equal(t, "[0].roles[1]", p.Errors[0].Field)
		require.Equal(t, "[19].roles[1]", p.Errors[19].Field)
	})

	t.Run("more than 100,000 users", func(t *testing.T) {
		t.Parallel()
		var body strings.Builder
		body.WriteString("[")
		for i := range audience.MaxImportUsers + 1 {
			if i > 0 {
				body.WriteString(",")
			}
			fmt.Fprintf(&body, `{"id":"u%d"}`, i)
		}
		body.WriteString("]")
		p := requireProblem(t, ab.do(t, http.MethodPost, "/api/v1/users/import", body.String()), http.StatusUnprocessableEntity, "at most 100000 users")
		require.Equal(t, "[100000]", p.Errors[0].Field)
	})

	t.Run("more than 32 MiB", func(t *testing.T) {
		t.Parallel()
		line := `{"id": "u", "name": "` + strings.Repeat("n", 1000) + `"}` + "\n"
		body := strings.Repeat(line, 33<<20/len(line)+1)
		requireProblem(t, ab.do(t, http.MethodPost, "/api/v1/users/import", body, ndjson), http.StatusRequestEntityTooLarge, "32 MiB")
	})
}

func TestBroadcastStats(t *testing.T) {
	t.Parallel()
	ab := setupAudience(t)
	b := ab.insertBroadcast(t)
	statsPath := "/api/v1/broadcasts/" + b.ID.String() + "/stats"

	rec := ab.do(t, http.MethodGet, statsPath, "")
	require.Equal(t, audience.Stats{BroadcastID: b.ID}, decode[audience.Stats](t, rec, http.StatusOK), "not counted yet")
	require.ElementsMatch(t, []string{"broadcast_id", "targeted", "counted", "counted_at", "delivered", "read",
		"delivery_rate", "read_rate"}, keys(t, rec))

	ab.exec(t, `INSERT INTO broadcast_stats (broadcast_id, targeted) VALUES ($1, 4)`, b.ID)
	ab.exec(t, `INSERT INTO deliveries (broadcast_id, user_id, status, delivered_at, read_at) VALUES
		($1, 'u1', 'DELIVERED', now(), now()), ($1, 'u2', 'DELIVERED', now(), NULL), ($1, 'u3', 'PENDING', NULL, NULL)`, b.ID)
	st := decode[audience.Stats](t, ab.do(t, http.MethodGet, statsPath, ""), http.StatusOK)
	require.True(t, st.Counted)
	require.NotNil(t, st.CountedAt)
	require.Equal(t, int64(4), st.Targeted)
	require.Equal(t, int64(2), st.Delivered)
	require.Equal(t, int64(1), st.Read)
	require.InDelta(t, 0.5, st.DeliveryRate, 1e-9)
	require.InDelta(t, 0.25, st.ReadRate, 1e-9)

	requireProblem(t, ab.do(t, http.MethodGet, "/api/v1/broadcasts/"+uuid.NewString()+"/stats", ""), http.StatusNotFound, "no broadcast")
	requireProblem(t, ab.do(t, http.MethodGet, "/api/v1/broadcasts/not-an-id/stats", ""), http.StatusNotFound, `"not-an-id"`)
}

func TestBroadcastDeliveries(t *testing.T) {
	t.Parallel()
	ab := setupAudience(t)
	b := ab.insertBroadcast(t)
	ab.exec(t, `INSERT INTO deliveries (broadcast_id, user_id) SELECT $1, 'u' || i FROM generate_series(1, 5) i`, b.ID)
	ab.exec(t, `UPDATE deliveries SET status = 'DELIVERED', delivered_at = now() WHERE user_id = 'u3'`)
	base := "/api/v1/broadcasts/" + b.ID.String() + "/deliveries"

	type page struct {
		Items      []map[string]any `json:"items"`
		NextCursor string           `json:"next_cursor"`
	}
	var seen []string
	cursor, pages := "", 0
	for {
		target := base + "?limit=2"
		if cursor != "" {
			target += "&cursor=" + cursor
		}
		p := decode[page](t, ab.do(t, http.MethodGet, target, ""), http.StatusOK)
		pages++
		for _, item := range p.Items {
			require.ElementsMatch(t, []string{"user_id", "status", "delivered_at", "read_at"}, mapKeys(item))
			seen = append(seen, item["user_id"].(string))
			if item["user_id"] == "u3" {
				require.Equal(t, "DELIVERED", item["status"])
				require.NotNil(t, item["delivered_at"])
			}
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	require.Equal(t, 3, pages)
	require.Equal(t, []string{"u1", "u2", "u3", "u4", "u5"}, seen)

	empty := decode[page](t, ab.do(t, http.MethodGet, "/api/v1/broadcasts/"+ab.insertBroadcast(t).ID.String()+"/deliveries", ""), http.StatusOK)
	require.NotNil(t, empty.Items, "an empty page is [], not null")
	require.Empty(t, empty.Items)

	tests := []struct {
		name, target string
		status       int
		detail       string
	}{
		{"limit 0", base + "?limit=0", http.StatusBadRequest, "from 1 to 500"},
		{"limit 501", base + "?limit=501", http.StatusBadRequest, "from 1 to 500"},
		{"limit not a number", base + "?limit=x", http.StatusBadRequest, `got "x"`},
		{"bad cursor", base + "?cursor=!!!", http.StatusBadRequest, "cursor is not valid"},
		{"unknown broadcast", "/api/v1/broadcasts/" + uuid.NewString() + "/deliveries", http.StatusNotFound, "no broadcast"},
		{"malformed id", "/api/v1/broadcasts/nope/deliveries", http.StatusNotFound, `"nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			requireProblem(t, ab.do(t, http.MethodGet, tt.target, ""), tt.status, tt.detail)
		})
	}
}

func mapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
