// Package auth issues and verifies Crier's bearer tokens: JWTs whose subject
// is the caller's user id and whose roles claim lists their roles. Tokens are
// signed with a shared secret (HS256, as Crier's own) or by an identity
// provider whose public keys come from a JWKS file or URL (RS256, ES256).
package auth
