package config

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/crier/crier/internal/kafkaconn"
)

// productionVars are the least a production configuration needs besides
// the engine settings under test.
func productionVars(extra map[string]string) map[string]string {
	vars := map[string]string{"CRIER_ENV": "production", "CRIER_JWT_SECRET": strings.Repeat("s", 32),
		"CRIER_JWT_ISSUER": "crier", "CRIER_JWT_AUDIENCE": "crier"}
	for k, v := range extra {
		vars[k] = v
	}
	return vars
}

func TestKafkaSecurityFromVariables(t *testing.T) {
	t.Parallel()
	passwordFile := filepath.Join(t.TempDir(), "password")
	require.NoError(t, os.WriteFile(passwordFile, []byte("s3cret with spaces\n"), 0o600))
	c, err := parse(lookup(map[string]string{"KAFKA_SASL_MECHANISM": "scram-sha-512", "KAFKA_SASL_USERNAME": "crier",
		"KAFKA_SASL_PASSWORD_FILE": passwordFile, "KAFKA_TLS": "true", "KAFKA_TLS_SERVER_NAME": "kafka.internal"}))
	require.NoError(t, err)
	require.Equal(t, kafkaconn.Security{SASLMechanism: kafkaconn.ScramSHA512, SASLUsername: "crier", SASLPassword: "s3cret with spaces",
		TLS: true, TLSServerName: "kafka.internal"}, c.KafkaSecurity)

	_, err = parse(lookup(map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": "crier",
		"KAFKA_SASL_PASSWORD": "x", "KAFKA_SASL_PASSWORD_FILE": passwordFile}))
	require.ErrorContains(t, err, "KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both")
	_, err = parse(lookup(map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "crier", "KAFKA_SASL_PASSWORD": "x"}))
	require.ErrorContains(t, err, "KAFKA_SASL_MECHANISM must be SCRAM-SHA-512 or SCRAM-SHA-256", "checked in development too")
}

