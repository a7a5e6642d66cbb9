package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/broadcast"
)

// A broadcaster may create broadcasts, and list, read and cancel their own;
// another sender's broadcast does not exist for them, and every other admin
// route is refused.
func TestBroadcasterManagesOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	bea := withToken(issue(t, tb.secret, "bea", "Bea", []string{api.RoleBroadcaster}, time.Hour, time.Now()))
	cal := withToken(issue(t, tb.secret, "cal", "Cal", []string{api.RoleBroadcaster}, time.Hour, time.Now()))

	mine := tb.create(t, createBody(t, nil), bea)
	require.Equal(t, "bea", mine.Sender.ID)
	theirs := tb.create(t, createBody(t, nil), cal)
	adminsOwn := tb.create(t, createBody(t, nil))

	var page struct {
		Items []broadcast.Broadcast `json:"items"`
	}
	rec := tb.do(t, http.MethodGet, "/api/v1/broadcasts", "", bea)
	require.Equal(t, http.StatusOK, rec.Code)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	require.Len(t, page.Items, 1)
	require.Equal(t, mine.ID, page.Items[0].ID)

	requireBroadcast(t, tb.do(t, http.MethodGet, path(mine.ID, ""), "", bea), http.StatusOK)
	for _, other := range []broadcast.Broadcast{theirs, adminsOwn} {
		requireProblem(t, tb.do(t, http.MethodGet, path(other.ID, ""), "", bea), http.StatusNotFound, other.ID.String())
		requireProblem(t, tb.do(t, http.MethodPost, path(other.ID, "cancel"), "", bea), http.StatusNotFound, other.ID.String())
	}
	cancelled := requireBroadcast(t, tb.do(t, http.MethodPost, path(mine.ID, "cancel"), "", bea), http.StatusOK)
	require.Equal(t, broadcast.StatusCancelled, cancelled.Status)

	later := `{"scheduled_at": "` + rfc3339(tb.now.Add(2*time.Hour)) + `"}`
	for _, refused := range []struct{ method, path, body string }{
		{http.MethodPost, path(theirs.ID, "reschedule"), later},
		{http.MethodPost, path(theirs.ID, "schedule"), ""},
		{http.MethodPost, path(mine.ID, "reschedule"), later}, // even their own: admins only
	} {
		requireProblem(t, tb.do(t, refused.method, refused.path, refused.body, bea), http.StatusForbidden, "role")
	}

	// An admin still sees and manages everyone's.
	requireBroadcast(t, tb.do(t, http.MethodGet, path(theirs.ID, ""), ""), http.StatusOK)
}
