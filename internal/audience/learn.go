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
INSERT INTO users (id, name, roles, source) VALUES ($1, $2, $3, 'token')
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, roles = EXCLUDED.roles, updated_at = now()
WHERE users.source = 'token' AND (users.name, users.roles) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.roles)`

// Learn records what a verified token says of its user, so ALL and ROLE
// broadcasts count users nobody imported. It runs on every authenticated
// request, so it is cheap: a user this process already saw with the same
// name and roles costs a map lookup and no SQL. Only users learned from
// tokens are updated; an admin's entry is authoritative.
func (a *Audience) Learn(ctx context.Context, userID, name string, roles []string) error {
	userID, name, roles = strings.TrimSpace(userID), strings.TrimSpace(name), normalizeRoles(roles)
	if userID == "" {
		return errors.New("learn user: the token has no subject")
	}
	sum := learnedHash(name, roles)
	if known, ok := a.learned.get(userID); ok && known == sum {
		return nil
	}
	if _, err := a.pool.Exec(ctx, learnSQL, userID, name, roles); err != nil {
		return fmt.Errorf("learn user %q: %w", userID, err)
	}
	a.learned.put(userID, sum)
	return nil
}

// learnedHash identifies a name and normalized roles; each part is written
// as a netstring (its length in decimal, a colon, its bytes) so no two
// different inputs write the same bytes, whatever their lengths.
func learnedHash(name string, roles []string) uint64 {
	h := fnv.New64a()
	var size [24]byte
	write := func(s string) {
		// A hash.Hash's Write never fails.
		_, _ = h.Write(append(strconv.AppendInt(size[:0], int64(len(s)), 10), ':'))
		_, _ = h.Write([]byte(s))
	}
	write(name)
	for _, r := range roles {
		write(r)
	}
	return h.Sum64()
}
