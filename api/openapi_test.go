package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/ratelimit"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/stream"
	"github.com/crier/crier/workflows"
)

// openAPIFile is the description, as embedded and served by the API.
const openAPIFile = "openapi.yaml"

// loadOpenAPI parses the description and validates it as OpenAPI (3.1, with
// its JSON Schema 2020-12 schemas and every example checked against its
// schema).
func loadOpenAPI(t *testing.T) (*openapi3.T, []byte) {
	t.Helper()
	raw, err := os.ReadFile(openAPIFile)
	require.NoError(t, err)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	require.NoError(t, err, "%s does not parse", openAPIFile)
	require.NoError(t, doc.Validate(loader.Context, openapi3.EnableMultiError()), "%s is not valid OpenAPI", openAPIFile)
	return doc, raw
}

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// openAPIKey names a route as the description does: "GET /api/v1/broadcasts/{id}".
func openAPIKey(method, echoPath string) string {
	return method + " " + echoParam.ReplaceAllString(echoPath, "{$1}")
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	doc, _ := loadOpenAPI(t)
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.Equal(t, "Crier", doc.Info.Title)
	require.Equal(t, "1.0.0", doc.Info.Version)
	require.Contains(t, doc.Info.Description, "Authorization: Bearer")
	require.Len(t, doc.Servers, 1)
	require.Equal(t, "http://127.0.0.1:8080", doc.Servers[0].URL)

	schemes := doc.Components.SecuritySchemes
	bearer := schemes["bearerAuth"].Value
	require.Equal(t, "http", bearer.Type)
	require.Equal(t, "bearer", bearer.Scheme)
	require.Equal(t, "JWT", bearer.BearerFormat)
	cookie := schemes["cookieAuth"].Value
	require.Equal(t, []string{"apiKey", "cookie", auth.CookieName}, []string{cookie.Type, cookie.In, cookie.Name})
	ticket := schemes["streamTicket"].Value
	require.Equal(t, []string{"apiKey", "query", "ticket"}, []string{ticket.Type, ticket.In, ticket.Name})

	for _, name := range []string{"Broadcast", "Target", "Sender", "Problem", "FieldError", "InboxItem", "User", "Stats",
		"Delivery", "PresenceSummary", "AuditEntry", "DeadLetter", "DeadLetterList", "BroadcastList", "InboxPage", "DeliveryList", "AuditEntryList",
		"CreateBroadcastRequest", "RescheduleRequest", "ScheduleRequest", "RetryRequest", "UserRequest", "UserImportEntry",
		"StreamBroadcast", "StreamRetract", "StreamRead", "StreamShutdown", "StreamReset", "StreamEvent",
		"Series", "SeriesList", "Recurrence", "CreateSeriesRequest", "UpdateSeriesRequest", "CancelSeriesRequest",
		"UserList", "RoleCount", "RoleList", "AudienceCountRequest", "AudienceCount"} {
		require.Contains(t, doc.Components.Schemas, name, "components.schemas.%s", name)
	}
	// The server refuses unknown fields in every JSON request body.
	for _, name := range []string{"CreateBroadcastRequest", "TargetRequest", "RescheduleRequest", "ScheduleRequest", "RetryRequest", "UserRequest", "UserImportEntry",
		"Recurrence", "CreateSeriesRequest", "UpdateSeriesRequest", "CancelSeriesRequest", "DeliveryWindow", "AudienceCountRequest"} {
		ap := doc.Components.Schemas[name].Value.AdditionalProperties
		require.True(t, ap.Has != nil && !*ap.Has, "%s must have additionalProperties: false", name)
	}
}

// Every route in Echo's table is described with its method, and the
// description holds no route Echo does not serve; each operation names the
// role api.RequiredRole gives its route, and the answers every guarded route
// can give.
func TestOpenAPIMatchesRouteTable(t *testing.T) {
	t.Parallel()
	doc, _ := loadOpenAPI(t)
	routed := map[string]string{} // key → Echo path
	secret := []byte("route-table-test-secret-route-table")
	for _, e := range []*echo.Echo{everyRoute(secret), withMetrics(secret)} {
		for _, r := range e.Routes() {
			routed[openAPIKey(r.Method, r.Path)] = r.Path
		}
	}
	described := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			described[method+" "+path] = op
		}
	}
	for key := range routed {
		require.Contains(t, described, key, "Echo routes %s but api/openapi.yaml does not describe it", key)
	}
	for key := range described {
		require.Contains(t, routed, key, "api/openapi.yaml describes %s but Echo has no such route", key)
	}

	for key, path := range routed {
		op := described[key]
		method, _, _ := strings.Cut(key, " ")
		role, hasRole := op.Extensions["x-required-role"]
		require.NotNil(t, op.Security, "%s must declare its security", key)
		if publicRoutes[path] {
			require.Empty(t, *op.Security, "%s is public: security: []", key)
			require.False(t, hasRole, "%s is public: no x-required-role", key)
			continue
		}
		want := api.RequiredRole(method, path)
		if want == "" {
			want = "user"
		}
		require.Equal(t, want, role, "%s: x-required-role", key)
		var schemes []string
		for _, req := range *op.Security {
			for name := range req {
				schemes = append(schemes, name)
			}
		}
		require.Subset(t, schemes, []string{"bearerAuth", "cookieAuth"}, "%s", key)
		// 503: every guarded route needs PostgreSQL (or Temporal).
		statuses := []string{"401", "429", "500", "503"}
		if want != "user" {
			statuses = append(statuses, "403")
		}
		for _, status := range statuses {
			require.NotNil(t, op.Responses.Value(status), "%s must describe its %s answer", key, status)
		}
	}

	// Every error answer is a problem document, but readiness's 503 and
	// the Prometheus library's own 500.
	for key, op := range described {
		for status, resp := range op.Responses.Map() {
			if status < "400" || key == "GET /readyz" && status == "503" || key == "GET /metrics" && status == "500" {
				continue
			}
			require.NotNil(t, resp.Value.Content.Get("application/problem+json"), "%s %s must be application/problem+json", key, status)
			if status == "429" || status == "503" {
				require.Contains(t, resp.Value.Headers, "Retry-After", "%s %s", key, status)
			}
		}
	}
}

// withMetrics is the API with /metrics, which everyRoute leaves out, served
// like cmd/crier serves it.
func withMetrics(secret []byte) *echo.Echo {
	return api.New(nil, nil, api.Config{Verifier: auth.NewVerifier(secret), Metrics: specMetrics{}})
}

// specMetrics answers as Prometheus's promhttp handler does.
type specMetrics struct{}

func (specMetrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8; escaping=underscores")
	_, _ = io.WriteString(w, "# HELP crier_up Up.\n# TYPE crier_up gauge\ncrier_up 1\n")
}

