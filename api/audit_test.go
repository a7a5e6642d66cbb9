package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/testenv"
	"github.com/crier/crier/workflows"
)

// auditBundle is the API of setup with the audit log and the user directory
// on. Its helpers insert broadcasts through the store, whose entries name
// the seeder: entries leaves them out, so it shows what the requests a test
// makes recorded.
type auditBundle struct {
	*testBundle
	log *audit.Log
}

func setupAudit(t *testing.T) *auditBundle {
	t.Helper()
	tb := setup(t)
	aud, err := audience.New(tb.pool, audience.Config{})
	require.NoError(t, err)
	log, err := audit.New(tb.pool)
	require.NoError(t, err)
	tb.e = api.New(tb.store, tb.wf, api.Config{
		Verifier: auth.NewVerifier(tb.secret),
		Clock:    func() time.Time { return tb.now },
		Logger:   testenv.Logger(t),
		Audience: aud,
		Audit:    log,
	})
	return &auditBundle{testBundle: tb, log: log}
}

// ada is the actor of setup's admin token.
var ada = audit.Actor{ID: "admin-1", Name: "Ada Admin", Roles: []string{auth.RoleAdmin}}

// entries lists every entry the test's requests recorded, newest first.
func (ab *auditBundle) entries(t *testing.T) []audit.Entry {
	t.Helper()
	page, next, err := ab.log.List(context.Background(), audit.Filter{Limit: audit.MaxLimit})
	require.NoError(t, err)
	require.Empty(t, next)
	return slices.DeleteFunc(page, func(e audit.Entry) bool { return e.Actor.ID == seeder.Actor.ID })
}

// requireOnlyEntry checks that the log holds exactly one entry, recorded by
// ada for the request answered by rec, and returns it.
func (ab *auditBundle) requireOnlyEntry(t *testing.T, rec *httptest.ResponseRecorder, action audit.Action,
	targetType audit.TargetType, targetID string) audit.Entry {
	t.Helper()
	entries := ab.entries(t)
	require.Len(t, entries, 1, "one change, one entry")
	e := entries[0]
	require.Equal(t, action, e.Action)
	require.Equal(t, targetType, e.TargetType)
	require.Equal(t, targetID, e.TargetID)
	require.Equal(t, ada, e.Actor, "the actor is the token's subject")
	require.NotEmpty(t, rec.Header().Get(echo.HeaderXRequestID))
	require.Equal(t, rec.Header().Get(echo.HeaderXRequestID), e.RequestID)
	require.WithinDuration(t, time.Now(), e.OccurredAt, time.Minute)
	return e
}

// decodeBroadcast decodes a before or after; nil is the zero broadcast.
func decodeBroadcast(t *testing.T, raw json.RawMessage) broadcast.Broadcast {
	t.Helper()
	var b broadcast.Broadcast
	if raw != nil {
		require.NoError(t, json.Unmarshal(raw, &b))
	}
	return b
}

