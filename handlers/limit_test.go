package handlers

import (
	"testing"
	"time"
)

func TestAttemptLimit(t *testing.T) {
	now := time.Unix(0, 0)
	l := newAttemptLimit(3, time.Minute)
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if !l.allow("10.0.0.1", "root") {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	if l.allow("10.0.0.1", "root") {
		t.Fatal("4th attempt in a minute allowed")
	}
	if l.allow("10.0.0.2", "root") {
		t.Fatal("another address guessing the same user name must be limited too")
	}
	now = now.Add(2 * time.Minute)
	if !l.allow("10.0.0.1", "root") {
		t.Fatal("attempt after the window refused")
	}
}