// GET /openapi.yaml answers the embedded description to anyone.
func TestOpenAPIServedWithoutToken(t *testing.T) {
	t.Parallel()
	_, raw := loadOpenAPI(t)
	e := everyRoute([]byte("route-table-test-secret-route-table"))
	rec := request(e, http.MethodGet, "/openapi.yaml", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/yaml", rec.Header().Get(echo.HeaderContentType))
	require.Equal(t, raw, rec.Body.Bytes(), "the served description must be api/openapi.yaml")
	require.True(t, publicRoutes["/openapi.yaml"])
	require.Equal(t, http.StatusMethodNotAllowed, request(e, http.MethodPost, "/openapi.yaml", "").Code)
}

// Requests of every kind, through the real handlers over in-memory fakes:
// each answer (status, headers, body) must be one the description allows,
// and each request must be valid, or invalid, by the description as the
// server judges it.
func TestOpenAPIResponsesConform(t *testing.T) {
	registerOpenAPIDecoders()
	doc, _ := loadOpenAPI(t)
	closeObjectSchemas(doc)
	env := newConformEnv(t)
	answered := map[string]bool{}
	for _, tc := range slices.Concat(env.createCases(), env.broadcastCases(), env.deadLetterCases(), env.userCases()) {
		srv := tc.e
		if srv == nil {
			srv = env.e
		}
		answered[checkConformance(t, doc, srv, tc)] = true
	}
	answered[checkReadinessDown(t, doc, env)] = true
	logUnexercised(t, doc, answered)
}

// validity is how the description must judge a conformance case's request.
type validity int

const (
	// anyRequest: the server refuses it for a reason the description does
	// not express (a token, a size, a header), so either judgement goes.
	anyRequest validity = iota
	validRequest
	invalidRequest
)

// conformCase is one request of TestOpenAPIResponsesConform and the status
// it must be answered; e is the API it goes to (nil: conformEnv.e).
type conformCase struct {
	name         string
	e            *echo.Echo
	method, path string
	body         string
	header       map[string]string
	token        string
	status       int
	request      validity
}

// conformEnv is what TestOpenAPIResponsesConform's requests go to: the API
// over in-memory fakes, twice more with tight rate limits, the switches of
// its readiness check, and a token for each kind of caller.
type conformEnv struct {
	now                      time.Time
	e, byAddress, byUser     *echo.Echo
	notReady                 atomic.Bool
	later                    atomic.Int64 // how far the API's clock is ahead, so a cached readiness goes stale
	admin, alice, uma, crowd string
}

func newConformEnv(t *testing.T) *conformEnv {
	t.Helper()
	secret := []byte("openapi-conformance-secret-0123456789")
	env := &conformEnv{now: time.Now().UTC()}
	token := func(sub, name string, roles ...string) string {
		tok, err := auth.Issue(secret, sub, name, roles, time.Hour, env.now)
		require.NoError(t, err)
		return tok
	}
	env.admin, env.alice, env.uma, env.crowd = token("root", "Root", auth.RoleAdmin), token("alice", "Alice", api.RoleBroadcaster),
		token("uma", "", "ops"), token("crowd", "", "ops")

	st := newSpecStore(env.now)
	cfg := func(sec api.SecurityConfig) api.Config {
		return api.Config{
			Verifier: auth.NewVerifier(secret),
			Clock:    func() time.Time { return time.Now().Add(time.Duration(env.later.Load())) },
			Logger:   slog.New(slog.DiscardHandler),
			Ready: []api.Check{{Name: "postgres", Check: func(context.Context) error {
				if env.notReady.Load() {
					return errors.New("connection refused")
				}
				return nil
			}}},
			Audience: newSpecAudience(), Presence: specPresence{}, Audit: newSpecAuditor(), DeadLetters: newSpecDeadLetters(env.now),
			Users:    api.UserConfig{Inbox: specInbox{}, Streams: specStreams{}, Tickets: specTickets{}},
			Security: sec,
			Metrics:  specMetrics{},
		}
	}
	env.e = api.New(st, &specWorkflows{store: st}, cfg(api.SecurityConfig{}))
	slow := ratelimit.Limit{PerSecond: 0.001, Burst: 1}
	env.byAddress = api.New(st, &specWorkflows{store: st}, cfg(api.SecurityConfig{PerAddress: slow}))
	env.byUser = api.New(st, &specWorkflows{store: st}, cfg(api.SecurityConfig{PerUser: slow, StreamConnects: slow}))
	return env
}

// at is the time d from the environment's now, as a request writes it.
func (env *conformEnv) at(d time.Duration) string { return env.now.Add(d).Format(time.RFC3339) }

// jsonCT is the header of a JSON body.
var jsonCT = map[string]string{"Content-Type": "application/json"}

// hugeBody is a JSON body over every limit.
var hugeBody = `{"title":"x","content":"` + strings.Repeat("a", 1<<20) + `","target":{"type":"ALL"}}`

// createCases are the public routes and the creation of broadcasts.
func (env *conformEnv) createCases() []conformCase {
	withKey := func(key string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "Idempotency-Key": key}
	}
	create := `{"title":"Maintenance","content":"Down tonight.","category":"ops","priority":"HIGH",` +
		`"target":{"type":"ROLE","ids":["ops"]},"scheduled_at":"` + env.at(time.Hour) + `","expires_at":"` + env.at(2*time.Hour) + `"}`
	return []conformCase{
		{"healthz", nil, "GET", "/healthz", "", nil, "", 200, validRequest},
		{"readyz", nil, "GET", "/readyz", "", nil, "", 200, validRequest},
		{"readyz to an admin", nil, "GET", "/readyz", "", nil, env.admin, 200, validRequest},
		{"openapi.yaml", nil, "GET", "/openapi.yaml", "", nil, "", 200, validRequest},
		{"metrics", nil, "GET", "/metrics", "", nil, "", 200, validRequest},

		{"create", nil, "POST", "/api/v1/broadcasts", create, withKey("k1"), env.admin, 201, validRequest},
		{"create retried", nil, "POST", "/api/v1/broadcasts", create, withKey("k1"), env.admin, 200, validRequest},
		{"create key reused", nil, "POST", "/api/v1/broadcasts", strings.Replace(create, "HIGH", "LOW", 1), withKey("k1"), env.admin, 422, validRequest},
		{"create now for all", nil, "POST", "/api/v1/broadcasts", `{"title":"Hi","content":"Live.","target":{"type":"ALL"}}`, jsonCT, env.alice, 201, validRequest},
		{"create draft", nil, "POST", "/api/v1/broadcasts", `{"title":"D","content":"Later","target":{"type":"SELECTED","ids":["u1"]},"draft":true}`, jsonCT, env.admin, 201, validRequest},
		{"create malformed", nil, "POST", "/api/v1/broadcasts", `{"title":`, jsonCT, env.admin, 400, invalidRequest},
		{"create unknown field", nil, "POST", "/api/v1/broadcasts", `{"title":"a","content":"b","target":{"type":"ALL"},"colour":"red"}`, jsonCT, env.admin, 400, invalidRequest},
		{"create unknown target field", nil, "POST", "/api/v1/broadcasts", `{"title":"a","content":"b","target":{"type":"ALL","who":1}}`, jsonCT, env.admin, 400, invalidRequest},
		{"create bad time", nil, "POST", "/api/v1/broadcasts", `{"title":"a","content":"b","target":{"type":"ALL"},"expires_at":"tomorrow"}`, jsonCT, env.admin, 400, anyRequest},
		{"create no body", nil, "POST", "/api/v1/broadcasts", "", jsonCT, env.admin, 400, invalidRequest},
		{"create long key", nil, "POST", "/api/v1/broadcasts", create, withKey(strings.Repeat("k", 256)), env.admin, 400, invalidRequest},
		{"create invalid", nil, "POST", "/api/v1/broadcasts", `{"title":"a","content":"","priority":"SOON","target":{"type":"ALL"}}`, jsonCT, env.admin, 422, invalidRequest},
		{"create many invalid", nil, "POST", "/api/v1/broadcasts", `{"title":"a","content":"b","target":{"type":"SELECTED","ids":[` + strings.Repeat(`"",`, 24) + `""]}}`, jsonCT, env.admin, 422, anyRequest},
		{"create as text", nil, "POST", "/api/v1/broadcasts", create, map[string]string{"Content-Type": "text/plain"}, env.admin, 415, invalidRequest},
		{"create cross-site", nil, "POST", "/api/v1/broadcasts", create, map[string]string{"Content-Type": "application/json",
			"Origin": "https://evil.example", "Cookie": auth.CookieName + "=" + env.admin}, "", 403, anyRequest},
		{"create expiry first", nil, "POST", "/api/v1/broadcasts", `{"title":"a","content":"b","target":{"type":"ALL"},"scheduled_at":"` + env.at(2*time.Hour) + `","expires_at":"` + env.at(time.Hour) + `"}`, jsonCT, env.admin, 422, validRequest},
		{"create too large", nil, "POST", "/api/v1/broadcasts", hugeBody, jsonCT, env.admin, 413, anyRequest},
		{"create temporal down", nil, "POST", "/api/v1/broadcasts", `{"title":"unavailable","content":"b","target":{"type":"ALL"}}`, jsonCT, env.admin, 503, validRequest},
		{"create no token", nil, "POST", "/api/v1/broadcasts", create, jsonCT, "", 401, anyRequest},
		{"create bad token", nil, "POST", "/api/v1/broadcasts", create, jsonCT, "abc.def.ghi", 401, anyRequest},
		{"create no role", nil, "POST", "/api/v1/broadcasts", create, jsonCT, env.uma, 403, validRequest},
	}
}

