package bench

import (
	"context"
	"errors"
	"time"
)

// FanoutScenario measures one ALL broadcast to 10,000 SSE clients.
type FanoutScenario struct{}

// Fanout returns the fanout scenario.
func Fanout() Scenario { return FanoutScenario{} }

// Name implements Scenario.
func (FanoutScenario) Name() string { return "fanout" }

// Estimate implements Scenario.
func (FanoutScenario) Estimate(runs int) time.Duration { return time.Minute }

// Run implements Scenario.
func (FanoutScenario) Run(ctx context.Context, env Env) (Section, error) {
	return Section{}, errors.New("not built yet")
}
