package bench

import (
	"context"
	"errors"
	"time"
)

// InboxScenario measures GET /me/broadcasts over a 1,000,000-row inbox.
type InboxScenario struct{}

// Inbox returns the inbox scenario.
func Inbox() Scenario { return InboxScenario{} }

// Name implements Scenario.
func (InboxScenario) Name() string { return "inbox" }

// Estimate implements Scenario.
func (InboxScenario) Estimate(runs int) time.Duration { return time.Minute }

// Run implements Scenario.
func (InboxScenario) Run(ctx context.Context, env Env) (Section, error) {
	return Section{}, errors.New("not built yet")
}
