package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func lookup(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestDefaultsInDevelopment(t *testing.T) {
	t.Parallel()
	c, err := parse(lookup(nil))
	require.NoError(t, err)
	require.True(t, c.Development())
	require.Equal(t, DevJWTSecret, c.JWTSecret)
	require.Equal(t, []string{"127.0.0.1:9092"}, c.KafkaBrokers)
	require.Equal(t, "broadcast_messages", c.KafkaTopic)
	require.Equal(t, 6, c.KafkaPartitions)
	require.Equal(t, 720*time.Hour, c.DefaultExpiry)
	require.Equal(t, "text", c.LogFormat)
}

func TestProductionRefusesUnsafeSettings(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		vars map[string]string
		want string
	}{
		"no key":       {map[string]string{}, "no key to verify tokens with: set CRIER_JWT_SECRET"},
		"dev secret":   {map[string]string{"CRIER_JWT_SECRET": DevJWTSecret}, "development secret"},
		"short secret": {map[string]string{"CRIER_JWT_SECRET": "short"}, "at least 32 bytes"},
		"short secret with a JWKS": {map[string]string{"CRIER_JWT_SECRET": "short", "CRIER_JWKS_URL": "https://idp.example.com/certs"},
			"at least 32 bytes"},
		"secret too short for HS512": {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 40), "CRIER_JWT_ALGORITHMS": "HS256,HS512"},
			"at least 64 bytes"},
		"alg none": {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_JWT_ALGORITHMS": "HS256,none"},
			`CRIER_JWT_ALGORITHMS: algorithm "none" is never allowed`},
		"unknown alg": {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_JWT_ALGORITHMS": "HS256,ES512"},
			`algorithm "ES512" is not supported`},
		"HS alg without a secret": {map[string]string{"CRIER_JWKS_URL": "https://idp.example.com/certs", "CRIER_JWT_ALGORITHMS": "RS256,HS256"},
			"allows HS256, which needs CRIER_JWT_SECRET"},
		"RS alg without a JWKS": {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_JWT_ALGORITHMS": "RS256"},
			"allows RS256, which needs CRIER_JWKS_URL or CRIER_JWKS_FILE"},
		"two JWKS": {map[string]string{"CRIER_JWKS_URL": "https://idp.example.com/certs", "CRIER_JWKS_FILE": "/etc/crier/jwks.json"},
			"not both"},
		"bad JWKS URL":    {map[string]string{"CRIER_JWKS_URL": "idp.example.com/certs"}, "CRIER_JWKS_URL must be an http(s) URL"},
		"large leeway":    {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_JWT_LEEWAY": "1h"}, "CRIER_JWT_LEEWAY must be a duration from 0s to 5m0s"},
		"negative leeway": {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_JWT_LEEWAY": "-1s"}, "CRIER_JWT_LEEWAY must be a duration from 0s to 5m0s"},
		"bad leeway":      {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_JWT_LEEWAY": "a bit"}, "CRIER_JWT_LEEWAY"},
		"embedded kafka":  {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "KAFKA_BROKERS": "embedded"}, "development only"},
		"bad duration":    {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_DEFAULT_EXPIRY": "soon"}, "CRIER_DEFAULT_EXPIRY"},
		"bad partitions":  {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_KAFKA_PARTITIONS": "0"}, "at least 1"},
		"unknown env":     {map[string]string{"CRIER_ENV": "staging"}, "development or production"},
		"bad log format":  {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_LOG_FORMAT": "xml"}, "text or json"},
		"bad bool":        {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_MIGRATE": "maybe"}, "true or false"},
		"bad batch count": {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_RELAY_BATCH_SIZE": "lots"}, "whole number"},
		"no issuer": {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_JWT_ISSUER": ""},
			"CRIER_JWT_ISSUER is required in production: set it to the iss claim your tokens carry, such as https://idp.example.com/realms/crier"},
		"no issuer with a JWKS": {map[string]string{"CRIER_JWKS_URL": "https://idp.example.com/certs", "CRIER_JWT_ISSUER": ""},
			"CRIER_JWT_ISSUER is required in production"},
		"no audience": {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_JWT_AUDIENCE": ""},
			"CRIER_JWT_AUDIENCE is required in production: set it to the aud value your tokens carry for Crier, such as crier"},
		"no audience with a JWKS file": {map[string]string{"CRIER_JWKS_FILE": "/etc/crier/jwks.json", "CRIER_JWT_AUDIENCE": ""},
			"CRIER_JWT_AUDIENCE is required in production"},
		"http JWKS URL": {map[string]string{"CRIER_JWKS_URL": "http://idp.example.com/certs"},
			"CRIER_JWKS_URL must use https in production, such as https://idp.example.com/"},
		"http JWKS URL on loopback": {map[string]string{"CRIER_JWKS_URL": "http://127.0.0.1:8081/certs"},
			"CRIER_JWKS_URL must use https in production"},
		"profiler on every interface": {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_DEBUG_ADDR": ":6060"},
			"CRIER_DEBUG_ADDR must be a loopback or private IP address"},
		"profiler on a public address": {map[string]string{"CRIER_JWT_SECRET": strings.Repeat("s", 32), "CRIER_DEBUG_ADDR": "203.0.113.7:6060"},
			"CRIER_DEBUG_ADDR must be a loopback or private IP address"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{"CRIER_ENV": "production", "CRIER_JWT_ISSUER": "crier", "CRIER_JWT_AUDIENCE": "crier"}
			for k, v := range tc.vars {
				vars[k] = v
			}
			_, err := parse(lookup(vars))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// Token settings are checked in development too: only the secret has a
// development default.
func TestDevelopmentRefusesUnsafeAlgorithms(t *testing.T) {
	t.Parallel()
	_, err := parse(lookup(map[string]string{"CRIER_JWT_ALGORITHMS": "none"}))
	require.ErrorContains(t, err, `algorithm "none" is never allowed`)
	_, err = parse(lookup(map[string]string{"CRIER_JWT_ALGORITHMS": "RS256"}))
	require.ErrorContains(t, err, "needs CRIER_JWKS_URL or CRIER_JWKS_FILE")
}

func TestTokenSettings(t *testing.T) {
	t.Parallel()
	c, err := parse(lookup(map[string]string{
		"CRIER_ENV":             "production",
		"CRIER_JWKS_URL":        "https://idp.example.com/realms/crier/protocol/openid-connect/certs",
		"CRIER_JWT_ALGORITHMS":  " rs256, ES256 ,",
		"CRIER_JWT_ISSUER":      "https://idp.example.com/realms/crier",
		"CRIER_JWT_AUDIENCE":    "crier",
		"CRIER_JWT_ROLES_CLAIM": "realm_access.roles",
		"CRIER_JWT_NAME_CLAIM":  "preferred_username",
		"CRIER_JWT_LEEWAY":      "10s",
	}))
	require.NoError(t, err, "a JWKS alone is enough in production")

	vc := c.VerifierConfig()

	require.Nil(t, vc.Secret)
	require.Equal(t, []string{"RS256", "ES256"}, vc.Algorithms)
	require.Equal(t, "https://idp.example.com/realms/crier/protocol/openid-connect/certs", vc.JWKSURL)
	require.Equal(t, "https://idp.example.com/realms/crier", vc.Issuer)
	require.Equal(t, "crier", vc.Audience)
	require.Equal(t, "realm_access.roles", vc.RolesClaim)
	require.Equal(t, "preferred_username", vc.NameClaim)
	require.Equal(t, 10*time.Second, vc.Leeway)
	require.NoError(t, vc.Validate())
}

func TestTokenDefaults(t *testing.T) {
	t.Parallel()
	c, err := parse(lookup(nil))
	require.NoError(t, err)

	vc := c.VerifierConfig()

	require.Equal(t, []byte(DevJWTSecret), vc.Secret)
	require.Nil(t, vc.Algorithms, "the verifier picks the algorithms from the keys")
	require.Empty(t, vc.JWKSURL+vc.JWKSFile+vc.Issuer+vc.Audience)
	require.Equal(t, "roles", vc.RolesClaim)
	require.Equal(t, "name", vc.NameClaim)
	require.Equal(t, 30*time.Second, vc.Leeway)
	require.NoError(t, vc.Validate())
}

func TestProductionWithAGoodSecret(t *testing.T) {
	t.Parallel()
	c, err := parse(lookup(map[string]string{"CRIER_ENV": "production", "CRIER_JWT_SECRET": strings.Repeat("k", 40),
		"CRIER_JWT_ISSUER": "crier", "CRIER_JWT_AUDIENCE": "crier", "CRIER_HTTP_ADDR": "0.0.0.0:8080", "CRIER_DEBUG_ADDR": "10.1.2.3:6060"}))
	require.NoError(t, err)
	require.Equal(t, "json", c.LogFormat)
	require.Empty(t, c.ExposedInDevelopment(true), "production does not warn")
}

// Load reads the env file make dev writes, and the environment wins over it.
func TestLoadReadsTheEnvFileUnderTheEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "env")
	require.NoError(t, os.WriteFile(file, []byte(`# written by make dev
export DATABASE_URL='postgres://file/crier'
export KAFKA_BROKERS="127.0.0.1:1111,127.0.0.1:2222"
CRIER_HTTP_ADDR=127.0.0.1:9999
`), 0o600))
	t.Setenv("CRIER_ENV_FILE", file)
	t.Setenv("DATABASE_URL", "") // empty counts as unset: make test exports these
	t.Setenv("KAFKA_BROKERS", "")
	t.Setenv("CRIER_HTTP_ADDR", "127.0.0.1:7777")

	c, err := Load()

	require.NoError(t, err)
	require.Equal(t, "postgres://file/crier", c.DatabaseURL)
	require.Equal(t, []string{"127.0.0.1:1111", "127.0.0.1:2222"}, c.KafkaBrokers)
	require.Equal(t, "127.0.0.1:7777", c.HTTPAddr, "the environment wins over the file")
}

func TestSecuritySettings(t *testing.T) {
	t.Parallel()
	c, err := parse(lookup(map[string]string{
		"CRIER_RATE_PER_USER": "5:10", "CRIER_RATE_PER_ADDRESS": "0",
		"CRIER_CORS_ORIGINS": "https://App.example.com, http://127.0.0.1:3000", "CRIER_TRUSTED_PROXIES": "10.0.0.0/8",
		"CRIER_JWT_ALGORITHMS": "hs256",
	}))
	require.NoError(t, err)
	require.InDelta(t, 5, c.RatePerUser.PerSecond, 0)
	require.Equal(t, 10, c.RatePerUser.Burst)
	require.Zero(t, c.RatePerAddress.PerSecond, "0 disables")
	require.Equal(t, []string{"https://app.example.com", "http://127.0.0.1:3000"}, c.CORSOrigins, "origins as browsers send them")
	require.Equal(t, []string{"HS256"}, c.JWTAlgorithms)
	require.InDelta(t, 1.0/6, c.RateStreamConnects.PerSecond, 1e-9)

	for key, value := range map[string]string{
		"CRIER_CORS_ORIGINS": "*", "CRIER_TRUSTED_PROXIES": "10.0.0.1", "CRIER_RATE_PER_USER": "fast",
	} {
		_, err := parse(lookup(map[string]string{key: value}))
		require.ErrorContains(t, err, key)
	}
}
