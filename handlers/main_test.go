package handlers_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every portal a test builds (EM client, jobs service, sign-in discovery,
// servers) must be gone when the tests end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// scs' memory store starts one cleanup goroutine per manager, with no way to stop it.
		goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"))
}
