package config

// The links to Crier's engines (Kafka, Temporal, PostgreSQL): how each is
// authenticated and encrypted. The rule everywhere is the same: a link that
// stays on this machine (loopback, a Unix socket) may be plain, as `make dev`
// runs; a link that crosses a network should be encrypted and authenticated.
// Production refuses what would let a stranger act as Crier or hand Crier
// forged work (an unauthenticated Kafka link, an API key sent in clear, TLS
// without host verification) and warns about the rest.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/crier/crier/internal/kafkaconn"
)

// kafkaSecurity reads KAFKA_SASL_* and KAFKA_TLS*. The password may come
// from a file (a mounted secret), never from both places.
func (p *parser) kafkaSecurity() kafkaconn.Security {
	s := kafkaconn.Security{
		SASLMechanism: strings.ToUpper(p.str("KAFKA_SASL_MECHANISM")),
		SASLUsername:  p.str("KAFKA_SASL_USERNAME"),
		SASLPassword:  p.raw("KAFKA_SASL_PASSWORD"), // as given: spaces may be part of it
		TLS:           p.bool("KAFKA_TLS"),
		TLSCAFile:     p.str("KAFKA_TLS_CA_FILE"),
		TLSCertFile:   p.str("KAFKA_TLS_CERT_FILE"),
		TLSKeyFile:    p.str("KAFKA_TLS_KEY_FILE"),
		TLSServerName: p.str("KAFKA_TLS_SERVER_NAME"),
	}
	if file := p.str("KAFKA_SASL_PASSWORD_FILE"); file != "" {
		switch b, err := os.ReadFile(file); { //nolint:gosec // the operator names the file (KAFKA_SASL_PASSWORD_FILE); reading it is the point
		case s.SASLPassword != "":
			p.errs = append(p.errs, errors.New("set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both"))
		case err != nil:
			p.errs = append(p.errs, fmt.Errorf("KAFKA_SASL_PASSWORD_FILE: %w", err))
		default:
			s.SASLPassword = strings.TrimRight(string(b), "\r\n") // files end with a newline
		}
	}
	return s
}

// readByTemporal marks the Temporal client variables Crier reads, named as
// Temporal's CLI and SDKs name them (go.temporal.io/sdk/contrib/envconfig).
// TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE are Crier's own fields; codec,
// gRPC metadata and TOML profiles are not read.
const readByTemporal = "Temporal's envconfig"

// temporal reads the Temporal client's TLS and API key through Temporal's
// own loader, so the variables mean exactly what they mean to the CLI.
func (p *parser) temporal() envconfig.ClientConfigProfile {
	lookup := temporalLookup{}
	for _, st := range Settings {
		if st.ReadBy != readByTemporal {
			continue
		}
		key := st.Name
		if v := p.raw(key); v != "" {
			lookup[key] = v
		}
	}
	profile, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{DisableFile: true, EnvLookup: lookup})
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("the Temporal client settings (TEMPORAL_TLS*, TEMPORAL_API_KEY): %w", err))
	}
	if v := lookup["TEMPORAL_TLS"]; v != "" && !slices.Contains([]string{"true", "false", "1", "0"}, strings.ToLower(v)) {
		p.errs = append(p.errs, fmt.Errorf("TEMPORAL_TLS must be true or false, got %q", v))
	}
	return profile
}

// temporalLookup hands envconfig the variables Crier read (environment, then
// the env file), and no others.
type temporalLookup map[string]string

func (l temporalLookup) Environ() []string { return nil }

func (l temporalLookup) LookupEnv(key string) (string, bool) {
	v, ok := l[key]
	return v, ok
}

// TemporalClientOptions are the client options of TEMPORAL_ADDRESS and
// TEMPORAL_NAMESPACE with the TLS and credentials the TEMPORAL_* variables
// describe; it reads the certificate files.
func (c Config) TemporalClientOptions() (client.Options, error) {
	opts, err := c.Temporal.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("the Temporal client settings (TEMPORAL_TLS*, TEMPORAL_API_KEY): %w", err)
	}
	opts.HostPort, opts.Namespace = c.TemporalAddress, c.TemporalNamespace
	return opts, nil
}

// temporalTLS reports whether the Temporal link is encrypted: TLS asked
// for, or implied by an API key, and not turned off.
func (c Config) temporalTLS() bool {
	t := c.Temporal.TLS
	if t != nil && t.Disabled {
		return false
	}
	return t != nil || c.Temporal.APIKey != ""
}

