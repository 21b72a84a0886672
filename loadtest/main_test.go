package loadtest

import (
	"fmt"
	"os"
	"testing"
)

// TestMain lets the test binary stand in for agentdesk when the benchmark
// starts its children ("<binary> child MODE …": a test's bench has no prefix).
func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" && len(os.Args) > 1 && os.Args[1] == "child" {
		if err := Main(os.Args[1:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
