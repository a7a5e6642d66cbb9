package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// signer is a private key and the kid it is published under.
type signer struct {
	kid    string
	method jwt.SigningMethod
	key    crypto.Signer
	use    jwkset.USE // "" publishes no use
}

func newRSASigner(t *testing.T, kid string) signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return signer{kid: kid, method: jwt.SigningMethodRS256, key: key, use: jwkset.UseSig}
}

func newECSigner(t *testing.T, kid string) signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return signer{kid: kid, method: jwt.SigningMethodES256, key: key, use: jwkset.UseSig}
}

// sign signs claims with the signer's key, naming its kid.
func (s signer) sign(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(s.method, claims)
	tok.Header["kid"] = s.kid
	signed, err := tok.SignedString(s.key)
	require.NoError(t, err)
	return signed
}

// jwks is the JWK Set publishing the signers' public keys.
func jwks(t *testing.T, signers ...signer) []byte {
	t.Helper()
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, s := range signers {
		jwk, err := jwkset.NewJWKFromKey(s.key.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: s.kid, USE: s.use},
		})
		require.NoError(t, err)
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	raw, err := json.Marshal(set)
	require.NoError(t, err)
	return raw
}

// jwksFile writes the signers' JWK Set to a file.
func jwksFile(t *testing.T, signers ...signer) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(path, jwks(t, signers...), 0o600))
	return path
}

// jwksServer serves a JWK Set on 127.0.0.1 that a test may replace, as an
// identity provider rotating its keys would.
type jwksServer struct {
	url     string
	current atomic.Pointer[[]byte]
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, signers ...signer) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.publish(t, signers...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*s.current.Load())
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/certs"
	return s
}

func (s *jwksServer) publish(t *testing.T, signers ...signer) {
	raw := jwks(t, signers...)
	s.current.Store(&raw)
}

// claimsAt are valid claims for subject at now, good for an hour.
func claimsAt(now time.Time, subject string) jwt.MapClaims {
	return jwt.MapClaims{
		"sub": subject,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// with returns claims with the given claims added or replaced; a nil value
// removes the claim.
func with(claims jwt.MapClaims, changes jwt.MapClaims) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range claims {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}
