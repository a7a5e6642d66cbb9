package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/auth"
)

// jwksFile writes a JWK Set holding one fresh EC public key.
func jwksFile(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwk, err := jwkset.NewJWKFromKey(key.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "idp-1"}})
	require.NoError(t, err)
	raw, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	return path
}

// With a JWKS and CRIER_ENV forgotten, an admin token signed with the
// published development secret used to be accepted: development filled in
// the secret whatever the key source.
func TestDevelopmentWithAJWKSRefusesTheDevelopmentSecret(t *testing.T) {
	t.Parallel()
	c, err := parse(lookup(map[string]string{"CRIER_JWKS_FILE": jwksFile(t)}))
	require.NoError(t, err)
	require.Empty(t, c.JWTSecret)
	v, err := auth.NewVerifierFromConfig(t.Context(), c.VerifierConfig())
	require.NoError(t, err)
	forged, err := auth.Issue([]byte(DevJWTSecret), "mallory", "", []string{auth.RoleAdmin}, time.Hour, time.Now())
	require.NoError(t, err)

	_, err = v.Verify(forged)

	require.ErrorContains(t, err, "signing method HS256 is invalid")

	_, err = parse(lookup(map[string]string{"CRIER_JWKS_FILE": jwksFile(t), "CRIER_JWT_ALGORITHMS": "RS256,HS256"}))
	require.ErrorContains(t, err, "CRIER_JWT_ALGORITHMS allows HS256, which needs CRIER_JWT_SECRET")
}

func TestJWKSURLMustBeHTTPS(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		env, url string
		want     string // "" accepted
	}{
		"https":                            {"development", "https://idp.example.com/certs", ""},
		"http on loopback in development":  {"development", "http://127.0.0.1:8081/certs", ""},
		"http on localhost in development": {"development", "http://localhost:8081/certs", ""},
		"http on [::1] in development":     {"development", "http://[::1]:8081/certs", ""},
		"http elsewhere in development":    {"development", "http://idp.internal:8080/certs", "CRIER_JWKS_URL may use http only for an identity provider on loopback"},
		"http on a LAN in development":     {"development", "http://192.168.1.20/certs", "may use http only"},
		"https in production":              {"production", "https://idp.example.com/certs", ""},
		"HTTPS in production":              {"production", "HTTPS://idp.example.com/certs", ""},
		"http in production":               {"production", "http://idp.example.com/certs", "must use https in production"},
		"http on loopback in production":   {"production", "HTTP://127.0.0.1:8081/certs", "must use https in production"},
		"not a URL":                        {"production", "ftp://idp.example.com/certs", "CRIER_JWKS_URL must be an http(s) URL"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(lookup(map[string]string{"CRIER_ENV": tc.env, "CRIER_JWKS_URL": tc.url,
				"CRIER_JWT_ISSUER": "https://idp.example.com", "CRIER_JWT_AUDIENCE": "crier"}))
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// CRIER_JWT_LEEWAY=0 used to be refused by the parser, and a zero leeway
// became 30 s in auth.
func TestLeewayZeroMeansNone(t *testing.T) {
	t.Parallel()
	for value, want := range map[string]time.Duration{"": auth.DefaultLeeway, "0": 0, "0s": 0, "2s": 2 * time.Second, "5m": auth.MaxLeeway} {
		c, err := parse(lookup(map[string]string{"CRIER_JWT_LEEWAY": value}))
		require.NoError(t, err, value)
		require.Equal(t, want, c.VerifierConfig().Leeway, value)
	}
}

// Development mode accepts tokens signed with the development secret,
// published in this repository: on an address other machines can reach,
// anyone there could sign an admin token.
func TestDevelopmentSecretOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	ownSecret := strings.Repeat("k", 32)
	for name, tc := range map[string]struct {
		vars    map[string]string
		refused bool
	}{
		"default address":             {map[string]string{}, false},
		"127.0.0.1":                   {map[string]string{"CRIER_HTTP_ADDR": "127.0.0.1:9000"}, false},
		"localhost":                   {map[string]string{"CRIER_HTTP_ADDR": "localhost:9000"}, false},
		"[::1]":                       {map[string]string{"CRIER_HTTP_ADDR": "[::1]:9000"}, false},
		"0.0.0.0":                     {map[string]string{"CRIER_HTTP_ADDR": "0.0.0.0:8080"}, true},
		"every interface":             {map[string]string{"CRIER_HTTP_ADDR": ":8080"}, true},
		"[::]":                        {map[string]string{"CRIER_HTTP_ADDR": "[::]:8080"}, true},
		"a LAN address":               {map[string]string{"CRIER_HTTP_ADDR": "192.168.1.5:8080"}, true},
		"a host name":                 {map[string]string{"CRIER_HTTP_ADDR": "crier.internal:8080"}, true},
		"the secret set explicitly":   {map[string]string{"CRIER_HTTP_ADDR": "0.0.0.0:8080", "CRIER_JWT_SECRET": DevJWTSecret}, true},
		"a secret of one's own":       {map[string]string{"CRIER_HTTP_ADDR": "0.0.0.0:8080", "CRIER_JWT_SECRET": ownSecret}, false},
		"a JWKS":                      {map[string]string{"CRIER_HTTP_ADDR": "0.0.0.0:8080", "CRIER_JWKS_URL": "https://idp.example.com/certs"}, false},
		"production (needs a secret)": {map[string]string{"CRIER_HTTP_ADDR": "0.0.0.0:8080", "CRIER_ENV": "production", "CRIER_JWT_SECRET": ownSecret, "CRIER_JWT_ISSUER": "crier", "CRIER_JWT_AUDIENCE": "crier"}, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(lookup(tc.vars))
			if !tc.refused {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "can be reached from other machines, and development mode accepts tokens signed with the published development secret")
			require.ErrorContains(t, err, "set CRIER_ENV=production, or CRIER_JWT_SECRET to a secret of your own")
			require.ErrorContains(t, err, "or bind 127.0.0.1:8080")
		})
	}
}