// broadcastCases read and change the broadcasts createCases made (and the
// fakes hold).
func (env *conformEnv) broadcastCases() []conformCase {
	b := func(id uuid.UUID) string { return "/api/v1/broadcasts/" + id.String() }
	return []conformCase{
		{"list", nil, "GET", "/api/v1/broadcasts?status=SCHEDULED,sent&status=DRAFT&limit=2", "", nil, env.admin, 200, validRequest},
		{"list own", nil, "GET", "/api/v1/broadcasts", "", nil, env.alice, 200, validRequest},
		{"list bad status", nil, "GET", "/api/v1/broadcasts?status=NOPE", "", nil, env.admin, 400, validRequest},
		{"list bad limit", nil, "GET", "/api/v1/broadcasts?limit=0", "", nil, env.admin, 400, invalidRequest},
		{"list bad cursor", nil, "GET", "/api/v1/broadcasts?cursor=bad", "", nil, env.admin, 400, validRequest},
		{"list filtered", nil, "GET", "/api/v1/broadcasts?priority=normal,HIGH&category=general&category=ops&sender=root&q=Body&series_id=" +
			uuid.NewString(), "", nil, env.admin, 200, validRequest},
		{"list searched", nil, "GET", "/api/v1/broadcasts?q=body%20of&status=SENT", "", nil, env.admin, 200, validRequest},
		{"list another sender's", nil, "GET", "/api/v1/broadcasts?sender=root", "", nil, env.alice, 200, validRequest},
		{"list bad priority", nil, "GET", "/api/v1/broadcasts?priority=SOON", "", nil, env.admin, 400, validRequest},
		{"list bad category", nil, "GET", "/api/v1/broadcasts?category=" + strings.Repeat("c", 65), "", nil, env.admin, 400, validRequest},
		{"list bad sender", nil, "GET", "/api/v1/broadcasts?sender=a%00b", "", nil, env.admin, 400, validRequest},
		{"list bad series", nil, "GET", "/api/v1/broadcasts?series_id=nope", "", nil, env.admin, 400, anyRequest},
		{"list long search", nil, "GET", "/api/v1/broadcasts?q=" + strings.Repeat("q", 201), "", nil, env.admin, 400, invalidRequest},
		{"get", nil, "GET", b(specScheduled), "", nil, env.admin, 200, validRequest},
		{"get failed", nil, "GET", b(specFailed), "", nil, env.admin, 200, validRequest},
		{"get draft", nil, "GET", b(specDraft), "", nil, env.admin, 200, validRequest},
		{"get unknown", nil, "GET", b(uuid.New()), "", nil, env.admin, 404, validRequest},
		{"get malformed id", nil, "GET", "/api/v1/broadcasts/nope", "", nil, env.admin, 404, anyRequest},
		{"get another's", nil, "GET", b(specScheduled), "", nil, env.alice, 404, validRequest},
		{"get store down", nil, "GET", b(specBroken), "", nil, env.admin, 500, validRequest},
		{"get postgres down", nil, "GET", b(specPostgresOff), "", nil, env.admin, 503, validRequest},

		{"cancel", nil, "POST", b(specScheduled) + "/cancel", "", nil, env.admin, 200, validRequest},
		{"cancel again", nil, "POST", b(specScheduled) + "/cancel", "", nil, env.admin, 200, validRequest},
		{"cancel expired", nil, "POST", b(specExpired) + "/cancel", "", nil, env.admin, 409, validRequest},
		{"cancel temporal down", nil, "POST", b(specUnavailable) + "/cancel", "", nil, env.admin, 503, validRequest},

		{"reschedule", nil, "POST", b(specSent) + "/reschedule", `{"expires_at":"` + env.at(3*time.Hour) + `"}`, jsonCT, env.admin, 200, validRequest},
		{"reschedule published", nil, "POST", b(specSent) + "/reschedule", `{"scheduled_at":"` + env.at(time.Hour) + `"}`, jsonCT, env.admin, 409, validRequest},
		{"reschedule into the past", nil, "POST", b(specUnavailable) + "/reschedule", `{"scheduled_at":"` + env.at(-time.Hour) + `"}`, jsonCT, env.admin, 409, validRequest},
		{"reschedule nothing", nil, "POST", b(specSent) + "/reschedule", `{}`, jsonCT, env.admin, 422, invalidRequest},
		{"reschedule unknown field", nil, "POST", b(specSent) + "/reschedule", `{"when":"now"}`, jsonCT, env.admin, 400, invalidRequest},
		{"reschedule no body", nil, "POST", b(specSent) + "/reschedule", "", jsonCT, env.admin, 400, invalidRequest},
		{"reschedule too large", nil, "POST", b(specSent) + "/reschedule", hugeBody, jsonCT, env.admin, 413, anyRequest},
		{"reschedule temporal down", nil, "POST", b(specUnavailable) + "/reschedule", `{"expires_at":"` + env.at(3*time.Hour) + `"}`, jsonCT, env.admin, 503, validRequest},
		{"reschedule by broadcaster", nil, "POST", b(specSent) + "/reschedule", `{"expires_at":"` + env.at(3*time.Hour) + `"}`, jsonCT, env.alice, 403, validRequest},
		{"schedule draft", nil, "POST", b(specDraft) + "/schedule", "", nil, env.admin, 200, validRequest},
		{"schedule again", nil, "POST", b(specDraft) + "/schedule", "", nil, env.admin, 409, validRequest},
		{"schedule passed draft", nil, "POST", b(specPastDraft) + "/schedule", `{}`, jsonCT, env.admin, 422, validRequest},
		{"schedule temporal down", nil, "POST", b(specDraftDown) + "/schedule", `{"expires_at":"` + env.at(time.Hour) + `"}`, jsonCT, env.admin, 503, validRequest},
		{"schedule unknown", nil, "POST", b(uuid.New()) + "/schedule", "", nil, env.admin, 404, validRequest},
		{"cancel unknown", nil, "POST", b(uuid.New()) + "/cancel", "", nil, env.admin, 404, validRequest},
		{"reschedule unknown", nil, "POST", b(uuid.New()) + "/reschedule", `{"expires_at":"` + env.at(time.Hour) + `"}`, jsonCT, env.admin, 404, validRequest},
		{"schedule unknown field", nil, "POST", b(specPastDraft) + "/schedule", `{"draft":false}`, jsonCT, env.admin, 400, invalidRequest},
		{"retry not failed", nil, "POST", b(specSent) + "/retry", "", nil, env.admin, 409, validRequest},
		{"retry unknown field", nil, "POST", b(specFailed) + "/retry", `{"when":"now"}`, jsonCT, env.admin, 400, invalidRequest},
		{"retry bad expiry", nil, "POST", b(specFailed) + "/retry", `{"expires_at":"` + env.at(-time.Hour) + `"}`, jsonCT, env.admin, 422, validRequest},
		{"retry by broadcaster", nil, "POST", b(specFailed) + "/retry", "", nil, env.alice, 403, validRequest},
		{"retry unknown", nil, "POST", b(uuid.New()) + "/retry", "", nil, env.admin, 404, validRequest},
		{"retry", nil, "POST", b(specFailed) + "/retry", "", nil, env.admin, 200, validRequest},
		{"retry again", nil, "POST", b(specFailed) + "/retry", "", nil, env.admin, 409, validRequest},

		{"stats counted", nil, "GET", b(specSent) + "/stats", "", nil, env.admin, 200, validRequest},
		{"stats not counted", nil, "GET", b(specScheduled) + "/stats", "", nil, env.admin, 200, validRequest},
		{"stats unknown", nil, "GET", b(uuid.New()) + "/stats", "", nil, env.admin, 404, validRequest},
		{"deliveries", nil, "GET", b(specSent) + "/deliveries?limit=500", "", nil, env.admin, 200, validRequest},
		{"deliveries last page", nil, "GET", b(specSent) + "/deliveries?cursor=next", "", nil, env.admin, 200, validRequest},
		{"deliveries bad limit", nil, "GET", b(specSent) + "/deliveries?limit=501", "", nil, env.admin, 400, invalidRequest},
		{"deliveries bad cursor", nil, "GET", b(specSent) + "/deliveries?cursor=bad", "", nil, env.admin, 400, validRequest},
		{"deliveries unknown", nil, "GET", b(uuid.New()) + "/deliveries", "", nil, env.admin, 404, validRequest},
	}
}

