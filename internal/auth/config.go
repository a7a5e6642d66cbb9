package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// MaxLeeway bounds the configurable leeway: more would mean clocks are not
// synchronised, or that expired tokens are wanted, and neither should pass.
const MaxLeeway = 5 * time.Minute

// VerifierConfig configures NewVerifierFromConfig. At least one key source
// (Secret, JWKSFile or JWKSURL) is required.
type VerifierConfig struct {
	// Secret verifies HS256, HS384 and HS512 tokens. Without it HS tokens
	// are refused: a public key is never used as an HMAC secret.
	Secret []byte
	// JWKSFile is a JWK Set file, read once at start, whose RSA and EC
	// public keys verify RS, PS and ES tokens. Only one of JWKSFile and
	// JWKSURL may be set.
	JWKSFile string
	// JWKSURL is a JWK Set URL (an identity provider's jwks_uri). It is
	// fetched at start, refreshed hourly, and fetched again (at most once a
	// minute) when a token names a kid it does not hold, so rotated keys
	// are picked up.
	JWKSURL string
	// Algorithms is the allow-list of token algorithms, from
	// SupportedAlgorithms; "none" is never allowed. Default: HS256 when
	// Secret is set, plus RS256 and ES256 when a JWKS is set.
	Algorithms []string
	// Issuer, when set, must equal the token's iss claim.
	Issuer string
	// Audience, when set, must be among the token's aud claim.
	Audience string
	// Leeway is the clock skew allowed on exp, nbf and iat (default
	// DefaultLeeway, at most MaxLeeway).
	Leeway time.Duration
	// RolesClaim names the claim listing roles, an array or a
	// space-separated string; a dotted path reads a nested claim, as
	// "realm_access.roles" for Keycloak (default DefaultRolesClaim).
	RolesClaim string
	// NameClaim names the display-name claim (default DefaultNameClaim).
	NameClaim string
	// HTTPClient fetches JWKSURL (default: http.DefaultClient, each fetch
	// bounded to 10s).
	HTTPClient *http.Client
	// Logger reports JWKS fetch failures (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock tokens are checked against (default time.Now).
	Now func() time.Time
}

func (c VerifierConfig) withDefaults() VerifierConfig {
	if c.Algorithms == nil {
		if len(c.Secret) > 0 {
			c.Algorithms = append(c.Algorithms, "HS256")
		}
		if c.JWKSFile != "" || c.JWKSURL != "" {
			c.Algorithms = append(c.Algorithms, "RS256", "ES256")
		}
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	if c.RolesClaim == "" {
		c.RolesClaim = DefaultRolesClaim
	}
	if c.NameClaim == "" {
		c.NameClaim = DefaultNameClaim
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every setting that stops cfg verifying tokens safely,
// saying what to set. Zero values that have defaults are accepted.
func (c VerifierConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	hasJWKS := c.JWKSFile != "" || c.JWKSURL != ""
	if len(c.Secret) == 0 && !hasJWKS {
		errs = append(errs, errors.New("no key to verify tokens with: set Secret (HS256), or JWKSFile or JWKSURL (RS256, ES256)"))
	}
	if c.JWKSFile != "" && c.JWKSURL != "" {
		errs = append(errs, errors.New("set JWKSFile or JWKSURL, not both"))
	}
	if c.JWKSURL != "" {
		if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("JWKSURL must be an http(s) URL, got %q", c.JWKSURL))
		}
	}
	if len(c.Algorithms) == 0 && (len(c.Secret) > 0 || hasJWKS) {
		errs = append(errs, errors.New("the algorithm allow-list is empty: allow at least one, e.g. HS256 or RS256"))
	}
	for _, alg := range c.Algorithms {
		switch err := CheckAlgorithm(alg); {
		case err != nil:
			errs = append(errs, err)
		case IsHMAC(alg) && len(c.Secret) == 0:
			errs = append(errs, fmt.Errorf("algorithm %s needs Secret; remove it from Algorithms or set a secret", alg))
		case !IsHMAC(alg) && !hasJWKS:
			errs = append(errs, fmt.Errorf("algorithm %s needs a JWKS; set JWKSFile or JWKSURL, or remove it from Algorithms", alg))
		}
	}
	if c.Leeway < 0 || c.Leeway > MaxLeeway {
		errs = append(errs, fmt.Errorf("Leeway must be between 0 and %v, got %v", MaxLeeway, c.Leeway))
	}
	return errors.Join(errs...)
}
