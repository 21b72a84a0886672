package jobs

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/agentdesk/agentdesk/policy"
)

// everything lets the tests' actors do anything: these tests are about
// actions, not the policy (do_test.go is).
var everything = policy.Unrestricted("test")

// The service starts a janitor and one follower per action; Close and
// Shutdown must end them all.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
