package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Chain is the outcome of a verification that found the log intact.
type Chain struct {
	// Entries is how many entries were checked.
	Entries int64
	// Head is the hash of the newest entry (nil for an empty log). Deleting
	// the newest entries leaves a shorter chain that is still whole: only a
	// head recorded outside the database shows that.
	Head []byte
}

// BrokenError is a verification's finding: the first entry, in id order, at
// which the chain does not hold.
type BrokenError struct {
	// ID is the entry at which the chain breaks.
	ID int64
	// Reason says what is wrong there, for a person.
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit log broken at entry %d: %s", e.ID, e.Reason)
}

// Verify walks the log in id order, recomputing each entry's hash with the
// same SQL function that computed it at insert (audit_log_hash), and checks
// that each entry links to the one before it. It returns a *BrokenError for
// the first entry changed, inserted or deleted since it was recorded. start is
// the prev_hash the first entry must have: nil for a log never pruned, or the
// hash of the last entry deleted when old entries were removed on purpose.
//
// It reads one snapshot (a read-only REPEATABLE READ transaction), so entries
// recorded meanwhile are checked by the next run.
func Verify(ctx context.Context, db interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}, start []byte) (Chain, error) {
	var chain Chain
	err := pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, prev_hash, hash, audit_log_hash(a) FROM audit_log a ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		w := walker{head: anchor{hash: start}}
		for rows.Next() {
			var l link
			if err := rows.Scan(&l.id, &l.prev, &l.hash, &l.computed); err != nil {
				return err
			}
			if err := w.step(l); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if err := w.finish(); err != nil {
			return err
		}
		chain = Chain{Entries: w.count, Head: w.head.hash}
		return nil
	})
	var broken *BrokenError
	if errors.As(err, &broken) {
		return Chain{}, err
	}
	if err != nil {
		return Chain{}, fmt.Errorf("verify audit log: %w", err)
	}
	return chain, nil
}

// link is one entry as the chain sees it.
type link struct {
	id                   int64
	prev, hash, computed []byte
}

// walker checks links in id order. A link that does not follow its
// predecessor is held until the next one shows whether it was inserted (the
// next links to the predecessor) or something before it went missing.
type walker struct {
	count int64
	// head is the last entry that held, or the start of the log; before is
	// the one before it: a link to before instead of head shows that head
	// was inserted.
	head, before anchor
	held         *link // a link that did not follow head
}

// anchor is an entry a link may point to, or the start of the log.
type anchor struct {
	entry bool // false: the start of the log
	id    int64
	hash  []byte
}

func (a anchor) String() string {
	if !a.entry {
		return "the start of the log (prev_hash " + hexOrNone(a.hash) + ")"
	}
	return fmt.Sprintf("entry %d (hash %s)", a.id, hex.EncodeToString(a.hash))
}

func (w *walker) step(l link) error {
	switch {
	case !bytes.Equal(l.hash, l.computed):
		if w.held != nil {
			return w.gap()
		}
		return &BrokenError{ID: l.id, Reason: "it was changed: the hash it holds is not the hash of its content and prev_hash"}
	case w.held != nil && bytes.Equal(l.prev, w.head.hash):
		return &BrokenError{ID: w.held.id, Reason: fmt.Sprintf("it was inserted: entry %d links past it, to %s", l.id, w.head)}
	case w.held != nil:
		return w.gap()
	case bytes.Equal(l.prev, w.head.hash):
		w.count++
		w.before, w.head = w.head, anchor{entry: true, id: l.id, hash: l.hash}
		return nil
	case w.head.entry && bytes.Equal(l.prev, w.before.hash):
		return &BrokenError{ID: w.head.id, Reason: fmt.Sprintf("it was inserted: entry %d links past it, to %s", l.id, w.before)}
	}
	w.held = &l
	return nil
}

func (w *walker) finish() error {
	if w.held != nil {
		return w.gap()
	}
	return nil
}

// gap reports the held link as not following head.
func (w *walker) gap() error {
	return &BrokenError{ID: w.held.id, Reason: fmt.Sprintf("it does not link to %s (it holds prev_hash %s): "+
		"an entry before it was deleted or changed, or it was inserted", w.head, hexOrNone(w.held.prev))}
}

func hexOrNone(b []byte) string {
	if b == nil {
		return "none"
	}
	return hex.EncodeToString(b)
}