// userCases are the users' directory, the routes of a user's own inbox and
// stream, the rate limits, and (last) the audit log's entries.
func (env *conformEnv) userCases() []conformCase {
	return []conformCase{
		{"put user", nil, "PUT", "/api/v1/users/dave", `{"name":"Dave","roles":["ops","oncall"]}`, jsonCT, env.admin, 200, validRequest},
		{"put user again", nil, "PUT", "/api/v1/users/dave", `{"name":"David","roles":["ops"]}`, jsonCT, env.admin, 200, validRequest},
		{"put user with a slash", nil, "PUT", "/api/v1/users/team%2Fbot", `{"roles":null}`, jsonCT, env.admin, 200, validRequest},
		{"put user bad role", nil, "PUT", "/api/v1/users/dave", `{"name":"Dave","roles":[""]}`, jsonCT, env.admin, 422, invalidRequest},
		{"put user unknown field", nil, "PUT", "/api/v1/users/dave", `{"id":"dave"}`, jsonCT, env.admin, 400, invalidRequest},
		{"get user", nil, "GET", "/api/v1/users/dave", "", nil, env.admin, 200, validRequest},
		{"get unknown user", nil, "GET", "/api/v1/users/nobody", "", nil, env.admin, 404, validRequest},
		{"import", nil, "POST", "/api/v1/users/import", `[{"id":"erin","name":"Erin","roles":["sales"]},{"id":"frank","roles":["ops"]}]`, jsonCT, env.admin, 200, validRequest},
		{"import no content type", nil, "POST", "/api/v1/users/import", `[]`, nil, env.admin, 415, anyRequest},
		{"import empty no content type", nil, "POST", "/api/v1/users/import", "", nil, env.admin, 400, anyRequest},
		{"import ndjson", nil, "POST", "/api/v1/users/import", "{\"id\":\"gina\"}\n{\"id\":\"hal\",\"roles\":[\"ops\"]}\n", map[string]string{"Content-Type": "application/x-ndjson"}, env.admin, 200, validRequest},
		{"import csv", nil, "POST", "/api/v1/users/import", "id\nerin\n", map[string]string{"Content-Type": "text/csv"}, env.admin, 415, invalidRequest},
		{"import not an array", nil, "POST", "/api/v1/users/import", `{"id":"erin"}`, jsonCT, env.admin, 400, invalidRequest},
		{"import unknown field", nil, "POST", "/api/v1/users/import", `[{"id":"erin","email":"e@example.com"}]`, jsonCT, env.admin, 400, invalidRequest},
		{"import invalid", nil, "POST", "/api/v1/users/import", `[{"id":""}]`, jsonCT, env.admin, 422, invalidRequest},
		{"list users", nil, "GET", "/api/v1/users?q=A&role=ops&limit=1", "", nil, env.admin, 200, validRequest},
		{"list users next page", nil, "GET", "/api/v1/users?q=A&role=ops&limit=1&cursor=next", "", nil, env.admin, 200, validRequest},
		{"list users by a broadcaster", nil, "GET", "/api/v1/users", "", nil, env.alice, 200, validRequest},
		{"list users bad cursor", nil, "GET", "/api/v1/users?cursor=bad", "", nil, env.admin, 400, validRequest},
		{"list users bad limit", nil, "GET", "/api/v1/users?limit=101", "", nil, env.admin, 400, invalidRequest},
		{"list users long search", nil, "GET", "/api/v1/users?q=" + strings.Repeat("q", 201), "", nil, env.admin, 400, invalidRequest},
		{"list users bad role", nil, "GET", "/api/v1/users?role=%FF", "", nil, env.admin, 400, validRequest},
		{"list users as user", nil, "GET", "/api/v1/users", "", nil, env.uma, 403, validRequest},
		{"roles", nil, "GET", "/api/v1/roles", "", nil, env.alice, 200, validRequest},
		{"roles as user", nil, "GET", "/api/v1/roles", "", nil, env.uma, 403, validRequest},
		{"count", nil, "POST", "/api/v1/audience/count", `{"target":{"type":"ROLE","ids":["ops"," ops","sales"]}}`, jsonCT, env.alice, 200, validRequest},
		{"count all", nil, "POST", "/api/v1/audience/count", `{"target":{"type":"ALL"}}`, jsonCT, env.admin, 200, validRequest},
		{"count invalid target", nil, "POST", "/api/v1/audience/count", `{"target":{"type":"SELECTED","ids":[]}}`, jsonCT, env.admin, 422, validRequest},
		{"count no target", nil, "POST", "/api/v1/audience/count", `{}`, jsonCT, env.admin, 422, invalidRequest},
		{"count malformed", nil, "POST", "/api/v1/audience/count", `{"target":`, jsonCT, env.admin, 400, invalidRequest},
		{"count unknown field", nil, "POST", "/api/v1/audience/count", `{"target":{"type":"ALL"},"draft":true}`, jsonCT, env.admin, 400, invalidRequest},
		{"count no body", nil, "POST", "/api/v1/audience/count", "", jsonCT, env.admin, 400, invalidRequest},
		{"count as text", nil, "POST", "/api/v1/audience/count", `{"target":{"type":"ALL"}}`, map[string]string{"Content-Type": "text/plain"}, env.admin, 415, invalidRequest},
		{"count as user", nil, "POST", "/api/v1/audience/count", `{"target":{"type":"ALL"}}`, jsonCT, env.uma, 403, validRequest},
		{"presence", nil, "GET", "/api/v1/admin/presence", "", nil, env.admin, 200, validRequest},
		{"presence as user", nil, "GET", "/api/v1/admin/presence", "", nil, env.uma, 403, validRequest},

		{"inbox", nil, "GET", "/api/v1/me/broadcasts?unread=false&limit=100", "", nil, env.uma, 200, validRequest},
		{"inbox unread", nil, "GET", "/api/v1/me/broadcasts?unread=true", "", nil, env.uma, 200, validRequest},
		{"inbox bad unread", nil, "GET", "/api/v1/me/broadcasts?unread=maybe", "", nil, env.uma, 400, invalidRequest},
		{"inbox bad limit", nil, "GET", "/api/v1/me/broadcasts?limit=101", "", nil, env.uma, 400, invalidRequest},
		{"inbox bad cursor", nil, "GET", "/api/v1/me/broadcasts?cursor=bad", "", nil, env.uma, 400, validRequest},
		{"inbox no token", nil, "GET", "/api/v1/me/broadcasts", "", nil, "", 401, anyRequest},
		{"read", nil, "POST", "/api/v1/me/broadcasts/" + specSent.String() + "/read", "", nil, env.uma, 200, validRequest},
		{"read unknown", nil, "POST", "/api/v1/me/broadcasts/" + uuid.NewString() + "/read", "", nil, env.uma, 404, validRequest},
		{"read all", nil, "POST", "/api/v1/me/broadcasts/read-all", "", nil, env.uma, 200, validRequest},
		{"read all cross-site", nil, "POST", "/api/v1/me/broadcasts/read-all", "", map[string]string{"Sec-Fetch-Site": "cross-site",
			"Cookie": auth.CookieName + "=" + env.uma}, "", 403, anyRequest},
		{"stream ticket", nil, "POST", "/api/v1/me/stream-ticket", "", nil, env.uma, 201, validRequest},
		{"stream", nil, "GET", "/api/v1/me/stream", "", map[string]string{"Last-Event-ID": "v1:41.-1.7"}, env.uma, 200, validRequest},
		{"stream with ticket", nil, "GET", "/api/v1/me/stream?ticket=good&last_event_id=v1:1", "", nil, "", 200, validRequest},
		{"stream with used ticket", nil, "GET", "/api/v1/me/stream?ticket=used", "", nil, "", 401, validRequest},
		{"stream no token", nil, "GET", "/api/v1/me/stream", "", nil, "", 401, anyRequest},
		{"stream too many", nil, "GET", "/api/v1/me/stream", "", nil, env.crowd, 429, validRequest},
		{"stream postgres down", nil, "GET", "/api/v1/me/stream", "", map[string]string{"Last-Event-ID": "v1:57"}, env.uma, 503, validRequest},

		{"address limit", env.byAddress, "GET", "/openapi.yaml", "", nil, "", 200, validRequest},
		{"address limit reached", env.byAddress, "GET", "/openapi.yaml", "", nil, "", 429, validRequest},
		{"readyz limited", env.byAddress, "GET", "/readyz", "", nil, "", 429, validRequest},
		{"user limit", env.byUser, "GET", "/api/v1/broadcasts", "", nil, env.admin, 200, validRequest},
		{"user limit reached", env.byUser, "GET", "/api/v1/broadcasts", "", nil, env.admin, 429, validRequest},
		{"stream limit", env.byUser, "GET", "/api/v1/me/stream", "", nil, env.uma, 200, validRequest},
		{"stream limit reached", env.byUser, "GET", "/api/v1/me/stream", "", nil, env.uma, 429, validRequest},

		// Last: the audit log's entries.
		{"audit", nil, "GET", "/api/v1/audit?limit=200", "", nil, env.admin, 200, validRequest},
		{"audit filtered", nil, "GET", "/api/v1/audit?target_type=user&action=user.upsert&actor=root&target_id=dave", "", nil, env.admin, 200, validRequest},
		{"audit bad action", nil, "GET", "/api/v1/audit?action=nope", "", nil, env.admin, 400, invalidRequest},
		{"audit bad target type", nil, "GET", "/api/v1/audit?target_type=nope", "", nil, env.admin, 400, invalidRequest},
		{"audit bad limit", nil, "GET", "/api/v1/audit?limit=201", "", nil, env.admin, 400, invalidRequest},
	}
}

