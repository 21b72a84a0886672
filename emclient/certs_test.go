package emclient

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// TestUnknownCertificate: EM presents a certificate the client does not
// trust. Every call fails as a certificate problem, not as "EM unavailable",
// is not retried, and does not open the circuit (EM is there; a setting is
// wrong).
func TestUnknownCertificate(t *testing.T) {
	var hits int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, Username: "svc", Password: "x", BreakerThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_, err = c.AgentJob(context.Background(), fakeJobID)
		if !errors.Is(err, ErrCertificate) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOutcomeUnknown) {
			t.Fatalf("call to an EM with an unknown certificate: %v, want ErrCertificate only", err)
		}
	}
	if _, down := c.Down(); down {
		t.Error("certificate failures opened the circuit breaker")
	}
	if hits != 0 {
		t.Errorf("%d requests reached the server", hits)
	}
}

// TestConfigErrorNamesField: a missing CA file is a ConfigError naming the
// field, so the caller can name its own setting.
func TestConfigErrorNamesField(t *testing.T) {
	_, err := New(Config{BaseURL: "https://em.example.com:9398", Username: "svc", CAFile: filepath.Join(t.TempDir(), "missing.pem")})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "CAFile" {
		t.Fatalf("New with a missing CA file: %v, want a ConfigError for CAFile", err)
	}
}
