package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/auth"
)

var secret = []byte("verifier-test-secret-of-32-bytes-at-least")

// hs256 signs claims with secret.
func hs256(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	require.NoError(t, err)
	return signed
}

// clockAt returns a Verifier with secret, checking tokens at now.
func clockAt(t *testing.T, now time.Time, cfg auth.VerifierConfig) *auth.Verifier {
	t.Helper()
	cfg.Secret, cfg.Now = secret, func() time.Time { return now }
	v, err := auth.NewVerifierFromConfig(t.Context(), cfg)
	require.NoError(t, err)
	return v
}

func TestNewVerifierKeepsItsHS256Behaviour(t *testing.T) {
	t.Parallel()
	v := auth.NewVerifier(secret)
	now := time.Now()
	token, err := auth.Issue(secret, "alice", "Alice", []string{"admin", "ops"}, time.Hour, now)
	require.NoError(t, err)

	claims, err := v.Verify(token)

	require.NoError(t, err)
	require.Equal(t, "alice", claims.Subject)
	require.Equal(t, "Alice", claims.Name)
	require.Equal(t, []string{"admin", "ops"}, claims.Roles)
	require.Equal(t, "crier", claims.Issuer)

	noSubject, err := auth.Issue(secret, "", "", nil, time.Hour, now)
	require.NoError(t, err)
	_, err = v.Verify(noSubject)
	require.ErrorContains(t, err, "token has no subject")
}

// HMAC with an empty key is a valid HMAC: a Verifier built without a secret
// must not accept tokens anyone can sign.
func TestEmptySecretVerifiesNothing(t *testing.T) {
	t.Parallel()
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsAt(time.Now(), "mallory")).SignedString([]byte{})
	require.NoError(t, err)

	_, err = auth.NewVerifier(nil).Verify(signed)

	require.ErrorContains(t, err, "no secret is configured")
}

func TestTimeClaimsWithLeeway(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	v := clockAt(t, now, auth.VerifierConfig{Leeway: auth.DefaultLeeway}) // 30s
	valid := claimsAt(now.Add(-time.Hour), "alice")
	valid["exp"] = now.Add(time.Hour).Unix()
	for name, tc := range map[string]struct {
		claims jwt.MapClaims
		want   error // nil: accepted
	}{
		"valid":                          {valid, nil},
		"expired beyond the leeway":      {with(valid, jwt.MapClaims{"exp": now.Add(-31 * time.Second).Unix()}), jwt.ErrTokenExpired},
		"expired within the leeway":      {with(valid, jwt.MapClaims{"exp": now.Add(-20 * time.Second).Unix()}), nil},
		"not valid yet beyond leeway":    {with(valid, jwt.MapClaims{"nbf": now.Add(time.Minute).Unix()}), jwt.ErrTokenNotValidYet},
		"not valid yet within leeway":    {with(valid, jwt.MapClaims{"nbf": now.Add(20 * time.Second).Unix()}), nil},
		"issued in the future":           {with(valid, jwt.MapClaims{"iat": now.Add(time.Minute).Unix()}), jwt.ErrTokenUsedBeforeIssued},
		"issued within the leeway":       {with(valid, jwt.MapClaims{"iat": now.Add(20 * time.Second).Unix()}), nil},
		"no expiry":                      {with(valid, jwt.MapClaims{"exp": nil}), jwt.ErrTokenRequiredClaimMissing},
		"expiry of the wrong type":       {with(valid, jwt.MapClaims{"exp": "tomorrow"}), jwt.ErrInvalidType},
		"without nbf and iat (optional)": {with(valid, jwt.MapClaims{"nbf": nil, "iat": nil}), nil},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			claims, err := v.Verify(hs256(t, tc.claims))
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "alice", claims.Subject)
		})
	}
}

func TestLeewayIsConfigurable(t *testing.T) {
	t.Parallel()
	now := time.Now()
	token := hs256(t, with(claimsAt(now.Add(-time.Hour), "alice"), jwt.MapClaims{"exp": now.Add(-20 * time.Second).Unix()}))

	_, err := clockAt(t, now, auth.VerifierConfig{Leeway: 5 * time.Second}).Verify(token)

	require.ErrorIs(t, err, jwt.ErrTokenExpired)
}

// A leeway of zero allows no skew at all; it used to become 30 s.
func TestZeroLeewayAllowsNoSkew(t *testing.T) {
	t.Parallel()
	now := time.Now()
	justExpired := hs256(t, with(claimsAt(now.Add(-time.Hour), "alice"), jwt.MapClaims{"exp": now.Add(-time.Second).Unix()}))
	notYet := hs256(t, with(claimsAt(now, "alice"), jwt.MapClaims{"nbf": now.Add(2 * time.Second).Unix()}))
	v := clockAt(t, now, auth.VerifierConfig{Leeway: 0})

	_, err := v.Verify(justExpired)
	require.ErrorIs(t, err, jwt.ErrTokenExpired)
	_, err = v.Verify(notYet)
	require.ErrorIs(t, err, jwt.ErrTokenNotValidYet)
	_, err = auth.NewVerifier(secret).Verify(justExpired)
	require.NoError(t, err, "NewVerifier keeps the default leeway")
}

