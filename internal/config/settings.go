package config

import (
	"strconv"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/deadletter"
	"github.com/crier/crier/internal/series"
)

// Setting is one environment variable Crier accepts. The README's
// configuration table lists the same variables with the same defaults
// (TestReadmeListsEverySetting).
type Setting struct {
	// Name of the variable.
	Name string
	// Default is the value used when the variable is unset or empty, written
	// as an operator would set it and read by the same parser; empty when
	// there is none.
	Default string
	// Shown is the default as the README words it, where it is not a
	// single value (it depends on other settings, or on the machine); empty
	// when Default says it.
	Shown string
	// ReadBy names the library that reads the variable, for those Crier
	// passes on rather than parses.
	ReadBy string
}

// Settings are every variable Crier accepts, in the README's order. parse
// reads each default here, and refuses to read a variable that is not here.
var Settings = []Setting{
	{Name: "CRIER_ENV", Default: "development"},
	{Name: "CRIER_ENV_FILE", Default: ".dev/env", Shown: ".dev/env when it exists"},
	{Name: "DATABASE_URL", Default: "postgres://postgres@127.0.0.1:5432/crier?sslmode=disable"},
	{Name: "KAFKA_BROKERS", Default: "127.0.0.1:9092"},
	{Name: "KAFKA_SASL_MECHANISM"},
	{Name: "KAFKA_SASL_USERNAME"},
	{Name: "KAFKA_SASL_PASSWORD"},
	{Name: "KAFKA_SASL_PASSWORD_FILE"},
	{Name: "KAFKA_TLS", Default: "false"},
	{Name: "KAFKA_TLS_CA_FILE", Shown: "system roots"},
	{Name: "KAFKA_TLS_SERVER_NAME", Shown: "the broker host"},
	{Name: "KAFKA_TLS_CERT_FILE"},
	{Name: "KAFKA_TLS_KEY_FILE"},
	{Name: "CRIER_KAFKA_TOPIC", Default: "broadcast_messages"},
	{Name: "CRIER_KAFKA_PARTITIONS", Default: "6"},
	{Name: "CRIER_KAFKA_REPLICATION_FACTOR", Default: "1"},
	{Name: "CRIER_KAFKA_DEAD_LETTER_TOPIC", Default: deadletter.DefaultTopic},
	{Name: "CRIER_DEAD_LETTER_ATTEMPTS", Default: strconv.Itoa(deadletter.DefaultAttempts)},
	{Name: "TEMPORAL_ADDRESS", Default: "127.0.0.1:7233"},
	{Name: "TEMPORAL_NAMESPACE", Default: "default"},
	{Name: "TEMPORAL_TLS", Shown: "false (true with an API key)", ReadBy: readByTemporal},
	{Name: "TEMPORAL_TLS_CLIENT_CERT_PATH", ReadBy: readByTemporal},
	{Name: "TEMPORAL_TLS_CLIENT_KEY_PATH", ReadBy: readByTemporal},
	{Name: "TEMPORAL_TLS_CLIENT_CERT_DATA", ReadBy: readByTemporal},
	{Name: "TEMPORAL_TLS_CLIENT_KEY_DATA", ReadBy: readByTemporal},
	{Name: "TEMPORAL_TLS_SERVER_CA_CERT_PATH", Shown: "system roots", ReadBy: readByTemporal},
	{Name: "TEMPORAL_TLS_SERVER_NAME", Shown: "the host", ReadBy: readByTemporal},
	{Name: "TEMPORAL_TLS_SERVER_CA_CERT_DATA", ReadBy: readByTemporal},
	{Name: "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", Shown: "false", ReadBy: readByTemporal},
	{Name: "TEMPORAL_CLIENT_AUTHORITY", Shown: "the address", ReadBy: readByTemporal},
	{Name: "TEMPORAL_API_KEY", ReadBy: readByTemporal},
	{Name: "CRIER_TASK_QUEUE", Default: "crier-broadcasts"},
	{Name: "CRIER_HTTP_ADDR", Default: "127.0.0.1:8080"},
	{Name: "CRIER_JWT_SECRET", Shown: "development secret, none with a JWKS"},
	{Name: "CRIER_JWKS_URL"},
	{Name: "CRIER_JWKS_FILE"},
	{Name: "CRIER_JWT_ALGORITHMS", Shown: "HS256 with a secret, + RS256,ES256 with a JWKS"},
	{Name: "CRIER_JWT_ISSUER", Shown: "not checked; required in production"},
	{Name: "CRIER_JWT_AUDIENCE", Shown: "not checked; required in production"},
	{Name: "CRIER_JWT_ROLES_CLAIM", Default: auth.DefaultRolesClaim},
	{Name: "CRIER_JWT_NAME_CLAIM", Default: auth.DefaultNameClaim},
	{Name: "CRIER_JWT_LEEWAY", Default: auth.DefaultLeeway.String()},
	{Name: "CRIER_OIDC_CLIENT_ID", Shown: "unset (console single sign-on off)"},
	{Name: "CRIER_OIDC_CLIENT_SECRET", Shown: "none (a public client, PKCE only)"},
	{Name: "CRIER_OIDC_ISSUER", Shown: "CRIER_JWT_ISSUER"},
	{Name: "CRIER_OIDC_REDIRECT_URL", Shown: "the address the browser used + /admin/oidc/callback"},
	{Name: "CRIER_OIDC_SCOPES", Default: "openid,profile,email"},
	{Name: "CRIER_TEMPORAL_UI_URL", Shown: "unset (no links to workflows)"},
	{Name: "CRIER_RATE_PER_ADDRESS", Default: "50:100"},
	{Name: "CRIER_RATE_PER_USER", Default: "20:40"},
	{Name: "CRIER_RATE_STREAM_CONNECTS", Default: "1/6:10"},
	{Name: "CRIER_SSE_MAX_LIFETIME", Default: "1h"},
	{Name: "CRIER_CORS_ORIGINS"},
	{Name: "CRIER_HSTS", Default: "false"},
	{Name: "CRIER_TRUSTED_PROXIES"},
	{Name: "CRIER_METRICS_ADDR", Default: "127.0.0.1:9464"},
	{Name: "CRIER_DEBUG_ADDR", Shown: "off"},
	{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Shown: "unset (tracing off)", ReadBy: "OpenTelemetry's SDK"},
	{Name: "CRIER_DEFAULT_EXPIRY", Default: "720h"},
	{Name: "CRIER_SEND_NOW_TOLERANCE", Default: "5s"},
	{Name: "CRIER_SERIES_CATCHUP_WINDOW", Default: series.DefaultCatchupWindow.String()},
	{Name: "CRIER_RELAY_BATCH_SIZE", Default: "500"},
	{Name: "CRIER_RELAY_POLL_INTERVAL", Default: "1s"},
	{Name: "CRIER_MIGRATE", Default: "true"},
	{Name: "CRIER_LOG_FORMAT", Shown: "text (dev) / json"},
	{Name: "CRIER_LOG_LEVEL", Default: "info"},
	{Name: "CRIER_SHUTDOWN_TIMEOUT", Default: "20s"},
	{Name: "CRIER_NODE_ID", Shown: "hostname-pid"},
	{Name: "CRIER_SSE_HEARTBEAT", Default: "15s"},
	{Name: "CRIER_SSE_QUEUE", Default: "256"},
	{Name: "CRIER_SSE_MAX_PER_USER", Default: "5"},
	{Name: "CRIER_SSE_REPLAY_MAX_BYTES", Default: "1048576"},
	{Name: "CRIER_SSE_REPLAY_WINDOW", Default: "24h"},
	{Name: "CRIER_RETAIN_OUTBOX", Default: "24h"},
	// Twice Kafka's default retention.ms: a segment is deleted only once its
	// newest event is past retention.ms, so a consumer whose offsets were
	// lost may be redelivered events up to retention.ms + segment.ms old
	// (7 + 7 days by default).
	{Name: "CRIER_RETAIN_PROCESSED_EVENTS", Default: "336h"},
	{Name: "CRIER_RETAIN_DELIVERIES", Default: "2160h"},
	{Name: "CRIER_TEMPORAL_RETENTION", Default: "168h"},
}

// setting is the entry for name; reading a variable missing from Settings
// is a programming error, found by any test that parses.
func setting(name string) Setting {
	for _, s := range Settings {
		if s.Name == name {
			return s
		}
	}
	panic("config: " + name + " is not in Settings")
}
