package audience

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/broadcast"
)

// importSQL moves the copied users into the directory as admin entries,
// leaving unchanged ones alone so a repeated import writes little.
const importSQL = `
INSERT INTO users (id, name, roles, source)
SELECT id, name, roles, 'admin' FROM users_import
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, roles = EXCLUDED.roles, source = 'admin', updated_at = now()
WHERE (users.name, users.roles, users.source) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.roles, 'admin')`

// Import upserts many users at once, as admin entries, all or none: every
// entry is validated first (a *ValidationError names the bad ones by index,
// "[i].field"), then all are copied into a temporary table with COPY and
// merged in one statement, in one transaction (five round trips whatever
// the count). When an id appears more than once, its last entry wins. It reports
// how many distinct users the import holds.
func (a *Audience) Import(ctx context.Context, users []User) (int, error) {
	if len(users) > MaxImportUsers {
		return 0, &ValidationError{Errors: []broadcast.FieldError{{Field: "users",
			Message: fmt.Sprintf("must hold at most %d users, got %d", MaxImportUsers, len(users))}}}
	}
	var (
		v          ValidationError
		normalized = make([]User, 0, len(users))
		last       = make(map[string]int, len(users)) // id -> index in normalized
	)
	for i, u := range users {
		if errs := u.Normalize(); len(errs) > 0 {
			v.Errors = append(v.Errors, prefixed("["+strconv.Itoa(i)+"].", errs)...)
			continue
		}
		normalized = append(normalized, u)
		last[u.ID] = len(normalized) - 1
	}
	if len(v.Errors) > 0 {
		return 0, &v
	}
	if len(last) == 0 {
		return 0, nil
	}
	rows := make([][]any, 0, len(last))
	for i, u := range normalized {
		if last[u.ID] == i {
			rows = append(rows, []any{u.ID, u.Name, u.Roles})
		}
	}
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE users_import (id text, name text, roles text[]) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"users_import"}, []string{"id", "name", "roles"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, importSQL)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("import %d users: %w", len(rows), err)
	}
	return len(rows), nil
}
