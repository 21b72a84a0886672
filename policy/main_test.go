package policy

import (
	"testing"

	"go.uber.org/goleak"
)

// Watchers start goroutines; every test must end them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
