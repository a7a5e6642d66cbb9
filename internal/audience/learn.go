package audience

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// learnSQL inserts a user first seen in a token, and updates one learned
// earlier whose token now says something else. An admin's entry is never
// changed, and an unchanged one is not written.
const learnSQL = `
INSERT INTO users (id, name, roles, source, time_zone) VALUES ($1, $2, $3, 'token', $4)
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, roles = EXCLUDED.roles, time_zone = EXCLUDED.time_zone, updated_at = now()
WHERE users.source = 'token' AND (users.name, users.roles, users.time_zone) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.roles, EXCLUDED.time_zone)`

// Learn records what a verified token says of its user, so ALL and ROLE
// broadcasts count users nobody imported. It runs on every authenticated
// request, so it is cheap: a user this process already saw with the same
// name and roles costs a map lookup and no SQL. Only users learned from
// tokens are updated; an admin's entry is authoritative. zone is the
// token's OIDC zoneinfo claim; one that is not an IANA zone is left out.
func (a *Audience) Learn(ctx context.Context, userID, name string, roles []string, zone string) error {
	userID, name, roles, zone = strings.TrimSpace(userID), strings.TrimSpace(name), normalizeRoles(roles), strings.TrimSpace(zone)
	if userID == "" {
		return errors.New("learn user: the token has no subject")
	}
	if !ValidZone(zone) {
		zone = ""
	}
	sum := learnedHash(name, roles, zone)
	if known, ok := a.learned.get(userID); ok && known == sum {
		return nil
	}
	if _, err := a.pool.Exec(ctx, learnSQL, userID, name, roles, zone); err != nil {
		return fmt.Errorf("learn user %q: %w", userID, err)
	}
	a.learned.put(userID, sum)
	return nil
}

// learnedHash identifies a name and normalized roles; each part is written
// as a netstring (its length in decimal, a colon, its bytes) so no two
// different inputs write the same bytes, whatever their lengths.
func learnedHash(name string, roles []string, zone string) uint64 {
	h := fnv.New64a()
	var size [24]byte
	write := func(s string) {
		// A hash.Hash's Write never fails.
		_, _ = h.Write(append(strconv.AppendInt(size[:0], int64(len(s)), 10), ':'))
		_, _ = h.Write([]byte(s))
	}
	write(name)
	write(zone)
	for _, r := range roles {
		write(r)
	}
	return h.Sum64()
}
