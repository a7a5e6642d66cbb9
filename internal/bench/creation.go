package bench

import (
	"context"
	"errors"
	"time"
)

// CreationScenario measures broadcast creation rate through the HTTP API against raw workflow starts.
type CreationScenario struct{}

// Creation returns the creation scenario.
func Creation() Scenario { return CreationScenario{} }

// Name implements Scenario.
func (CreationScenario) Name() string { return "creation" }

// Estimate implements Scenario.
func (CreationScenario) Estimate(runs int) time.Duration { return time.Minute }

// Run implements Scenario.
func (CreationScenario) Run(ctx context.Context, env Env) (Section, error) {
	return Section{}, errors.New("not built yet")
}
