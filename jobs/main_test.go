package jobs

import (
	"testing"

	"go.uber.org/goleak"
)

// The service starts a janitor and one follower per action; Close and
// Shutdown must end them all.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