func TestAuditRecordsEveryBroadcastChange(t *testing.T) {
	t.Parallel()
	later := func(tb *auditBundle) string {
		return `{"scheduled_at": "` + rfc3339(tb.now.Add(3*time.Hour)) + `"}`
	}
	tests := []struct {
		name string
		// act makes the change and names its broadcast (uuid.Nil: the
		// answer's).
		act           func(t *testing.T, ab *auditBundle) (*httptest.ResponseRecorder, broadcast.Broadcast)
		status        int
		action        audit.Action
		before, after broadcast.Status // "": none
	}{
		{"create", func(t *testing.T, ab *auditBundle) (*httptest.ResponseRecorder, broadcast.Broadcast) {
			return ab.do(t, http.MethodPost, "/api/v1/broadcasts", createBody(t, nil)), broadcast.Broadcast{}
		}, http.StatusCreated, audit.ActionBroadcastCreate, "", broadcast.StatusScheduled},
		{"create a draft", func(t *testing.T, ab *auditBundle) (*httptest.ResponseRecorder, broadcast.Broadcast) {
			return ab.do(t, http.MethodPost, "/api/v1/broadcasts", createBody(t, map[string]any{"draft": true})), broadcast.Broadcast{}
		}, http.StatusCreated, audit.ActionBroadcastCreate, "", broadcast.StatusDraft},
		{"schedule a draft", func(t *testing.T, ab *auditBundle) (*httptest.ResponseRecorder, broadcast.Broadcast) {
			b := ab.insert(t, broadcast.StatusDraft)
			return ab.do(t, http.MethodPost, path(b.ID, "schedule"), ""), b
		}, http.StatusOK, audit.ActionBroadcastSchedule, broadcast.StatusDraft, broadcast.StatusScheduled},
		{"reschedule through the workflow", func(t *testing.T, ab *auditBundle) (*httptest.ResponseRecorder, broadcast.Broadcast) {
			b := ab.insert(t, broadcast.StatusScheduled)
			return ab.do(t, http.MethodPost, path(b.ID, "reschedule"), later(ab)), b
		}, http.StatusOK, audit.ActionBroadcastReschedule, broadcast.StatusScheduled, broadcast.StatusScheduled},
		{"reschedule a draft", func(t *testing.T, ab *auditBundle) (*httptest.ResponseRecorder, broadcast.Broadcast) {
			b := ab.insert(t, broadcast.StatusDraft)
			return ab.do(t, http.MethodPost, path(b.ID, "reschedule"), later(ab)), b
		}, http.StatusOK, audit.ActionBroadcastReschedule, broadcast.StatusDraft, broadcast.StatusDraft},
		{"cancel through the workflow", func(t *testing.T, ab *auditBundle) (*httptest.ResponseRecorder, broadcast.Broadcast) {
			b := ab.insert(t, broadcast.StatusScheduled)
			return ab.do(t, http.MethodPost, path(b.ID, "cancel"), ""), b
		}, http.StatusOK, audit.ActionBroadcastCancel, broadcast.StatusScheduled, broadcast.StatusCancelled},
		{"cancel a sent broadcast", func(t *testing.T, ab *auditBundle) (*httptest.ResponseRecorder, broadcast.Broadcast) {
			b := ab.insert(t, broadcast.StatusSent)
			return ab.do(t, http.MethodPost, path(b.ID, "cancel"), ""), b
		}, http.StatusOK, audit.ActionBroadcastCancel, broadcast.StatusSent, broadcast.StatusCancelled},
		{"cancel a draft", func(t *testing.T, ab *auditBundle) (*httptest.ResponseRecorder, broadcast.Broadcast) {
			b := ab.insert(t, broadcast.StatusDraft)
			return ab.do(t, http.MethodPost, path(b.ID, "cancel"), ""), b
		}, http.StatusOK, audit.ActionBroadcastCancel, broadcast.StatusDraft, broadcast.StatusCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ab := setupAudit(t)
			rec, stored := tt.act(t, ab)
			answer := requireBroadcast(t, rec, tt.status)

			e := ab.requireOnlyEntry(t, rec, tt.action, audit.TargetBroadcast, answer.ID.String())
			before, after := decodeBroadcast(t, e.Before), decodeBroadcast(t, e.After)
			require.Equal(t, tt.before, before.Status)
			require.Equal(t, tt.after, after.Status)
			require.Equal(t, answer, after, "after is the broadcast as answered")
			if tt.before == "" {
				require.Nil(t, e.Before)
			} else {
				require.Equal(t, stored, before, "before is the broadcast as it stood")
			}
			require.Nil(t, e.Detail)
		})
	}
}

