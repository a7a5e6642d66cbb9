package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
)

// jwksPace paces the fetches of a JWKS URL. Tokens decide when a fetch is
// wanted, and anyone can send a token naming a made-up kid, so the pace
// must bound what they can make Crier ask of the identity provider without
// letting made-up kids delay a real one.
type jwksPace struct {
	// refresh is how often the set is fetched when no token asks.
	refresh time.Duration
	// gap is the least time between the starts of two fetches. A token
	// naming a kid not held waits for the next fetch instead of being
	// refused, so a flood of made-up kids cannot use up the fetches a
	// rotated key needs: its token rides the next one.
	gap time.Duration
	// kidCooldown is how long a kid still unknown after a fetch is refused
	// at once, without waiting for another.
	kidCooldown time.Duration
}

// defaultJWKSPace allows at most one fetch every 5 s (720 an hour); a
// request for a new kid waits at most 5 s before its fetch starts, unless
// a slow fetch is still under way.
var defaultJWKSPace = jwksPace{refresh: time.Hour, gap: 5 * time.Second, kidCooldown: time.Minute}

const (
	// jwksTimeout bounds one fetch.
	jwksTimeout = 10 * time.Second
	// maxUnknownKIDs bounds the remembered unknown kids; beyond it the
	// oldest is forgotten, which costs at most an earlier wait, as the gap
	// still bounds the fetches.
	maxUnknownKIDs = 1024
	// maxJWKSBytes bounds a fetched set: real ones are a few KiB.
	maxJWKSBytes = 1 << 20
)

// remoteJWKS holds an identity provider's JWK Set, fetched from its URL at
// start, every pace.refresh, and when a token names a kid it does not hold.
// Fetches are single-flight: every request waiting when one starts is
// answered by it.
type remoteJWKS struct {
	url    string
	client *http.Client
	logger *slog.Logger
	pace   jwksPace
	life   context.Context // ends the fetches: the Verifier's lifetime
	keys   *jwkset.MemoryJWKSet

	// fetching is held through a fetch, so that a slow answer never
	// overwrites a newer one.
	fetching sync.Mutex

	mu      sync.Mutex
	last    time.Time            // when the latest fetch started
	next    *jwksFetch           // the fetch requests wait for; nil when none is due
	unknown map[string]time.Time // kids missing from a fetch, and when
}

// jwksFetch is one fetch that requests wait for.
type jwksFetch struct {
	done chan struct{} // closed when the fetch ends
	err  error         // set before done closes
}

// newRemoteJWKS fetches the set now and keeps it fresh until ctx ends. A
// failed first fetch is logged, not returned, so Crier may start before its
// identity provider; tokens are refused until a fetch works.
func newRemoteJWKS(ctx context.Context, cfg VerifierConfig) *remoteJWKS {
	r := &remoteJWKS{
		url: cfg.JWKSURL, client: cfg.HTTPClient, logger: cfg.Logger, pace: cfg.jwksPace,
		life: ctx, keys: jwkset.NewMemoryStorage(), unknown: map[string]time.Time{},
		last: time.Now(),
	}
	_ = r.fetch()
	go r.refreshEvery(r.pace.refresh)
	return r
}

// KeyRead returns the key named kid. A kid not held waits for the next
// fetch, unless a fetch in the last pace.kidCooldown already missed it.
func (r *remoteJWKS) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	if jwk, err := r.keys.KeyRead(ctx, kid); err == nil {
		return jwk, nil
	}
	f := r.fetchFor(kid)
	if f == nil {
		return jwkset.JWK{}, fmt.Errorf("%w: kid %q was not in the JWKS fetched less than %v ago", jwkset.ErrKeyNotFound, kid, r.pace.kidCooldown)
	}
	// Long enough for a fetch under way, the gap, and the next fetch.
	wait, cancel := context.WithTimeout(ctx, r.pace.gap+2*jwksTimeout)
	defer cancel()
	select {
	case <-f.done:
	case <-wait.Done():
		return jwkset.JWK{}, fmt.Errorf("wait for the JWKS to be fetched: %w", wait.Err())
	}
	jwk, err := r.keys.KeyRead(ctx, kid)
	if err != nil && f.err == nil {
		r.remember(kid)
	}
	return jwk, err
}

