package emclient_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The client starts goroutines (single-flight logons, transport connections);
// none may outlive the tests that started them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
