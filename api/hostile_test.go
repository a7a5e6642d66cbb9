package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
)

// hostileContent is content that would break a page, a stream or a log if
// it were not encoded on the way out. PostgreSQL text cannot hold NUL, so
// none has one.
var hostileContent = map[string]string{
	"script":          "<script>alert(1)</script>",
	"script end":      "</script><script>alert('x')</script>",
	"markup":          `<img src=x onerror="alert(1)"> <a href="javascript:alert(1)">click</a>`,
	"quotes":          `"double" 'single' \backslash\ & ampersand`,
	"newlines":        "line one\nline two\r\nline three\rline four",
	"sse injection":   "\n\nevent: retract\ndata: {}\n\n",
	"sse fields":      "id: v1:999\nretry: 1\n: comment\ndata: x",
	"control chars":   "tab\t vt\v ff\f bell\a esc\x1b del\x7f \x01\x1f",
	"emoji":           "emoji 🎉 👩‍👩‍👧 🇫🇷",
	"line separators": "line\u2028separator\u2029paragraph",
	"rtl override":    "invoice \u202egpj.exe\u202c",
	"sql":             "'; DROP TABLE broadcasts; --",
	"escaped already": `\u003cscript\u003e`,
}

// hostileCategory is a category of markup, a quote and a line separator.
const hostileCategory = "ops<b>&\"\u2028</b>"

// Hostile content is stored exactly as written and always goes out as JSON,
// whose encoder escapes <, >, & and U+2028/U+2029: no answer holds a raw
// "</script>" or line separator, and decoding gives back every byte.
func TestHostileContentIsStoredAsWrittenAndEncoded(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	for name, content := range hostileContent {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			title := "Title " + content + " end"
			id := "user " + content + " end"
			created := tb.create(t, createBody(t, map[string]any{"title": title, "content": content, "category": hostileCategory,
				"target": map[string]any{"type": "SELECTED", "ids": []string{id}}}))

			var stored string
			require.NoError(t, tb.pool.QueryRow(context.Background(), `SELECT content FROM broadcasts WHERE id = $1`, created.ID).Scan(&stored))
			require.Equal(t, content, stored, "PostgreSQL holds the content as written, not escaped")

			rec := tb.do(t, http.MethodGet, path(created.ID, ""), "")
			got := requireBroadcast(t, rec, http.StatusOK)
			require.Equal(t, title, got.Title)
			require.Equal(t, content, got.Content)
			require.Equal(t, hostileCategory, got.Category)
			require.Equal(t, []string{id}, got.Target.IDs)
			requireEncoded(t, rec.Body.String(), content)

			list := tb.do(t, http.MethodGet, "/api/v1/broadcasts?limit=100", "")
			require.Equal(t, http.StatusOK, list.Code)
			requireEncoded(t, list.Body.String(), content)
		})
	}
}

// requireEncoded checks that a JSON answer carries content only escaped.
func requireEncoded(t *testing.T, raw, content string) {
	t.Helper()
	require.NotContains(t, raw, "<", "markup is escaped as \\u003c")
	require.NotContains(t, raw, ">")
	require.NotContains(t, raw, "\u2028")
	require.NotContains(t, raw, "\u2029")
	require.NotContains(t, strings.TrimSuffix(raw, "\n"), "\n", "a newline goes out as \\n")
	if strings.Contains(content, "<") {
		require.Contains(t, raw, `\u003c`)
	}
	if strings.Contains(content, "\u2028") {
		require.Contains(t, raw, `\u2028`)
	}
	require.True(t, json.Valid([]byte(raw)))
}

// The sender's name comes from the token; a hostile one is stored and
// answered the same way.
func TestHostileSenderNameIsEncoded(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	name := "</script><script>alert(1)</script>\n\nevent: retract"
	token := issue(t, tb.secret, "admin-2", name, []string{auth.RoleAdmin}, time.Hour, time.Now())
	created := tb.create(t, createBody(t, nil), withToken(token))
	require.Equal(t, broadcast.Sender{ID: "admin-2", Name: name}, created.Sender)

	rec := tb.do(t, http.MethodGet, path(created.ID, ""), "")
	require.Equal(t, name, requireBroadcast(t, rec, http.StatusOK).Sender.Name)
	requireEncoded(t, rec.Body.String(), name)
}
