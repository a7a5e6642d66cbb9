package audience

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/cursor"
	"github.com/crier/crier/internal/like"
)

// Page sizes of List.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
)

// MaxRoleCounts is the most roles Roles returns.
const MaxRoleCounts = 1000

// ListParams selects a page of the directory, by user id. Its filters
// combine with AND; an empty one keeps every user.
type ListParams struct {
	// Text, when not empty, keeps only users whose id or name holds it, in
	// any case; its %, _ and \ are matched as themselves.
	Text string
	// Role, when not empty, keeps only users holding this role.
	Role string
	// Cursor continues after the last user of the previous page; empty
	// starts at the first.
	Cursor string
	// Limit is the page size, 1 to MaxListLimit. Default DefaultListLimit.
	Limit int
}

// List returns a page of users ordered by id and the cursor of the next
// page, empty on the last; ErrBadCursor for a cursor not made here.
func (a *Audience) List(ctx context.Context, p ListParams) ([]User, string, error) {
	if p.Limit <= 0 {
		p.Limit = DefaultListLimit
	}
	p.Limit = min(p.Limit, MaxListLimit)
	after, err := afterKey(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	args := []any{p.Limit + 1, after}
	where := []string{"id > $2"}
	if p.Text != "" {
		args = append(args, like.Contains(p.Text))
		where = append(where, fmt.Sprintf(`(id ILIKE $%d ESCAPE '\' OR name ILIKE $%[1]d ESCAPE '\')`, len(args)))
	}
	if p.Role != "" {
		// Containment, not = ANY(roles), so the GIN index on roles serves it.
		args = append(args, []string{p.Role})
		where = append(where, fmt.Sprintf("roles @> $%d::text[]", len(args)))
	}
	rows, err := a.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id LIMIT $1`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	next := ""
	if len(page) > p.Limit {
		page = page[:p.Limit]
		next = cursor.EncodeKey(page[len(page)-1].ID)
	}
	return page, next, nil
}

// RoleCount is a role of the directory and how many users hold it.
type RoleCount struct {
	Role  string `json:"role"`
	Users int64  `json:"users"`
}

// Roles lists the roles users of the directory hold, ordered by role, with
// how many users hold each: the first MaxRoleCounts of them.
func (a *Audience) Roles(ctx context.Context) ([]RoleCount, error) {
	// Every write deduplicates a user's roles (normalizeRoles), so each row
	// of the unnest is one user holding the role.
	rows, err := a.pool.Query(ctx, `
		SELECT role, count(*) FROM users, unnest(roles) AS role
		GROUP BY role ORDER BY role LIMIT $1`, MaxRoleCounts)
	if err != nil {
		return nil, fmt.Errorf("count the users of each role: %w", err)
	}
	counts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RoleCount, error) {
		var c RoleCount
		err := r.Scan(&c.Role, &c.Users)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("count the users of each role: %w", err)
	}
	return counts, nil
}
