// Package runs shares the state of the actions a replica follows (who started
// what, its EM task, the backup session it found, progress, the outcome) with
// every other replica, so a status poll that a load balancer sends to another
// replica is answered truthfully.
//
// The state itself is opaque here (package jobs encodes it): a store keeps
// the newest blob per job with the time it was written, and answers the
// recent ones in one call, so a list of fifty rows costs one round trip.
package runs

import "time"

// Entry is one job's newest run state as a replica wrote it.
type Entry struct {
	JobID string
	State []byte
	At    time.Time
}