func TestAuditRecordsUserChanges(t *testing.T) {
	t.Parallel()

	t.Run("a new user, then a changed one", func(t *testing.T) {
		t.Parallel()
		ab := setupAudit(t)
		rec := ab.do(t, http.MethodPut, "/api/v1/users/u1", `{"name": "Una", "roles": ["ops"]}`)
		first := decode[audience.User](t, rec, http.StatusOK)
		e := ab.requireOnlyEntry(t, rec, audit.ActionUserUpsert, audit.TargetUser, "u1")
		require.Nil(t, e.Before)
		require.Equal(t, first, decode[audience.User](t, answerOf(e.After), http.StatusOK))

		rec = ab.do(t, http.MethodPut, "/api/v1/users/u1", `{"name": "Una B.", "roles": ["ops", "dev"]}`)
		second := decode[audience.User](t, rec, http.StatusOK)
		entries := ab.entries(t)
		require.Len(t, entries, 2)
		require.Equal(t, rec.Header().Get(echo.HeaderXRequestID), entries[0].RequestID)
		require.Equal(t, first, decode[audience.User](t, answerOf(entries[0].Before), http.StatusOK))
		require.Equal(t, second, decode[audience.User](t, answerOf(entries[0].After), http.StatusOK))
	})

	t.Run("an import records its counts and each user whose roles it changed", func(t *testing.T) {
		t.Parallel()
		ab := setupAudit(t)
		require.Equal(t, http.StatusOK, ab.do(t, http.MethodPut, "/api/v1/users/u1", `{"name": "Una", "roles": ["ops"]}`).Code)
		rec := ab.do(t, http.MethodPost, "/api/v1/users/import",
			`[{"id": "u1", "name": "Una B.", "roles": ["ops"]}, {"id": "u2", "roles": ["ops"]}, {"id": "u3"}]`)
		require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
		entries := ab.entries(t)
		require.Len(t, entries, 4, "the PUT, the import's summary, u2 and u3 (u1's roles did not change)")
		type seen struct{ Target, Before, After, Detail string }
		var got []seen
		for _, e := range slices.Backward(entries[:3]) {
			require.Equal(t, audit.ActionUserImport, e.Action)
			require.Equal(t, ada, e.Actor)
			require.Equal(t, rec.Header().Get(echo.HeaderXRequestID), e.RequestID)
			got = append(got, seen{e.TargetID, string(e.Before), string(e.After), string(e.Detail)})
		}
		require.Equal(t, []seen{
			{"", "", "", `{"imported": 3, "roles_changed": 2}`},
			{"u2", "", `{"roles": ["ops"]}`, ""},
			{"u3", "", `{"roles": []}`, ""},
		}, got)
	})
}

// answerOf wraps a recorded JSON value as if it were an answer, for decode.
func answerOf(raw json.RawMessage) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	rec.Body.Write(raw)
	return rec
}

// Requests that succeed without changing anything leave no entry.
func TestAuditSkipsWhatChangedNothing(t *testing.T) {
	t.Parallel()

	t.Run("a retried create", func(t *testing.T) {
		t.Parallel()
		ab := setupAudit(t)
		key := withHeader("Idempotency-Key", "retry-me")
		first := ab.do(t, http.MethodPost, "/api/v1/broadcasts", createBody(t, nil), key)
		b := requireBroadcast(t, first, http.StatusCreated)
		requireBroadcast(t, ab.do(t, http.MethodPost, "/api/v1/broadcasts", createBody(t, nil), key), http.StatusOK)
		ab.requireOnlyEntry(t, first, audit.ActionBroadcastCreate, audit.TargetBroadcast, b.ID.String())
	})

	t.Run("a retried cancel", func(t *testing.T) {
		t.Parallel()
		ab := setupAudit(t)
		b := ab.insert(t, broadcast.StatusScheduled)
		first := ab.do(t, http.MethodPost, path(b.ID, "cancel"), "")
		requireBroadcast(t, first, http.StatusOK)
		requireBroadcast(t, ab.do(t, http.MethodPost, path(b.ID, "cancel"), ""), http.StatusOK)
		ab.requireOnlyEntry(t, first, audit.ActionBroadcastCancel, audit.TargetBroadcast, b.ID.String())
	})

	t.Run("a cancel after the workflow ended by another cancel", func(t *testing.T) {
		t.Parallel()
		ab := setupAudit(t)
		b := ab.insert(t, broadcast.StatusScheduled)
		ab.wf.fail(nil, workflows.ErrNotRunning, nil)
		ab.wf.cancelAnyway = true
		got := requireBroadcast(t, ab.do(t, http.MethodPost, path(b.ID, "cancel"), ""), http.StatusOK)
		require.Equal(t, broadcast.StatusCancelled, got.Status)
		require.Empty(t, ab.entries(t), "whoever cancelled it, it was not this request")
	})

	t.Run("a user set as it already is", func(t *testing.T) {
		t.Parallel()
		ab := setupAudit(t)
		first := ab.do(t, http.MethodPut, "/api/v1/users/u1", `{"name": "Una", "roles": ["ops"]}`)
		require.Equal(t, http.StatusOK, first.Code)
		require.Equal(t, http.StatusOK, ab.do(t, http.MethodPut, "/api/v1/users/u1", `{"name": "Una", "roles": ["ops"]}`).Code)
		ab.requireOnlyEntry(t, first, audit.ActionUserUpsert, audit.TargetUser, "u1")
	})

	t.Run("an empty import", func(t *testing.T) {
		t.Parallel()
		ab := setupAudit(t)
		require.Equal(t, http.StatusOK, ab.do(t, http.MethodPost, "/api/v1/users/import", `[]`).Code)
		require.Empty(t, ab.entries(t))
	})
}

