// Package migrations holds Crier's numbered SQL migrations, embedded in the
// binary, and applies them. Applying is safe from many processes at once: the
// migrate library serialises them with a PostgreSQL advisory lock, so every
// Crier process may migrate at start.
package migrations
