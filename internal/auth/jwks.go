package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// keySet is where a Verifier finds JWKS keys: a file's, read once, or a
// URL's, fetched again as keys rotate (remoteJWKS).
type keySet interface {
	// KeyRead returns the key named kid, or an error wrapping
	// jwkset.ErrKeyNotFound.
	KeyRead(ctx context.Context, kid string) (jwkset.JWK, error)
	// KeyReadAll returns every key held now.
	KeyReadAll(ctx context.Context) ([]jwkset.JWK, error)
}

// loadJWKSFile reads a JWK Set once, at start.
func loadJWKSFile(path string) (jwkset.Storage, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the file (CRIER_JWKS_FILE); reading it is the point
	if err != nil {
		return nil, fmt.Errorf("read the JWKS file: %w", err)
	}
	kf, err := keyfunc.NewJWKSetJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("parse the JWKS file %s: %w", path, err)
	}
	keys, err := kf.Storage().KeyReadAll(context.Background())
	if err != nil {
		return nil, fmt.Errorf("read the JWKS file %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the JWKS file %s holds no keys", path)
	}
	return kf.Storage(), nil
}

// jwksKey returns the JWKS key for t: the one named by its kid (fetching
// the JWKS again for a kid not known yet), or, for a token without a kid,
// every key that could verify it.
func (v *Verifier) jwksKey(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kidValue, hasKID := t.Header[jwkset.HeaderKID]
	if !hasKID {
		return v.jwksKeysFor(ctx, alg)
	}
	kid, ok := kidValue.(string)
	if !ok {
		return nil, errors.New("the token's kid header is not a string")
	}
	jwk, err := v.jwks.KeyRead(ctx, kid)
	if err != nil {
		// Besides "not found", the lookup fails when the request ends while
		// it waits for a fetch: to the caller it is the same. The cause is
		// logged, not sent, as it may name internal hosts.
		if !errors.Is(err, jwkset.ErrKeyNotFound) {
			v.logger.DebugContext(ctx, "Token key not found in the JWKS", "kid", kid, "error", err)
		}
		return nil, fmt.Errorf("the JWKS has no key with kid %q", kid)
	}
	if err := mayVerify(jwk, alg); err != nil {
		return nil, err
	}
	return publicKeyFor(alg, publicOf(jwk.Key()))
}

// jwksKeysFor returns every key that may verify a token signed with alg.
func (v *Verifier) jwksKeysFor(ctx context.Context, alg string) (any, error) {
	jwks, err := v.jwks.KeyReadAll(ctx)
	if err != nil {
		v.logger.WarnContext(ctx, "Could not read the JWKS", "error", err)
		return nil, errors.New("the JWKS could not be read")
	}
	var set jwt.VerificationKeySet
	for _, jwk := range jwks {
		if mayVerify(jwk, alg) == nil {
			set.Keys = append(set.Keys, publicOf(jwk.Key()))
		}
	}
	return publicKeyFor(alg, set)
}

// mayVerify refuses a key its JWK metadata reserves for something else: for
// encryption, or for another algorithm than the token's.
func mayVerify(jwk jwkset.JWK, alg string) error {
	m := jwk.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return fmt.Errorf("the JWKS key %q is for %q, not for signatures", m.KID, m.USE)
	}
	if len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify) {
		return fmt.Errorf("the JWKS key %q may not verify signatures (key_ops %v)", m.KID, m.KEYOPS)
	}
	if m.ALG != "" && m.ALG.String() != alg {
		return fmt.Errorf("the JWKS key %q is for %s, not %s", m.KID, m.ALG, alg)
	}
	return nil
}

// publicOf returns the public half of a private key, as a JWKS file might
// (unwisely) hold.
func publicOf(key any) any {
	if k, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		return k.Public()
	}
	return key
}
