package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultIssuer is the issuer of tokens Crier signs when none is configured.
const DefaultIssuer = "crier"

// IssueOptions describe a token for IssueWith.
type IssueOptions struct {
	// Subject is the user id (sub).
	Subject string
	// Name is the display name; no name claim when empty.
	Name string
	// Roles are written as an array at RolesClaim.
	Roles []string
	// TTL is how long the token is valid from Now.
	TTL time.Duration
	// Now is the issue time (default time.Now()).
	Now time.Time
	// Issuer is the iss claim (default DefaultIssuer).
	Issuer string
	// Audience is the aud claim; none when empty.
	Audience string
	// Algorithm is HS256, HS384 or HS512 (default HS256).
	Algorithm string
	// RolesClaim is where the roles go, a dotted path for nested objects
	// (default DefaultRolesClaim), so a token matches a Verifier configured
	// with the same claim.
	RolesClaim string
	// NameClaim is where the name goes (default DefaultNameClaim).
	NameClaim string
}

// Issue signs an HS256 token for subject with roles, valid for ttl.
func Issue(secret []byte, subject, name string, roles []string, ttl time.Duration, now time.Time) (string, error) {
	return IssueWith(secret, IssueOptions{Subject: subject, Name: name, Roles: roles, TTL: ttl, Now: now})
}

// IssueWith signs a token with secret. Crier signs only with a shared
// secret: set-ups that verify with a JWKS mint tokens at their identity
// provider.
func IssueWith(secret []byte, o IssueOptions) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("no secret to sign the token with")
	}
	o = o.withDefaults()
	method := jwt.GetSigningMethod(o.Algorithm)
	if !IsHMAC(o.Algorithm) || method == nil {
		return "", fmt.Errorf("crier signs tokens with HS256, HS384 or HS512 only, not %q", o.Algorithm)
	}
	claims := jwt.MapClaims{
		"iss": o.Issuer,
		"iat": jwt.NewNumericDate(o.Now),
		"nbf": jwt.NewNumericDate(o.Now),
		"exp": jwt.NewNumericDate(o.Now.Add(o.TTL)),
	}
	if o.Subject != "" {
		claims["sub"] = o.Subject
	}
	if o.Audience != "" {
		claims["aud"] = o.Audience
	}
	if o.Name != "" {
		setClaim(claims, o.NameClaim, o.Name)
	}
	roles := o.Roles
	if roles == nil {
		roles = []string{}
	}
	setClaim(claims, o.RolesClaim, roles)
	return jwt.NewWithClaims(method, claims).SignedString(secret)
}

func (o IssueOptions) withDefaults() IssueOptions {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Issuer == "" {
		o.Issuer = DefaultIssuer
	}
	if o.Algorithm == "" {
		o.Algorithm = jwt.SigningMethodHS256.Alg()
	}
	if o.RolesClaim == "" {
		o.RolesClaim = DefaultRolesClaim
	}
	if o.NameClaim == "" {
		o.NameClaim = DefaultNameClaim
	}
	return o
}