func TestProductionRefusesUnsafeEngineLinks(t *testing.T) {
	t.Parallel()
	scram := map[string]string{"KAFKA_BROKERS": "kafka:9092", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
		"KAFKA_SASL_USERNAME": "crier", "KAFKA_SASL_PASSWORD": "x"}
	for name, tc := range map[string]struct {
		vars map[string]string
		want string // "" accepts
	}{
		"Kafka off this machine without credentials": {map[string]string{"KAFKA_BROKERS": "kafka:9092"}, "Kafka brokers at kafka:9092 would be reached without authentication"},
		"one of two brokers off this machine":        {map[string]string{"KAFKA_BROKERS": "127.0.0.1:9092,10.0.0.7:9092"}, "without authentication"},
		"Kafka with SCRAM":                           {scram, ""},
		"Kafka with a client certificate": {map[string]string{"KAFKA_BROKERS": "kafka:9093", "KAFKA_TLS": "true",
			"KAFKA_TLS_CERT_FILE": "/c.pem", "KAFKA_TLS_KEY_FILE": "/k.pem"}, ""},
		"Kafka on loopback":                   {map[string]string{"KAFKA_BROKERS": "localhost:9092"}, ""},
		"Temporal API key sent in clear":      {map[string]string{"TEMPORAL_API_KEY": "key", "TEMPORAL_TLS": "false"}, "would send the key in clear"},
		"Temporal without host check":         {map[string]string{"TEMPORAL_TLS": "true", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "true"}, "production refuses it"},
		"Temporal API key (TLS implied)":      {map[string]string{"TEMPORAL_API_KEY": "key"}, ""},
		"Temporal certificate without key":    {map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": "/c.pem"}, "both a Temporal client certificate and its key"},
		"Temporal TLS neither true nor false": {map[string]string{"TEMPORAL_TLS": "yes"}, "TEMPORAL_TLS must be true or false"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(lookup(productionVars(tc.vars)))
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestEngineWarnings(t *testing.T) {
	t.Parallel()
	c, err := parse(lookup(productionVars(map[string]string{
		"KAFKA_BROKERS": "kafka:9092", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": "crier", "KAFKA_SASL_PASSWORD": "x",
		"TEMPORAL_ADDRESS": "temporal:7233", "DATABASE_URL": "postgres://crier@postgresql:5432/crier?sslmode=disable",
	})))
	require.NoError(t, err)
	warnings := strings.Join(c.EngineWarnings(), "\n")
	require.Contains(t, warnings, "Kafka link is not encrypted")
	require.NotContains(t, warnings, "Kafka link is not authenticated")
	require.Contains(t, warnings, "Temporal link is neither encrypted nor authenticated")
	require.Contains(t, warnings, "PostgreSQL link to postgresql may be unencrypted")
	require.NotContains(t, warnings, "x\n", "no secret in a warning")

	local, err := parse(lookup(nil))
	require.NoError(t, err)
	require.Empty(t, local.EngineWarnings(), "the dev defaults stay on loopback")
}

func TestPlaintextPostgresHosts(t *testing.T) {
	t.Setenv("PGSSLMODE", "") // pgx reads it when the URL names no sslmode
	for url, want := range map[string][]string{
		"postgres://crier@db.example.com/crier?sslmode=disable":                {"db.example.com"},
		"postgres://crier@db.example.com/crier?sslmode=prefer":                 {"db.example.com"},
		"postgres://crier@db.example.com/crier?sslmode=allow":                  {"db.example.com"},
		"postgres://crier@db.example.com/crier":                                {"db.example.com"}, // libpq's default is prefer
		"postgres://crier@db.example.com/crier?sslmode=require":                nil,
		"postgres://crier@db.example.com/crier?sslmode=verify-full":            nil,
		"postgres://crier@127.0.0.1:5432/crier?sslmode=disable":                nil,
		"postgres://crier@localhost/crier?sslmode=disable":                     nil,
		"host=/var/run/postgresql dbname=crier sslmode=disable":                nil,
		"postgres://crier@a.example.com,b.example.com/crier?sslmode=verify-ca": nil,
		"postgres://crier@a.example.com,127.0.0.1/crier?sslmode=disable":       {"a.example.com"},
	} {
		require.Equal(t, want, plaintextPostgresHosts(url), url)
	}
}

func TestTemporalClientOptionsFromTemporalVariables(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	c, err := parse(lookup(map[string]string{
		"TEMPORAL_ADDRESS": "temporal.example.com:7233", "TEMPORAL_NAMESPACE": "crier",
		"TEMPORAL_TLS_CLIENT_CERT_PATH": pki.clientCert, "TEMPORAL_TLS_CLIENT_KEY_PATH": pki.clientKey,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.caCert, "TEMPORAL_TLS_SERVER_NAME": "temporal.internal",
		"TEMPORAL_API_KEY": "api-key",
	}))
	require.NoError(t, err)
	opts, err := c.TemporalClientOptions()
	require.NoError(t, err)
	require.Equal(t, "temporal.example.com:7233", opts.HostPort)
	require.Equal(t, "crier", opts.Namespace)
	require.NotNil(t, opts.Credentials, "the API key")
	tlsConfig := opts.ConnectionOptions.TLS
	require.NotNil(t, tlsConfig)
	require.Len(t, tlsConfig.Certificates, 1)
	require.NotNil(t, tlsConfig.RootCAs)
	require.Equal(t, "temporal.internal", tlsConfig.ServerName)
	require.False(t, tlsConfig.InsecureSkipVerify)

	plain, err := parse(lookup(nil))
	require.NoError(t, err)
	opts, err = plain.TemporalClientOptions()
	require.NoError(t, err)
	require.Nil(t, opts.ConnectionOptions.TLS, "no TLS unless asked: the dev server speaks plain gRPC")
	require.Nil(t, opts.Credentials)
}

// TestTemporalClientPresentsCertificateAndAPIKey dials a TLS frontend that
// requires a client certificate signed by the test CA and records the API
// key, as Temporal with mTLS and an authorizer would: the dev server Crier's
// tests run has no TLS.
func TestTemporalClientPresentsCertificateAndAPIKey(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	frontend := startTLSFrontend(t, pki)
	c, err := parse(lookup(map[string]string{
		"TEMPORAL_ADDRESS":              frontend.addr,
		"TEMPORAL_TLS_CLIENT_CERT_PATH": pki.clientCert, "TEMPORAL_TLS_CLIENT_KEY_PATH": pki.clientKey,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.caCert, "TEMPORAL_TLS_SERVER_NAME": "temporal.internal",
		"TEMPORAL_API_KEY": "api-key",
	}))
	require.NoError(t, err)
	opts, err := c.TemporalClientOptions()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tc, err := client.DialContext(ctx, opts)
	require.NoError(t, err)
	tc.Close()
	call := <-frontend.calls
	require.Equal(t, "crier-client", call.clientCN, "the client certificate")
	require.Equal(t, "Bearer api-key", call.authorization, "the API key")

	// Without the client certificate the handshake fails.
	c.Temporal.TLS.ClientCertPath, c.Temporal.TLS.ClientKeyPath = "", ""
	opts, err = c.TemporalClientOptions()
	require.NoError(t, err)
	opts.ConnectionOptions.GetSystemInfoTimeout = 2 * time.Second
	_, err = client.DialContext(ctx, opts)
	require.Error(t, err)
}

type frontendCall struct{ clientCN, authorization string }

type tlsFrontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	addr  string
	calls chan frontendCall
}

func (f *tlsFrontend) GetSystemInfo(ctx context.Context, _ *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	var call frontendCall
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.PeerCertificates) > 0 {
			call.clientCN = info.State.PeerCertificates[0].Subject.CommonName
		}
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get("authorization")) > 0 {
		call.authorization = md.Get("authorization")[0]
	}
	select {
	case f.calls <- call:
	default:
	}
	return &workflowservice.GetSystemInfoResponse{Capabilities: &workflowservice.GetSystemInfoResponse_Capabilities{}}, nil
}

func startTLSFrontend(t *testing.T, pki testPKI) *tlsFrontend {
	t.Helper()
	serverCert, err := tls.LoadX509KeyPair(pki.serverCert, pki.serverKey)
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{serverCert}, ClientCAs: pki.pool, ClientAuth: tls.RequireAndVerifyClientCert,
	})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &tlsFrontend{addr: ln.Addr().String(), calls: make(chan frontendCall, 1)}
	workflowservice.RegisterWorkflowServiceServer(srv, f)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return f
}

// testPKI is a CA with a server certificate for temporal.internal and a
// client certificate, as PEM files.
type testPKI struct {
	caCert, serverCert, serverKey, clientCert, clientKey string
	pool                                                 *x509.CertPool
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTemplate := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "crier test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	pki := testPKI{caCert: writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER), pool: x509.NewCertPool()}
	pki.pool.AddCert(ca)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string) (certFile, keyFile string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(serial),
			Subject: pkix.Name{CommonName: cn}, DNSNames: dns, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}, ca, &key.PublicKey, caKey)
		require.NoError(t, err)
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		require.NoError(t, err)
		return writePEM(t, dir, cn+".pem", "CERTIFICATE", der), writePEM(t, dir, cn+".key", "PRIVATE KEY", keyDER)
	}
	pki.serverCert, pki.serverKey = issue(2, "temporal.internal", x509.ExtKeyUsageServerAuth, []string{"temporal.internal"})
	pki.clientCert, pki.clientKey = issue(3, "crier-client", x509.ExtKeyUsageClientAuth, nil)
	return pki
}

func writePEM(t *testing.T, dir, name, blockType string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600))
	return path
}