// KeyReadAll returns the keys held now; it never fetches.
func (r *remoteJWKS) KeyReadAll(ctx context.Context) ([]jwkset.JWK, error) {
	return r.keys.KeyReadAll(ctx)
}

// fetchFor returns the fetch a request for kid waits for, or nil when a
// recent fetch missed kid.
func (r *remoteJWKS) fetchFor(kid string) *jwksFetch {
	r.mu.Lock()
	defer r.mu.Unlock()
	if at, ok := r.unknown[kid]; ok && time.Since(at) < r.pace.kidCooldown {
		return nil
	}
	return r.nextLocked()
}

// nextLocked returns the next fetch, scheduling it pace.gap after the last
// one started. A fetch already under way is not joined: it may have been
// asked for before the key a request needs was published.
func (r *remoteJWKS) nextLocked() *jwksFetch {
	if r.next == nil {
		r.next = &jwksFetch{done: make(chan struct{})}
		go r.runAfter(r.next, time.Until(r.last.Add(r.pace.gap)))
	}
	return r.next
}

// runAfter runs f after delay, unless the Verifier's lifetime ends first.
func (r *remoteJWKS) runAfter(f *jwksFetch, delay time.Duration) {
	defer close(f.done)
	timer := time.NewTimer(max(delay, 0))
	defer timer.Stop()
	select {
	case <-r.life.Done():
		f.err = r.life.Err()
	case <-timer.C:
		r.fetching.Lock()
		defer r.fetching.Unlock()
	}
	r.mu.Lock()
	r.next = nil // requests from now on wait for a fetch that starts after them
	if f.err == nil {
		r.last = time.Now()
	}
	r.mu.Unlock()
	if f.err == nil {
		f.err = r.fetch()
	}
}

// refreshEvery fetches the set every interval, through the same pacing as
// the fetches tokens ask for, until the Verifier's lifetime ends.
func (r *remoteJWKS) refreshEvery(interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-r.life.Done():
			return
		case <-ticker.C:
			r.mu.Lock()
			r.nextLocked()
			r.mu.Unlock()
		}
	}
}

// remember records that a fetch missed kid, forgetting expired entries, or
// else the oldest, when the set is full.
func (r *remoteJWKS) remember(kid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.unknown) >= maxUnknownKIDs {
		oldest, oldestAt := "", time.Now()
		for k, at := range r.unknown {
			if time.Since(at) >= r.pace.kidCooldown {
				delete(r.unknown, k)
			} else if at.Before(oldestAt) {
				oldest, oldestAt = k, at
			}
		}
		if len(r.unknown) >= maxUnknownKIDs {
			delete(r.unknown, oldest)
		}
	}
	r.unknown[kid] = time.Now()
}

// fetch replaces the keys with the set the URL serves now (keys withdrawn
// there are dropped); a failure is logged and keeps the keys held.
func (r *remoteJWKS) fetch() error {
	ctx, cancel := context.WithTimeout(r.life, jwksTimeout)
	defer cancel()
	keys, err := r.get(ctx)
	if err == nil {
		err = r.keys.KeyReplaceAll(ctx, keys)
	}
	if err != nil {
		r.logger.WarnContext(ctx, "Could not fetch the JWKS; tokens signed with keys not fetched yet are refused", "url", r.url, "error", err)
	}
	return err
}

func (r *remoteJWKS) get(ctx context.Context) ([]jwkset.JWK, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the JWKS URL answered %s", resp.Status)
	}
	var set jwkset.JWKSMarshal
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decode the JWKS: %w", err)
	}
	keys := make([]jwkset.JWK, 0, len(set.Keys))
	for _, m := range set.Keys {
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
		switch {
		case errors.Is(err, jwkset.ErrUnsupportedKey):
			continue // a key type Crier cannot use (as Ed448) does not spoil the others
		case err != nil:
			return nil, fmt.Errorf("decode the JWKS key %q: %w", m.KID, err)
		}
		keys = append(keys, jwk)
	}
	return keys, nil
}
