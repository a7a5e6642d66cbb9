package like

import "strings"

// escaper puts the escape character before each character LIKE gives a
// meaning to: % (any run), _ (any one) and the escape itself.
var escaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Contains is the pattern of the values that hold s anywhere, for a
// comparison written `column ILIKE $n ESCAPE '\'` (backslash is also
// PostgreSQL's default escape; the clause says so where it is used).
func Contains(s string) string {
	return "%" + escaper.Replace(s) + "%"
}
