package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// RoleAdmin may manage broadcasts.
const RoleAdmin = "admin"

// RoleBroadcaster may create broadcasts, and read and cancel their own.
const RoleBroadcaster = "broadcaster"

// Default claim names, as Crier's own tokens carry them.
const (
	DefaultRolesClaim = "roles"
	DefaultNameClaim  = "name"
)

// Claims are the token claims Crier reads. The JSON tags describe Crier's
// own tokens; a Verifier fills Roles and Name from the claims it is
// configured to read, which may be named or nested differently.
type Claims struct {
	jwt.RegisteredClaims
	// Name is shown as the sender's name; defaults to the subject.
	Name  string   `json:"name,omitempty"`
	Roles []string `json:"roles"`
	// ZoneInfo is the OIDC zoneinfo claim: the user's IANA time zone, as
	// their identity provider knows it; "" when absent.
	ZoneInfo string `json:"zoneinfo,omitempty"`
}

// HasRole reports whether the claims grant role.
func (c *Claims) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// DisplayName is Name, or the subject when the token has no name.
func (c *Claims) DisplayName() string {
	// The name is shown and stored as the sender's; drop what cannot be.
	if name := strings.ReplaceAll(strings.ToValidUTF8(c.Name, ""), "\x00", ""); name != "" {
		return name
	}
	return c.Subject
}

// claimsFromMap builds Claims from verified token claims, reading roles and
// name from the configured claims.
func claimsFromMap(m jwt.MapClaims, rolesClaim, nameClaim string) (*Claims, error) {
	var errs []error
	get := func(f func() (string, error)) string {
		s, err := f()
		errs = append(errs, err)
		return s
	}
	getTime := func(f func() (*jwt.NumericDate, error)) *jwt.NumericDate {
		d, err := f()
		errs = append(errs, err)
		return d
	}
	c := &Claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject:   get(m.GetSubject),
		Issuer:    get(m.GetIssuer),
		ExpiresAt: getTime(m.GetExpirationTime),
		NotBefore: getTime(m.GetNotBefore),
		IssuedAt:  getTime(m.GetIssuedAt),
	}}
	aud, err := m.GetAudience()
	errs = append(errs, err)
	c.Audience = aud
	c.ID, _ = m["jti"].(string)
	c.Roles, err = rolesFrom(m, rolesClaim)
	errs = append(errs, err)
	// A name of another type is ignored rather than refused: it only
	// decorates, and DisplayName falls back to the subject.
	if v, ok := lookupClaim(m, nameClaim); ok {
		c.Name, _ = v.(string)
	}
	c.ZoneInfo, _ = m["zoneinfo"].(string) // decorates too: checked where it is used
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// rolesFrom reads the roles claim: an array of strings, or one string of
// space-separated roles (as the OAuth "scope" claim is written). A missing
// or null claim grants no roles; any other shape refuses the token, since
// roles decide what the caller may do.
func rolesFrom(m jwt.MapClaims, claim string) ([]string, error) {
	v, ok := lookupClaim(m, claim)
	if !ok || v == nil {
		return nil, nil
	}
	switch v := v.(type) {
	case string:
		return strings.Fields(v), nil
	case []any:
		roles := make([]string, 0, len(v))
		for _, r := range v {
			s, ok := r.(string)
			if !ok {
				return nil, fmt.Errorf("the %q claim must list roles as strings, found %v", claim, r)
			}
			roles = append(roles, s)
		}
		return roles, nil
	}
	return nil, fmt.Errorf("the %q claim must be an array of roles or a space-separated string", claim)
}

// lookupClaim finds claim by its whole name first (namespaced claims such as
// "https://example.com/roles" contain dots), then as a dotted path into
// nested objects, as Keycloak's "realm_access.roles".
func lookupClaim(m map[string]any, claim string) (any, bool) {
	if v, ok := m[claim]; ok {
		return v, true
	}
	if !strings.Contains(claim, ".") {
		return nil, false
	}
	var cur any = m
	for _, part := range strings.Split(claim, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// setClaim writes value at claim, a dotted path, creating nested objects.
func setClaim(m map[string]any, claim string, value any) {
	parts := strings.Split(claim, ".")
	for _, part := range parts[:len(parts)-1] {
		next, ok := m[part].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[part] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = value
}
