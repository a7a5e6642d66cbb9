package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/ratelimit"
	"github.com/crier/crier/internal/testenv"
)

// readyzAs asks /readyz with a bearer token ("" for none).
func readyzAs(e http.Handler, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return recorder(e, req)
}

// An anonymous caller learns ready or not, nothing about the dependencies;
// an admin's token also gets each check ok or unavailable; the raw error
// goes to neither.
func TestReadyzTellsDependenciesOnlyToAdmins(t *testing.T) {
	t.Parallel()
	e := api.New(nil, nil, api.Config{Verifier: auth.NewVerifier(limitSecret), Logger: testenv.Logger(t), Ready: []api.Check{
		{Name: "postgres", Check: func(context.Context) error { return nil }},
		{Name: "kafka", Check: func(context.Context) error { return errors.New("dial tcp 10.1.2.3:9092: connection refused") }},
	}})
	issue := func(roles ...string) string {
		tok, err := auth.Issue(limitSecret, "someone", "", roles, time.Hour, time.Now())
		require.NoError(t, err)
		return tok
	}
	for name, token := range map[string]string{"anonymous": "", "user": issue("ops"), "bad token": "abc.def.ghi"} {
		rec := readyzAs(e, token)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, name)
		require.JSONEq(t, `{"status":"not ready"}`, rec.Body.String(), name)
		require.Empty(t, rec.Header().Get("WWW-Authenticate"), name)
	}
	rec := readyzAs(e, issue(auth.RoleAdmin))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.JSONEq(t, `{"status":"not ready","checks":{"postgres":"ok","kafka":"unavailable"}}`, rec.Body.String())
}

// /readyz is limited per address like every route but /healthz.
func TestReadyzIsRateLimited(t *testing.T) {
	t.Parallel()
	e := api.New(nil, nil, api.Config{Verifier: auth.NewVerifier(limitSecret),
		Security: api.SecurityConfig{PerAddress: ratelimit.Limit{PerSecond: 0.01, Burst: 1}}})
	require.Equal(t, http.StatusOK, readyzAs(e, "").Code)
	requireTooMany(t, e, "/readyz", "")
	require.Equal(t, http.StatusOK, request(e, http.MethodGet, "/healthz", "").Code, "liveness is never limited")
}

// Concurrent callers share one round of checks, and a round is reused for
// a second: twenty callers ping each dependency once, not twenty times.
func TestReadyzSharesAndCachesChecks(t *testing.T) {
	t.Parallel()
	var (
		pings   atomic.Int32
		release = make(chan struct{})
		now     atomic.Int64
	)
	now.Store(time.Now().UnixNano())
	e := api.New(nil, nil, api.Config{
		Verifier: auth.NewVerifier(limitSecret),
		Clock:    func() time.Time { return time.Unix(0, now.Load()) },
		Ready: []api.Check{{Name: "postgres", Check: func(context.Context) error {
			if pings.Add(1) == 1 {
				<-release // a slow first round: callers that come meanwhile wait for it
			}
			return nil
		}}},
	})
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() { codes[i] = readyzAs(e, "").Code })
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if pings.Load() == 0 {
			return errors.New("the first round has not started")
		}
		return nil
	})
	close(release)
	wg.Wait()
	for _, code := range codes {
		require.Equal(t, http.StatusOK, code)
	}
	require.Equal(t, http.StatusOK, readyzAs(e, "").Code)
	require.EqualValues(t, 1, pings.Load(), "one round for every caller within the second")

	now.Add(int64(2 * time.Second))
	var answer map[string]any
	rec := readyzAs(e, "")
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &answer))
	require.Equal(t, map[string]any{"status": "ready"}, answer)
	require.EqualValues(t, 2, pings.Load(), "a stale result is checked again")
}
