package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// SCRAM mechanisms Crier speaks. PLAIN is left out: it sends the password
// itself, where SCRAM proves knowledge of it.
const (
	ScramSHA512 = "SCRAM-SHA-512"
	ScramSHA256 = "SCRAM-SHA-256"
)

// Security is how Crier authenticates to Kafka and encrypts the link. The
// zero value is PLAINTEXT without credentials, as on a loopback dev broker.
type Security struct {
	// SASLMechanism is SCRAM-SHA-512 or SCRAM-SHA-256; empty sends no
	// credentials (KAFKA_SASL_MECHANISM, default none).
	SASLMechanism string
	// SASLUsername is the principal Kafka's ACLs name, User:<name>
	// (KAFKA_SASL_USERNAME).
	SASLUsername string
	// SASLPassword (KAFKA_SASL_PASSWORD, or read from the file
	// KAFKA_SASL_PASSWORD_FILE). Never logged: String leaves it out.
	SASLPassword string
	// TLS encrypts the link and verifies the brokers' certificates against
	// the system roots or TLSCAFile (KAFKA_TLS, default false).
	TLS bool
	// TLSCAFile holds PEM certificates of the CAs that signed the brokers'
	// certificates (KAFKA_TLS_CA_FILE, default the system roots).
	TLSCAFile string
	// TLSCertFile and TLSKeyFile are a PEM client certificate and key, for
	// brokers that authenticate clients by certificate (KAFKA_TLS_CERT_FILE,
	// KAFKA_TLS_KEY_FILE, default none).
	TLSCertFile string
	TLSKeyFile  string
	// TLSServerName is the name the brokers' certificates must carry, when it
	// is not the host in KAFKA_BROKERS (KAFKA_TLS_SERVER_NAME).
	TLSServerName string
}

// Check reports settings that cannot work together, naming the variables to
// change. It reads no files; New does.
func (s Security) Check() error {
	var errs []error
	switch s.SASLMechanism {
	case "":
		if s.SASLUsername != "" || s.SASLPassword != "" {
			errs = append(errs, errors.New("KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is set without KAFKA_SASL_MECHANISM: set it to SCRAM-SHA-512 or SCRAM-SHA-256"))
		}
	case ScramSHA512, ScramSHA256:
		if s.SASLUsername == "" || s.SASLPassword == "" {
			errs = append(errs, fmt.Errorf("KAFKA_SASL_MECHANISM=%s needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)", s.SASLMechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("KAFKA_SASL_MECHANISM must be SCRAM-SHA-512 or SCRAM-SHA-256, got %q", s.SASLMechanism))
	}
	if !s.TLS && (s.TLSCAFile != "" || s.TLSCertFile != "" || s.TLSKeyFile != "" || s.TLSServerName != "") {
		errs = append(errs, errors.New("KAFKA_TLS_CA_FILE, KAFKA_TLS_CERT_FILE, KAFKA_TLS_KEY_FILE or KAFKA_TLS_SERVER_NAME is set but KAFKA_TLS is not true"))
	}
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		errs = append(errs, errors.New("set both KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE, or neither"))
	}
	return errors.Join(errs...)
}

// Authenticated reports whether the brokers learn who Crier is: by SASL or
// by a TLS client certificate.
func (s Security) Authenticated() bool { return s.SASLMechanism != "" || s.TLSCertFile != "" }

// String describes the settings for logs, without the password.
func (s Security) String() string {
	protocol := map[[2]bool]string{{false, false}: "PLAINTEXT", {false, true}: "SASL_PLAINTEXT",
		{true, false}: "SSL", {true, true}: "SASL_SSL"}[[2]bool{s.TLS, s.SASLMechanism != ""}]
	if s.SASLMechanism != "" {
		protocol += fmt.Sprintf(" %s as %s", s.SASLMechanism, s.SASLUsername)
	}
	if s.TLSCertFile != "" {
		protocol += " with a client certificate"
	}
	return protocol
}

// Link is what Crier's Kafka clients connect with.
type Link struct {
	// Dialer is for kafka.Reader, kafka.DialContext-style calls and DialLeader.
	Dialer *kafka.Dialer
	// Transport is for kafka.Writer and kafka.Client.
	Transport *kafka.Transport
}

// dialTimeout bounds connecting, TLS and SASL included, as kafka-go's
// DefaultDialer does.
const dialTimeout = 10 * time.Second

// New builds the dialer and transport s describes, reading the certificate
// files. A PLAINTEXT s gives kafka-go's defaults.
func New(s Security) (Link, error) {
	if err := s.Check(); err != nil {
		return Link{}, err
	}
	var (
		mechanism sasl.Mechanism
		tlsConfig *tls.Config
		err       error
	)
	if s.SASLMechanism != "" {
		algorithm := scram.SHA512
		if s.SASLMechanism == ScramSHA256 {
			algorithm = scram.SHA256
		}
		if mechanism, err = scram.Mechanism(algorithm, s.SASLUsername, s.SASLPassword); err != nil {
			return Link{}, fmt.Errorf("KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD cannot be used with SCRAM: %w", err)
		}
	}
	if s.TLS {
		if tlsConfig, err = s.tlsConfig(); err != nil {
			return Link{}, err
		}
	}
	netDialer := &net.Dialer{Timeout: dialTimeout}
	return Link{
		Dialer:    &kafka.Dialer{Timeout: dialTimeout, DualStack: true, TLS: tlsConfig, SASLMechanism: mechanism},
		Transport: &kafka.Transport{Dial: netDialer.DialContext, DialTimeout: dialTimeout, TLS: tlsConfig, SASL: mechanism},
	}, nil
}

func (s Security) tlsConfig() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.TLSServerName}
	if s.TLSCAFile != "" {
		pem, err := os.ReadFile(s.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_TLS_CA_FILE: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("KAFKA_TLS_CA_FILE: no PEM certificate in %s", s.TLSCAFile)
		}
	}
	if s.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
