package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// stream builds govulncheck JSON output: a config at scanLevel, then the
// given findings (each already a JSON object).
func stream(scanLevel string, findings ...string) string {
	msgs := []string{`{"config":{"protocol_version":"v1.0.0","go_version":"go1.26.8","scan_level":"` + scanLevel + `","db_last_modified":"2026-11-05T23:49:57Z"}}`,
		`{"progress":{"message":"Scanning your code"}}`,
		`{"osv":{"id":"GO-2026-6617","summary":"net/http: a flaw"}}`}
	for _, f := range findings {
		msgs = append(msgs, `{"finding":`+f+`}`)
	}
	return strings.Join(msgs, "\n")
}

const (
	stdlibCalled   = `{"osv":"GO-2026-6617","fixed_version":"v1.26.9","trace":[{"module":"stdlib","version":"v1.26.8","package":"net/http","function":"ReadRequest"},{"module":"github.com/crier/crier","package":"github.com/crier/crier/api","function":"New"}]}`
	stdlibImported = `{"osv":"GO-2026-6617","fixed_version":"v1.26.9","trace":[{"module":"stdlib","version":"v1.26.8","package":"net/http"}]}`
	stdlibRequired = `{"osv":"GO-2026-6617","fixed_version":"v1.26.9","trace":[{"module":"stdlib","version":"v1.26.8"}]}`
	echoCalled     = `{"osv":"GO-2026-6872","trace":[{"module":"github.com/labstack/echo/v4","version":"v4.16.4","package":"github.com/labstack/echo/v4","function":"New"}]}`
)

func TestGate(t *testing.T) {
	t.Parallel()
	accepted := map[string]string{"GO-2026-6872": "Crier sets its own IP extractor"}
	tests := []struct {
		name     string
		input    string
		accepted map[string]string
		fails    bool
		says     string
	}{
		{"a called standard-library advisory fails", stream("symbol", stdlibRequired, stdlibImported, stdlibCalled), nil, true,
			"1 advisories: 1 called and not accepted, 0 called and accepted, 0 imported but not called, 0 required but not imported"},
		{"imported but not called passes", stream("symbol", stdlibRequired, stdlibImported), nil, false,
			"0 called and not accepted, 0 called and accepted, 1 imported but not called"},
		{"required only passes", stream("symbol", stdlibRequired), nil, false, "1 required but not imported"},
		{"an accepted advisory without a fix passes", stream("symbol", echoCalled), accepted, false,
			"called, accepted while no fix exists: Crier sets its own IP extractor"},
		{"an accepted advisory fails once a fix exists", stream("symbol", strings.Replace(echoCalled, `"trace"`, `"fixed_version":"v4.17.0","trace"`, 1)), accepted, true,
			"accepted, but v4.17.0 fixes it now"},
		{"acceptance is per advisory", stream("symbol", stdlibCalled, echoCalled), accepted, true, "1 called and not accepted, 1 called and accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			failed, err := gate(strings.NewReader(tt.input), tt.accepted, &out)
			require.NoError(t, err)
			require.Equal(t, tt.fails, failed, out.String())
			require.Contains(t, out.String(), tt.says)
		})
	}
}

func TestGateNeedsASymbolLevelScan(t *testing.T) {
	t.Parallel()
	_, err := gate(strings.NewReader(stream("package", stdlibImported)), nil, &strings.Builder{})
	require.ErrorContains(t, err, "symbol-level")
}

func TestReadAcceptedNeedsAReason(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "accepted.txt")
	require.NoError(t, os.WriteFile(path, []byte("# comment\n\nGO-2026-6872 no proxy middleware\n"), 0o600))
	got, err := readAccepted(path)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"GO-2026-6872": "no proxy middleware"}, got)

	require.NoError(t, os.WriteFile(path, []byte("GO-2026-6872\n"), 0o600))
	_, err = readAccepted(path)
	require.ErrorContains(t, err, "has no reason")
}
