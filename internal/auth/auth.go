package auth

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

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
	claims, err := v.VerifyContext(c.Request().Context(), token)
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
