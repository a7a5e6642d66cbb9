package broadcast

import "slices"

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