func TestIssuerAndAudience(t *testing.T) {
	t.Parallel()
	now := time.Now()
	v := clockAt(t, now, auth.VerifierConfig{Issuer: "https://idp.example.com/realms/crier", Audience: "crier"})
	good := with(claimsAt(now, "alice"), jwt.MapClaims{"iss": "https://idp.example.com/realms/crier", "aud": []string{"account", "crier"}})
	for name, tc := range map[string]struct {
		claims jwt.MapClaims
		want   error
	}{
		"matching":             {good, nil},
		"audience as a string": {with(good, jwt.MapClaims{"aud": "crier"}), nil},
		"wrong issuer":         {with(good, jwt.MapClaims{"iss": "https://evil.example.com/realms/crier"}), jwt.ErrTokenInvalidIssuer},
		"no issuer":            {with(good, jwt.MapClaims{"iss": nil}), jwt.ErrTokenRequiredClaimMissing},
		"wrong audience":       {with(good, jwt.MapClaims{"aud": "another-app"}), jwt.ErrTokenInvalidAudience},
		"no audience":          {with(good, jwt.MapClaims{"aud": nil}), jwt.ErrTokenRequiredClaimMissing},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify(hs256(t, tc.claims))
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// A refused issuer or audience is a 401 that says why, as any bad token is.
func TestRefusedAudienceIsUnauthorized(t *testing.T) {
	t.Parallel()
	now := time.Now()
	v := clockAt(t, now, auth.VerifierConfig{Audience: "crier"})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(echo.HeaderAuthorization, "Bearer "+hs256(t, with(claimsAt(now, "alice"), jwt.MapClaims{"aud": "another-app"})))
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(req, rec)

	_, err := v.FromRequest(c)

	var he *echo.HTTPError
	require.ErrorAs(t, err, &he)
	require.Equal(t, http.StatusUnauthorized, he.Code)
	require.Contains(t, he.Message, "token has invalid audience")
	require.Contains(t, rec.Header().Get(echo.HeaderWWWAuthenticate), `error="invalid_token"`)
}

func TestAlgNoneIsRefused(t *testing.T) {
	t.Parallel()
	unsigned, err := jwt.NewWithClaims(jwt.SigningMethodNone, claimsAt(time.Now(), "mallory")).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)

	_, err = clockAt(t, time.Now(), auth.VerifierConfig{}).Verify(unsigned)
	require.ErrorContains(t, err, "signing method none is invalid")

	for _, none := range []string{"none", "None", "NONE"} {
		_, err = auth.NewVerifierFromConfig(t.Context(), auth.VerifierConfig{Secret: secret, Algorithms: []string{"HS256", none}})
		require.ErrorContains(t, err, `algorithm "none" is never allowed`)
	}
}

func TestHS384WhenAllowed(t *testing.T) {
	t.Parallel()
	now := time.Now()
	token, err := auth.IssueWith(secret, auth.IssueOptions{Subject: "alice", TTL: time.Hour, Now: now, Algorithm: "HS384"})
	require.NoError(t, err)

	_, err = clockAt(t, now, auth.VerifierConfig{}).Verify(token)
	require.ErrorContains(t, err, "signing method HS384 is invalid", "HS256 alone is the default")
	_, err = clockAt(t, now, auth.VerifierConfig{Algorithms: []string{"HS384"}}).Verify(token)
	require.NoError(t, err)
}

func TestVerifierConfigIsValidated(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		cfg  auth.VerifierConfig
		want string
	}{
		"no key":               {auth.VerifierConfig{}, "no key to verify tokens with: set Secret"},
		"two JWKS":             {auth.VerifierConfig{JWKSFile: "jwks.json", JWKSURL: "https://idp.example.com/certs"}, "not both"},
		"JWKS URL not a URL":   {auth.VerifierConfig{JWKSURL: "idp.example.com/certs"}, "JWKSURL must be an http(s) URL"},
		"unsupported":          {auth.VerifierConfig{Secret: secret, Algorithms: []string{"HS256", "EdDSA"}}, `algorithm "EdDSA" is not supported`},
		"empty allow-list":     {auth.VerifierConfig{Secret: secret, Algorithms: []string{}}, "Algorithms is empty"},
		"HS256 without secret": {auth.VerifierConfig{JWKSURL: "https://idp.example.com/certs", Algorithms: []string{"HS256"}}, "allows HS256, which needs Secret"},
		"RS256 without JWKS":   {auth.VerifierConfig{Secret: secret, Algorithms: []string{"RS256"}}, "allows RS256, which needs JWKSURL or JWKSFile"},
		"large leeway":         {auth.VerifierConfig{Secret: secret, Leeway: time.Hour}, "Leeway must be between 0s and 5m0s"},
		"negative leeway":      {auth.VerifierConfig{Secret: secret, Leeway: -time.Second}, "Leeway must be between 0s and 5m0s"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := auth.NewVerifierFromConfig(t.Context(), tc.cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
