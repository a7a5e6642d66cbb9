// Package like turns a person's search text into a PostgreSQL LIKE (or
// ILIKE) pattern that matches the text itself, so a search for "100%" or
// "a_b" finds those characters rather than every row. The broadcasts list
// and the user directory search with it.
package like
