package config

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/crier/crier/internal/auth"
)

// tokenSettings name the variables behind auth.VerifierConfig's fields, so
// auth's checks speak of what the operator sets.
var tokenSettings = auth.SettingNames{ //nolint:gosec // names of variables, not their values
	Secret: "CRIER_JWT_SECRET", JWKSFile: "CRIER_JWKS_FILE", JWKSURL: "CRIER_JWKS_URL",
	Algorithms: "CRIER_JWT_ALGORITHMS", Leeway: "CRIER_JWT_LEEWAY",
}

// VerifierConfig is the token verification these settings describe, for
// auth.NewVerifierFromConfig.
func (c Config) VerifierConfig() auth.VerifierConfig {
	var secret []byte
	if c.JWTSecret != "" {
		secret = []byte(c.JWTSecret)
	}
	return auth.VerifierConfig{
		Secret:     secret,
		JWKSFile:   c.JWKSFile,
		JWKSURL:    c.JWKSURL,
		Algorithms: c.JWTAlgorithms,
		Issuer:     c.JWTIssuer,
		Audience:   c.JWTAudience,
		Leeway:     c.JWTLeeway,
		RolesClaim: c.JWTRolesClaim,
		NameClaim:  c.JWTNameClaim,
	}
}

// plainHTTP returns raw as a URL when it is one with the http scheme.
func plainHTTP(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	return u, err == nil && u.Scheme == "http"
}

func (c Config) hasJWKS() bool { return c.JWKSURL != "" || c.JWKSFile != "" }

// tokenErrors checks the token settings in every mode: auth's own checks,
// which the verifier applies again at start, and where the keys come from.
func (c Config) tokenErrors() []error {
	var errs []error
	if err := c.VerifierConfig().ValidateAs(tokenSettings); err != nil {
		errs = append(errs, err)
	}
	if err := c.jwksURLError(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// jwksURLError refuses keys fetched where they could be swapped on the way:
// over http, except from an identity provider on loopback in development.
func (c Config) jwksURLError() error {
	u, ok := plainHTTP(c.JWKSURL)
	if !ok {
		return nil // none, https, or not a URL, which auth's checks report
	}
	if c.Env == "production" {
		return fmt.Errorf("CRIER_JWKS_URL must use https in production, such as "+
			"https://idp.example.com/realms/crier/protocol/openid-connect/certs (or set CRIER_JWKS_FILE to a copy of the keys), got %q", c.JWKSURL)
	}
	if !loopbackHost(u.Hostname()) {
		return fmt.Errorf("CRIER_JWKS_URL may use http only for an identity provider on loopback, such as http://127.0.0.1:8081/certs: "+
			"use https, got %q", c.JWKSURL)
	}
	return nil
}

// productionTokenErrors refuses keys that would let anyone mint tokens (the
// published development secret, a guessable short one), and tokens that
// could have been issued for another service: production checks iss and aud.
func (c Config) productionTokenErrors() []error {
	var errs []error
	minLen := 32
	for _, alg := range c.JWTAlgorithms {
		minLen = max(minLen, auth.HMACMinSecretBytes(alg))
	}
	switch {
	case c.JWTSecret == "":
	case c.JWTSecret == DevJWTSecret:
		errs = append(errs, errors.New("CRIER_JWT_SECRET is the development secret: set a secret of your own in production "+
			"(such as the output of openssl rand -hex 32)"))
	case len(c.JWTSecret) < minLen:
		errs = append(errs, fmt.Errorf("CRIER_JWT_SECRET must be at least %d bytes in production, got %d", minLen, len(c.JWTSecret)))
	}
	if c.JWTIssuer == "" {
		errs = append(errs, errors.New("CRIER_JWT_ISSUER is required in production: set it to the iss claim your tokens carry, "+
			"such as https://idp.example.com/realms/crier, or crier for the tokens crier token signs"))
	}
	if c.JWTAudience == "" {
		errs = append(errs, errors.New("CRIER_JWT_AUDIENCE is required in production: set it to the aud value your tokens carry for Crier, "+
			"such as crier (crier token writes it)"))
	}
	return errs
}
