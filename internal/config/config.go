package config

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/kafkaconn"
	"github.com/crier/crier/internal/ratelimit"
)

// DevJWTSecret signs tokens in development mode only; production refuses it.
const DevJWTSecret = "crier-development-secret-do-not-use-in-production"

// Config is every setting of every Crier command. Each field names its
// variable; Settings holds the defaults.
type Config struct {
	// Env is "development" or "production" (CRIER_ENV).
	Env string
	// DatabaseURL locates PostgreSQL (DATABASE_URL).
	DatabaseURL string
	// KafkaBrokers are comma-separated bootstrap addresses, or "embedded" for
	// an in-process broker in development (KAFKA_BROKERS).
	KafkaBrokers []string
	// KafkaTopic receives lifecycle events (CRIER_KAFKA_TOPIC).
	KafkaTopic string
	// KafkaPartitions is the topic's partition count when Crier creates it
	// (CRIER_KAFKA_PARTITIONS).
	KafkaPartitions int
	// KafkaReplicationFactor is used when Crier creates the topic
	// (CRIER_KAFKA_REPLICATION_FACTOR).
	KafkaReplicationFactor int
	// KafkaDeadLetterTopic receives the messages a consumer cannot process,
	// with why (CRIER_KAFKA_DEAD_LETTER_TOPIC); created at start like the
	// main topic, with its partitions and replication.
	KafkaDeadLetterTopic string
	// DeadLetterAttempts is how many times a consumer tries a message that
	// fails for a reason no retry fixes before it dead-letters it
	// (CRIER_DEAD_LETTER_ATTEMPTS, 1 to 100). Transient failures are retried
	// without limit.
	DeadLetterAttempts int
	// KafkaSecurity authenticates and encrypts every Kafka client's link
	// (KAFKA_SASL_*, KAFKA_TLS*).
	KafkaSecurity kafkaconn.Security
	// TemporalAddress is the Temporal frontend (TEMPORAL_ADDRESS).
	TemporalAddress string
	// TemporalNamespace (TEMPORAL_NAMESPACE).
	TemporalNamespace string
	// Temporal is the Temporal client's mTLS and API key, from the variables
	// Temporal's CLI reads (TEMPORAL_TLS*, TEMPORAL_API_KEY).
	Temporal envconfig.ClientConfigProfile
	// TaskQueue of broadcast workflows (CRIER_TASK_QUEUE).
	TaskQueue string
	// HTTPAddr is where the API listens (CRIER_HTTP_ADDR). In development mode
	// with the development secret it
	// must be a loopback address.
	HTTPAddr string
	// JWTSecret verifies HS256 bearer tokens and signs those `crier token`
	// prints (CRIER_JWT_SECRET; in development it defaults to DevJWTSecret
	// unless a JWKS is set, and then HS tokens are refused; in production it
	// must be at least 32 bytes, more for HS384 and HS512, and is required
	// unless a JWKS is set).
	JWTSecret string
	// JWTAlgorithms is the allow-list of token algorithms, comma-separated,
	// from HS256, HS384, HS512, RS256, RS384, RS512, PS256, ES256 and ES384;
	// "none" is always refused (CRIER_JWT_ALGORITHMS).
	JWTAlgorithms []string
	// JWKSURL is an identity provider's JWK Set URL, whose public keys
	// verify RS and ES tokens; fetched at start, refreshed hourly and when a
	// token names an unknown key id (CRIER_JWKS_URL). It must
	// be https, except for an identity provider on loopback in development.
	JWKSURL string
	// JWKSFile is a JWK Set file read once at start, instead of JWKSURL
	// (CRIER_JWKS_FILE).
	JWKSFile string
	// JWTIssuer, when set, must equal a token's iss claim; `crier token`
	// writes it (CRIER_JWT_ISSUER; unset, it is not checked; required in
	// production).
	JWTIssuer string
	// JWTAudience, when set, must be among a token's aud claim; `crier
	// token` writes it (CRIER_JWT_AUDIENCE; unset, it is not checked;
	// required in production).
	JWTAudience string
	// JWTRolesClaim names the claim listing a token's roles, as an array or
	// a space-separated string; a dotted path reads a nested claim, such as
	// realm_access.roles for Keycloak (CRIER_JWT_ROLES_CLAIM).
	JWTRolesClaim string
	// JWTNameClaim names the claim holding the display name
	// (CRIER_JWT_NAME_CLAIM).
	JWTNameClaim string
	// JWTLeeway is the clock skew allowed on a token's exp, nbf and iat
	// (CRIER_JWT_LEEWAY, from 0s (none) to 5m).
	JWTLeeway time.Duration
	// DefaultExpiry applies to a broadcast created without expires_at
	// (CRIER_DEFAULT_EXPIRY).
	DefaultExpiry time.Duration
	// SendNowTolerance is how far in the past scheduled_at may be and still
	// mean "now" (CRIER_SEND_NOW_TOLERANCE).
	SendNowTolerance time.Duration
	// SeriesCatchupWindow is how late a series' occurrence may still be
	// made; one later is skipped and recorded (CRIER_SERIES_CATCHUP_WINDOW).
	SeriesCatchupWindow time.Duration
	// RelayBatchSize is the most outbox rows relayed at once (CRIER_RELAY_BATCH_SIZE).
	RelayBatchSize int
	// RelayPollInterval bounds the relay's idle sleep (CRIER_RELAY_POLL_INTERVAL).
	RelayPollInterval time.Duration
	// Migrate applies database migrations at start (CRIER_MIGRATE).
	Migrate bool
	// LogFormat is "text" or "json" (CRIER_LOG_FORMAT).
	LogFormat string
	// LogLevel is debug, info, warn or error (CRIER_LOG_LEVEL).
	LogLevel string
	// ShutdownTimeout bounds a graceful stop (CRIER_SHUTDOWN_TIMEOUT). No
	// part holds a broadcast until its due time (internal/due), so it covers
	// requests and statements under way, not a hold.
	ShutdownTimeout time.Duration
	// NodeID names this process in presence (CRIER_NODE_ID).
	NodeID string
	// SSEHeartbeat is the interval of stream heartbeats (CRIER_SSE_HEARTBEAT).
	SSEHeartbeat time.Duration
	// SSEQueue is how many events a stream may have waiting for its client;
	// a client further behind is disconnected and catches up when it
	// reconnects with Last-Event-ID (CRIER_SSE_QUEUE).
	SSEQueue int
	// SSEMaxPerUser is the most streams one user may hold
	// (CRIER_SSE_MAX_PER_USER).
	SSEMaxPerUser int
	// SSEMaxLifetime ends a stream after this long; clients resume
	// (CRIER_SSE_MAX_LIFETIME). A stream also ends when its
	// token expires.
	SSEMaxLifetime time.Duration
	// SSEReplayMaxBytes bounds what one resuming stream is replayed; a
	// client that missed more is sent a reset event and reloads its inbox
	// (CRIER_SSE_REPLAY_MAX_BYTES).
	SSEReplayMaxBytes int
	// SSEReplayWindow is how long the stream log keeps events, and so how
	// far back a stream may resume; an older position gets a reset event
	// (CRIER_SSE_REPLAY_WINDOW). The workers' maintenance run prunes the
	// log with it.
	SSEReplayWindow time.Duration
	// Retention is how long what grows with traffic is kept
	// (CRIER_RETAIN_*, CRIER_TEMPORAL_RETENTION).
	Retention Retention
	// RatePerAddress limits requests per client address, as RATE[:BURST]
	// per second, 0 to disable (CRIER_RATE_PER_ADDRESS).
	RatePerAddress ratelimit.Limit
	// RatePerUser limits requests per authenticated user
	// (CRIER_RATE_PER_USER).
	RatePerUser ratelimit.Limit
	// RateStreamConnects limits how often one user opens streams
	// (CRIER_RATE_STREAM_CONNECTS).
	RateStreamConnects ratelimit.Limit
	// CORSOrigins may call the API from browsers, comma-separated exact
	// origins such as https://app.example.com (CRIER_CORS_ORIGINS), kept in
	// the form browsers send (see corsOrigin). "*" and patterns are refused:
	// requests carry credentials.
	CORSOrigins []string
	// HSTS sends Strict-Transport-Security; set it behind HTTPS
	// (CRIER_HSTS).
	HSTS bool
	// TrustedProxies are comma-separated CIDRs whose X-Forwarded-For names
	// the client (CRIER_TRUSTED_PROXIES).
	TrustedProxies []string
	// MetricsAddr is where a process without the API (a worker or relay on
	// its own) serves /metrics (CRIER_METRICS_ADDR; "off" disables). API
	// processes serve it on the API's address.
	MetricsAddr string
	// OIDC signs people in to the admin console with the identity
	// provider (CRIER_OIDC_*); off without a client id.
	OIDC OIDC
	// TemporalUIURL is Temporal Web UI's address, for the console's links
	// to workflows (CRIER_TEMPORAL_UI_URL).
	TemporalUIURL string
	// DebugAddr, when set, serves Go's profiler (/debug/pprof/) for
	// diagnosing CPU and memory use; it must be a loopback or private IP
	// address, as the profiler has no authentication (CRIER_DEBUG_ADDR).
	DebugAddr string
}

