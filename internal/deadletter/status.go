package deadletter

// Status is where a dead letter stands.
type Status string

// The statuses.
const (
	// StatusPending waits for an admin to redrive or drop it.
	StatusPending Status = "PENDING"
	// StatusRedriving was sent to its consumer again; the consumer records
	// the outcome.
	StatusRedriving Status = "REDRIVING"
	// StatusResolved was processed by its consumer on a redrive.
	StatusResolved Status = "RESOLVED"
	// StatusFailed failed again on a redrive; its error is the new one.
	StatusFailed Status = "FAILED"
	// StatusDropped was given up on by an admin, and kept for the record.
	StatusDropped Status = "DROPPED"
)

// Statuses lists every status.
var Statuses = []Status{StatusPending, StatusRedriving, StatusResolved, StatusFailed, StatusDropped}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool {
	for _, known := range Statuses {
		if s == known {
			return true
		}
	}
	return false
}

// step is a change of a dead letter's status.
type step string

const (
	stepRedrive   step = "redrive"    // an admin sends it again
	stepDrop      step = "drop"       // an admin gives up on it
	stepResolve   step = "resolve"    // its consumer processed a redriven copy
	stepFailAgain step = "fail again" // its consumer failed a redriven copy for good
)

// transition is what a step may do: the statuses it starts from and the one
// it leads to.
type transition struct {
	from []Status
	to   Status
}

// transitions are a dead letter's lifecycle, their one definition: every
// SQL guard takes its statuses from here as parameters. A resolve is also
// taken from PENDING and FAILED: the redriven copy of a redrive whose
// transaction did not commit is still processed, and with several API nodes
// one node's success outweighs another's failure.
var transitions = map[step]transition{
	stepRedrive:   {from: []Status{StatusPending, StatusFailed}, to: StatusRedriving},
	stepDrop:      {from: []Status{StatusPending, StatusFailed}, to: StatusDropped},
	stepResolve:   {from: []Status{StatusPending, StatusRedriving, StatusFailed}, to: StatusResolved},
	stepFailAgain: {from: []Status{StatusRedriving, StatusFailed}, to: StatusFailed},
}

// allows reports whether st may start from s.
func (st step) allows(s Status) bool {
	for _, from := range transitions[st].from {
		if from == s {
			return true
		}
	}
	return false
}

// guard is st's statuses as the SQL guards take them: $2 (from, as text[])
// and $3 (to).
func (st step) guard() []any {
	t := transitions[st]
	from := make([]string, len(t.from))
	for i, s := range t.from {
		from[i] = string(s)
	}
	return []any{from, string(t.to)}
}

// Unresolved lists the statuses of dead letters that still stand between a
// message and its effect: the pending count (crier_dead_letters_pending)
// counts these.
func Unresolved() []string {
	var out []string
	for _, s := range Statuses {
		if s != StatusResolved && s != StatusDropped {
			out = append(out, string(s))
		}
	}
	return out
}
