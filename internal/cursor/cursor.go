package cursor

import (
	"encoding/base64"
	"errors"
	"strings"
	"time"

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