// newConformRequest builds tc's request (a new one each time: validating
// reads its body).
func newConformRequest(tc conformCase) *http.Request {
	req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
	for k, v := range tc.header {
		req.Header.Set(k, v)
	}
	if tc.token != "" {
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+tc.token)
	}
	return req
}

// checkConformance sends tc to srv, requires the status it expects, and
// checks the request and the answer against the description. It returns
// the answer's key, "METHOD /path status".
func checkConformance(t *testing.T, doc *openapi3.T, srv *echo.Echo, tc conformCase) string {
	t.Helper()
	rec := recorder(srv, newConformRequest(tc))
	require.Equal(t, tc.status, rec.Code, "%s: %s %s answered %s", tc.name, tc.method, tc.path, rec.Body)

	req := newConformRequest(tc)
	route, params := findOpenAPIRoute(t, doc, req)
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	switch tc.request {
	case validRequest:
		require.NoError(t, reqErr, "%s: the description refuses a request the server takes as valid", tc.name)
	case invalidRequest:
		require.Error(t, reqErr, "%s: the description allows a request the server refuses", tc.name)
	case anyRequest:
		// Either judgement goes (see anyRequest).
	}
	resp := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: opts}
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), resp), "%s: %s %s answered %d %s",
		tc.name, tc.method, tc.path, rec.Code, truncate(rec.Body.String()))
	return fmt.Sprintf("%s %s %d", route.Method, route.Path, rec.Code)
}

// checkReadinessDown checks readiness when a dependency is down: 503 (JSON,
// not a problem). It returns the answer's key.
func checkReadinessDown(t *testing.T, doc *openapi3.T, env *conformEnv) string {
	t.Helper()
	env.notReady.Store(true)
	env.later.Store(int64(2 * time.Second))
	rec := recorder(env.e, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	route, params := findOpenAPIRoute(t, doc, req)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.Code, Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: in.Options}))
	return "GET /readyz 503"
}

// logUnexercised logs the answers the description lists that no case
// exercised.
func logUnexercised(t *testing.T, doc *openapi3.T, answered map[string]bool) {
	t.Helper()
	var missed []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				if key := fmt.Sprintf("%s %s %s", method, path, status); !answered[key] {
					missed = append(missed, key)
				}
			}
		}
	}
	sort.Strings(missed)
	t.Logf("%d answers checked against the description; described but not exercised here (%d): %s",
		len(answered), len(missed), strings.Join(missed, ", "))
}

// closeObjectSchemas forbids, for this test only, properties an object
// schema does not list, so an answer holding a field the description leaves
// out fails. (The description itself leaves answers open, for clients to
// accept fields added later.)
func closeObjectSchemas(doc *openapi3.T) {
	closed := false
	seen := map[*openapi3.Schema]bool{}
	var visit func(ref *openapi3.SchemaRef)
	visit = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if len(s.Properties) > 0 && s.AdditionalProperties.Schema == nil {
			s.AdditionalProperties.Has = &closed
		}
		for _, p := range s.Properties {
			visit(p)
		}
		visit(s.Items)
		for _, group := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
			for _, sub := range group {
				visit(sub)
			}
		}
	}
	for _, ref := range doc.Components.Schemas {
		visit(ref)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				for _, mt := range resp.Value.Content {
					visit(mt.Schema)
				}
			}
		}
	}
}

func truncate(s string) string {
	if len(s) > 500 {
		return s[:500] + "..."
	}
	return s
}

var openAPIDecoders sync.Once

// registerOpenAPIDecoders lets openapi3filter read the bodies it has no
// decoder for: the event stream and NDJSON imports, as text.
func registerOpenAPIDecoders() {
	openAPIDecoders.Do(func() {
		openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
		openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
	})
}

// findOpenAPIRoute finds the described operation of req: the path template
// whose segments match (literal segments before parameters) and that takes
// req's method, with the path parameters' values.
func findOpenAPIRoute(t *testing.T, doc *openapi3.T, req *http.Request) (*routers.Route, map[string]string) {
	t.Helper()
	segments := strings.Split(req.URL.EscapedPath(), "/")
	var (
		best       *routers.Route
		bestParams map[string]string
		bestScore  = -1
	)
	for tmpl, item := range doc.Paths.Map() {
		op := item.GetOperation(req.Method)
		parts := strings.Split(tmpl, "/")
		if op == nil || len(parts) != len(segments) {
			continue
		}
		params, score := map[string]string{}, 0
		for i, part := range parts {
			if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
				v, err := url.PathUnescape(segments[i])
				require.NoError(t, err)
				params[strings.Trim(part, "{}")] = v
				continue
			}
			if part != segments[i] {
				score = -1
				break
			}
			score++
		}
		if score > bestScore {
			best = &routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: req.Method, Operation: op}
			bestParams, bestScore = params, score
		}
	}
	require.NotNil(t, best, "no described operation for %s %s", req.Method, req.URL.Path)
	return best, bestParams
}

