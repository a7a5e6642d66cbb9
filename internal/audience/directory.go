package audience

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/audit"
)

const userColumns = `id, name, roles, source, time_zone, created_at, updated_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Name, &u.Roles, &u.Source, &u.TimeZone, &u.CreatedAt, &u.UpdatedAt)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return u, err
}

// upsertSQL sets a user as an admin says. An unchanged entry is left alone
// (its updated_at too) and returned as stored.
const upsertSQL = `
WITH up AS (
	INSERT INTO users (id, name, roles, source, time_zone) VALUES ($1, $2, $3, 'admin', $4)
	ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, roles = EXCLUDED.roles, source = 'admin', time_zone = EXCLUDED.time_zone,
		updated_at = now()
	WHERE (users.name, users.roles, users.source, users.time_zone) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.roles, 'admin', EXCLUDED.time_zone)
	RETURNING ` + userColumns + `
)
SELECT ` + userColumns + ` FROM up
UNION ALL
SELECT ` + userColumns + ` FROM users WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM up)`

// Upsert creates or replaces the entry of u.ID as an admin sets it: its name
// and roles become authoritative (source admin), and Learn no longer changes
// them. Invalid input is a *ValidationError. A change is recorded in the
// audit log as by's, in the same transaction; an unchanged entry records
// nothing.
func (a *Audience) Upsert(ctx context.Context, by audit.Origin, u User) (User, error) {
	if err := invalid(u.Normalize()); err != nil {
		return User{}, err
	}
	var stored User
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		before, err := getUser(ctx, tx, u.ID, " FOR UPDATE")
		var was *User
		switch {
		case err == nil:
			was = &before
		case !errors.Is(err, ErrNotFound):
			return err
		}
		if stored, err = scanUser(tx.QueryRow(ctx, upsertSQL, u.ID, u.Name, u.Roles, u.TimeZone)); err != nil {
			return err
		}
		if was != nil && was.Name == stored.Name && slices.Equal(was.Roles, stored.Roles) && was.Source == stored.Source {
			return nil // unchanged: upsertSQL left the row alone
		}
		e, err := audit.NewEntry(by, audit.ActionUserUpsert, audit.TargetUser, stored.ID, was, stored, nil)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, e)
	})
	if err != nil {
		return User{}, fmt.Errorf("upsert user %q: %w", u.ID, err)
	}
	return stored, nil
}

// Get returns the user with the given id, or ErrNotFound.
func (a *Audience) Get(ctx context.Context, id string) (User, error) {
	return getUser(ctx, a.pool, id, "")
}

// getUser reads a user; lock is "" or a locking clause such as " FOR UPDATE".
func getUser(ctx context.Context, q querier, id, lock string) (User, error) {
	u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`+lock, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("user %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("read user %q: %w", id, err)
	}
	return u, nil
}
