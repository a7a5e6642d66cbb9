package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseReadsEverySetting: parse asks for every variable in Settings
// (those another library reads aside, and CRIER_ENV_FILE, which Load reads),
// and for no other: reading one that is not there panics.
func TestParseReadsEverySetting(t *testing.T) {
	t.Parallel()
	asked := map[string]bool{}
	_, err := parse(func(key string) string { asked[key] = true; return "" })
	require.NoError(t, err)
	for _, s := range Settings {
		if s.ReadBy == "OpenTelemetry's SDK" || s.Name == "CRIER_ENV_FILE" {
			continue
		}
		require.True(t, asked[s.Name], "parse never reads %s", s.Name)
	}
	require.Panics(t, func() { (&parser{get: func(string) string { return "" }}).str("CRIER_NOT_A_SETTING") })
}

// TestReadmeListsEverySetting: the README's configuration table names
// exactly the variables in Settings, each with the same default. A row may
// name several variables; its default cell then holds one default per
// variable, comma-separated, or one that applies to all.
func TestReadmeListsEverySetting(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	documented := readmeDefaults(t, string(readme))

	var names []string
	for _, s := range Settings {
		names = append(names, s.Name)
		want := s.Shown
		if want == "" {
			want = s.Default
		}
		if want == "" {
			want = "none"
		}
		if got, ok := documented[s.Name]; ok {
			require.Equal(t, want, got, "the README's default of %s", s.Name)
		}
	}
	var listed []string
	for name := range documented {
		listed = append(listed, name)
	}
	slices.Sort(names)
	slices.Sort(listed)
	require.Equal(t, names, listed, "the README's configuration table lists other variables than Settings")
}

var backticked = regexp.MustCompile("`([A-Z0-9_*]+)`")

// readmeDefaults reads the `| Variable | Default | Meaning |` table: each
// variable's default, without backticks. Patterns such as OTEL_* are left
// out: they stand for a library's own variables.
func readmeDefaults(t *testing.T, readme string) map[string]string {
	_, table, found := strings.Cut(readme, "| Variable | Default | Meaning |\n|---|---|---|\n")
	require.True(t, found, "README.md has no configuration table")
	defaults := map[string]string{}
	for line := range strings.Lines(table) {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(line, "|")
		require.GreaterOrEqual(t, len(cells), 4, "row %q", line)
		var vars []string
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			vars = append(vars, m[1])
		}
		def := strings.TrimSpace(strings.ReplaceAll(cells[2], "`", ""))
		each := strings.Split(def, ", ")
		for i, v := range vars {
			if strings.Contains(v, "*") {
				continue
			}
			require.NotContains(t, defaults, v, "the README lists %s twice", v)
			defaults[v] = def
			if len(vars) > 1 && len(each) == len(vars) {
				defaults[v] = each[i]
			}
		}
	}
	return defaults
}
