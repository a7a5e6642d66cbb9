// Package auth issues and verifies Crier's bearer tokens: HS256 JWTs whose
// subject is the caller's user id and whose "roles" claim lists their roles.
package auth

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

// RoleAdmin may manage broadcasts.
const RoleAdmin = "admin"

// Claims are the token claims Crier reads.
type Claims struct {
	jwt.RegisteredClaims
	// Name is shown as the sender's name; defaults to the subject.
	Name  string   `json:"name,omitempty"`
	Roles []string `json:"roles"`
}

// HasRole reports whether the claims grant role.
func (c *Claims) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// DisplayName is Name, or the subject when the token has no name.
func (c *Claims) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Subject
}

// Issue signs a token for subject with roles, valid for ttl.
func Issue(secret []byte, subject, name string, roles []string, ttl time.Duration, now time.Time) (string, error) {
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   subject,
			Issuer:    "crier",
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Name:  name,
		Roles: roles,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}

// Verifier checks bearer tokens.
type Verifier struct {
	secret []byte
	parser *jwt.Parser
}

// NewVerifier returns a Verifier for HS256 tokens signed with secret.
func NewVerifier(secret []byte) *Verifier {
	return &Verifier{secret: secret, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(30*time.Second),
	)}
}

// Verify parses and checks a token.
func (v *Verifier) Verify(token string) (*Claims, error) {
	claims := &Claims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return v.secret, nil })
	if err != nil {
		return nil, err
	}
	if claims.Subject == "" {
		return nil, errors.New("token has no subject")
	}
	return claims, nil
}

const claimsKey = "crier.claims"

// ClaimsFrom returns the verified claims of the request, set by Require.
func ClaimsFrom(c echo.Context) *Claims {
	claims, _ := c.Get(claimsKey).(*Claims)
	return claims
}

// CookieName is the HttpOnly cookie that may carry the token instead of the
// Authorization header (browsers' EventSource cannot send headers).
const CookieName = "crier_token"

// FromRequest verifies the request's token: the Authorization bearer token,
// else the crier_token cookie. The error is a 401 HTTPError saying what to do.
func (v *Verifier) FromRequest(c echo.Context) (*Claims, error) {
	token := ""
	if header := c.Request().Header.Get(echo.HeaderAuthorization); header != "" {
		scheme, value, ok := strings.Cut(header, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(value) == "" {
			return nil, unauthorized(c, "", "the Authorization header must be: Bearer <token>")
		}
		token = strings.TrimSpace(value)
	} else if cookie, err := c.Cookie(CookieName); err == nil && cookie.Value != "" {
		token = cookie.Value
	}
	if token == "" {
		return nil, unauthorized(c, "", "send a bearer token: Authorization: Bearer <token> (crier token prints one)")
	}
	claims, err := v.Verify(token)
	if err != nil {
		return nil, unauthorized(c, "invalid_token", fmt.Sprintf("token refused: %v", err))
	}
	return claims, nil
}

func unauthorized(c echo.Context, code, msg string) error {
	value := `Bearer realm="crier"`
	if code != "" {
		value += `, error="` + code + `"`
	}
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, value)
	return echo.NewHTTPError(http.StatusUnauthorized, msg)
}

// SetClaims records verified claims on the request for ClaimsFrom.
func SetClaims(c echo.Context, claims *Claims) { c.Set(claimsKey, claims) }

// Require is middleware that accepts only requests with a valid token
// (header or cookie) granting role, or any valid token when role is empty:
// 401 without a valid token, 403 without the role.
func (v *Verifier) Require(role string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			claims, err := v.FromRequest(c)
			if err != nil {
				return err
			}
			if role != "" && !claims.HasRole(role) {
				return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("this needs the %q role; the token grants %v", role, claims.Roles))
			}
			c.Set(claimsKey, claims)
			return next(c)
		}
	}
}
