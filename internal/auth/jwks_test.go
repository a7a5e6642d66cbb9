package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/auth"
)

func TestJWKSVerifiesRS256AndES256(t *testing.T) {
	t.Parallel()
	rsaKey, ecKey := newRSASigner(t, "rsa-1"), newECSigner(t, "ec-1")
	now := time.Now()
	for name, source := range map[string]func(t *testing.T) auth.VerifierConfig{
		"file": func(t *testing.T) auth.VerifierConfig {
			return auth.VerifierConfig{JWKSFile: jwksFile(t, rsaKey, ecKey)}
		},
		"URL": func(t *testing.T) auth.VerifierConfig {
			return auth.VerifierConfig{JWKSURL: newJWKSServer(t, rsaKey, ecKey).url}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v, err := auth.NewVerifierFromConfig(t.Context(), source(t))
			require.NoError(t, err)

			for _, s := range []signer{rsaKey, ecKey} {
				claims, err := v.Verify(s.sign(t, with(claimsAt(now, "alice"), jwt.MapClaims{"roles": []string{"admin"}, "name": "Alice"})))
				require.NoError(t, err, s.method.Alg())
				require.Equal(t, "alice", claims.Subject)
				require.Equal(t, "Alice", claims.DisplayName())
				require.True(t, claims.HasRole(auth.RoleAdmin))
			}
		})
	}
}

// jwksURLVerifier is a Verifier of idp's keys that fetches them at most
// every gap, and refuses a kid a fetch missed for an hour without another.
func jwksURLVerifier(t *testing.T, idp *jwksServer, gap time.Duration) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifierFromConfig(t.Context(), auth.WithJWKSPace(auth.VerifierConfig{JWKSURL: idp.url}, gap, time.Hour))
	require.NoError(t, err)
	return v
}

// An identity provider rotates its keys: a token signed with a new key is
// accepted once the JWKS publishes it, and one signed with a withdrawn key
// is refused.
func TestJWKSURLPicksUpRotatedKeys(t *testing.T) {
	t.Parallel()
	old, next := newRSASigner(t, "2025"), newRSASigner(t, "2026")
	idp := newJWKSServer(t, old)
	v := jwksURLVerifier(t, idp, 50*time.Millisecond)
	now := time.Now()
	_, err := v.Verify(old.sign(t, claimsAt(now, "alice")))
	require.NoError(t, err)

	idp.publish(t, next)

	_, err = v.Verify(next.sign(t, claimsAt(now, "alice")))
	require.NoError(t, err, "an unknown kid fetches the JWKS again")
	_, err = v.Verify(old.sign(t, claimsAt(now, "alice")))
	require.ErrorContains(t, err, `the JWKS has no key with kid "2025"`)
	require.Equal(t, int32(3), idp.fetches.Load(), "at start, for 2026, and once for the withdrawn 2025")

	// A kid a fetch missed is refused at once for the cooldown, without
	// another fetch.
	for range 20 {
		_, err = v.Verify(old.sign(t, claimsAt(now, "alice")))
		require.ErrorContains(t, err, `the JWKS has no key with kid "2025"`)
	}
	require.Equal(t, int32(3), idp.fetches.Load())
}

// One bogus kid used to spend the only unknown-kid fetch of the minute, so
// a rotated key's kid presented right after was refused for a minute. Now
// a new kid waits for the next fetch, whatever other kids came before.
func TestBogusKIDsDoNotStarveARotatedKey(t *testing.T) {
	t.Parallel()
	first, second, third := newECSigner(t, "k1"), newECSigner(t, "k2"), newECSigner(t, "k3")
	idp := newJWKSServer(t, first)
	v := jwksURLVerifier(t, idp, 100*time.Millisecond)
	now := time.Now()
	forger := newECSigner(t, "")
	bogus := func(kid string) {
		forger := forger
		forger.kid = kid
		_, err := v.Verify(forger.sign(t, claimsAt(now, "mallory")))
		require.ErrorContains(t, err, "the JWKS has no key with kid")
	}

	bogus("bogus-1")
	idp.publish(t, first, second)
	_, err := v.Verify(second.sign(t, claimsAt(now, "alice")))
	require.NoError(t, err, "the rotated key presented right after a bogus kid")

	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { bogus(fmt.Sprintf("bogus-%d", 2+i)) })
	}
	wg.Wait()
	idp.publish(t, second, third)
	_, err = v.Verify(third.sign(t, claimsAt(now, "alice")))
	require.NoError(t, err, "the rotated key presented after more bogus kids")
}

// Made-up kids sent at once share fetches, and a kid a fetch missed costs
// no other: the identity provider sees at most one fetch per gap.
func TestRandomKIDsCauseBoundedFetches(t *testing.T) {
	t.Parallel()
	const gap = 200 * time.Millisecond
	idp := newJWKSServer(t, newECSigner(t, "real"))
	v := jwksURLVerifier(t, idp, gap)
	forger := newECSigner(t, "forger")
	tokens := make([]string, 200)
	for i := range tokens {
		tok := jwt.NewWithClaims(forger.method, claimsAt(time.Now(), "mallory"))
		tok.Header["kid"] = rand.Text()
		signed, err := tok.SignedString(forger.key)
		require.NoError(t, err)
		tokens[i] = signed
	}
	verifyAll := func() {
		var wg sync.WaitGroup
		for _, tok := range tokens {
			wg.Go(func() {
				_, err := v.Verify(tok)
				assert.ErrorContains(t, err, "the JWKS has no key with kid")
			})
		}
		wg.Wait()
	}

	start := time.Now()
	verifyAll()
	elapsed := time.Since(start)
	fetches := idp.fetches.Load()
	t.Logf("%d made-up kids at once: %d fetches (the start included) in %v", len(tokens), fetches, elapsed)
	require.LessOrEqual(t, fetches, int32(2+elapsed/gap), "the start, then at most one per gap")

	verifyAll()
	require.Equal(t, fetches, idp.fetches.Load(), "kids a fetch missed are refused without another")
}

