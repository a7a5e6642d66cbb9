package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/deadletter"
	"github.com/crier/crier/internal/deadletter/deadlettertest"
	"github.com/crier/crier/internal/testenv"
)

// deadBundle is the API with the dead-letter routes and the audit log on
// the real dead-letter store, topic and table.
type deadBundle struct {
	*testBundle
	dead  *deadlettertest.Env
	topic string
}

func setupDead(t *testing.T) *deadBundle {
	t.Helper()
	tb := setup(t)
	brokers := testenv.KafkaBrokers(t)
	topic := testenv.Name("dead-letter-source")
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	_, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}})
	require.NoError(t, err)
	dead := deadlettertest.New(t, tb.pool, brokers, testenv.Logger(t))
	log, err := audit.New(tb.pool)
	require.NoError(t, err)
	tb.e = api.New(tb.store, tb.wf, api.Config{
		Verifier: auth.NewVerifier(tb.secret), Clock: func() time.Time { return tb.now }, Logger: testenv.Logger(t),
		Audit: log, DeadLetters: dead.Store,
	})
	return &deadBundle{testBundle: tb, dead: dead, topic: topic}
}

// letter dead-letters the message at offset for consumer and returns its id.
func (db *deadBundle) letter(t *testing.T, consumer string, offset int64) uuid.UUID {
	t.Helper()
	msg := kafka.Message{Topic: db.topic, Offset: offset, Key: []byte("k"), Value: []byte("not JSON")}
	require.True(t, db.dead.Policy(t, consumer, 1).Process(context.Background(), msg, func(context.Context) error {
		return deadletter.Permanent(deadletter.ReasonUndecodable, errors.New("not an event"))
	}))
	return deadletter.ID(consumer, db.topic, 0, offset)
}

func decodeInto[T any](t *testing.T, rec *httptest.ResponseRecorder, status int) T {
	t.Helper()
	require.Equal(t, status, rec.Code, "body: %s", rec.Body)
	var out T
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	return out
}

type deadLetterPage struct {
	Items      []deadletter.Letter `json:"items"`
	NextCursor string              `json:"next_cursor"`
}

// Admins page through dead letters, newest first, filtered by consumer and
// status; bad filters are 400s.
func TestListDeadLetters(t *testing.T) {
	t.Parallel()
	db := setupDead(t)
	for off := int64(0); off < 3; off++ {
		db.letter(t, "audience", off)
	}
	tail := db.letter(t, "stream-tail", 9)

	var seen []uuid.UUID
	path := "/api/v1/dead-letters?limit=2"
	for pages := 0; path != ""; pages++ {
		require.Less(t, pages, 4)
		page := decodeInto[deadLetterPage](t, db.do(t, http.MethodGet, path, ""), http.StatusOK)
		for _, l := range page.Items {
			seen = append(seen, l.ID)
			require.Nil(t, l.Message, "a list leaves messages out")
		}
		path = ""
		if page.NextCursor != "" {
			path = "/api/v1/dead-letters?limit=2&cursor=" + page.NextCursor
		}
	}
	require.Len(t, seen, 4)
	require.Equal(t, tail, seen[0], "newest first")

	page := decodeInto[deadLetterPage](t, db.do(t, http.MethodGet, "/api/v1/dead-letters?consumer=stream-tail&status=pending", ""), http.StatusOK)
	require.Len(t, page.Items, 1)
	require.Equal(t, tail, page.Items[0].ID)
	page = decodeInto[deadLetterPage](t, db.do(t, http.MethodGet, "/api/v1/dead-letters?status=RESOLVED", ""), http.StatusOK)
	require.Empty(t, page.Items)

	requireProblem(t, db.do(t, http.MethodGet, "/api/v1/dead-letters?status=LOST", ""), http.StatusBadRequest, "is not one of")
	requireProblem(t, db.do(t, http.MethodGet, "/api/v1/dead-letters?limit=0", ""), http.StatusBadRequest, "limit must be")
	requireProblem(t, db.do(t, http.MethodGet, "/api/v1/dead-letters?cursor=bad", ""), http.StatusBadRequest, "cursor")
}

