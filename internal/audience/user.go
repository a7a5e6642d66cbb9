package audience

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crier/crier/internal/broadcast"
)

// Limits on a user entry. IDs are as long as a broadcast's target ids may be,
// so every user can be targeted.
const (
	MaxUserIDChars = broadcast.MaxTargetIDChars
	MaxNameChars   = 200
	MaxRoles       = 100
	MaxRoleChars   = 64
	// MaxImportUsers is the most users one Import takes.
	MaxImportUsers = 100_000
)

// Source says who set a user entry.
type Source string

// The sources of a user entry. An admin's entry is authoritative: Learn
// never changes it.
const (
	SourceAdmin Source = "admin"
	SourceToken Source = "token"
)

// User is an entry of the directory.
type User struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Roles  []string `json:"roles"`
	Source Source   `json:"source"`
	// TimeZone is the user's IANA time zone, "" when unknown: a broadcast
	// sent at a local time reaches them at that time there.
	TimeZone  string    `json:"time_zone"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Normalize trims u's id, name and roles the way a broadcast's target ids
// are trimmed (so targets match), sorts and deduplicates the roles, and
// checks the limits. It returns every fault, with fields named "id", "name"
// and "roles[i]", or nil.
func (u *User) Normalize() []broadcast.FieldError {
	var errs []broadcast.FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, broadcast.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	u.ID = strings.TrimSpace(u.ID)
	switch n := utf8.RuneCountInString(u.ID); {
	case n == 0:
		add("id", "must not be empty")
	case n > MaxUserIDChars:
		add("id", "must be at most %d characters, got %d", MaxUserIDChars, n)
	case strings.ContainsRune(u.ID, 0):
		add("id", "must not contain NUL characters")
	}
	u.Name = strings.TrimSpace(u.Name)
	if n := utf8.RuneCountInString(u.Name); n > MaxNameChars {
		add("name", "must be at most %d characters, got %d", MaxNameChars, n)
	} else if strings.ContainsRune(u.Name, 0) {
		add("name", "must not contain NUL characters")
	}
	if len(u.Roles) > MaxRoles {
		add("roles", "must hold at most %d roles, got %d", MaxRoles, len(u.Roles))
	}
	for i, r := range u.Roles {
		r = strings.TrimSpace(r)
		switch n := utf8.RuneCountInString(r); {
		case n == 0:
			add(fmt.Sprintf("roles[%d]", i), "must not be empty")
		case n > MaxRoleChars:
			add(fmt.Sprintf("roles[%d]", i), "must be at most %d characters, got %d", MaxRoleChars, n)
		case strings.ContainsRune(r, 0):
			add(fmt.Sprintf("roles[%d]", i), "must not contain NUL characters")
		}
	}
	u.Roles = normalizeRoles(u.Roles)
	u.TimeZone = strings.TrimSpace(u.TimeZone)
	if u.TimeZone != "" && !ValidZone(u.TimeZone) {
		add("time_zone", "%s is not an IANA time zone (like Europe/Berlin); leave it empty when unknown", broadcast.Quote(u.TimeZone))
	}
	return errs
}

// ValidZone reports whether name is an IANA time zone this process knows.
// "Local" (the machine's) and file paths are not.
func ValidZone(name string) bool {
	if name == "" || name == "Local" || strings.HasPrefix(name, "/") || len(name) > 64 {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}

// normalizeRoles trims, sorts and deduplicates roles and drops empty ones,
// so two lists of the same roles compare equal. It never returns nil.
func normalizeRoles(roles []string) []string {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ValidationError lists every reason users were refused; nothing was
// stored.
type ValidationError struct {
	Errors []broadcast.FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Field + ": " + fe.Message
	}
	return "invalid user: " + strings.Join(msgs, "; ")
}

// invalid reports errs as a *ValidationError, or nil when there are none.
func invalid(errs []broadcast.FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: errs}
}

// prefixed names errs' fields after the entry they belong to, e.g. "[3].id".
func prefixed(prefix string, errs []broadcast.FieldError) []broadcast.FieldError {
	out := make([]broadcast.FieldError, len(errs))
	for i, e := range errs {
		out[i] = broadcast.FieldError{Field: prefix + e.Field, Message: e.Message}
	}
	return out
}
