// Package holds keeps time-boxed schedule disables: "disable the schedule for 4
// hours" is a disable now plus a hold that a background loop turns back into an
// enable when its time comes.
//
// Holds live in the database (SQLite for one replica, PostgreSQL when several
// share the work), so they survive restarts, and the loop takes a per-job lock
// from the same jobs.Locker the actions use, so one replica acts on each due
// hold. The re-enable itself is an ordinary jobs.Service action: it is decided
// on EM's fresh state under the job's action lock and audited like any other,
// so a schedule somebody enabled meanwhile is left alone (jobs.ErrAlready) and
// EM is never toggled twice.
//
// It is a package of its own rather than part of jobs because it owns state in
// the database and a loop, while jobs holds nothing but caches and the actions
// in flight.
package holds

import (
	"context"
	"errors"
	"time"
)

// State is where a hold is in its life.
type State string

const (
	Pending State = "pending" // the schedule is due back at ReenableAt
	Done    State = "done"    // back on, or nothing left to do (enabled by hand, replaced)
	Failed  State = "failed"  // AgentDesk could not bring it back; Message says why
)

// Hold is one time-boxed disable.
type Hold struct {
	ID         int64
	JobID      string
	JobName    string
	ByKey      string // issuer|subject of the person who disabled the schedule
	ByName     string
	DisabledAt time.Time
	ReenableAt time.Time
	State      State
	Message    string
	UpdatedAt  time.Time
}

// ErrNotFound means there is no hold with that id.
var ErrNotFound = errors.New("holds: no such hold")

// Store keeps holds durably.
type Store interface {
	// Create inserts h as pending and returns its id.
	Create(ctx context.Context, h Hold) (int64, error)
	// Get returns one hold.
	Get(ctx context.Context, id int64) (Hold, error)
	// Pending returns the job's newest pending hold; false when there is none.
	Pending(ctx context.Context, jobID string) (Hold, bool, error)
	// Due returns up to limit pending holds whose time has come, oldest first.
	Due(ctx context.Context, now time.Time, limit int) ([]Hold, error)
	// Close moves a pending hold to state; false when it was no longer pending.
	Close(ctx context.Context, id int64, state State, message string, at time.Time) (bool, error)
	// CloseJob closes every pending hold of a job except the one with id
	// except (0: none), and returns how many it closed.
	CloseJob(ctx context.Context, jobID string, except int64, state State, message string, at time.Time) (int64, error)
	// Note replaces the message of a pending hold (why the last try failed).
	Note(ctx context.Context, id int64, message string, at time.Time) error
}
