// Package config reads Crier's configuration from environment variables,
// falling back to the file .dev/env that `make dev` writes, so `crier token`
// and a server started by hand agree with the running dev stack.
package config

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
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
	// TemporalAddress is the Temporal frontend (TEMPORAL_ADDRESS, default 127.0.0.1:7233).
	TemporalAddress string
	// TemporalNamespace (TEMPORAL_NAMESPACE, default "default").
	TemporalNamespace string
	// TaskQueue of broadcast workflows (CRIER_TASK_QUEUE, default crier-broadcasts).
	TaskQueue string
	// HTTPAddr is where the API listens (CRIER_HTTP_ADDR, default 127.0.0.1:8080).
	HTTPAddr string
	// JWTSecret verifies HS256 bearer tokens (CRIER_JWT_SECRET; in
	// development it defaults to DevJWTSecret, in production it is required).
	JWTSecret string
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
	// SSEMaxPerUser is the most streams one user may hold
	// (CRIER_SSE_MAX_PER_USER, default 5).
	SSEMaxPerUser int
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
		TemporalAddress:        p.str("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace:      p.str("TEMPORAL_NAMESPACE", "default"),
		TaskQueue:              p.str("CRIER_TASK_QUEUE", "crier-broadcasts"),
		HTTPAddr:               p.str("CRIER_HTTP_ADDR", "127.0.0.1:8080"),
		JWTSecret:              p.str("CRIER_JWT_SECRET", ""),
		DefaultExpiry:          p.duration("CRIER_DEFAULT_EXPIRY", 720*time.Hour),
		SendNowTolerance:       p.duration("CRIER_SEND_NOW_TOLERANCE", 5*time.Second),
		RelayBatchSize:         p.int("CRIER_RELAY_BATCH_SIZE", 500),
		RelayPollInterval:      p.duration("CRIER_RELAY_POLL_INTERVAL", time.Second),
		Migrate:                p.bool("CRIER_MIGRATE", true),
		LogLevel:               p.str("CRIER_LOG_LEVEL", "info"),
		ShutdownTimeout:        p.duration("CRIER_SHUTDOWN_TIMEOUT", 20*time.Second),
		NodeID:                 p.str("CRIER_NODE_ID", defaultNodeID()),
		SSEHeartbeat:           p.duration("CRIER_SSE_HEARTBEAT", 15*time.Second),
		SSEMaxPerUser:          p.int("CRIER_SSE_MAX_PER_USER", 5),
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
	switch c.Env {
	case "development":
		if c.JWTSecret == "" {
			c.JWTSecret = DevJWTSecret
		}
	case "production":
		switch {
		case c.JWTSecret == "":
			errs = append(errs, errors.New("CRIER_JWT_SECRET is required in production"))
		case c.JWTSecret == DevJWTSecret:
			errs = append(errs, errors.New("CRIER_JWT_SECRET is the development secret: set a secret of your own in production"))
		case len(c.JWTSecret) < 32:
			errs = append(errs, errors.New("CRIER_JWT_SECRET must be at least 32 bytes in production"))
		}
		if len(c.KafkaBrokers) == 1 && c.KafkaBrokers[0] == "embedded" {
			errs = append(errs, errors.New("KAFKA_BROKERS=embedded is for development only"))
		}
	default:
		errs = append(errs, fmt.Errorf("CRIER_ENV must be development or production, got %q", c.Env))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("CRIER_LOG_FORMAT must be text or json, got %q", c.LogFormat))
	}
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
