package presence

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Summary is who is connected, for operators.
type Summary struct {
	// OnlineUsers counts the distinct users with a live connection.
	OnlineUsers int
	// Connections counts live connections.
	Connections int
	// Nodes lists every node that has rows, live or stale, by NodeID.
	Nodes []NodeSummary
	// At is the database's time the summary was taken at.
	At time.Time
	// StaleAfter is the age past which a node counts as stale.
	StaleAfter time.Duration
}

// NodeSummary describes the connections one node holds.
type NodeSummary struct {
	NodeID string
	// Connections and Users count all the node's rows, stale or not.
	Connections int
	Users       int
	// LastSeen is the node's latest refresh.
	LastSeen time.Time
	// Stale is set when LastSeen is more than StaleAfter ago: the node
	// stopped refreshing, and the clean-up will remove its rows.
	Stale bool
}

// Summary returns the totals and the per-node view, read from one snapshot
// (one transaction, so one now()) so they agree with each other.
func (s *Store) Summary(ctx context.Context) (Summary, error) {
	sum := Summary{StaleAfter: StaleAfter, Nodes: []NodeSummary{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, sqlTotals, micros(StaleAfter)).Scan(&sum.Connections, &sum.OnlineUsers, &sum.At); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sqlNodes, micros(StaleAfter))
		if err != nil {
			return err
		}
		var n NodeSummary
		_, err = pgx.ForEachRow(rows, []any{&n.NodeID, &n.Connections, &n.Users, &n.LastSeen, &n.Stale}, func() error {
			n.LastSeen = n.LastSeen.UTC()
			sum.Nodes = append(sum.Nodes, n)
			return nil
		})
		return err
	})
	if err != nil {
		return Summary{}, fmt.Errorf("summarise connections: %w", err)
	}
	sum.At = sum.At.UTC()
	return sum, nil
}
