package cursor

import (
	"encoding/base64"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// ErrBad means a cursor that this package did not produce.
var ErrBad = errors.New("cursor is not valid: pass the next_cursor of a previous page unchanged")

// Encode returns the cursor of the item sorted by (at, id).
func Encode(at time.Time, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id.String()))
}

// Decode reads a cursor made by Encode.
func Decode(c string) (time.Time, uuid.UUID, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, uuid.Nil, ErrBad
	}
	atText, idText, ok := strings.Cut(string(raw), "|")
	at, errAt := time.Parse(time.RFC3339Nano, atText)
	id, errID := uuid.Parse(idText)
	if !ok || errAt != nil || errID != nil {
		return time.Time{}, uuid.Nil, ErrBad
	}
	return at, id, nil
}

// EncodeKey returns the cursor of the item sorted by a text key alone, such
// as a user id.
func EncodeKey(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// DecodeKey reads a cursor made by EncodeKey. A key PostgreSQL could not
// compare as text (empty, not UTF-8, holding NUL) was not made there.
func DecodeKey(c string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(raw) == 0 || !utf8.Valid(raw) || strings.IndexByte(string(raw), 0) >= 0 {
		return "", ErrBad
	}
	return string(raw), nil
}
