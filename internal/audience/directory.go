package audience

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

const userColumns = `id, name, roles, source, created_at, updated_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Name, &u.Roles, &u.Source, &u.CreatedAt, &u.UpdatedAt)
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
	INSERT INTO users (id, name, roles, source) VALUES ($1, $2, $3, 'admin')
	ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, roles = EXCLUDED.roles, source = 'admin', updated_at = now()
	WHERE (users.name, users.roles, users.source) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.roles, 'admin')
	RETURNING ` + userColumns + `
)
SELECT ` + userColumns + ` FROM up
UNION ALL
SELECT ` + userColumns + ` FROM users WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM up)`

// Upsert creates or replaces the entry of u.ID as an admin sets it: its name
// and roles become authoritative (source admin), and Learn no longer changes
// them. Invalid input is a *ValidationError.
func (a *Audience) Upsert(ctx context.Context, u User) (User, error) {
	if err := invalid(u.Normalize()); err != nil {
		return User{}, err
	}
	stored, err := scanUser(a.pool.QueryRow(ctx, upsertSQL, u.ID, u.Name, u.Roles))
	if err != nil {
		return User{}, fmt.Errorf("upsert user %q: %w", u.ID, err)
	}
	return stored, nil
}

// Get returns the user with the given id, or ErrNotFound.
func (a *Audience) Get(ctx context.Context, id string) (User, error) {
	u, err := scanUser(a.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("user %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("read user %q: %w", id, err)
	}
	return u, nil
}
