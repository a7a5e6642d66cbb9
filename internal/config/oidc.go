package config

import (
	"errors"
	"fmt"
	"net/url"
)

// OIDC is the admin console's single sign-on: OpenID Connect's
// authorization code flow with PKCE against the identity provider whose
// tokens Crier already verifies.
type OIDC struct {
	// ClientID is the console's client at the provider; empty turns
	// single sign-on off (CRIER_OIDC_CLIENT_ID).
	ClientID string
	// ClientSecret, for a confidential client (CRIER_OIDC_CLIENT_SECRET).
	ClientSecret string
	// Issuer is the provider's issuer URL, CRIER_JWT_ISSUER unless
	// CRIER_OIDC_ISSUER says otherwise.
	Issuer string
	// RedirectURL is the callback registered at the provider
	// (CRIER_OIDC_REDIRECT_URL); empty derives it from each request.
	RedirectURL string
	// Scopes asked for (CRIER_OIDC_SCOPES).
	Scopes []string
}

// Enabled reports whether single sign-on is configured.
func (o OIDC) Enabled() bool { return o.ClientID != "" }

func (c *Config) oidcErrors() []error {
	o := c.OIDC
	if !o.Enabled() {
		return nil
	}
	var errs []error
	if o.Issuer == "" {
		errs = append(errs, errors.New("CRIER_OIDC_CLIENT_ID needs the identity provider's issuer: set CRIER_OIDC_ISSUER or CRIER_JWT_ISSUER"))
	} else if err := checkURL("CRIER_OIDC_ISSUER", o.Issuer, c.Env == "production"); err != nil {
		errs = append(errs, err)
	}
	if o.RedirectURL != "" {
		if err := checkURL("CRIER_OIDC_REDIRECT_URL", o.RedirectURL, c.Env == "production"); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkURL refuses what is not an absolute http(s) URL, and plain http in
// production (tokens cross it).
func checkURL(name, raw string, httpsOnly bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%s must be an absolute http(s) URL, got %q", name, raw)
	}
	if httpsOnly && u.Scheme != "https" {
		return fmt.Errorf("%s must use https in production, got %q", name, raw)
	}
	return nil
}
