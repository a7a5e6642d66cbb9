package auth_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/auth"
)

func TestRolesClaim(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for name, tc := range map[string]struct {
		rolesClaim string
		claims     jwt.MapClaims
		want       []string
	}{
		"default claim": {"", jwt.MapClaims{"roles": []string{"admin", "ops"}}, []string{"admin", "ops"}},
		"nested path (Keycloak)": {"realm_access.roles", jwt.MapClaims{
			"realm_access":    map[string]any{"roles": []string{"admin", "offline_access"}},
			"resource_access": map[string]any{"crier": map[string]any{"roles": []string{"ignored"}}},
		}, []string{"admin", "offline_access"}},
		"deeper nested path": {"resource_access.crier.roles", jwt.MapClaims{
			"resource_access": map[string]any{"crier": map[string]any{"roles": []string{"admin"}}},
		}, []string{"admin"}},
		"space-separated string": {"scope", jwt.MapClaims{"scope": "admin  ops\tread"}, []string{"admin", "ops", "read"}},
		"namespaced claim with dots (Auth0)": {"https://crier.example.com/roles", jwt.MapClaims{
			"https://crier.example.com/roles": []string{"admin"},
		}, []string{"admin"}},
		"claim missing":          {"realm_access.roles", jwt.MapClaims{"roles": []string{"admin"}}, nil},
		"path through a non-map": {"realm_access.roles", jwt.MapClaims{"realm_access": "admin"}, nil},
		"null":                   {"", jwt.MapClaims{"roles": nil}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := clockAt(t, now, auth.VerifierConfig{RolesClaim: tc.rolesClaim})
			claims := claimsAt(now, "alice")
			for k, val := range tc.claims {
				claims[k] = val
			}

			got, err := v.Verify(hs256(t, claims))

			require.NoError(t, err)
			require.Equal(t, tc.want, got.Roles)
		})
	}
}

// Roles decide what a caller may do: a roles claim of a shape Crier cannot
// read refuses the token rather than granting nothing silently.
func TestRolesOfAnotherShapeAreRefused(t *testing.T) {
	t.Parallel()
	now := time.Now()
	v := clockAt(t, now, auth.VerifierConfig{})

	_, err := v.Verify(hs256(t, with(claimsAt(now, "alice"), jwt.MapClaims{"roles": map[string]any{"admin": true}})))
	require.ErrorContains(t, err, `the "roles" claim must be an array of roles or a space-separated string`)
	_, err = v.Verify(hs256(t, with(claimsAt(now, "alice"), jwt.MapClaims{"roles": []any{"admin", 7}})))
	require.ErrorContains(t, err, `the "roles" claim must list roles as strings`)
}

func TestNameClaim(t *testing.T) {
	t.Parallel()
	now := time.Now()
	v := clockAt(t, now, auth.VerifierConfig{NameClaim: "preferred_username"})

	claims, err := v.Verify(hs256(t, with(claimsAt(now, "f81d4fae"), jwt.MapClaims{"name": "ignored", "preferred_username": "alice"})))
	require.NoError(t, err)
	require.Equal(t, "alice", claims.DisplayName())

	claims, err = v.Verify(hs256(t, with(claimsAt(now, "f81d4fae"), jwt.MapClaims{"preferred_username": 42})))
	require.NoError(t, err, "a name of another type only falls back to the subject")
	require.Equal(t, "f81d4fae", claims.DisplayName())
}

// A token crier token prints passes a server configured with the same
// issuer, audience and claims.
func TestIssuedTokenPassesAMatchingVerifier(t *testing.T) {
	t.Parallel()
	now := time.Now()
	cfg := auth.VerifierConfig{
		Issuer: "https://crier.example.com", Audience: "crier-api",
		RolesClaim: "realm_access.roles", NameClaim: "display_name",
		Algorithms: []string{"HS512"},
	}
	longSecret := append(append([]byte{}, secret...), secret...)
	token, err := auth.IssueWith(longSecret, auth.IssueOptions{
		Subject: "alice", Name: "Alice", Roles: []string{"admin"}, TTL: time.Hour, Now: now,
		Issuer: cfg.Issuer, Audience: cfg.Audience, Algorithm: "HS512",
		RolesClaim: cfg.RolesClaim, NameClaim: cfg.NameClaim,
	})
	require.NoError(t, err)
	cfg.Secret = longSecret
	v, err := auth.NewVerifierFromConfig(t.Context(), cfg)
	require.NoError(t, err)

	claims, err := v.Verify(token)

	require.NoError(t, err)
	require.Equal(t, "alice", claims.Subject)
	require.Equal(t, "Alice", claims.Name)
	require.Equal(t, []string{"admin"}, claims.Roles)
	require.Equal(t, jwt.ClaimStrings{"crier-api"}, claims.Audience)
	require.Equal(t, "https://crier.example.com", claims.Issuer)
	require.WithinDuration(t, now.Add(time.Hour), claims.ExpiresAt.Time, time.Second)
}

func TestIssueRefuses(t *testing.T) {
	t.Parallel()
	_, err := auth.IssueWith(nil, auth.IssueOptions{Subject: "alice", TTL: time.Hour})
	require.ErrorContains(t, err, "no secret")
	_, err = auth.IssueWith(secret, auth.IssueOptions{Subject: "alice", TTL: time.Hour, Algorithm: "RS256"})
	require.ErrorContains(t, err, "HS256, HS384 or HS512 only")
}
