package auth

import "time"

// WithJWKSPace returns cfg with a JWKS URL fetched at most every gap, and an
// unknown kid refused without a fetch for kidCooldown after one missed it,
// so tests need not wait the production pace.
func WithJWKSPace(cfg VerifierConfig, gap, kidCooldown time.Duration) VerifierConfig {
	cfg.jwksPace = jwksPace{refresh: time.Hour, gap: gap, kidCooldown: kidCooldown}
	return cfg
}