// One dead letter shows its message; redrive answers 202 and is audited;
// what the status forbids is a 409, and an unknown id a 404.
func TestRedriveAndDropDeadLetters(t *testing.T) {
	t.Parallel()
	db := setupDead(t)
	redriven, dropped := db.letter(t, "audience", 0), db.letter(t, "audience", 1)
	path := func(id uuid.UUID) string { return "/api/v1/dead-letters/" + id.String() }

	l := decodeInto[deadletter.Letter](t, db.do(t, http.MethodGet, path(redriven), ""), http.StatusOK)
	require.Equal(t, &deadletter.Message{Encoding: "utf-8", Key: "k", Value: "not JSON", Headers: []deadletter.Header{}}, l.Message)

	rec := db.do(t, http.MethodPost, path(redriven)+"/redrive", "")
	l = decodeInto[deadletter.Letter](t, rec, http.StatusAccepted)
	require.Equal(t, deadletter.StatusRedriving, l.Status)
	require.Equal(t, path(redriven), rec.Header().Get("Location"))
	requireProblem(t, db.do(t, http.MethodPost, path(redriven)+"/redrive", ""), http.StatusConflict, "is being redriven")
	requireProblem(t, db.do(t, http.MethodDelete, path(redriven), ""), http.StatusConflict, "is being redriven")

	l = decodeInto[deadletter.Letter](t, db.do(t, http.MethodDelete, path(dropped), ""), http.StatusOK)
	require.Equal(t, deadletter.StatusDropped, l.Status)
	require.Equal(t, l, decodeInto[deadletter.Letter](t, db.do(t, http.MethodDelete, path(dropped), ""), http.StatusOK), "dropping again changes nothing")
	requireProblem(t, db.do(t, http.MethodPost, path(dropped)+"/redrive", ""), http.StatusConflict, "is DROPPED")

	entries := decodeInto[struct{ Items []audit.Entry }](t,
		db.do(t, http.MethodGet, "/api/v1/audit?target_type=dead_letter", ""), http.StatusOK).Items
	require.Len(t, entries, 2, "one redrive, one drop")
	require.Equal(t, []audit.Action{audit.ActionDeadLetterDrop, audit.ActionDeadLetterRedrive}, []audit.Action{entries[0].Action, entries[1].Action})
	require.Equal(t, ada, entries[1].Actor)
	require.Equal(t, redriven.String(), entries[1].TargetID)

	for _, p := range []string{path(uuid.New()), "/api/v1/dead-letters/nope"} {
		requireProblem(t, db.do(t, http.MethodGet, p, ""), http.StatusNotFound, "no dead letter has id")
		requireProblem(t, db.do(t, http.MethodPost, p+"/redrive", ""), http.StatusNotFound, "no dead letter has id")
		requireProblem(t, db.do(t, http.MethodDelete, p, ""), http.StatusNotFound, "no dead letter has id")
	}
	user := issue(t, db.secret, "uma", "Uma", []string{"ops"}, time.Hour, time.Now())
	requireProblem(t, db.do(t, http.MethodGet, "/api/v1/dead-letters", "", withToken(user)), http.StatusForbidden, "admin")
	requireProblem(t, db.do(t, http.MethodGet, "/api/v1/dead-letters", "", withToken("")), http.StatusUnauthorized, "")
}

// Kafka not taking the redrive: 503, and the dead letter is as it was.
func TestRedriveWithKafkaDown(t *testing.T) {
	t.Parallel()
	db := setupDead(t)
	id := db.letter(t, "audience", 0)
	down, err := deadletter.NewStore(db.pool, deadletter.StoreConfig{Brokers: []string{"127.0.0.1:1"}, Logger: testenv.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = down.Close() })
	db.e = api.New(db.store, db.wf, api.Config{Verifier: auth.NewVerifier(db.secret), Logger: testenv.Logger(t), DeadLetters: down})

	requireProblem(t, db.do(t, http.MethodPost, "/api/v1/dead-letters/"+id.String()+"/redrive", ""), http.StatusServiceUnavailable, "Kafka is unavailable, so nothing was changed")
	l, err := db.dead.Store.Get(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, deadletter.StatusPending, l.Status)
	require.Zero(t, l.Redrives)
	require.Zero(t, db.rows(t, "audit_log WHERE target_type = 'dead_letter'"))
}
