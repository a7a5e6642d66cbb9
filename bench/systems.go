package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
)

// System is one way of publishing scheduled broadcasts: Crier itself or a
// baseline. Each has its own database and topic on the shared services.
type System interface {
	// Name is how the report calls the system.
	Name() string
	// Topic is where the system's publications are appended.
	Topic() string
	// Create stores the broadcasts, all due at the same time, and arranges
	// their publication as the system would for an admin's request.
	Create(ctx context.Context, bs []broadcast.Broadcast) error
	// Arm is called once creation is over, before the due time. It returns
	// how long after due the system first looks for due broadcasts, when
	// that is a property of the system (the poller's phase), else zero.
	// Whatever it starts stops when ctx ends.
	Arm(ctx context.Context, due time.Time) time.Duration
	// Close releases what the system holds.
	Close() error
}

// benchRole is the role every benchmark broadcast targets.
const benchRole = "ops"

// NewBroadcasts returns n scheduled broadcasts due at due, expiring a day
// later (never within a benchmark), as an admin would create them.
func NewBroadcasts(n int, due time.Time, label string) []broadcast.Broadcast {
	expires := due.Add(24 * time.Hour)
	out := make([]broadcast.Broadcast, n)
	for i := range out {
		id := uuid.Must(uuid.NewV7())
		out[i] = broadcast.Broadcast{
			ID: id, Status: broadcast.StatusScheduled,
			Sender: broadcast.Sender{ID: "crierbench", Name: "Crier benchmark"},
			Title:  fmt.Sprintf("%s #%d", label, i+1), Content: "Benchmark broadcast: " + label,
			Category: "bench", Priority: broadcast.PriorityNormal,
			Target:      broadcast.Target{Type: broadcast.TargetRole, IDs: []string{benchRole}},
			ScheduledAt: &due, ExpiresAt: &expires, WorkflowID: broadcast.WorkflowID(id),
		}
	}
	return out
}

// creators is how many broadcasts are created at once: enough to keep
// PostgreSQL and Temporal busy on a small machine.
const creators = 16

// benchOrigin is who the bench's broadcasts are created by in the audit log,
// which the store writes in each creation's transaction as for the API.
var benchOrigin = audit.Origin{Actor: audit.Actor{ID: "crierbench", Name: "crierbench"}}

// insertAll stores bs through store.Insert, creators at a time, running
// beforeCommit in each one's transaction as the API does.
func insertAll(ctx context.Context, s *store.Store, bs []broadcast.Broadcast,
	beforeCommit func(context.Context, broadcast.Broadcast) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(creators)
	for _, b := range bs {
		g.Go(func() error {
			hash := sha256.Sum256(b.ID[:])
			_, _, err := s.Insert(ctx, benchOrigin, b, hash[:], beforeCommit)
			return err
		})
	}
	return g.Wait()
}
