// Package console serves the admin console at /admin: the single-page front
// end embedded from the top-level console folder, and the sign-in around
// it. The console is a client of Crier's own REST API like any other: it
// adds no way to change a broadcast, only a way to sign in, which puts the
// token in the HttpOnly, SameSite=Strict crier_token cookie that the API
// already accepts (and whose cross-site use its origin guard refuses).
//
// Sign-in is by pasting a token, by a one-time link (Links; `crier
// signin-link` and `make dev` print one), or, where an identity provider is
// configured, by OpenID Connect's authorization code flow with PKCE (OIDC).
package console