// Development reports whether Crier runs in development mode.
func (c Config) Development() bool { return c.Env == "development" }

// Load reads the configuration. Variables set (and not empty) in the
// environment win over those in the env file (CRIER_ENV_FILE).
func Load() (Config, error) {
	file := cmp.Or(os.Getenv("CRIER_ENV_FILE"), setting("CRIER_ENV_FILE").Default)
	fromFile, err := readEnvFile(file)
	if err != nil {
		return Config{}, err
	}
	return parse(func(key string) string {
		if v := os.Getenv(key); v != "" {
			return v // set and not empty: the environment wins
		}
		return fromFile[key]
	})
}

func parse(get func(string) string) (Config, error) {
	p := parser{get: get}
	c := Config{
		Env:                    p.str("CRIER_ENV"),
		DatabaseURL:            p.str("DATABASE_URL"),
		KafkaBrokers:           p.list("KAFKA_BROKERS"),
		KafkaTopic:             p.str("CRIER_KAFKA_TOPIC"),
		KafkaPartitions:        p.int("CRIER_KAFKA_PARTITIONS"),
		KafkaReplicationFactor: p.int("CRIER_KAFKA_REPLICATION_FACTOR"),
		KafkaDeadLetterTopic:   p.str("CRIER_KAFKA_DEAD_LETTER_TOPIC"),
		DeadLetterAttempts:     p.int("CRIER_DEAD_LETTER_ATTEMPTS"),
		KafkaSecurity:          p.kafkaSecurity(),
		TemporalAddress:        p.str("TEMPORAL_ADDRESS"),
		TemporalNamespace:      p.str("TEMPORAL_NAMESPACE"),
		Temporal:               p.temporal(),
		TaskQueue:              p.str("CRIER_TASK_QUEUE"),
		HTTPAddr:               p.str("CRIER_HTTP_ADDR"),
		JWTSecret:              p.str("CRIER_JWT_SECRET"),
		JWTAlgorithms:          upper(p.list("CRIER_JWT_ALGORITHMS")),
		JWKSURL:                p.str("CRIER_JWKS_URL"),
		JWKSFile:               p.str("CRIER_JWKS_FILE"),
		JWTIssuer:              p.str("CRIER_JWT_ISSUER"),
		JWTAudience:            p.str("CRIER_JWT_AUDIENCE"),
		JWTRolesClaim:          p.str("CRIER_JWT_ROLES_CLAIM"),
		JWTNameClaim:           p.str("CRIER_JWT_NAME_CLAIM"),
		JWTLeeway:              p.durationUpTo("CRIER_JWT_LEEWAY", auth.MaxLeeway),
		DefaultExpiry:          p.duration("CRIER_DEFAULT_EXPIRY"),
		SendNowTolerance:       p.duration("CRIER_SEND_NOW_TOLERANCE"),
		SeriesCatchupWindow:    p.duration("CRIER_SERIES_CATCHUP_WINDOW"),
		RelayBatchSize:         p.int("CRIER_RELAY_BATCH_SIZE"),
		RelayPollInterval:      p.duration("CRIER_RELAY_POLL_INTERVAL"),
		Migrate:                p.bool("CRIER_MIGRATE"),
		LogLevel:               p.str("CRIER_LOG_LEVEL"),
		ShutdownTimeout:        p.duration("CRIER_SHUTDOWN_TIMEOUT"),
		NodeID:                 cmp.Or(p.str("CRIER_NODE_ID"), defaultNodeID()),
		SSEHeartbeat:           p.duration("CRIER_SSE_HEARTBEAT"),
		SSEQueue:               p.int("CRIER_SSE_QUEUE"),
		SSEMaxPerUser:          p.int("CRIER_SSE_MAX_PER_USER"),
		SSEMaxLifetime:         p.duration("CRIER_SSE_MAX_LIFETIME"),
		SSEReplayMaxBytes:      p.int("CRIER_SSE_REPLAY_MAX_BYTES"),
		SSEReplayWindow:        p.duration("CRIER_SSE_REPLAY_WINDOW"),
		Retention:              p.retention(),
		RatePerAddress:         p.rate("CRIER_RATE_PER_ADDRESS"),
		RatePerUser:            p.rate("CRIER_RATE_PER_USER"),
		RateStreamConnects:     p.rate("CRIER_RATE_STREAM_CONNECTS"),
		CORSOrigins:            p.origins("CRIER_CORS_ORIGINS"),
		HSTS:                   p.bool("CRIER_HSTS"),
		TrustedProxies:         p.list("CRIER_TRUSTED_PROXIES"),
		MetricsAddr:            p.str("CRIER_METRICS_ADDR"),
		DebugAddr:              p.str("CRIER_DEBUG_ADDR"),
		OIDC: OIDC{ClientID: p.str("CRIER_OIDC_CLIENT_ID"), ClientSecret: p.str("CRIER_OIDC_CLIENT_SECRET"),
			Issuer: p.str("CRIER_OIDC_ISSUER"), RedirectURL: p.str("CRIER_OIDC_REDIRECT_URL"), Scopes: p.list("CRIER_OIDC_SCOPES")},
		TemporalUIURL: p.str("CRIER_TEMPORAL_UI_URL"),
	}
	c.OIDC.Issuer = cmp.Or(c.OIDC.Issuer, c.JWTIssuer)
	if c.MetricsAddr == "off" {
		c.MetricsAddr = ""
	}
	defaultFormat := "json"
	if c.Env == "development" {
		defaultFormat = "text"
	}
	c.LogFormat = cmp.Or(p.str("CRIER_LOG_FORMAT"), defaultFormat)
	if err := errors.Join(p.errs...); err != nil {
		return c, err
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	var errs []error
	if c.SSEQueue < 1 {
		errs = append(errs, fmt.Errorf("CRIER_SSE_QUEUE must be 1 or more events, got %d", c.SSEQueue))
	}
	for _, cidr := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			errs = append(errs, fmt.Errorf("CRIER_TRUSTED_PROXIES: %q is not a CIDR such as 10.0.0.0/8", cidr))
		}
	}
	switch c.Env {
	case "development":
		// With a JWKS the development secret would let anyone who read
		// this file sign tokens the identity provider never issued.
		if c.JWTSecret == "" && !c.hasJWKS() {
			c.JWTSecret = DevJWTSecret
		}
	case "production":
		errs = append(errs, c.productionTokenErrors()...)
		if len(c.KafkaBrokers) == 1 && c.KafkaBrokers[0] == "embedded" {
			errs = append(errs, errors.New("KAFKA_BROKERS=embedded is for development only"))
		}
	default:
		errs = append(errs, fmt.Errorf("CRIER_ENV must be development or production, got %q", c.Env))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("CRIER_LOG_FORMAT must be text or json, got %q", c.LogFormat))
	}
	errs = append(errs, c.tokenErrors()...)
	errs = append(errs, c.oidcErrors()...)
	errs = append(errs, c.listenErrors()...)
	errs = append(errs, c.engineErrors()...)
	if c.KafkaPartitions < 1 {
		errs = append(errs, fmt.Errorf("CRIER_KAFKA_PARTITIONS must be at least 1, got %d", c.KafkaPartitions))
	}
	if c.KafkaDeadLetterTopic == c.KafkaTopic {
		errs = append(errs, fmt.Errorf("CRIER_KAFKA_DEAD_LETTER_TOPIC must differ from CRIER_KAFKA_TOPIC (%q): dead letters would be read again", c.KafkaTopic))
	}
	if c.DeadLetterAttempts < 1 || c.DeadLetterAttempts > 100 {
		errs = append(errs, fmt.Errorf("CRIER_DEAD_LETTER_ATTEMPTS must be from 1 to 100 attempts, got %d", c.DeadLetterAttempts))
	}
	return errors.Join(errs...)
}

func defaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

type parser struct {
	get  func(string) string
	errs []error
}

// raw is key's value as given, which must be in Settings.
func (p *parser) raw(key string) string {
	_ = setting(key)
	return p.get(key)
}

// value is key's value, trimmed, or its default from Settings.
func (p *parser) value(key string) string {
	if v := strings.TrimSpace(p.raw(key)); v != "" {
		return v
	}
	return setting(key).Default
}

// fail records that key's value v is not what it must be; parse then
// returns the error.
func (p *parser) fail(key, must, v string) {
	p.errs = append(p.errs, fmt.Errorf("%s must be %s, got %q", key, must, v))
}

func (p *parser) str(key string) string { return p.value(key) }

// list reads a comma-separated list, trimmed; nil when unset.
func (p *parser) list(key string) []string {
	var items []string
	for item := range strings.SplitSeq(p.value(key), ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

func (p *parser) int(key string) int {
	v := p.value(key)
	n, err := strconv.Atoi(v)
	if err != nil {
		p.fail(key, "a whole number", v)
	}
	return n
}

func (p *parser) duration(key string) time.Duration {
	v := p.value(key)
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.fail(key, "a positive duration such as 30s or 24h", v)
	}
	return d
}

// durationUpTo reads a duration from 0 (which means none, not the default)
// to upTo.
func (p *parser) durationUpTo(key string, upTo time.Duration) time.Duration {
	v := p.value(key)
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > upTo {
		p.fail(key, fmt.Sprintf("a duration from 0s to %v such as 5s", upTo), v)
	}
	return d
}

func upper(items []string) []string {
	for i := range items {
		items[i] = strings.ToUpper(items[i])
	}
	return items
}

// rate reads RATE[:BURST], RATE in events per second, as a number or a
// fraction such as 1/6 ("0" disables).
func (p *parser) rate(key string) ratelimit.Limit {
	v := p.value(key)
	rateText, burstText, hasBurst := strings.Cut(v, ":")
	perSecond, err := fraction(strings.TrimSpace(rateText))
	l := ratelimit.Limit{PerSecond: perSecond}
	if err == nil && hasBurst {
		l.Burst, err = strconv.Atoi(strings.TrimSpace(burstText))
	}
	if err != nil || perSecond < 0 || l.Burst < 0 {
		p.fail(key, "RATE[:BURST] with RATE per second, such as 20:40 or 1/6:10 (0 disables)", v)
	}
	return l
}

// fraction parses a number, or N/D.
func fraction(s string) (float64, error) {
	num, den, isFraction := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || !isFraction {
		return n, err
	}
	d, err := strconv.ParseFloat(den, 64)
	if err == nil && d <= 0 {
		err = errors.New("the denominator must be positive")
	}
	return n / d, err
}

func (p *parser) bool(key string) bool {
	v := p.value(key)
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(key, "true or false", v)
	}
	return b
}

// readEnvFile reads KEY=VALUE lines (optionally prefixed with "export" and
// with quoted values), as `make dev` writes them. A missing file is empty.
func readEnvFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the operator names the file (CRIER_ENV_FILE); reading it is the point
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if unquoted, err := strconv.Unquote(value); err == nil {
			value = unquoted
		} else {
			value = strings.Trim(value, "'")
		}
		vars[strings.TrimSpace(key)] = value
	}
	return vars, sc.Err()
}