// The fakes behind TestOpenAPIResponsesConform: in memory, answering the way
// the real stores and Temporal client do, including their errors.

var (
	specScheduled   = uuid.MustParse("0195f4a0-0000-7000-8000-000000000001")
	specSent        = uuid.MustParse("0195f4a0-0000-7000-8000-000000000002")
	specExpired     = uuid.MustParse("0195f4a0-0000-7000-8000-000000000003")
	specDraft       = uuid.MustParse("0195f4a0-0000-7000-8000-000000000004")
	specPastDraft   = uuid.MustParse("0195f4a0-0000-7000-8000-000000000005")
	specUnavailable = uuid.MustParse("0195f4a0-0000-7000-8000-000000000006")
	specFailed      = uuid.MustParse("0195f4a0-0000-7000-8000-000000000007")
	specBroken      = uuid.MustParse("0195f4a0-0000-7000-8000-000000000008")
	specDraftDown   = uuid.MustParse("0195f4a0-0000-7000-8000-000000000009")
	specPostgresOff = uuid.MustParse("0195f4a0-0000-7000-8000-00000000000a")
)

// errSpecPostgresDown is what pgx returns for a session the server ended.
var errSpecPostgresDown = fmt.Errorf("read broadcast: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P01",
	Message: "terminating connection due to administrator command"})

type specStore struct {
	mu     sync.Mutex
	byID   map[uuid.UUID]broadcast.Broadcast
	hashes map[uuid.UUID][]byte
}

// AudienceZones: recipients in Tokyo and New York, and some nobody knows the
// zone of.
func (s *specStore) AudienceZones(context.Context, broadcast.Target) ([]string, error) {
	return []string{"Asia/Tokyo", "America/New_York", ""}, nil
}

func newSpecStore(now time.Time) *specStore {
	ptr := func(d time.Duration) *time.Time { v := now.Add(d).Truncate(time.Microsecond); return &v }
	mk := func(id uuid.UUID, status broadcast.Status, title string, sched, exp *time.Time) broadcast.Broadcast {
		return broadcast.Broadcast{ID: id, Status: status, Sender: broadcast.Sender{ID: "root", Name: "Root"}, Title: title,
			Content: "Body of " + title, Category: "general", Priority: broadcast.PriorityNormal,
			Target: broadcast.Target{Type: broadcast.TargetRole, IDs: []string{"ops"}}, ScheduledAt: sched, ExpiresAt: exp,
			CreatedAt: now.Add(-2 * time.Hour), UpdatedAt: now.Add(-2 * time.Hour), WorkflowID: broadcast.WorkflowID(id)}
	}
	sent := mk(specSent, broadcast.StatusSent, "Sent", ptr(-time.Hour), ptr(time.Hour))
	sent.PublishedAt = sent.ScheduledAt
	expired := mk(specExpired, broadcast.StatusExpired, "Expired", ptr(-2*time.Hour), ptr(-time.Hour))
	expired.PublishedAt, expired.ExpiredAt = expired.ScheduledAt, expired.ExpiresAt
	failed := mk(specFailed, broadcast.StatusFailed, "Failed", ptr(-time.Hour), ptr(time.Hour))
	failed.FailureReason = "the event is larger than the topic's max.message.bytes"
	s := &specStore{byID: map[uuid.UUID]broadcast.Broadcast{}, hashes: map[uuid.UUID][]byte{}}
	for _, b := range []broadcast.Broadcast{
		mk(specScheduled, broadcast.StatusScheduled, "Scheduled", ptr(time.Hour), ptr(2*time.Hour)), sent, expired,
		mk(specDraft, broadcast.StatusDraft, "Draft", nil, nil),
		mk(specPastDraft, broadcast.StatusDraft, "Past draft", ptr(-time.Hour), ptr(time.Hour)),
		mk(specUnavailable, broadcast.StatusScheduled, "unavailable", ptr(time.Hour), ptr(2*time.Hour)), failed,
		mk(specDraftDown, broadcast.StatusDraft, "unavailable", nil, nil),
	} {
		s.byID[b.ID] = b
	}
	return s
}

func (s *specStore) Insert(ctx context.Context, _ audit.Origin, b broadcast.Broadcast, hash []byte,
	beforeCommit func(context.Context, broadcast.Broadcast) error) (broadcast.Broadcast, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.byID[b.ID]; ok {
		if !bytes.Equal(s.hashes[b.ID], hash) {
			return old, false, store.ErrIdempotencyMismatch
		}
		return old, false, nil
	}
	if b.Target.IDs == nil {
		b.Target.IDs = []string{}
	}
	b.CreatedAt = time.Now().UTC()
	b.UpdatedAt = b.CreatedAt
	if b.Status == broadcast.StatusScheduled {
		if err := beforeCommit(ctx, b); err != nil {
			return broadcast.Broadcast{}, false, err
		}
	}
	s.byID[b.ID], s.hashes[b.ID] = b, hash
	return b, true, nil
}

