package emsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"
)

// Running is a Server listening on a socket.
type Running struct {
	URL    string // base URL without /api, e.g. https://127.0.0.1:19398
	CAFile string // PEM of the self-signed certificate (TLS only); removed by Close

	srv  *http.Server
	done chan struct{}
}

// Close stops the listener, ends open requests and removes the CA file.
func (r *Running) Close() {
	// Close, not Shutdown: a black-holed request would hold Shutdown until its timeout.
	_ = r.srv.Close()
	<-r.done
	if r.CAFile != "" {
		_ = os.Remove(r.CAFile)
	}
}

// Listen serves the simulator on addr. With useTLS it serves HTTPS with a fresh
// self-signed ECDSA certificate for 127.0.0.1, ::1 and localhost, whose PEM is
// written to a temporary file (Running.CAFile). Besides /api it serves the
// control paths /_emsim/stats (GET), /_emsim/faults (POST JSON Faults, DELETE
// clears) and /_emsim/expire (POST).
func (s *Server) Listen(addr string, useTLS bool) (*Running, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emsim: listen %s: %w", addr, err)
	}
	run := &Running{done: make(chan struct{})}
	scheme := "http"
	if useTLS {
		cert, caFile, err := selfSigned()
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		run.CAFile = caFile
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
		scheme = "https"
	}
	run.URL = scheme + "://" + ln.Addr().String()
	run.srv = &http.Server{
		Handler:           s.controlMux(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
	}
	go func() {
		defer close(run.done)
		if err := run.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("emsim: serve", "err", err)
		}
	}()
	return run, nil
}

func (s *Server) controlMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_emsim/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Stats())
	})
	mux.HandleFunc("POST /_emsim/faults", func(w http.ResponseWriter, r *http.Request) {
		f, err := decodeFaults(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.SetFaults(f)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_emsim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.SetFaults(Faults{})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_emsim/expire", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireSessions()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.Handle("/", s)
	return mux
}

// decodeFaults reads Faults as JSON; durations may be numbers (nanoseconds) or
// Go duration strings such as "250ms".
func decodeFaults(r *http.Request) (Faults, error) {
	var raw struct {
		Latency, Jitter, SlowBody json.RawMessage
		Status                    int
		Unauthorized              bool
		ResetAfterRead            bool
		BlackHole                 bool
		HugeBody                  int64
		Garbage                   bool
		Paths                     []string
		Methods                   []string
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Faults{}, fmt.Errorf("emsim: bad faults JSON: %w", err)
	}
	f := Faults{Status: raw.Status, Unauthorized: raw.Unauthorized, ResetAfterRead: raw.ResetAfterRead,
		BlackHole: raw.BlackHole, HugeBody: raw.HugeBody, Garbage: raw.Garbage, Paths: raw.Paths, Methods: raw.Methods}
	for _, d := range []struct {
		in  json.RawMessage
		out *time.Duration
	}{{raw.Latency, &f.Latency}, {raw.Jitter, &f.Jitter}, {raw.SlowBody, &f.SlowBody}} {
		if len(d.in) == 0 || string(d.in) == "null" {
			continue
		}
		var n int64
		if err := json.Unmarshal(d.in, &n); err == nil {
			*d.out = time.Duration(n)
			continue
		}
		var str string
		if err := json.Unmarshal(d.in, &str); err != nil {
			return Faults{}, fmt.Errorf("emsim: bad duration %s", d.in)
		}
		v, err := time.ParseDuration(str)
		if err != nil {
			return Faults{}, fmt.Errorf("emsim: bad duration %s: %w", d.in, err)
		}
		*d.out = v
	}
	return f, nil
}

// selfSigned makes an in-memory ECDSA certificate that is its own CA and writes
// its PEM to a temporary file.
func selfSigned() (tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("emsim: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("emsim: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "emsim Enterprise Manager", Organization: []string{"AgentDesk emsim"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("emsim: certificate: %w", err)
	}
	f, err := os.CreateTemp("", "emsim-ca-*.pem")
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("emsim: CA file: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: der}); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return tls.Certificate{}, "", fmt.Errorf("emsim: CA file: %w", err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return tls.Certificate{}, "", fmt.Errorf("emsim: CA file: %w", err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, f.Name(), nil
}