// With a key of one's own, development mode may listen anywhere, and serve
// warns at start for each address other machines can reach.
func TestExposedInDevelopment(t *testing.T) {
	t.Parallel()
	c, err := parse(lookup(map[string]string{
		"CRIER_JWT_SECRET": strings.Repeat("k", 32), "CRIER_HTTP_ADDR": ":8080",
		"CRIER_METRICS_ADDR": "0.0.0.0:9464", "CRIER_DEBUG_ADDR": "10.0.0.5:6060",
	}))
	require.NoError(t, err)

	require.Equal(t, []Listener{{"CRIER_HTTP_ADDR", ":8080"}, {"CRIER_DEBUG_ADDR", "10.0.0.5:6060"}}, c.ExposedInDevelopment(true),
		"an API process serves metrics on the API's address")
	require.Equal(t, []Listener{{"CRIER_METRICS_ADDR", "0.0.0.0:9464"}, {"CRIER_DEBUG_ADDR", "10.0.0.5:6060"}}, c.ExposedInDevelopment(false))

	c, err = parse(lookup(map[string]string{"CRIER_DEBUG_ADDR": "127.0.0.1:6060"}))
	require.NoError(t, err)
	require.Empty(t, c.ExposedInDevelopment(true), "the defaults are all loopback")
	require.Empty(t, c.ExposedInDevelopment(false))
}

func TestCORSOriginsAreExact(t *testing.T) {
	t.Parallel()
	for origin, want := range map[string]string{
		"https://app.example.com":       "https://app.example.com",
		"https://App.Example.COM/":      "https://app.example.com",
		"HTTPS://app.example.com:443":   "https://app.example.com",
		"http://app.example.com:80/":    "http://app.example.com",
		"https://app.example.com:80":    "https://app.example.com:80",
		"http://127.0.0.1:3000":         "http://127.0.0.1:3000",
		"https://app.example.com:08443": "https://app.example.com:8443",
		"https://[::1]:8443":            "https://[::1]:8443",
		"https://[::1]:443":             "https://[::1]",
		"https://xn--bcher-kva.example": "https://xn--bcher-kva.example",
	} {
		got, err := corsOrigin(origin)
		require.NoError(t, err, origin)
		require.Equal(t, want, got, origin)
	}
	for _, origin := range []string{
		"*", "https://*", "https://*.example.com", "*.example.com", "https://app.example.*", "https://app.example.com/*",
		"https://app.example.com/path", "https://app.example.com/path/", "https://app.example.com//",
		"https://app.example.com?x=1", "https://app.example.com?", "https://app.example.com#top", "https://app.example.com#",
		"https://user@app.example.com", "https://user:pw@app.example.com",
		"ftp://app.example.com", "app.example.com", "//app.example.com", "null", "https://", "https:app.example.com",
		"https://app.example.com:0", "https://app.example.com:99999", "https://app.example.com:https",
		"https://app example.com", "https://app_1.example.com", "https://-app.example.com", "https://app..example.com",
		"https://bücher.example", "https://app.example.com.", `https://app.example.com\@evil.example`,
	} {
		_, err := corsOrigin(origin)
		require.Error(t, err, origin)
	}

	_, err := parse(lookup(map[string]string{"CRIER_CORS_ORIGINS": "https://app.example.com, https://*.example.com"}))
	require.ErrorContains(t, err, `CRIER_CORS_ORIGINS: "https://*.example.com" is not an exact origin: write scheme://host[:port] such as https://app.example.com`)
}
