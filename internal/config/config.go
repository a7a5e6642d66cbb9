package config

import (
	"bufio"
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
// variable and default.
type Config struct {
	// Env is "development" or "production" (CRIER_ENV, default development).
	Env string
	// DatabaseURL locates PostgreSQL (DATABASE_URL,
	// default postgres://postgres@127.0.0.1:5432/crier?sslmode=disable).
	DatabaseURL string
	// KafkaBrokers are comma-separated bootstrap addresses, or "embedded" for
	// an in-process broker in development (KAFKA_BROKERS, default 127.0.0.1:9092).
	KafkaBrokers []string
	// KafkaTopic receives lifecycle events (CRIER_KAFKA_TOPIC, default broadcast_messages).
	KafkaTopic string
	// KafkaPartitions is the topic's partition count when Crier creates it
	// (CRIER_KAFKA_PARTITIONS, default 6).
	KafkaPartitions int
	// KafkaReplicationFactor is used when Crier creates the topic
	// (CRIER_KAFKA_REPLICATION_FACTOR, default 1).
	KafkaReplicationFactor int
	// KafkaSecurity authenticates and encrypts every Kafka client's link
	// (KAFKA_SASL_*, KAFKA_TLS*; default PLAINTEXT without credentials; see engines.go).
	KafkaSecurity kafkaconn.Security
	// TemporalAddress is the Temporal frontend (TEMPORAL_ADDRESS, default 127.0.0.1:7233).
	TemporalAddress string
	// TemporalNamespace (TEMPORAL_NAMESPACE, default "default").
	TemporalNamespace string
	// Temporal is the Temporal client's mTLS and API key, from the variables
	// Temporal's CLI reads (TEMPORAL_TLS*, TEMPORAL_API_KEY; default none; see engines.go).
	Temporal envconfig.ClientConfigProfile
	// TaskQueue of broadcast workflows (CRIER_TASK_QUEUE, default crier-broadcasts).
	TaskQueue string
	// PublishLead is how long before its scheduled time a broadcast's
	// workflow wakes up, to be ready when a burst falls due in the same
	// second; its publish then waits in the worker for the exact time. A
	// cancel or reschedule within this window applies after publication
	// (CRIER_PUBLISH_LEAD, default 5s; 0 wakes at the scheduled time).
	PublishLead time.Duration
	// BurstWakeRate is how many workflows of a burst (broadcasts due in the
	// same second) Temporal is expected to wake per second: each new
	// broadcast wakes one slot earlier for each one already due then, so a
	// burst's wake-ups are spread ahead of it (CRIER_BURST_WAKE_RATE,
	// default 150; 0 gives every broadcast CRIER_PUBLISH_LEAD). The lead
	// never exceeds a minute.
	BurstWakeRate int
	// HTTPAddr is where the API listens (CRIER_HTTP_ADDR, default
	// 127.0.0.1:8080). In development mode with the development secret it
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
	// "none" is always refused (CRIER_JWT_ALGORITHMS, default HS256 when a
	// secret is set, plus RS256 and ES256 when a JWKS is set).
	JWTAlgorithms []string
	// JWKSURL is an identity provider's JWK Set URL, whose public keys
	// verify RS and ES tokens; fetched at start, refreshed hourly and when a
	// token names an unknown key id (CRIER_JWKS_URL, default none). It must
	// be https, except for an identity provider on loopback in development.
	JWKSURL string
	// JWKSFile is a JWK Set file read once at start, instead of JWKSURL
	// (CRIER_JWKS_FILE, default none).
	JWKSFile string
	// JWTIssuer, when set, must equal a token's iss claim; `crier token`
	// writes it (CRIER_JWT_ISSUER, default none: not checked; required in
	// production).
	JWTIssuer string
	// JWTAudience, when set, must be among a token's aud claim; `crier
	// token` writes it (CRIER_JWT_AUDIENCE, default none: not checked;
	// required in production).
	JWTAudience string
	// JWTRolesClaim names the claim listing a token's roles, as an array or
	// a space-separated string; a dotted path reads a nested claim, such as
	// realm_access.roles for Keycloak (CRIER_JWT_ROLES_CLAIM, default roles).
	JWTRolesClaim string
	// JWTNameClaim names the claim holding the display name
	// (CRIER_JWT_NAME_CLAIM, default name).
	JWTNameClaim string
	// JWTLeeway is the clock skew allowed on a token's exp, nbf and iat
	// (CRIER_JWT_LEEWAY, default 30s, from 0s (none) to 5m).
	JWTLeeway time.Duration
	// DefaultExpiry applies to a broadcast created without expires_at
	// (CRIER_DEFAULT_EXPIRY, default 720h).
	DefaultExpiry time.Duration
	// SendNowTolerance is how far in the past scheduled_at may be and still
	// mean "now" (CRIER_SEND_NOW_TOLERANCE, default 5s).
	SendNowTolerance time.Duration
	// RelayBatchSize is the most outbox rows relayed at once (CRIER_RELAY_BATCH_SIZE, default 500).
	RelayBatchSize int
	// RelayPollInterval bounds the relay's idle sleep (CRIER_RELAY_POLL_INTERVAL, default 1s).
	RelayPollInterval time.Duration
	// Migrate applies database migrations at start (CRIER_MIGRATE, default true).
	Migrate bool
	// LogFormat is "text" or "json" (CRIER_LOG_FORMAT, default text in
	// development, json in production).
	LogFormat string
	// LogLevel is debug, info, warn or error (CRIER_LOG_LEVEL, default info).
	LogLevel string
	// ShutdownTimeout bounds a graceful stop (CRIER_SHUTDOWN_TIMEOUT, default 20s).
	ShutdownTimeout time.Duration
	// NodeID names this process in presence (CRIER_NODE_ID, default
	// hostname-pid).
	NodeID string
	// SSEHeartbeat is the interval of stream heartbeats (CRIER_SSE_HEARTBEAT, default 15s).
	SSEHeartbeat time.Duration
	// SSEQueue is how many events a stream may have waiting for its client;
	// a client further behind is disconnected and catches up when it
	// reconnects with Last-Event-ID (CRIER_SSE_QUEUE, default 256).
	SSEQueue int
	// SSEMaxPerUser is the most streams one user may hold
	// (CRIER_SSE_MAX_PER_USER, default 5).
	SSEMaxPerUser int
	// SSEMaxLifetime ends a stream after this long; clients resume
	// (CRIER_SSE_MAX_LIFETIME, default 1h). A stream also ends when its
	// token expires.
	SSEMaxLifetime time.Duration
	// SSEReplayMaxBytes bounds what one resuming stream is replayed; a
	// client that missed more is sent a reset event and reloads its inbox
	// (CRIER_SSE_REPLAY_MAX_BYTES, default 1048576).
	SSEReplayMaxBytes int
	// SSEReplayWindow is how long the stream log keeps events, and so how
	// far back a stream may resume; an older position gets a reset event
	// (CRIER_SSE_REPLAY_WINDOW, default 24h).
	SSEReplayWindow time.Duration
	// RatePerAddress limits requests per client address, as RATE[:BURST]
	// per second, 0 to disable (CRIER_RATE_PER_ADDRESS, default 50:100).
	RatePerAddress ratelimit.Limit
	// RatePerUser limits requests per authenticated user
	// (CRIER_RATE_PER_USER, default 20:40).
	RatePerUser ratelimit.Limit
	// RateStreamConnects limits how often one user opens streams
	// (CRIER_RATE_STREAM_CONNECTS, default 0.17:10: ten at once, then one
	// every 6 s).
	RateStreamConnects ratelimit.Limit
	// CORSOrigins may call the API from browsers, comma-separated exact
	// origins such as https://app.example.com (CRIER_CORS_ORIGINS, default
	// none), kept in the form browsers send (see corsOrigin). "*" and
	// patterns are refused: requests carry credentials.
	CORSOrigins []string
	// HSTS sends Strict-Transport-Security; set it behind HTTPS
	// (CRIER_HSTS, default false).
	HSTS bool
	// TrustedProxies are comma-separated CIDRs whose X-Forwarded-For names
	// the client (CRIER_TRUSTED_PROXIES, default none: the connection's
	// address is the client's).
	TrustedProxies []string
	// MetricsAddr is where a process without the API (a worker or relay on
	// its own) serves /metrics (CRIER_METRICS_ADDR, default 127.0.0.1:9464;
	// "off" disables). API processes serve it on the API's address.
	MetricsAddr string
	// DebugAddr, when set, serves Go's profiler (/debug/pprof/) for
	// diagnosing CPU and memory use; it must be a loopback or private IP
	// address, as the profiler has no authentication (CRIER_DEBUG_ADDR,
	// default off).
	DebugAddr string
}

// Development reports whether Crier runs in development mode.
func (c Config) Development() bool { return c.Env == "development" }

// Load reads the configuration. Variables set (and not empty) in the
// environment win over those in the env file (CRIER_ENV_FILE, default
// .dev/env when it exists).
func Load() (Config, error) {
	file := os.Getenv("CRIER_ENV_FILE")
	if file == "" {
		file = ".dev/env"
	}
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
		Env:                    p.str("CRIER_ENV", "development"),
		DatabaseURL:            p.str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crier?sslmode=disable"),
		KafkaBrokers:           strings.Split(p.str("KAFKA_BROKERS", "127.0.0.1:9092"), ","),
		KafkaTopic:             p.str("CRIER_KAFKA_TOPIC", "broadcast_messages"),
		KafkaPartitions:        p.int("CRIER_KAFKA_PARTITIONS", 6),
		KafkaReplicationFactor: p.int("CRIER_KAFKA_REPLICATION_FACTOR", 1),
		KafkaSecurity:          p.kafkaSecurity(),
		TemporalAddress:        p.str("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace:      p.str("TEMPORAL_NAMESPACE", "default"),
		Temporal:               p.temporal(),
		TaskQueue:              p.str("CRIER_TASK_QUEUE", "crier-broadcasts"),
		PublishLead:            p.durationUpTo("CRIER_PUBLISH_LEAD", DefaultPublishLead, maxPublishLead),
		BurstWakeRate:          p.int("CRIER_BURST_WAKE_RATE", DefaultBurstWakeRate),
		HTTPAddr:               p.str("CRIER_HTTP_ADDR", "127.0.0.1:8080"),
		JWTSecret:              p.str("CRIER_JWT_SECRET", ""),
		JWTAlgorithms:          upper(p.list("CRIER_JWT_ALGORITHMS")),
		JWKSURL:                p.str("CRIER_JWKS_URL", ""),
		JWKSFile:               p.str("CRIER_JWKS_FILE", ""),
		JWTIssuer:              p.str("CRIER_JWT_ISSUER", ""),
		JWTAudience:            p.str("CRIER_JWT_AUDIENCE", ""),
		JWTRolesClaim:          p.str("CRIER_JWT_ROLES_CLAIM", auth.DefaultRolesClaim),
		JWTNameClaim:           p.str("CRIER_JWT_NAME_CLAIM", auth.DefaultNameClaim),
		JWTLeeway:              p.durationUpTo("CRIER_JWT_LEEWAY", auth.DefaultLeeway, auth.MaxLeeway),
		DefaultExpiry:          p.duration("CRIER_DEFAULT_EXPIRY", 720*time.Hour),
		SendNowTolerance:       p.duration("CRIER_SEND_NOW_TOLERANCE", 5*time.Second),
		RelayBatchSize:         p.int("CRIER_RELAY_BATCH_SIZE", 500),
		RelayPollInterval:      p.duration("CRIER_RELAY_POLL_INTERVAL", time.Second),
		Migrate:                p.bool("CRIER_MIGRATE", true),
		LogLevel:               p.str("CRIER_LOG_LEVEL", "info"),
		ShutdownTimeout:        p.duration("CRIER_SHUTDOWN_TIMEOUT", 20*time.Second),
		NodeID:                 p.str("CRIER_NODE_ID", defaultNodeID()),
		SSEHeartbeat:           p.duration("CRIER_SSE_HEARTBEAT", 15*time.Second),
		SSEQueue:               p.int("CRIER_SSE_QUEUE", 256),
		SSEMaxPerUser:          p.int("CRIER_SSE_MAX_PER_USER", 5),
		SSEMaxLifetime:         p.duration("CRIER_SSE_MAX_LIFETIME", time.Hour),
		SSEReplayMaxBytes:      p.int("CRIER_SSE_REPLAY_MAX_BYTES", 1<<20),
		SSEReplayWindow:        p.duration("CRIER_SSE_REPLAY_WINDOW", 24*time.Hour),
		RatePerAddress:         p.rate("CRIER_RATE_PER_ADDRESS", ratelimit.Limit{PerSecond: 50, Burst: 100}),
		RatePerUser:            p.rate("CRIER_RATE_PER_USER", ratelimit.Limit{PerSecond: 20, Burst: 40}),
		RateStreamConnects:     p.rate("CRIER_RATE_STREAM_CONNECTS", ratelimit.Limit{PerSecond: 1.0 / 6, Burst: 10}),
		CORSOrigins:            p.origins("CRIER_CORS_ORIGINS"),
		HSTS:                   p.bool("CRIER_HSTS", false),
		TrustedProxies:         p.list("CRIER_TRUSTED_PROXIES"),
		MetricsAddr:            p.str("CRIER_METRICS_ADDR", "127.0.0.1:9464"),
		DebugAddr:              p.str("CRIER_DEBUG_ADDR", ""),
	}
	if c.MetricsAddr == "off" {
		c.MetricsAddr = ""
	}
	defaultFormat := "json"
	if c.Env == "development" {
		defaultFormat = "text"
	}
	c.LogFormat = p.str("CRIER_LOG_FORMAT", defaultFormat)
	for i := range c.KafkaBrokers {
		c.KafkaBrokers[i] = strings.TrimSpace(c.KafkaBrokers[i])
	}
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
	if c.BurstWakeRate < 0 {
		errs = append(errs, fmt.Errorf("CRIER_BURST_WAKE_RATE must be 0 or more wake-ups per second, got %d", c.BurstWakeRate))
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
	errs = append(errs, c.listenErrors()...)
	errs = append(errs, c.engineErrors()...)
	if c.KafkaPartitions < 1 {
		errs = append(errs, fmt.Errorf("CRIER_KAFKA_PARTITIONS must be at least 1, got %d", c.KafkaPartitions))
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

func (p *parser) str(key, def string) string {
	if v := strings.TrimSpace(p.get(key)); v != "" {
		return v
	}
	return def
}

// list reads a comma-separated list, trimmed; nil when unset.
func (p *parser) list(key string) []string {
	var items []string
	for item := range strings.SplitSeq(p.str(key, ""), ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

func (p *parser) int(key string, def int) int {
	v := p.str(key, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s must be a whole number, got %q", key, v))
		return def
	}
	return n
}

func (p *parser) duration(key string, def time.Duration) time.Duration {
	v := p.str(key, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.errs = append(p.errs, fmt.Errorf("%s must be a positive duration such as 30s or 24h, got %q", key, v))
		return def
	}
	return d
}

// Defaults of CRIER_PUBLISH_LEAD and CRIER_BURST_WAKE_RATE.
const (
	DefaultPublishLead = 5 * time.Second
	// Below what the dev server sustains on 2 cores (about 200 a second):
	// waking slower than Temporal can leaves room; faster leaves a backlog
	// at the due time (200 left 2 % of a 10,000 burst 6 to 18 s late).
	DefaultBurstWakeRate = 150
)

// maxPublishLead bounds CRIER_PUBLISH_LEAD: a workflow task is held that
// long, and cancels in that window come after publication.
const maxPublishLead = time.Minute

// durationUpTo reads a duration from 0 (which means none, not the default)
// to upTo.
func (p *parser) durationUpTo(key string, def, upTo time.Duration) time.Duration {
	v := p.str(key, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > upTo {
		p.errs = append(p.errs, fmt.Errorf("%s must be a duration from 0s to %v such as 5s, got %q", key, upTo, v))
		return def
	}
	return d
}

func upper(items []string) []string {
	for i := range items {
		items[i] = strings.ToUpper(items[i])
	}
	return items
}

// rate reads RATE[:BURST], RATE in events per second ("0" disables).
func (p *parser) rate(key string, def ratelimit.Limit) ratelimit.Limit {
	v := p.str(key, "")
	if v == "" {
		return def
	}
	rateText, burstText, hasBurst := strings.Cut(v, ":")
	perSecond, err := strconv.ParseFloat(strings.TrimSpace(rateText), 64)
	l := ratelimit.Limit{PerSecond: perSecond}
	if err == nil && hasBurst {
		l.Burst, err = strconv.Atoi(strings.TrimSpace(burstText))
	}
	if err != nil || perSecond < 0 || l.Burst < 0 {
		p.errs = append(p.errs, fmt.Errorf("%s must be RATE[:BURST] with RATE per second, such as 20:40 (0 disables), got %q", key, v))
		return def
	}
	return l
}

func (p *parser) bool(key string, def bool) bool {
	v := p.str(key, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s must be true or false, got %q", key, v))
		return def
	}
	return b
}

// readEnvFile reads KEY=VALUE lines (optionally prefixed with "export" and
// with quoted values), as `make dev` writes them. A missing file is empty.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
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
