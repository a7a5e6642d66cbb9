package broadcast

import (
	"fmt"
	"slices"
	"strings"
)

// Targets reports whether a broadcast with target t is meant for the user
// with the given id and roles. It is the one rule every part of Crier uses:
// the inbox, the live stream, statistics.
func (t Target) Targets(userID string, roles []string) bool {
	switch t.Type {
	case TargetAll:
		return true
	case TargetRole:
		for _, r := range roles {
			if slices.Contains(t.IDs, r) {
				return true
			}
		}
	case TargetSelected:
		return slices.Contains(t.IDs, userID)
	}
	return false
}

// Describe says whom t reaches, in a few words for people: "everyone",
// "role ops, sales", "3 selected users" (up to three ids are named).
func (t Target) Describe() string {
	switch t.Type {
	case TargetAll:
		return "everyone"
	case TargetRole:
		return "role " + strings.Join(t.IDs, ", ")
	case TargetSelected:
		if len(t.IDs) <= 3 {
			return "users " + strings.Join(t.IDs, ", ")
		}
		return fmt.Sprintf("%d selected users", len(t.IDs))
	}
	return string(t.Type)
}
