package deadletter

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/crier/crier/internal/retry"
)

// DefaultAttempts is how many times a message failing for good is tried in
// all before it is dead-lettered (CRIER_DEAD_LETTER_ATTEMPTS).
const DefaultAttempts = 3

// PolicyConfig configures a Policy. Zero fields take the documented defaults.
type PolicyConfig struct {
	// Consumer names the consumer in dead letters, their metric and
	// redrives ("audience", "stream-tail"). Required.
	Consumer string
	// Attempts is how many times a message failing for good is tried in all
	// (CRIER_DEAD_LETTER_ATTEMPTS). Default DefaultAttempts.
	Attempts int
	// Backoff spaces the attempts. The zero value is retry's default
	// schedule; tests inject one that does not wait.
	Backoff retry.Backoff
	// Clock tells the time of a dead letter. Default time.Now.
	Clock func() time.Time
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Policy is what a consumer does with one message it fails to process:
// retry a transient failure without limit, a permanent one up to Attempts
// times, then dead-letter the message and move on.
type Policy struct {
	writer *Writer
	cfg    PolicyConfig
	log    *slog.Logger
}

// NewPolicy returns the policy of cfg.Consumer, dead-lettering through w.
func NewPolicy(w *Writer, cfg PolicyConfig) (*Policy, error) {
	if w == nil {
		return nil, errors.New("dead-letter policy: no writer")
	}
	if cfg.Consumer == "" {
		return nil, errors.New("dead-letter policy: no consumer name")
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Policy{writer: w, cfg: cfg, log: cfg.Logger.With("component", "dead-letters", "consumer", cfg.Consumer)}, nil
}

// Consumer is the consumer's name.
func (p *Policy) Consumer() string { return p.cfg.Consumer }

// Process runs process for msg until it succeeds (true), retrying a
// transient failure without limit and a permanent one (Classify, or a
// panic) until it has been tried Attempts times; then it writes msg to the
// dead-letter topic and table, retrying those writes without limit, and
// reports true: the caller moves past msg. It reports false only when ctx
// ended first, having written nothing the caller must commit past.
func (p *Policy) Process(ctx context.Context, msg kafka.Message, process func(context.Context) error) bool {
	permanent, transient := 0, 0
	for {
		err := Protect(func() error { return process(ctx) })
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		reason, isPermanent := Classify(err)
		attrs := []any{"topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, "error", err}
		if !isPermanent {
			transient++
			p.log.Warn("Processing a message failed; will retry", append(attrs, "attempt", transient)...)
			if !retry.Wait(ctx, transient) {
				return false
			}
			continue
		}
		permanent++
		if permanent >= p.cfg.Attempts {
			return p.deadLetter(ctx, failure{consumer: p.cfg.Consumer, msg: msg, reason: reason, err: err,
				attempts: permanent, at: p.cfg.Clock()})
		}
		p.log.Warn("Processing a message failed for a reason no retry may fix; trying again", append(attrs,
			"reason", reason, "attempt", permanent, "attempts", p.cfg.Attempts)...)
		if !p.cfg.Backoff.Wait(ctx, permanent) {
			return false
		}
	}
}

// deadLetter writes f, retrying until it is written or ctx ends (false).
func (p *Policy) deadLetter(ctx context.Context, f failure) bool {
	for attempt := 1; ; attempt++ {
		err := p.writer.write(ctx, f)
		if err == nil {
			countWritten(f)
			p.log.Error("Dead-lettered a message its consumer cannot process; the partition moves on",
				"topic", f.msg.Topic, "partition", f.msg.Partition, "offset", f.msg.Offset, "key", string(f.msg.Key),
				"reason", f.reason, "attempts", f.attempts, "error", f.err, "dead_letter_topic", p.writer.Topic())
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		p.log.Warn("Writing a dead letter failed; will retry (the consumer waits)", "attempt", attempt, "error", err)
		if !retry.Wait(ctx, attempt) {
			return false
		}
	}
}
