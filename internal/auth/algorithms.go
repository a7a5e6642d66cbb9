package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// supportedAlgorithms is the allow-list a Verifier may be configured with.
// "none" is absent on purpose and refused by name, as are EdDSA and ES512,
// which no identity provider we support signs with.
var supportedAlgorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384"}

// minRSABits is the smallest RSA key accepted: NIST has deprecated smaller
// ones, and every identity provider we support issues 2048 bits or more.
const minRSABits = 2048

// SupportedAlgorithms returns the algorithms a Verifier may allow.
func SupportedAlgorithms() []string { return slices.Clone(supportedAlgorithms) }

// CheckAlgorithm returns an error saying what to do when alg may not be
// allowed: "none" never, and nothing outside SupportedAlgorithms.
func CheckAlgorithm(alg string) error {
	if strings.EqualFold(strings.TrimSpace(alg), "none") {
		return fmt.Errorf(`algorithm "none" is never allowed: unsigned tokens prove nothing; choose from %s`, strings.Join(supportedAlgorithms, ", "))
	}
	if !slices.Contains(supportedAlgorithms, alg) {
		return fmt.Errorf("algorithm %q is not supported: choose from %s", alg, strings.Join(supportedAlgorithms, ", "))
	}
	return nil
}

// IsHMAC reports whether alg is verified with the shared secret rather than
// with a public key from the JWKS.
func IsHMAC(alg string) bool { return strings.HasPrefix(alg, "HS") }

// HMACMinSecretBytes is the shortest secret RFC 7518 section 3.2 allows for
// an HMAC algorithm (the size of its hash), or 0 for other algorithms.
func HMACMinSecretBytes(alg string) int {
	switch alg {
	case "HS256":
		return 32
	case "HS384":
		return 48
	case "HS512":
		return 64
	}
	return 0
}

// publicKeyFor checks that key, found in the JWKS for a token signed with
// alg, is of the type alg needs. The signing methods check this as well; we
// check it here too so that a key of the wrong type is refused with a clear
// reason, and so that the guarantee does not rest on a library detail: a
// public key must never be handed to an HMAC method as its secret.
func publicKeyFor(alg string, key any) (any, error) {
	if set, ok := key.(jwt.VerificationKeySet); ok {
		var fit jwt.VerificationKeySet
		for _, k := range set.Keys {
			if _, err := publicKeyFor(alg, k); err == nil {
				fit.Keys = append(fit.Keys, k)
			}
		}
		if len(fit.Keys) == 0 {
			return nil, fmt.Errorf("the token has no kid and the JWKS holds no key that can verify %s", alg)
		}
		return fit, nil
	}
	switch {
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("the JWKS key is %s, not an RSA key, so it cannot verify %s", keyKind(key), alg)
		}
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("the JWKS RSA key has %d bits; at least %d are needed", k.N.BitLen(), minRSABits)
		}
		return k, nil
	case strings.HasPrefix(alg, "ES"):
		k, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("the JWKS key is %s, not an EC key, so it cannot verify %s", keyKind(key), alg)
		}
		want := map[string]string{"ES256": elliptic.P256().Params().Name, "ES384": elliptic.P384().Params().Name}[alg]
		if k.Curve == nil || k.Curve.Params().Name != want {
			return nil, fmt.Errorf("the JWKS EC key is not on curve %s, so it cannot verify %s", want, alg)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%s tokens are not verified with a key from the JWKS", alg)
}

func keyKind(key any) string {
	switch key.(type) {
	case []byte:
		return "a symmetric key"
	case *rsa.PublicKey:
		return "an RSA key"
	case *ecdsa.PublicKey:
		return "an EC key"
	}
	return fmt.Sprintf("a %T", key)
}
