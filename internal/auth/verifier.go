package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Verifier checks bearer tokens.
type Verifier struct {
	secret     []byte
	jwks       keySet // nil without a JWKS
	parser     *jwt.Parser
	rolesClaim string
	nameClaim  string
	logger     *slog.Logger
}

// NewVerifier returns a Verifier for HS256 tokens signed with secret, with
// the default claims and leeway. An empty secret verifies nothing.
func NewVerifier(secret []byte) *Verifier {
	cfg := VerifierConfig{Secret: secret, Algorithms: []string{jwt.SigningMethodHS256.Alg()}, Leeway: DefaultLeeway}.withDefaults()
	return newVerifier(cfg, nil)
}

// NewVerifierFromConfig validates cfg and returns a Verifier. With a
// JWKSURL, ctx bounds the background refresh: pass the server's lifetime.
func NewVerifierFromConfig(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var jwks keySet
	switch {
	case cfg.JWKSFile != "":
		file, err := loadJWKSFile(cfg.JWKSFile)
		if err != nil {
			return nil, err
		}
		jwks = file
	case cfg.JWKSURL != "":
		jwks = newRemoteJWKS(ctx, cfg)
	}
	return newVerifier(cfg, jwks), nil
}

func newVerifier(cfg VerifierConfig, jwks keySet) *Verifier {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &Verifier{
		secret:     cfg.Secret,
		jwks:       jwks,
		parser:     jwt.NewParser(opts...),
		rolesClaim: cfg.RolesClaim,
		nameClaim:  cfg.NameClaim,
		logger:     cfg.Logger,
	}
}

// Verify parses and checks a token.
func (v *Verifier) Verify(token string) (*Claims, error) {
	return v.VerifyContext(context.Background(), token)
}

// VerifyContext parses and checks a token; ctx bounds a JWKS fetch for a
// key not yet known.
func (v *Verifier) VerifyContext(ctx context.Context, token string) (*Claims, error) {
	m := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, m, v.keyFunc(ctx)); err != nil {
		return nil, err
	}
	claims, err := claimsFromMap(m, v.rolesClaim, v.nameClaim)
	if err != nil {
		return nil, err
	}
	if claims.Subject == "" {
		return nil, errors.New("token has no subject")
	}
	if !utf8.ValidString(claims.Subject) || strings.ContainsRune(claims.Subject, 0) {
		return nil, errors.New("token subject must be valid UTF-8 without NUL characters")
	}
	return claims, nil
}

// keyFunc picks the key by the token's algorithm, which the parser has
// already found in the allow-list: the secret for HS tokens, else a JWKS key
// checked to be of the type the algorithm needs.
func (v *Verifier) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if IsHMAC(alg) {
			if len(v.secret) == 0 {
				return nil, fmt.Errorf("%s tokens are not accepted: no secret is configured", alg)
			}
			return v.secret, nil
		}
		if v.jwks == nil {
			return nil, fmt.Errorf("%s tokens are not accepted: no JWKS is configured", alg)
		}
		return v.jwksKey(ctx, t)
	}
}