// engineErrors refuses engine settings that cannot work, and in production
// those that would let a stranger act as Crier or feed it forged work.
func (c Config) engineErrors() []error {
	var errs []error
	if err := c.KafkaSecurity.Check(); err != nil {
		errs = append(errs, err)
	}
	if t := c.Temporal.TLS; t != nil && (t.ClientCertPath == "" && len(t.ClientCertData) == 0) != (t.ClientKeyPath == "" && len(t.ClientKeyData) == 0) {
		errs = append(errs, errors.New("set both a Temporal client certificate and its key (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH), or neither"))
	}
	if c.Env != "production" {
		return errs
	}
	embedded := len(c.KafkaBrokers) == 1 && c.KafkaBrokers[0] == "embedded"
	if !embedded && !c.KafkaSecurity.Authenticated() && !allLoopback(c.KafkaBrokers) {
		errs = append(errs, fmt.Errorf("the Kafka brokers at %s would be reached without authentication: anything that can write the topic "+
			"can push a broadcast to every user, so production needs KAFKA_SASL_MECHANISM (SCRAM-SHA-512), KAFKA_SASL_USERNAME and "+
			"KAFKA_SASL_PASSWORD, or a TLS client certificate (KAFKA_TLS_CERT_FILE, KAFKA_TLS_KEY_FILE)", strings.Join(c.KafkaBrokers, ",")))
	}
	if c.Temporal.APIKey != "" && !c.temporalTLS() {
		errs = append(errs, errors.New("TEMPORAL_API_KEY with TEMPORAL_TLS=false would send the key in clear: production refuses it"))
	}
	if t := c.Temporal.TLS; t != nil && t.DisableHostVerification {
		errs = append(errs, errors.New("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION lets anyone on the path pose as Temporal: production refuses it; "+
			"set TEMPORAL_TLS_SERVER_CA_CERT_PATH and TEMPORAL_TLS_SERVER_NAME instead"))
	}
	return errs
}

// EngineWarnings lists the links that leave this machine unencrypted or
// unauthenticated, for the log at start; none of them stops Crier.
func (c Config) EngineWarnings() []string {
	var warnings []string
	embedded := len(c.KafkaBrokers) == 1 && c.KafkaBrokers[0] == "embedded"
	if !embedded && !allLoopback(c.KafkaBrokers) {
		if !c.KafkaSecurity.Authenticated() {
			warnings = append(warnings, "Kafka link is not authenticated: anything that can reach the brokers can write broadcasts to the topic; set KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
		}
		if !c.KafkaSecurity.TLS {
			warnings = append(warnings, "Kafka link is not encrypted (KAFKA_TLS is not true): events are readable on the network")
		}
	}
	if !c.temporalTLS() && !isLoopback(c.TemporalAddress) {
		warnings = append(warnings, "Temporal link is neither encrypted nor authenticated: set TEMPORAL_TLS=true with a client certificate "+
			"(TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH) or TEMPORAL_API_KEY")
	}
	for _, host := range plaintextPostgresHosts(c.DatabaseURL) {
		warnings = append(warnings, fmt.Sprintf("PostgreSQL link to %s may be unencrypted (DATABASE_URL's sslmode, or PGSSLMODE, is disable, allow or prefer): "+
			"set sslmode=verify-full and sslrootcert", host))
	}
	return warnings
}

// plaintextPostgresHosts lists the hosts off this machine that pgx may
// reach without TLS under databaseURL (and the PG* variables pgx reads):
// sslmode disable, allow and prefer all keep a plaintext attempt. A URL that
// does not parse lists nothing; connecting reports it.
func plaintextPostgresHosts(databaseURL string) []string {
	cfg, err := pgconn.ParseConfig(databaseURL)
	if err != nil {
		return nil
	}
	attempts := append([]*pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port, TLSConfig: cfg.TLSConfig}}, cfg.Fallbacks...)
	var hosts []string
	for _, a := range attempts {
		local := strings.HasPrefix(a.Host, "/") || isLoopback(a.Host) // a Unix socket or loopback
		if a.TLSConfig == nil && !local && !slices.Contains(hosts, a.Host) {
			hosts = append(hosts, a.Host)
		}
	}
	return hosts
}

func allLoopback(addrs []string) bool {
	return !slices.ContainsFunc(addrs, func(a string) bool { return !isLoopback(a) })
}

// isLoopback reports whether addr (a host or host:port) names this machine.
func isLoopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
