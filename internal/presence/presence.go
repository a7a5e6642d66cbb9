package presence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// DefaultHeartbeatInterval is how often a node refreshes its connections.
	DefaultHeartbeatInterval = 20 * time.Second
	// StaleAfter is how old a node's last refresh may be before its
	// connections stop counting as live and Summary flags the node: three
	// missed heartbeats.
	StaleAfter = 60 * time.Second
	// DefaultRemoveAfter is how old a connection's last refresh must be
	// before the clean-up removes it: three missed heartbeats. With the
	// clean-up running every minute, a dead node's connections leave
	// presence within two minutes.
	DefaultRemoveAfter = 60 * time.Second
)

// Connection is one live SSE connection.
type Connection struct {
	// ID identifies the connection; the node generates it when the stream opens.
	ID uuid.UUID
	// NodeID names the API node holding the connection.
	NodeID string
	// UserID is the connected user.
	UserID string
}

// Store reads and changes the connections table.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// Register records a connection as live now. Registering a connection again
// (a node restoring rows the clean-up removed) refreshes it.
func (s *Store) Register(ctx context.Context, c Connection) error {
	if c.ID == uuid.Nil || c.NodeID == "" || c.UserID == "" {
		return errors.New("register connection: id, node id and user id are all required")
	}
	if _, err := s.pool.Exec(ctx, sqlRegister, c.ID, c.NodeID, c.UserID); err != nil {
		return fmt.Errorf("register connection %s of user %s on node %s: %w", c.ID, c.UserID, c.NodeID, err)
	}
	return nil
}

// ErrUserFull means the user already holds the most live connections
// allowed; Admit recorded nothing.
var ErrUserFull = errors.New("the user holds the most live connections allowed")

// Admit records c as live unless its user already holds limit live
// connections across all nodes, in which case it returns ErrUserFull. The
// count and the insert are one step for the user: a transaction that takes
// an advisory lock on the user id first, so concurrent opens on any nodes
// queue behind each other instead of all counting the same rows and all
// inserting (check-then-act let 20 concurrent opens through a cap of 5).
// Opens of different users do not wait for each other.
func (s *Store) Admit(ctx context.Context, c Connection, limit int) error {
	if c.ID == uuid.Nil || c.NodeID == "" || c.UserID == "" {
		return errors.New("admit connection: id, node id and user id are all required")
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlLockUser, c.UserID); err != nil {
			return err
		}
		// A new statement, so a new snapshot: it sees every connection
		// committed by those who held the lock before.
		tag, err := tx.Exec(ctx, sqlAdmit, c.ID, c.NodeID, c.UserID, micros(StaleAfter), limit)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrUserFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrUserFull) {
		return fmt.Errorf("admit connection %s of user %s on node %s: %w", c.ID, c.UserID, c.NodeID, err)
	}
	return err
}

// Unregister removes a connection that closed. Removing one that is already
// gone succeeds.
func (s *Store) Unregister(ctx context.Context, id uuid.UUID) error {
	if _, err := s.pool.Exec(ctx, sqlUnregister, id); err != nil {
		return fmt.Errorf("unregister connection %s: %w", id, err)
	}
	return nil
}

// Touch marks every connection of nodeID as seen now and returns how many it
// refreshed. Fewer than the node holds means the clean-up removed some (the
// node was unreachable for a while): the node should register them again.
func (s *Store) Touch(ctx context.Context, nodeID string) (int64, error) {
	tag, err := s.pool.Exec(ctx, sqlTouch, nodeID)
	if err != nil {
		return 0, fmt.Errorf("refresh connections of node %s: %w", nodeID, err)
	}
	return tag.RowsAffected(), nil
}

// RemoveNode removes every connection of nodeID and returns how many: a node
// shutting down cleanly removes its own rows rather than waiting for the
// clean-up. Call it with a context that outlives the node's stop signal.
func (s *Store) RemoveNode(ctx context.Context, nodeID string) (int64, error) {
	tag, err := s.pool.Exec(ctx, sqlRemoveNode, nodeID)
	if err != nil {
		return 0, fmt.Errorf("remove connections of node %s: %w", nodeID, err)
	}
	return tag.RowsAffected(), nil
}

// micros turns d into microseconds, the unit the SQL multiplies an interval
// by: pgx has no encoding of time.Duration as an interval parameter.
func micros(d time.Duration) int64 { return d.Microseconds() }