func TestAuditRecordsNothingRefused(t *testing.T) {
	t.Parallel()
	ab := setupAudit(t)
	reader := issue(t, ab.secret, "u1", "", []string{"ops"}, time.Hour, time.Now())
	scheduled, sent, expired := ab.insert(t, broadcast.StatusScheduled), ab.insert(t, broadcast.StatusSent), ab.insert(t, broadcast.StatusExpired)
	soon := `{"scheduled_at": "` + rfc3339(ab.now.Add(2*time.Hour)) + `"}`

	tests := []struct {
		name, method, target, body string
		opts                       []option
		status                     int
	}{
		{"create without a token", http.MethodPost, "/api/v1/broadcasts", createBody(t, nil), []option{withToken("")}, http.StatusUnauthorized},
		{"create without the admin role", http.MethodPost, "/api/v1/broadcasts", createBody(t, nil), []option{withToken(reader)}, http.StatusForbidden},
		{"create, malformed", http.MethodPost, "/api/v1/broadcasts", `{"title": `, nil, http.StatusBadRequest},
		{"create, invalid", http.MethodPost, "/api/v1/broadcasts", createBody(t, map[string]any{"content": ""}), nil, http.StatusUnprocessableEntity},
		{"cancel an unknown broadcast", http.MethodPost, path("0195f4a0-0000-7000-8000-000000000001", "cancel"), "", nil, http.StatusNotFound},
		{"cancel an expired broadcast", http.MethodPost, path(expired.ID, "cancel"), "", nil, http.StatusConflict},
		{"cancel without the admin role", http.MethodPost, path(scheduled.ID, "cancel"), "", []option{withToken(reader)}, http.StatusForbidden},
		{"reschedule, invalid", http.MethodPost, path(scheduled.ID, "reschedule"), `{}`, nil, http.StatusUnprocessableEntity},
		{"reschedule after publication", http.MethodPost, path(sent.ID, "reschedule"), soon, nil, http.StatusConflict},
		{"schedule a scheduled broadcast", http.MethodPost, path(scheduled.ID, "schedule"), "", nil, http.StatusConflict},
		{"put an invalid user", http.MethodPut, "/api/v1/users/u1", `{"roles": [""]}`, nil, http.StatusUnprocessableEntity},
		{"import an invalid user", http.MethodPost, "/api/v1/users/import", `[{"id": "u1"}, {"id": " "}]`, nil, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		rec := ab.do(t, tt.method, tt.target, tt.body, tt.opts...)
		require.Equal(t, tt.status, rec.Code, "%s: %s", tt.name, rec.Body)
	}

	// Temporal refusing or unreachable: nothing changed.
	ab.wf.fail(unavailable("start"), unavailable("cancel"), unavailable("reschedule"))
	for name, rec := range map[string]*httptest.ResponseRecorder{
		"create":     ab.do(t, http.MethodPost, "/api/v1/broadcasts", createBody(t, nil)),
		"cancel":     ab.do(t, http.MethodPost, path(scheduled.ID, "cancel"), ""),
		"reschedule": ab.do(t, http.MethodPost, path(scheduled.ID, "reschedule"), soon),
	} {
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, "%s: %s", name, rec.Body)
	}
	require.Empty(t, ab.entries(t))
}

