package deadletter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/cursor"
)

// Errors of the admin's operations.
var (
	// ErrNotFound means no dead letter has the id.
	ErrNotFound = errors.New("dead letter not found")
	// ErrConflict means the dead letter's status forbids the change; the
	// Letter returned with it is as it stands.
	ErrConflict = errors.New("the dead letter's status forbids this")
	// ErrUnavailable means Kafka did not take a redrive: nothing changed,
	// and the caller may retry.
	ErrUnavailable = errors.New("kafka unavailable")
	// ErrBadCursor means a paging cursor List did not produce.
	ErrBadCursor = cursor.ErrBad
)

// Page sizes of List.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// StoreConfig configures a Store.
type StoreConfig struct {
	// Brokers are Kafka bootstrap addresses, where redrives are sent.
	// Required.
	Brokers []string
	// Transport carries the redrives, with the link's TLS and SASL
	// (kafkaconn.New). Default kafka.DefaultTransport.
	Transport kafka.RoundTripper
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Store is the admins' side of dead letters: list, read, redrive, drop.
type Store struct {
	pool *pgxpool.Pool
	w    *kafka.Writer
	log  *slog.Logger
}

// NewStore returns a Store on pool. It does not contact Kafka until a
// redrive.
func NewStore(pool *pgxpool.Pool, cfg StoreConfig) (*Store, error) {
	if pool == nil {
		return nil, errors.New("dead-letter store: no PostgreSQL pool")
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("dead-letter store: no Kafka brokers configured (KAFKA_BROKERS)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// No Topic: each redrive goes back to the topic its message came from.
	w := &kafka.Writer{
		Addr: kafka.TCP(cfg.Brokers...), Transport: cfg.Transport, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchBytes: maxMessageBytes, BatchTimeout: time.Millisecond,
		WriteTimeout: 10 * time.Second, MaxAttempts: 3,
	}
	return &Store{pool: pool, w: w, log: cfg.Logger.With("component", "dead-letters")}, nil
}

// Close flushes and closes the Kafka writer.
func (s *Store) Close() error { return s.w.Close() }

// letterColumns are what scanLetter reads; messageColumns the message too.
const (
	letterColumns = `id, consumer, status, topic, kafka_partition, kafka_offset, reason, error, attempts, redrives,
		created_at, updated_at, failed_at, resolved_at, dropped_at`
	messageColumns = letterColumns + `, message_key, message_value, headers`
)

func scanLetter(row pgx.Row, extra ...any) (Letter, error) {
	var l Letter
	err := row.Scan(append([]any{&l.ID, &l.Consumer, &l.Status, &l.Topic, &l.Partition, &l.Offset, &l.Reason, &l.Error,
		&l.Attempts, &l.Redrives, &l.CreatedAt, &l.UpdatedAt, &l.FailedAt, &l.ResolvedAt, &l.DroppedAt}, extra...)...)
	l.CreatedAt, l.UpdatedAt, l.FailedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC(), l.FailedAt.UTC()
	for _, t := range []**time.Time{&l.ResolvedAt, &l.DroppedAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	return l, err
}

// stored is a dead letter with its message, as the table holds it.
type stored struct {
	Letter
	key, value []byte
	headers    []storedHeader
}

func get(ctx context.Context, q pgx.Tx, id uuid.UUID, lock bool) (stored, error) {
	sql := `SELECT ` + messageColumns + ` FROM dead_letters WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	var st stored
	l, err := scanLetter(q.QueryRow(ctx, sql, id), &st.key, &st.value, &st.headers)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, ErrNotFound
	}
	if err != nil {
		return st, fmt.Errorf("read dead letter %s: %w", id, err)
	}
	st.Letter = l
	return st, nil
}

// Get returns one dead letter with its message.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (Letter, error) {
	var st stored
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		st, err = get(ctx, tx, id, false)
		return err
	})
	if err != nil {
		return Letter{}, err
	}
	st.Message = newMessage(st.key, st.value, st.headers)
	return st.Letter, nil
}

// Filter selects a page of dead letters, newest first. Empty fields select
// all.
type Filter struct {
	Consumer string
	Statuses []Status
	// Cursor continues after the previous page; empty starts at the newest.
	Cursor string
	// Limit is the page size, 1 to MaxLimit. Default DefaultLimit.
	Limit int
}

// List returns a page of dead letters (without their messages), newest
// first, and the next page's cursor, empty on the last page.
func (s *Store) List(ctx context.Context, f Filter) ([]Letter, string, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultLimit
	}
	f.Limit = min(f.Limit, MaxLimit)
	args := []any{f.Limit + 1}
	where := []string{"true"}
	if f.Consumer != "" {
		args = append(args, f.Consumer)
		where = append(where, fmt.Sprintf("consumer = $%d", len(args)))
	}
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			statuses[i] = string(st)
		}
		args = append(args, statuses)
		where = append(where, fmt.Sprintf("status = ANY($%d::text[])", len(args)))
	}
	if f.Cursor != "" {
		at, id, err := cursor.Decode(f.Cursor)
		if err != nil {
			return nil, "", ErrBadCursor
		}
		args = append(args, at, id)
		where = append(where, fmt.Sprintf("(created_at, id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+letterColumns+` FROM dead_letters WHERE `+strings.Join(where, " AND ")+
		` ORDER BY created_at DESC, id DESC LIMIT $1`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list dead letters: %w", err)
	}
	page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Letter, error) { return scanLetter(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list dead letters: %w", err)
	}
	next := ""
	if len(page) > f.Limit {
		page = page[:f.Limit]
		last := page[len(page)-1]
		next = cursor.Encode(last.CreatedAt, last.ID)
	}
	return page, next, nil
}

// CountUnresolved counts the dead letters not yet resolved or dropped, by
// consumer: crier_dead_letters_pending.
func CountUnresolved(ctx context.Context, pool *pgxpool.Pool) (map[string]int64, error) {
	rows, err := pool.Query(ctx, `SELECT consumer, count(*) FROM dead_letters WHERE status = ANY($1::text[]) GROUP BY consumer`, Unresolved())
	if err != nil {
		return nil, fmt.Errorf("count dead letters: %w", err)
	}
	counts := map[string]int64{}
	for rows.Next() {
		var (
			consumer string
			n        int64
		)
		if err := rows.Scan(&consumer, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("count dead letters: %w", err)
		}
		counts[consumer] = n
	}
	rows.Close()
	return counts, rows.Err()
}

// recordChange writes the audit entry of by's action on a dead letter, from
// before to after (without the message), in tx.
func recordChange(ctx context.Context, tx pgx.Tx, by audit.Origin, action audit.Action, before, after Letter) error {
	before.Message, after.Message = nil, nil
	e, err := audit.NewEntry(by, action, audit.TargetDeadLetter, after.ID.String(), before, after, nil)
	if err != nil {
		return err
	}
	return audit.Record(ctx, tx, e)
}

// Pool is the connection pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
