package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
)

// maxAnswerBytes is what an answer to hostile input must stay under.
const maxAnswerBytes = 64 << 10

// No answer grows with its input: 1 MiB of empty target ids answered 34.7 MB
// before; now 20 errors and a count of the rest. Validation fails before the
// store is touched, so none is needed.
func TestErrorAnswersStaySmall(t *testing.T) {
	t.Parallel()
	e := api.New(nil, nil, api.Config{Verifier: auth.NewVerifier(limitSecret)})
	admin, err := auth.Issue(limitSecret, "admin-1", "", []string{auth.RoleAdmin}, time.Hour, time.Now())
	require.NoError(t, err)
	send := func(method, target, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+admin)
		return recorder(e, req)
	}

	head, tail := `{"title":"t","content":"c","target":{"type":"SELECTED","ids":[`, `""]}}`
	ids := (1<<20 - len(head) - len(tail)) / 3
	body := head + strings.Repeat(`"",`, ids) + tail
	require.LessOrEqual(t, len(body), 1<<20)
	rec := send(http.MethodPost, "/api/v1/broadcasts", body)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Less(t, rec.Body.Len(), maxAnswerBytes)
	var p struct {
		Detail     string                 `json:"detail"`
		Errors     []broadcast.FieldError `json:"errors"`
		MoreErrors int                    `json:"more_errors"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Len(t, p.Errors, 20)
	require.Equal(t, ids+1-20, p.MoreErrors, "every empty id is counted")
	require.Equal(t, "target.ids[0]", p.Errors[0].Field)
	require.Contains(t, p.Detail, "more")
	t.Logf("1 MiB of %d empty ids: a %d-byte answer", ids+1, rec.Body.Len())

	huge := strings.Repeat("A", 900<<10)
	for name, tc := range map[string]struct {
		method, target, body string
		status               int
	}{
		"unknown field":     {http.MethodPost, "/api/v1/broadcasts", `{"` + huge + `":1}`, http.StatusBadRequest},
		"priority":          {http.MethodPost, "/api/v1/broadcasts", `{"title":"t","content":"c","priority":"` + huge + `","target":{"type":"ALL"}}`, http.StatusUnprocessableEntity},
		"target type":       {http.MethodPost, "/api/v1/broadcasts", `{"title":"t","content":"c","target":{"type":"` + huge + `"}}`, http.StatusUnprocessableEntity},
		"time":              {http.MethodPost, "/api/v1/broadcasts", `{"title":"t","content":"c","target":{"type":"ALL"},"expires_at":"` + huge + `"}`, http.StatusBadRequest},
		"time number":       {http.MethodPost, "/api/v1/broadcasts", `{"title":"t","content":"c","target":{"type":"ALL"},"expires_at":1` + strings.Repeat("0", 900<<10) + `}`, http.StatusBadRequest},
		"status query":      {http.MethodGet, "/api/v1/broadcasts?status=" + huge, "", http.StatusBadRequest},
		"limit query":       {http.MethodGet, "/api/v1/broadcasts?limit=" + huge, "", http.StatusBadRequest},
		"broadcast id":      {http.MethodGet, "/api/v1/broadcasts/" + huge, "", http.StatusNotFound},
		"unknown route":     {http.MethodGet, "/" + huge, "", http.StatusNotFound},
		"huge value":        {http.MethodPost, "/api/v1/broadcasts", `{"title":"t","content":"c","target":{"type":"ALL"},"colour":"` + huge + `"}`, http.StatusBadRequest},
		"unknown method":    {strings.Repeat("M", 4<<10), "/api/v1/broadcasts", "", http.StatusMethodNotAllowed},
		"many field errors": {http.MethodPost, "/api/v1/broadcasts", `{"title":"` + huge + `","content":"` + huge[:100<<10] + `","category":"` + huge[:10<<10] + `","target":{"type":"ROLE","ids":["` + huge[:10<<10] + `"]}}`, http.StatusUnprocessableEntity},
	} {
		rec := send(tc.method, tc.target, tc.body)
		require.Equal(t, tc.status, rec.Code, "%s: %.300s", name, rec.Body)
		require.Less(t, rec.Body.Len(), 4<<10, "%s: %.300s", name, rec.Body)
		var p api.Problem
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p), name)
		require.NotContains(t, p.Detail, strings.Repeat("A", 65), "%s: quoted input is cut to 64 bytes", name)
	}
}
