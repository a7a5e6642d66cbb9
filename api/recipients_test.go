package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/broadcast"
)

// seedUsers sets users through the API: id -> roles.
func (ab *audienceBundle) seedUsers(t *testing.T, roles map[string][]string) {
	t.Helper()
	for id, r := range roles {
		body, err := json.Marshal(map[string]any{"name": "User " + id, "roles": r})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, ab.do(t, http.MethodPut, "/api/v1/users/"+url.PathEscape(id), string(body)).Code)
	}
}

// The directory's reads are open to broadcasters, who choose targets, and
// to nobody else; its changes stay an admin's.
func TestDirectoryReadsAreForBroadcastersToo(t *testing.T) {
	t.Parallel()
	ab := setupAudience(t)
	ab.seedUsers(t, map[string][]string{"u1": {"ops"}})
	bea := withToken(issue(t, ab.secret, "bea", "Bea", []string{api.RoleBroadcaster}, time.Hour, time.Now()))
	reader := withToken(issue(t, ab.secret, "u1", "", []string{"ops"}, time.Hour, time.Now()))
	count := `{"target": {"type": "ALL"}}`
	for _, r := range []struct{ method, target, body string }{
		{http.MethodGet, "/api/v1/users", ""},
		{http.MethodGet, "/api/v1/roles", ""},
		{http.MethodPost, "/api/v1/audience/count", count},
	} {
		require.Equal(t, http.StatusOK, ab.do(t, r.method, r.target, r.body, bea).Code, "%s %s", r.method, r.target)
		requireProblem(t, ab.do(t, r.method, r.target, r.body, reader), http.StatusForbidden, `"admin" or "broadcaster" role`)
		requireProblem(t, ab.do(t, r.method, r.target, r.body, withToken("")), http.StatusUnauthorized, "bearer token")
	}
	requireProblem(t, ab.do(t, http.MethodGet, "/api/v1/users/u1", "", bea), http.StatusForbidden, `"admin" role`)
	requireProblem(t, ab.do(t, http.MethodPut, "/api/v1/users/u2", `{"name": "U"}`, bea), http.StatusForbidden, `"admin" role`)
}

// userPage is the body of GET /users.
type userPage struct {
	Items      []audience.User `json:"items"`
	NextCursor string          `json:"next_cursor"`
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	ab := setupAudience(t)
	ab.seedUsers(t, map[string][]string{"ada": {"dev", "ops"}, "bob": {"sales"}, "cy": {"ops"}, "team/bot": nil, "ops-lead": {"board"}})

	// Page through the holders of ops by id, one at a time.
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		target := "/api/v1/users?role=ops&limit=1"
		if cursor != "" {
			target += "&cursor=" + cursor
		}
		rec := ab.do(t, http.MethodGet, target, "")
		page := decode[userPage](t, rec, http.StatusOK)
		if page.NextCursor != "" {
			require.ElementsMatch(t, []string{"items", "next_cursor"}, keys(t, rec))
		}
		for _, u := range page.Items {
			seen = append(seen, u.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, []string{"ada", "cy"}, seen)

	rec := ab.do(t, http.MethodGet, "/api/v1/users?q=ADA", "")
	page := decode[userPage](t, rec, http.StatusOK)
	require.Equal(t, []string{"items"}, keys(t, rec), "no next_cursor on the last page")
	require.Len(t, page.Items, 1)
	require.Equal(t, decode[audience.User](t, ab.do(t, http.MethodGet, "/api/v1/users/ada", ""), http.StatusOK), page.Items[0],
		"users as GET /users/{id} shows them")

	for query, want := range map[string][]string{
		"":                  {"ada", "bob", "cy", "ops-lead", "team/bot"},
		"?q=user%20b":       {"bob"}, // in the name
		"?q=" + "%2Fb":      {"team/bot"},
		"?q=ops":            {"ops-lead"}, // the id, not the roles
		"?role=%20ops%20":   {"ada", "cy"},
		"?role=Ops":         {},
		"?role=ops&q=cy":    {"cy"},
		"?q=&role=":         {"ada", "bob", "cy", "ops-lead", "team/bot"},
		"?q=" + "100%25":    {},
		"?q=_&limit=100":    {},
		"?role=board&q=lea": {"ops-lead"},
	} {
		page := decode[userPage](t, ab.do(t, http.MethodGet, "/api/v1/users"+query, ""), http.StatusOK)
		got := []string{}
		for _, u := range page.Items {
			got = append(got, u.ID)
		}
		require.Equal(t, want, got, query)
	}

	tests := []struct{ name, query, detail string }{
		{"limit 0", "?limit=0", "from 1 to 100"},
		{"limit 101", "?limit=101", "from 1 to 100"},
		{"bad cursor", "?cursor=!!!", "cursor is not valid"},
		{"cursor of NUL", "?cursor=AA", "cursor is not valid"},
		{"q too long", "?q=" + strings.Repeat("q", 201), "q must be at most 200 bytes"},
		{"q not UTF-8", "?q=%FF", "q must be valid UTF-8"},
		{"role with NUL", "?role=a%00", "role must be valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			requireProblem(t, ab.do(t, http.MethodGet, "/api/v1/users"+tt.query, ""), http.StatusBadRequest, tt.detail)
		})
	}
}