// A change whose entry cannot be recorded is not made: the entry commits in
// the change's transaction, so the request fails (500) and leaves nothing.
func TestAuditFailureFailsTheChange(t *testing.T) {
	t.Parallel()
	ab := setupAudit(t)
	draft := ab.insert(t, broadcast.StatusDraft)
	scheduled := ab.insert(t, broadcast.StatusScheduled)
	// As the owner: the log refuses the test admin's entries.
	_, err := ab.pool.Exec(context.Background(), `ALTER TABLE audit_log ADD CONSTRAINT refuse_ada CHECK (actor_id <> 'admin-1') NOT VALID`)
	require.NoError(t, err)
	later := `{"scheduled_at": "` + rfc3339(ab.now.Add(2*time.Hour)) + `"}`

	for name, rec := range map[string]*httptest.ResponseRecorder{
		"create":           ab.do(t, http.MethodPost, "/api/v1/broadcasts", createBody(t, nil)),
		"schedule":         ab.do(t, http.MethodPost, path(draft.ID, "schedule"), ""),
		"reschedule draft": ab.do(t, http.MethodPost, path(draft.ID, "reschedule"), later),
		"reschedule":       ab.do(t, http.MethodPost, path(scheduled.ID, "reschedule"), later),
		"cancel draft":     ab.do(t, http.MethodPost, path(draft.ID, "cancel"), ""),
		"cancel":           ab.do(t, http.MethodPost, path(scheduled.ID, "cancel"), ""),
		"put a user":       ab.do(t, http.MethodPut, "/api/v1/users/u1", `{"name": "Una"}`),
		"import users":     ab.do(t, http.MethodPost, "/api/v1/users/import", `[{"id": "u1"}]`),
	} {
		p := requireProblem(t, rec, http.StatusInternalServerError, "request failed on the server")
		require.NotContains(t, p.Detail, "refuse_ada", "%s: internals stay out of answers", name)
	}
	require.Equal(t, draft, ab.get(t, draft.ID))
	require.Equal(t, scheduled, ab.get(t, scheduled.ID))
	var broadcasts, users int
	require.NoError(t, ab.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM broadcasts), (SELECT count(*) FROM users)`).Scan(&broadcasts, &users))
	require.Equal(t, 2, broadcasts)
	require.Zero(t, users)
	require.Empty(t, ab.entries(t))
}

func TestAuditRouteNeedsAnAdmin(t *testing.T) {
	t.Parallel()
	ab := setupAudit(t)
	reader := issue(t, ab.secret, "u1", "", []string{"ops"}, time.Hour, time.Now())
	requireProblem(t, ab.do(t, http.MethodGet, "/api/v1/audit", "", withToken("")), http.StatusUnauthorized, "bearer token")
	requireProblem(t, ab.do(t, http.MethodGet, "/api/v1/audit", "", withToken(reader)), http.StatusForbidden, `"admin" role`)
}

// auditPage is the answer of GET /api/v1/audit.
type auditPage struct {
	Items      []audit.Entry `json:"items"`
	NextCursor string        `json:"next_cursor"`
}

// auditSeen is what TestAuditList compares of an audit entry.
type auditSeen struct {
	Action audit.Action
	Target string
}

func auditSeenOf(page auditPage) []auditSeen {
	out := []auditSeen{}
	for _, e := range page.Items {
		out = append(out, auditSeen{e.Action, e.TargetID})
	}
	return out
}

// requireCancelEntry checks the JSON of TestAuditList's cancel entry: every
// field in snake_case, Crier's request id beside the client's, the actor,
// and the status before and after.
func requireCancelEntry(t *testing.T, item map[string]any) {
	t.Helper()
	fields := make([]string, 0, len(item))
	for k := range item {
		fields = append(fields, k)
	}
	require.ElementsMatch(t, []string{"id", "occurred_at", "actor", "action", "target_type", "target_id",
		"request_id", "client_request_id", "before", "after", "detail"}, fields)
	require.Equal(t, "client-chosen", item["client_request_id"])
	require.NotEqual(t, "client-chosen", item["request_id"], "the request id is Crier's")
	require.Equal(t, map[string]any{"id": "admin-1", "name": "Ada Admin", "roles": []any{"admin"}}, item["actor"])
	require.Equal(t, "SCHEDULED", item["before"].(map[string]any)["status"])
	require.Equal(t, "CANCELLED", item["after"].(map[string]any)["status"])
	require.Nil(t, item["detail"])
}

func TestAuditList(t *testing.T) {
	t.Parallel()
	ab := setupAudit(t)
	bob := withToken(issue(t, ab.secret, "bob", "Bob", []string{"ops", auth.RoleAdmin}, time.Hour, time.Now()))
	b1 := ab.create(t, createBody(t, nil))
	requireBroadcast(t, ab.do(t, http.MethodPost, path(b1.ID, "cancel"), "", withHeader(echo.HeaderXRequestID, "client-chosen")), http.StatusOK)
	b2 := ab.create(t, createBody(t, nil), bob)
	require.Equal(t, http.StatusOK, ab.do(t, http.MethodPut, "/api/v1/users/u1", `{"name": "Una"}`, bob).Code)

	list := func(t *testing.T, query url.Values) (*httptest.ResponseRecorder, auditPage) {
		t.Helper()
		rec := ab.do(t, http.MethodGet, "/api/v1/audit?"+query.Encode(), "")
		return rec, decode[auditPage](t, rec, http.StatusOK)
	}
	id1, id2 := b1.ID.String(), b2.ID.String()

	t.Run("everything, newest first, in snake_case", func(t *testing.T) {
		t.Parallel()
		rec, page := list(t, nil)
		require.Equal(t, []auditSeen{{audit.ActionUserUpsert, "u1"}, {audit.ActionBroadcastCreate, id2},
			{audit.ActionBroadcastCancel, id1}, {audit.ActionBroadcastCreate, id1}}, auditSeenOf(page))
		require.Equal(t, []string{"items"}, keys(t, rec), "no next_cursor on the last page")
		var raw struct{ Items []map[string]any }
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
		requireCancelEntry(t, raw.Items[2])
	})

	tests := []struct {
		name  string
		query url.Values
		want  []auditSeen
	}{
		{"one broadcast", url.Values{"target_type": {"broadcast"}, "target_id": {id1}},
			[]auditSeen{{audit.ActionBroadcastCancel, id1}, {audit.ActionBroadcastCreate, id1}}},
		{"users", url.Values{"target_type": {"user"}}, []auditSeen{{audit.ActionUserUpsert, "u1"}}},
		{"an actor", url.Values{"actor": {"bob"}}, []auditSeen{{audit.ActionUserUpsert, "u1"}, {audit.ActionBroadcastCreate, id2}}},
		{"an action", url.Values{"action": {"broadcast.create"}}, []auditSeen{{audit.ActionBroadcastCreate, id2}, {audit.ActionBroadcastCreate, id1}}},
		{"an actor and an action", url.Values{"actor": {"admin-1"}, "action": {"broadcast.cancel"}}, []auditSeen{{audit.ActionBroadcastCancel, id1}}},
		{"nothing matches", url.Values{"actor": {"nobody"}}, []auditSeen{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, page := list(t, tt.query)
			require.Equal(t, tt.want, auditSeenOf(page))
			require.Empty(t, page.NextCursor)
		})
	}

	t.Run("pages", func(t *testing.T) {
		t.Parallel()
		_, all := list(t, nil)
		var ids []int64
		query := url.Values{"limit": {"1"}}
		for pages := 1; ; pages++ {
			require.LessOrEqual(t, pages, 4)
			_, page := list(t, query)
			require.Len(t, page.Items, 1)
			ids = append(ids, page.Items[0].ID)
			if page.NextCursor == "" {
				break
			}
			query.Set("cursor", page.NextCursor)
		}
		want := []int64{}
		for _, e := range all.Items {
			want = append(want, e.ID)
		}
		require.Equal(t, want, ids)
	})
}

func TestAuditListBadQuery(t *testing.T) {
	t.Parallel()
	ab := setupAudit(t)
	tests := []struct{ query, detail string }{
		{"target_type=group", `target_type "group" is not one of`},
		{"action=broadcast.delete", `action "broadcast.delete" is not one of`},
		{"limit=0", "limit must be a whole number from 1 to 200"},
		{"limit=201", "limit must be a whole number from 1 to 200"},
		{"limit=ten", "limit must be a whole number from 1 to 200"},
		{"cursor=not-ours", "cursor is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			requireProblem(t, ab.do(t, http.MethodGet, "/api/v1/audit?"+tt.query, ""), http.StatusBadRequest, tt.detail)
		})
	}
}