// A request waiting for a fetch leaves when its context ends.
func TestWaitForAFetchHonoursTheContext(t *testing.T) {
	t.Parallel()
	idp := newJWKSServer(t, newECSigner(t, "real"))
	v := jwksURLVerifier(t, idp, time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	_, err := v.VerifyContext(ctx, newECSigner(t, "new").sign(t, claimsAt(time.Now(), "alice")))

	require.ErrorContains(t, err, `the JWKS has no key with kid "new"`)
	require.Equal(t, int32(1), idp.fetches.Load())
}

// The classic algorithm confusion: a token claims HS256 and is signed with
// the RSA public key (which anyone can fetch) as the HMAC secret. It must
// be refused whether or not HS256 is allowed.
func TestHS256SignedWithThePublicKeyIsRefused(t *testing.T) {
	t.Parallel()
	rsaKey := newRSASigner(t, "rsa-1")
	der, err := x509.MarshalPKIXPublicKey(rsaKey.key.Public())
	require.NoError(t, err)
	forge := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, with(claimsAt(time.Now(), "mallory"), jwt.MapClaims{"roles": []string{"admin"}}))
		tok.Header["kid"] = rsaKey.kid
		signed, err := tok.SignedString(secret)
		require.NoError(t, err)
		return signed
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwksOnly, err := auth.NewVerifierFromConfig(t.Context(), auth.VerifierConfig{JWKSFile: jwksFile(t, rsaKey)})
	require.NoError(t, err)
	withSecret, err := auth.NewVerifierFromConfig(t.Context(), auth.VerifierConfig{
		Secret: []byte("a-shared-secret-of-32-bytes-or-more"), JWKSFile: jwksFile(t, rsaKey),
		Algorithms: []string{"HS256", "RS256"},
	})
	require.NoError(t, err)

	for _, secret := range [][]byte{pemKey, der} {
		_, err = jwksOnly.Verify(forge(secret))
		require.ErrorContains(t, err, "signing method HS256 is invalid")
		_, err = withSecret.Verify(forge(secret))
		require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid, "HS256 is checked with the secret, never with a JWKS key")
	}
}

func TestJWKSKeyMustFitTheAlgorithm(t *testing.T) {
	t.Parallel()
	rsaKey, ecKey := newRSASigner(t, "rsa-1"), newECSigner(t, "ec-1")
	encKey := newRSASigner(t, "enc-1")
	encKey.use = jwkset.UseEnc
	v, err := auth.NewVerifierFromConfig(t.Context(), auth.VerifierConfig{
		JWKSFile: jwksFile(t, rsaKey, ecKey, encKey), Algorithms: []string{"RS256", "ES256"},
	})
	require.NoError(t, err)
	now := time.Now()

	// An ES256 token naming the RSA key's kid.
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claimsAt(now, "mallory"))
	tok.Header["kid"] = rsaKey.kid
	signed, err := tok.SignedString(ecKey.key)
	require.NoError(t, err)
	_, err = v.Verify(signed)
	require.ErrorContains(t, err, "not an EC key")

	_, err = v.Verify(encKey.sign(t, claimsAt(now, "mallory")))
	require.ErrorContains(t, err, `is for "enc", not for signatures`)
}

func TestAlgorithmOutsideTheAllowListIsRefused(t *testing.T) {
	t.Parallel()
	rsaKey, ecKey := newRSASigner(t, "rsa-1"), newECSigner(t, "ec-1")
	v, err := auth.NewVerifierFromConfig(t.Context(), auth.VerifierConfig{
		JWKSFile: jwksFile(t, rsaKey, ecKey), Algorithms: []string{"RS256"},
	})
	require.NoError(t, err)
	now := time.Now()

	_, err = v.Verify(ecKey.sign(t, claimsAt(now, "alice")))
	require.ErrorContains(t, err, "signing method ES256 is invalid")

	ps := rsaKey
	ps.method = jwt.SigningMethodPS256
	_, err = v.Verify(ps.sign(t, claimsAt(now, "alice")))
	require.ErrorContains(t, err, "signing method PS256 is invalid")
}

// A token without a kid is tried against every key that fits its
// algorithm.
func TestTokenWithoutKID(t *testing.T) {
	t.Parallel()
	rsaKey, ecKey := newRSASigner(t, "rsa-1"), newECSigner(t, "ec-1")
	v, err := auth.NewVerifierFromConfig(t.Context(), auth.VerifierConfig{JWKSFile: jwksFile(t, ecKey, rsaKey)})
	require.NoError(t, err)
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claimsAt(time.Now(), "alice")).SignedString(rsaKey.key)
	require.NoError(t, err)

	claims, err := v.Verify(signed)

	require.NoError(t, err)
	require.Equal(t, "alice", claims.Subject)
}

func TestJWKSFileProblemsStopTheStart(t *testing.T) {
	t.Parallel()
	_, err := auth.NewVerifierFromConfig(t.Context(), auth.VerifierConfig{JWKSFile: "/nonexistent/jwks.json"})
	require.ErrorContains(t, err, "read the JWKS file")

	_, err = auth.NewVerifierFromConfig(t.Context(), auth.VerifierConfig{JWKSFile: jwksFile(t)})
	require.ErrorContains(t, err, "holds no keys")
}
