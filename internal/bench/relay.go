package bench

import (
	"context"
	"errors"
	"time"
)

// RelayScenario measures outbox relay throughput to Kafka.
type RelayScenario struct{}

// Relay returns the relay scenario.
func Relay() Scenario { return RelayScenario{} }

// Name implements Scenario.
func (RelayScenario) Name() string { return "relay" }

// Estimate implements Scenario.
func (RelayScenario) Estimate(runs int) time.Duration { return time.Minute }

// Run implements Scenario.
func (RelayScenario) Run(ctx context.Context, env Env) (Section, error) {
	return Section{}, errors.New("not built yet")
}
