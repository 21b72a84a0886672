// Command loadtest is AgentDesk's load tool (package loadtest): virtual users
// against an in-process demo stack built through package app, or against a
// running `agentdesk demo` on loopback. It is a command of its own, not a
// subcommand of agentdesk, so the production binary carries no load
// generator and none of its HTML parsing.
//
//	go run ./cmd/loadtest -users 32 -duration 30s -em-latency 50ms
package main

import (
	"fmt"
	"os"

	"github.com/agentdesk/agentdesk/loadtest"
)

func main() {
	if err := loadtest.Main(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}