func TestListRoles(t *testing.T) {
	t.Parallel()
	ab := setupAudience(t)
	rec := ab.do(t, http.MethodGet, "/api/v1/roles", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"items": []}`, rec.Body.String(), "an empty directory has no roles")

	ab.seedUsers(t, map[string][]string{"u1": {"ops", "dev"}, "u2": {"ops"}, "u3": {"sales"}, "u4": nil})
	rec = ab.do(t, http.MethodGet, "/api/v1/roles", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"items": [{"role": "dev", "users": 1}, {"role": "ops", "users": 2}, {"role": "sales", "users": 1}]}`, rec.Body.String())
}

// POST /audience/count counts as the statistics will, after validating the
// target by the very rule create does: the same body's target faults are
// the same problem from both routes.
func TestCountAudience(t *testing.T) {
	t.Parallel()
	ab := setupAudience(t)
	ab.seedUsers(t, map[string][]string{"u1": {"ops", "dev"}, "u2": {"ops"}, "u3": {"sales"}, "u4": nil})
	for target, want := range map[string]int64{
		`{"type": "ALL"}`:                                     4,
		`{"type": "ALL", "ids": null}`:                        4,
		`{"type": "ROLE", "ids": ["ops", "dev"]}`:             2,
		`{"type": "ROLE", "ids": [" ops ", "ops", "board"]}`:  2,
		`{"type": "SELECTED", "ids": ["u1", "x9", " u1 "]}`:   2,
		`{"type": "SELECTED", "ids": ["nobody-we-know-yet"]}`: 1,
	} {
		rec := ab.do(t, http.MethodPost, "/api/v1/audience/count", `{"target": `+target+`}`)
		require.Equal(t, map[string]int64{"count": want}, decode[map[string]int64](t, rec, http.StatusOK), target)
	}

	tooMany := make([]string, broadcast.MaxTargetIDs+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint("u", i)
	}
	many, err := json.Marshal(map[string]any{"type": "SELECTED", "ids": tooMany})
	require.NoError(t, err)
	for _, target := range []string{
		`null`,
		`{"type": ""}`,
		`{"type": "EVERYONE"}`,
		`{"type": "ALL", "ids": ["u1"]}`,
		`{"type": "ROLE"}`,
		`{"type": "SELECTED", "ids": ["u1", " ", "a\u0000b", "` + strings.Repeat("x", broadcast.MaxTargetIDChars+1) + `"]}`,
		string(many),
	} {
		counted := requireProblem(t, ab.do(t, http.MethodPost, "/api/v1/audience/count", `{"target": `+target+`}`),
			http.StatusUnprocessableEntity, "target")
		created := requireProblem(t, ab.do(t, http.MethodPost, "/api/v1/broadcasts", `{"title": "t", "content": "c", "target": `+target+`}`),
			http.StatusUnprocessableEntity, "target")
		require.NotEmpty(t, counted.Errors)
		require.Equal(t, created.Errors, counted.Errors, "target %s", broadcast.Cut(target, 80))
	}
	requireProblem(t, ab.do(t, http.MethodPost, "/api/v1/audience/count", `{}`), http.StatusUnprocessableEntity, "target.type: is required")

	for _, tt := range []struct {
		name, body string
		opts       []option
		status     int
		detail     string
	}{
		{"no body", "", nil, http.StatusBadRequest, "needs a JSON body"},
		{"malformed JSON", `{"target": `, nil, http.StatusBadRequest, "malformed JSON"},
		{"unknown field", `{"target": {"type": "ALL"}, "title": "x"}`, nil, http.StatusBadRequest, `unknown field "title"`},
		{"unknown target field", `{"target": {"type": "ALL", "who": 1}}`, nil, http.StatusBadRequest, `unknown field "who"`},
		{"ids not an array", `{"target": {"type": "ROLE", "ids": "ops"}}`, nil, http.StatusBadRequest, "must be an array"},
		{"not JSON", `{"target": {"type": "ALL"}}`, []option{withHeader("Content-Type", "text/plain")}, http.StatusUnsupportedMediaType, "application/json"},
	} {
		requireProblem(t, ab.do(t, http.MethodPost, "/api/v1/audience/count", tt.body, tt.opts...), tt.status, tt.detail)
	}
}
