package emclient

import (
	"errors"
	"testing"
	"time"
)

// TestBreakerWindow: only failures close together count as consecutive; a
// success in between starts over.
func TestBreakerWindow(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := newBreaker(3, 10*time.Second, time.Minute)
	b.now = func() time.Time { return now }
	fail := func() {
		p, err := b.allow("GET", "/x")
		if err != nil {
			t.Fatalf("allow: %v", err)
		}
		b.done(p, unreachable, "GET /x: boom")
	}
	fail()
	fail()
	now = now.Add(11 * time.Second) // the run is stale
	fail()
	fail()
	if _, down := b.down(); down {
		t.Fatal("opened on failures spread beyond the window")
	}
	b.done(false, reachable, "")
	fail()
	fail()
	if _, down := b.down(); down {
		t.Fatal("a success did not reset the count")
	}
	start := now
	fail()
	since, down := b.down()
	if !down || !since.Equal(start.Add(0)) && !since.Before(start) {
		t.Fatalf("down = %v since %v", down, since)
	}
	if _, err := b.allow("GET", "/x"); !errors.Is(err, ErrCircuitOpen) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("open: %v", err)
	}
	// A caller that gives up during the probe does not wedge the half-open state.
	now = now.Add(time.Minute)
	p, err := b.allow("GET", "/x")
	if err != nil || !p {
		t.Fatalf("after cooldown: probe %t, %v", p, err)
	}
	if _, err := b.allow("GET", "/x"); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("second caller during the probe: %v", err)
	}
	b.done(p, neutral, "")
	if p, err := b.allow("GET", "/x"); err != nil || !p {
		t.Fatalf("after an abandoned probe: probe %t, %v", p, err)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		status int
		err    error
		want   outcome
	}{
		{200, nil, reachable},
		{500, errors.New("x"), reachable},
		{404, errors.New("x"), reachable},
		{502, errors.New("x"), unreachable},
		{503, errors.New("x"), unreachable},
		{504, errors.New("x"), unreachable},
		{0, ErrUnavailable, unreachable},
		{0, ErrOutcomeUnknown, unreachable},
		{0, errClosed, neutral},
	} {
		if got := classify(tc.status, tc.err); got != tc.want {
			t.Errorf("classify(%d, %v) = %d, want %d", tc.status, tc.err, got, tc.want)
		}
	}
}