func (s *specStore) Get(_ context.Context, id uuid.UUID) (broadcast.Broadcast, error) {
	switch id {
	case specBroken:
		return broadcast.Broadcast{}, errors.New("connection to PostgreSQL lost")
	case specPostgresOff:
		return broadcast.Broadcast{}, errSpecPostgresDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.byID[id]
	if !ok {
		return b, store.ErrNotFound
	}
	return b, nil
}

func (s *specStore) List(_ context.Context, p store.ListParams) ([]broadcast.Broadcast, string, error) {
	if p.Cursor != "" && p.Cursor != "next" {
		return nil, "", store.ErrBadCursor
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var page []broadcast.Broadcast
	for _, b := range s.byID {
		if listed(p, b) {
			page = append(page, b)
		}
	}
	sort.Slice(page, func(i, j int) bool { return page[i].CreatedAt.After(page[j].CreatedAt) })
	if p.Limit > 0 && len(page) > p.Limit {
		return page[:p.Limit], "next", nil
	}
	return page, "", nil
}

// listed reports whether List keeps b for p's filters, as the store's SQL
// does (its q matched with strings.Contains on lower case, near enough to
// ILIKE for these fixtures).
func listed(p store.ListParams, b broadcast.Broadcast) bool {
	text := strings.ToLower(p.Text)
	return (len(p.Statuses) == 0 || slices.Contains(p.Statuses, b.Status)) &&
		(len(p.Categories) == 0 || slices.Contains(p.Categories, b.Category)) &&
		(len(p.Priorities) == 0 || slices.Contains(p.Priorities, b.Priority)) &&
		(p.SenderID == "" || p.SenderID == b.Sender.ID) &&
		(p.SeriesID == nil || b.SeriesID != nil && *b.SeriesID == *p.SeriesID) &&
		(strings.Contains(strings.ToLower(b.Title), text) || strings.Contains(strings.ToLower(b.Content), text))
}

// update applies change to the broadcast when guard allows it.
func (s *specStore) update(id uuid.UUID, guard func(broadcast.Broadcast) bool, change func(*broadcast.Broadcast)) (store.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.byID[id]
	if !ok {
		return store.Result{}, store.ErrNotFound
	}
	if !guard(b) {
		return store.Result{Broadcast: b}, nil
	}
	change(&b)
	b.UpdatedAt = time.Now().UTC()
	s.byID[id] = b
	return store.Result{Broadcast: b, Applied: true}, nil
}

func isDraft(b broadcast.Broadcast) bool { return b.Status == broadcast.StatusDraft }

func (s *specStore) Cancel(_ context.Context, _ audit.Origin, id uuid.UUID) (store.Result, error) {
	return s.update(id, isDraft, func(b *broadcast.Broadcast) {
		now := time.Now().UTC()
		b.Status, b.CancelledAt = broadcast.StatusCancelled, &now
	})
}

func (s *specStore) RescheduleDraft(_ context.Context, _ audit.Origin, id uuid.UUID, scheduledAt, expiresAt *time.Time) (store.Result, error) {
	return s.update(id, isDraft, func(b *broadcast.Broadcast) {
		if scheduledAt != nil {
			b.ScheduledAt = scheduledAt
		}
		if expiresAt != nil {
			b.ExpiresAt = expiresAt
		}
	})
}

// ScheduleDraft starts the workflow before it commits, as the real store
// does: a workflow that cannot start leaves the draft as it was.
func (s *specStore) ScheduleDraft(ctx context.Context, _ audit.Origin, id uuid.UUID, scheduledAt, expiresAt time.Time,
	beforeCommit func(context.Context, broadcast.Broadcast) error) (store.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.byID[id]
	if !ok {
		return store.Result{}, store.ErrNotFound
	}
	if !isDraft(b) {
		return store.Result{Broadcast: b}, nil
	}
	b.Status, b.ScheduledAt, b.ExpiresAt, b.UpdatedAt = broadcast.StatusScheduled, &scheduledAt, &expiresAt, time.Now().UTC()
	if err := beforeCommit(ctx, b); err != nil {
		return store.Result{}, err
	}
	s.byID[id] = b
	return store.Result{Broadcast: b, Applied: true}, nil
}

// Retry starts the new run before it commits, as the real store does.
func (s *specStore) Retry(ctx context.Context, _ audit.Origin, id uuid.UUID, scheduledAt, expiresAt time.Time,
	beforeCommit func(context.Context, broadcast.Broadcast) error) (store.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.byID[id]
	if !ok {
		return store.Result{}, store.ErrNotFound
	}
	if !broadcast.Transitions.Allows(broadcast.OpRetry, b.Status) {
		return store.Result{Broadcast: b}, nil
	}
	b.Status, b.FailureReason, b.ScheduledAt, b.ExpiresAt, b.UpdatedAt = broadcast.StatusScheduled, "", &scheduledAt, &expiresAt, time.Now().UTC()
	if err := beforeCommit(ctx, b); err != nil {
		return store.Result{}, err
	}
	s.byID[id] = b
	return store.Result{Broadcast: b, Applied: true}, nil
}

// specWorkflows stands in for Temporal: the broadcast titled "unavailable"
// finds it down; the others change in the store as their workflow would.
type specWorkflows struct{ store *specStore }

var errSpecTemporalDown = fmt.Errorf("%w: dial tcp 127.0.0.1:7233: connection refused", workflows.ErrUnavailable)

func (w *specWorkflows) Start(_ context.Context, b broadcast.Broadcast) error {
	if b.Title == "unavailable" {
		return errSpecTemporalDown
	}
	return nil
}

// Restart starts a new run as Start does.
func (w *specWorkflows) Restart(ctx context.Context, b broadcast.Broadcast) error {
	return w.Start(ctx, b)
}

func (w *specWorkflows) Cancel(_ context.Context, _ audit.Origin, id uuid.UUID) (workflows.State, error) {
	res, err := w.store.update(id, func(b broadcast.Broadcast) bool { return b.Title != "unavailable" && !b.Status.Terminal() },
		func(b *broadcast.Broadcast) {
			now := time.Now().UTC()
			b.Status, b.CancelledAt = broadcast.StatusCancelled, &now
		})
	switch {
	case err != nil:
		return workflows.State{}, err
	case res.Broadcast.Title == "unavailable":
		return workflows.State{}, errSpecTemporalDown
	case !res.Applied:
		return workflows.State{}, workflows.ErrNotRunning
	}
	return workflows.State{Status: res.Broadcast.Status}, nil
}

func (w *specWorkflows) Reschedule(_ context.Context, id uuid.UUID, req workflows.RescheduleRequest) (workflows.State, error) {
	res, err := w.store.update(id, func(b broadcast.Broadcast) bool { return b.Title != "unavailable" && !b.Status.Terminal() },
		func(b *broadcast.Broadcast) {
			if req.ScheduledAt != nil {
				b.ScheduledAt = req.ScheduledAt
			}
			if req.ExpiresAt != nil {
				b.ExpiresAt = req.ExpiresAt
			}
		})
	switch {
	case err != nil:
		return workflows.State{}, err
	case res.Broadcast.Title == "unavailable":
		return workflows.State{}, errSpecTemporalDown
	case !res.Applied:
		return workflows.State{}, workflows.ErrNotRunning
	}
	return workflows.State{Status: res.Broadcast.Status}, nil
}

type specAudience struct {
	mu    sync.Mutex
	users map[string]audience.User
}

func newSpecAudience() *specAudience { return &specAudience{users: map[string]audience.User{}} }

func (a *specAudience) Upsert(_ context.Context, _ audit.Origin, u audience.User) (audience.User, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now().UTC()
	u.Source, u.CreatedAt, u.UpdatedAt = audience.SourceAdmin, now, now
	if old, ok := a.users[u.ID]; ok {
		u.CreatedAt = old.CreatedAt
	}
	a.users[u.ID] = u
	return u, nil
}

func (a *specAudience) Get(_ context.Context, id string) (audience.User, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[id]
	if !ok {
		return u, audience.ErrNotFound
	}
	return u, nil
}

// List filters as the directory does (text in the id or name in any
// case, a role held) and pages by "next" as specStore does.
func (a *specAudience) List(_ context.Context, p audience.ListParams) ([]audience.User, string, error) {
	switch p.Cursor {
	case "":
	case "next":
		return nil, "", nil
	default:
		return nil, "", audience.ErrBadCursor
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	text := strings.ToLower(p.Text)
	var page []audience.User
	for _, u := range a.users {
		if (strings.Contains(strings.ToLower(u.ID), text) || strings.Contains(strings.ToLower(u.Name), text)) &&
			(p.Role == "" || slices.Contains(u.Roles, p.Role)) {
			page = append(page, u)
		}
	}
	sort.Slice(page, func(i, j int) bool { return page[i].ID < page[j].ID })
	if p.Limit > 0 && len(page) > p.Limit {
		return page[:p.Limit], "next", nil
	}
	return page, "", nil
}

func (a *specAudience) Roles(context.Context) ([]audience.RoleCount, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	holders := map[string]int64{}
	for _, u := range a.users {
		for _, r := range u.Roles {
			holders[r]++
		}
	}
	out := []audience.RoleCount{}
	for r, n := range holders {
		out = append(out, audience.RoleCount{Role: r, Users: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Role < out[j].Role })
	return out, nil
}

// CountAudience counts as the directory does; SELECTED ids need not be
// known.
func (a *specAudience) CountAudience(_ context.Context, t broadcast.Target) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t.Type == broadcast.TargetSelected {
		return int64(len(t.IDs)), nil
	}
	var n int64
	for _, u := range a.users {
		if t.Targets(u.ID, u.Roles) {
			n++
		}
	}
	return n, nil
}

func (a *specAudience) Import(ctx context.Context, by audit.Origin, users []audience.User) (int, error) {
	for _, u := range users {
		if errs := u.Normalize(); len(errs) > 0 {
			return 0, &audience.ValidationError{Errors: errs}
		}
		if _, err := a.Upsert(ctx, by, u); err != nil {
			return 0, err
		}
	}
	return len(users), nil
}

func (a *specAudience) Stats(_ context.Context, id uuid.UUID) (audience.Stats, error) {
	switch id {
	case specSent:
		at := time.Now().UTC().Add(-time.Hour)
		return audience.Stats{BroadcastID: id, Targeted: 3, Counted: true, CountedAt: &at, Delivered: 2, Read: 1,
			DeliveryRate: 0.6667, ReadRate: 0.3333}, nil
	case specScheduled:
		return audience.Stats{BroadcastID: id}, nil
	}
	return audience.Stats{}, audience.ErrNotFound
}

func (a *specAudience) Deliveries(_ context.Context, id uuid.UUID, cursor string, _ int) ([]audience.Delivery, string, error) {
	switch {
	case id != specSent:
		return nil, "", audience.ErrNotFound
	case cursor == "next":
		return nil, "", nil
	case cursor != "":
		return nil, "", audience.ErrBadCursor
	}
	at := time.Now().UTC().Add(-30 * time.Minute)
	return []audience.Delivery{{UserID: "u1", Status: "DELIVERED", DeliveredAt: &at, ReadAt: &at},
		{UserID: "u2", Status: "PENDING"}}, "next", nil
}

type specPresence struct{}

func (specPresence) Summary(context.Context) (presence.Summary, error) {
	now := time.Now().UTC()
	return presence.Summary{OnlineUsers: 2, Connections: 3, At: now, StaleAfter: time.Minute, Nodes: []presence.NodeSummary{
		{NodeID: "api-1", Connections: 2, Users: 2, LastSeen: now},
		{NodeID: "api-2", Connections: 1, Users: 1, LastSeen: now.Add(-5 * time.Minute), Stale: true},
	}}, nil
}

// specAuditor serves entries as the audit log stores them. The store and
// the audience write entries in their own transactions, so the fakes above
// write none: these stand for what the cases change.
type specAuditor struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func newSpecAuditor() *specAuditor {
	root := audit.Origin{Actor: audit.Actor{ID: "root", Name: "Root", Roles: []string{auth.RoleAdmin}},
		RequestID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", ClientRequestID: "client-chosen id"}
	now := time.Now().UTC()
	at, exp := now.Add(time.Hour), now.Add(2*time.Hour)
	b := broadcast.Broadcast{ID: specSent, Status: broadcast.StatusScheduled, Sender: broadcast.Sender{ID: "root", Name: "Root"},
		Title: "Sent", Content: "Body", Category: "general", Priority: broadcast.PriorityNormal,
		Target: broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}}, ScheduledAt: &at, ExpiresAt: &exp,
		CreatedAt: now, UpdatedAt: now, WorkflowID: broadcast.WorkflowID(specSent)}
	cancelled := b
	cancelled.Status, cancelled.CancelledAt = broadcast.StatusCancelled, &now
	dave := audience.User{ID: "dave", Name: "Dave", Roles: []string{}, Source: audience.SourceToken, CreatedAt: now, UpdatedAt: now}
	daveOps := dave
	daveOps.Roles, daveOps.Source = []string{"ops"}, audience.SourceAdmin
	raw := func(v any) json.RawMessage {
		out, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return out
	}
	return &specAuditor{entries: []audit.Entry{
		{ID: 1, OccurredAt: now, Origin: root, Action: audit.ActionBroadcastCreate, TargetType: audit.TargetBroadcast,
			TargetID: specSent.String(), After: raw(b)},
		{ID: 2, OccurredAt: now, Origin: audit.Origin{Actor: root.Actor, RequestID: root.RequestID}, Action: audit.ActionUserUpsert,
			TargetType: audit.TargetUser, TargetID: "dave", Before: raw(dave), After: raw(daveOps)},
		{ID: 3, OccurredAt: now, Origin: root, Action: audit.ActionUserImport, TargetType: audit.TargetUser,
			Detail: json.RawMessage(`{"imported": 2, "roles_changed": 1}`)},
		{ID: 4, OccurredAt: now, Origin: root, Action: audit.ActionUserImport, TargetType: audit.TargetUser, TargetID: "erin",
			After: json.RawMessage(`{"roles": ["ops"]}`)},
		{ID: 5, OccurredAt: now, Origin: audit.Origin{Actor: audit.Actor{ID: "temporal-signal", Name: "temporal-signal", Roles: []string{}}},
			Action: audit.ActionBroadcastCancel, TargetType: audit.TargetBroadcast, TargetID: specSent.String(),
			Before: raw(b), After: raw(cancelled)},
	}}
}

func (a *specAuditor) List(_ context.Context, f audit.Filter) ([]audit.Entry, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var page []audit.Entry
	for i := len(a.entries) - 1; i >= 0; i-- {
		e := a.entries[i]
		if (f.Action == "" || e.Action == f.Action) && (f.TargetType == "" || e.TargetType == f.TargetType) &&
			(f.TargetID == "" || e.TargetID == f.TargetID) && (f.ActorID == "" || e.Actor.ID == f.ActorID) {
			page = append(page, e)
		}
	}
	return page, "", nil
}

type specInbox struct{}

func (specInbox) items() []inbox.Item {
	now := time.Now().UTC()
	published, expires, read := now.Add(-time.Hour), now.Add(time.Hour), now.Add(-time.Minute)
	return []inbox.Item{
		{ID: specSent, Title: "Sent", Content: "Body", Category: "general", Priority: broadcast.PriorityHigh,
			Sender: broadcast.Sender{ID: "root", Name: "Root"}, PublishedAt: &published, ExpiresAt: &expires},
		{ID: specFailed, Title: "Read", Content: "Body", Category: "ops", Priority: broadcast.PriorityLow,
			Sender: broadcast.Sender{ID: "root", Name: "Root"}, PublishedAt: &published, ExpiresAt: &expires, Read: true, ReadAt: &read},
	}
}

func (in specInbox) List(_ context.Context, _ inbox.User, p inbox.ListParams) ([]inbox.Item, string, error) {
	if p.Cursor != "" {
		return nil, "", inbox.ErrBadCursor
	}
	items := in.items()
	if p.UnreadOnly {
		items = items[:1]
	}
	return items, "", nil
}

func (in specInbox) MarkRead(_ context.Context, _ inbox.User, id uuid.UUID) (inbox.Item, error) {
	if id != specSent {
		return inbox.Item{}, inbox.ErrNotFound
	}
	it := in.items()[0]
	now := time.Now().UTC()
	it.Read, it.ReadAt = true, &now
	return it, nil
}

func (specInbox) MarkAllRead(context.Context, inbox.User) (int, error) { return 1, nil }

// specStreams refuses "crowd" (too many streams), fails to start a stream
// resuming at v1:57 (PostgreSQL down), and serves everyone else one event
// and a shutdown.
type specStreams struct{}

func (specStreams) Serve(_ context.Context, w http.ResponseWriter, u inbox.User, lastEventID string) error {
	switch {
	case u.ID == "crowd":
		return stream.ErrTooManyConnections
	case lastEventID == "v1:57":
		return fmt.Errorf("admit stream: %w", errSpecPostgresDown)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, err := io.WriteString(w, "id: v1:1\nevent: retract\ndata: {\"id\":\""+specSent.String()+"\",\"reason\":\"expired\"}\n\n"+
		"event: shutdown\nretry: 1000\ndata: {\"reason\":\"server shutting down\",\"reconnect\":true}\n\n")
	return err
}

// specTickets knows the ticket "good" only.
type specTickets struct{}

func (specTickets) Issue(context.Context, *auth.Claims) (string, time.Duration, error) {
	return "good", auth.TicketTTL, nil
}

func (specTickets) Redeem(_ context.Context, ticket string) (*auth.Claims, error) {
	if ticket != "good" {
		return nil, auth.ErrBadTicket
	}
	c := &auth.Claims{Roles: []string{"ops"}}
	c.Subject = "uma"
	return c, nil
}
