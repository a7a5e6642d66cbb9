package api_test

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/ratelimit"
)

// httpSeries counts the series of the HTTP metrics as Prometheus stores
// them (a histogram is one series per bucket, plus _sum and _count).
func httpSeries(t *testing.T) int {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.HTTPRequests, metrics.HTTPDuration)
	families, err := reg.Gather()
	require.NoError(t, err)
	n := 0
	for _, f := range families {
		for _, m := range f.GetMetric() {
			n++
			if h := m.GetHistogram(); h != nil {
				n += len(h.GetBucket()) + 2
			}
		}
	}
	return n
}

// maxNewHTTPSeries bounds the series the requests below may add, whatever
// their number: 8 method labels (7 and "other") × 2 routes ("unmatched" and
// /api/v1/broadcasts/:id) × 4 statuses (401, 404, 405, 429) for the counter,
// and 8 × 2 × 15 (12 buckets, +Inf, _sum, _count) for the histogram.
const maxNewHTTPSeries = 8*2*4 + 8*2*15

// Made-up methods and paths cannot grow the HTTP metrics, even when the
// address limiter refuses them: 2,000 requests made 32,000 series before.
// Not parallel: it counts series of package-level metrics other tests add to.
func TestHTTPMetricLabelsAreBounded(t *testing.T) {
	e := api.New(nil, nil, api.Config{Verifier: auth.NewVerifier(limitSecret),
		Security: api.SecurityConfig{PerAddress: ratelimit.Limit{PerSecond: 0.001, Burst: 500}}})
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[rng.IntN(62)]
		}
		return string(b)
	}
	before := httpSeries(t)
	refused := 0
	for i := range 1000 {
		method := word(3 + rng.IntN(8))
		if i%5 == 0 {
			method = []string{http.MethodGet, http.MethodPost, http.MethodDelete, "PROPFIND"}[rng.IntN(4)]
		}
		target := "/" + word(1+rng.IntN(40))
		if i%3 == 0 {
			target = "/api/v1/broadcasts/" + word(10)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		if rec.Code == http.StatusTooManyRequests {
			refused++
		}
	}
	added := httpSeries(t) - before
	t.Logf("1,000 requests (%d refused by the address limit) added %d series", refused, added)
	require.Equal(t, 500, refused)
	require.LessOrEqual(t, added, maxNewHTTPSeries)
}
