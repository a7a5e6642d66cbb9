package audience

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
)

// importSQL moves the copied users into the directory as admin entries,
// leaving unchanged ones alone so a repeated import writes little.
const importSQL = `
INSERT INTO users (id, name, roles, source, time_zone)
SELECT id, name, roles, 'admin', time_zone FROM users_import
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, roles = EXCLUDED.roles, source = 'admin', time_zone = EXCLUDED.time_zone,
	updated_at = now()
WHERE (users.name, users.roles, users.source, users.time_zone) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.roles, 'admin', EXCLUDED.time_zone)`

// lockImportedSQL locks the users an import replaces, in id order, so their
// roles cannot change between roleChangesSQL and importSQL.
const lockImportedSQL = `SELECT 1 FROM users u JOIN users_import i USING (id) ORDER BY id FOR UPDATE OF u`

// roleChangesSQL lists the users whose roles the import changes, new users
// included (no roles before), with their roles before and after.
const roleChangesSQL = `
SELECT i.id, u.roles, i.roles FROM users_import i LEFT JOIN users u USING (id)
WHERE u.id IS NULL OR u.roles IS DISTINCT FROM i.roles
ORDER BY i.id`

// Import upserts many users at once, as admin entries, all or none: every
// entry is validated first (a *ValidationError names the bad ones by index,
// "[i].field"), then all are copied into a temporary table with COPY and
// merged in one statement, in one transaction. When an id appears more than
// once, its last entry wins. It reports how many distinct users the import
// holds.
//
// The same transaction records the import in the audit log as by's: one
// entry with the counts, and one per user whose roles it changed (or whom it
// added), with the roles before and after. A user's roles are bounded
// (MaxRoles of MaxRoleChars), so each entry is too.
func (a *Audience) Import(ctx context.Context, by audit.Origin, users []User) (int, error) {
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
			rows = append(rows, []any{u.ID, u.Name, u.Roles, u.TimeZone})
		}
	}
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE users_import (id text, name text, roles text[], time_zone text) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"users_import"}, []string{"id", "name", "roles", "time_zone"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, lockImportedSQL); err != nil {
			return err
		}
		changes, err := roleChanges(ctx, tx, by)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, importSQL); err != nil {
			return err
		}
		summary, err := audit.NewEntry(by, audit.ActionUserImport, audit.TargetUser, "", nil, nil,
			map[string]int{"imported": len(rows), "roles_changed": len(changes)})
		if err != nil {
			return err
		}
		return audit.RecordAll(ctx, tx, append([]audit.Entry{summary}, changes...))
	})
	if err != nil {
		return 0, fmt.Errorf("import %d users: %w", len(rows), err)
	}
	return len(rows), nil
}

// rolesView is a user's roles as an import's audit entry shows them.
type rolesView struct {
	Roles []string `json:"roles"`
}

// roleChanges are the audit entries of the users whose roles the import in
// users_import changes, before it is merged.
func roleChanges(ctx context.Context, tx pgx.Tx, by audit.Origin) ([]audit.Entry, error) {
	rows, err := tx.Query(ctx, roleChangesSQL)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Entry, error) {
		var (
			id            string
			before, after []string
		)
		if err := r.Scan(&id, &before, &after); err != nil {
			return audit.Entry{}, err
		}
		var was *rolesView
		if before != nil {
			was = &rolesView{Roles: before}
		}
		return audit.NewEntry(by, audit.ActionUserImport, audit.TargetUser, id, was, rolesView{Roles: after}, nil)
	})
}
