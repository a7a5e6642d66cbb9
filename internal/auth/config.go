package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// DefaultLeeway is the clock skew allowed on exp, nbf and iat when none is
// configured.
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
	// fetched at start, hourly, and when a token names a kid it does not
	// hold, so rotated keys are picked up; jwks.go paces these fetches.
	JWKSURL string
	// Algorithms is the allow-list of token algorithms, from
	// SupportedAlgorithms; "none" is never allowed. Default: HS256 when
	// Secret is set, plus RS256 and ES256 when a JWKS is set.
	Algorithms []string
	// Issuer, when set, must equal the token's iss claim.
	Issuer string
	// Audience, when set, must be among the token's aud claim.
	Audience string
	// Leeway is the clock skew allowed on exp, nbf and iat, at most
	// MaxLeeway. Zero allows none: the zero value is the strict one, and
	// callers wanting the usual skew pass DefaultLeeway (NewVerifier and
	// config.Load do).
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

	// jwksPace paces the fetches of JWKSURL (default defaultJWKSPace);
	// tests shorten it through export_test.go.
	jwksPace jwksPace
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
	if c.jwksPace == (jwksPace{}) {
		c.jwksPace = defaultJWKSPace
	}
	return c
}

// SettingNames are what ValidateAs calls the settings in its messages, so
// that each caller's user reads the name they set.
type SettingNames struct {
	Secret, JWKSFile, JWKSURL, Algorithms, Leeway string
}

// fieldNames name the settings after VerifierConfig's fields.
var fieldNames = SettingNames{Secret: "Secret", JWKSFile: "JWKSFile", JWKSURL: "JWKSURL", Algorithms: "Algorithms", Leeway: "Leeway"}

// Validate reports every setting that stops cfg verifying tokens safely,
// saying what to set. Zero values that have defaults are accepted.
func (c VerifierConfig) Validate() error { return c.ValidateAs(fieldNames) }

// ValidateAs is Validate with the settings called by names: config.Load
// passes its environment variables, so these rules are written only here.
func (c VerifierConfig) ValidateAs(names SettingNames) error {
	c = c.withDefaults()
	var errs []error
	hasJWKS := c.JWKSFile != "" || c.JWKSURL != ""
	if len(c.Secret) == 0 && !hasJWKS {
		errs = append(errs, fmt.Errorf("no key to verify tokens with: set %s (32+ random bytes) for HS256 tokens, "+
			"or %s or %s for an identity provider's RS256/ES256 tokens", names.Secret, names.JWKSURL, names.JWKSFile))
	}
	if c.JWKSFile != "" && c.JWKSURL != "" {
		errs = append(errs, fmt.Errorf("set %s or %s, not both", names.JWKSURL, names.JWKSFile))
	}
	if c.JWKSURL != "" {
		if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s must be an http(s) URL such as https://idp.example.com/realms/crier/protocol/openid-connect/certs, got %q",
				names.JWKSURL, c.JWKSURL))
		}
	}
	if len(c.Algorithms) == 0 && (len(c.Secret) > 0 || hasJWKS) {
		errs = append(errs, fmt.Errorf("%s is empty: allow at least one algorithm, e.g. HS256 or RS256", names.Algorithms))
	}
	for _, alg := range c.Algorithms {
		switch err := CheckAlgorithm(alg); {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", names.Algorithms, err))
		case IsHMAC(alg) && len(c.Secret) == 0:
			errs = append(errs, fmt.Errorf("%s allows %s, which needs %s", names.Algorithms, alg, names.Secret))
		case !IsHMAC(alg) && !hasJWKS:
			errs = append(errs, fmt.Errorf("%s allows %s, which needs %s or %s", names.Algorithms, alg, names.JWKSURL, names.JWKSFile))
		}
	}
	if c.Leeway < 0 || c.Leeway > MaxLeeway {
		errs = append(errs, fmt.Errorf("%s must be between 0s and %v, got %v", names.Leeway, MaxLeeway, c.Leeway))
	}
	return errors.Join(errs...)
}
