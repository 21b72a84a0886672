package emsim

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestFleetDeterministic(t *testing.T) {
	now := newClock().Now
	a := New(Config{Seed: 7, Now: now}).Jobs()
	b := New(Config{Seed: 7, Now: now}).Jobs()
	c := New(Config{Seed: 8, Now: now}).Jobs()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different fleets")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds, same fleet")
	}
}

func TestFleetGuarantees(t *testing.T) {
	for _, tc := range []struct {
		seed int64
		jobs int
	}{{1, 48}, {2, 48}, {3, 48}, {99, 48}, {5, 1}, {6, 3}, {12345, 120}} {
		s := New(Config{Seed: tc.seed, Jobs: tc.jobs, Now: newClock().Now})
		jobs := s.Jobs()
		if len(jobs) != tc.jobs {
			t.Fatalf("seed %d: %d jobs", tc.seed, len(jobs))
		}
		erin := 0
		for _, j := range jobs {
			hasErin := false
			for _, c := range j.Computers {
				hasErin = hasErin || c == erinComputer
			}
			if j.Name == erinJobName {
				erin++
				if j.Policy || j.Platform != "AgentForWindows" || len(j.Computers) != 1 || !hasErin {
					t.Errorf("seed %d: Erin's job %+v", tc.seed, j)
				}
			} else if hasErin {
				t.Errorf("seed %d: job %q also includes %s", tc.seed, j.Name, erinComputer)
			}
		}
		if erin != 1 {
			t.Errorf("seed %d: %d jobs named %q", tc.seed, erin, erinJobName)
		}
		if tc.jobs < 48 {
			continue
		}
		var servers = map[string]bool{}
		var win, lnx, pol, srvManaged, disabled, special, nonASCII, lastFailed int
		results := map[string]int{}
		for _, j := range s.fleet.jobs {
			servers[j.srv.name] = true
			if j.windows {
				win++
			} else {
				lnx++
			}
			if j.policy {
				pol++
			} else {
				srvManaged++
			}
			if !j.enabled {
				disabled++
			}
			if strings.ContainsAny(j.name+j.desc, `&<"`) {
				special++
			}
			if !isASCII(j.name) {
				nonASCII++
			}
			if p := j.latest(); p != nil && p.result == "Failed" {
				lastFailed++
			}
			for _, p := range j.sessions {
				results[p.result]++
			}
		}
		if !servers["vbr-berlin.corp.example"] || !servers["vbr-munich.corp.example"] || len(servers) != 2 {
			t.Errorf("seed %d: servers %v", tc.seed, servers)
		}
		for name, n := range map[string]int{"windows": win, "linux": lnx, "policies": pol, "server-managed": srvManaged,
			"schedule disabled": disabled, "special characters": special, "non-ASCII": nonASCII, "last failed": lastFailed,
			"successes": results["Success"], "warnings": results["Warning"], "failures": results["Failed"]} {
			if n == 0 {
				t.Errorf("seed %d: no %s", tc.seed, name)
			}
		}
	}
}

func isASCII(s string) bool { return utf8.RuneCountInString(s) == len(s) }

func TestLargeFleet(t *testing.T) {
	s := New(Config{Jobs: 10000, Now: newClock().Now})
	if n := len(s.Jobs()); n != 10000 {
		t.Fatalf("%d jobs", n)
	}
	for _, j := range s.fleet.jobs {
		if len(j.sessions) > largeHistoryLen {
			t.Fatalf("job %q keeps %d sessions", j.name, len(j.sessions))
		}
	}
}

func TestListenTLSAndControlPaths(t *testing.T) {
	s := New(Config{Jobs: 5})
	run, err := s.Listen("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	pem, err := os.ReadFile(run.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	do := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, run.URL+path, strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if !strings.HasPrefix(run.URL, "https://127.0.0.1:") {
		t.Fatalf("URL %s", run.URL)
	}
	if code, body := do("GET", "/api/", ""); code != 200 || !bytes.Contains(body, []byte("https://127.0.0.1:")) {
		t.Fatalf("entry point over TLS: %d %s", code, body)
	}
	if code, _ := do("POST", "/_emsim/faults", `{"Status":503,"Latency":"1ms"}`); code != 204 {
		t.Fatalf("set faults: %d", code)
	}
	if code, _ := do("GET", "/api/agents", ""); code != 503 {
		t.Fatalf("fault not applied: %d", code)
	}
	if code, _ := do("DELETE", "/_emsim/faults", ""); code != 204 {
		t.Fatalf("clear faults: %d", code)
	}
	if code, _ := do("GET", "/api/agents", ""); code != 401 {
		t.Fatalf("after clearing: %d", code)
	}
	if code, _ := do("POST", "/_emsim/expire", ""); code != 204 {
		t.Fatalf("expire: %d", code)
	}
	code, body := do("GET", "/_emsim/stats", "")
	var st Stats
	if code != 200 || json.Unmarshal(body, &st) != nil || st.Requests["GET /agents"] != 2 {
		t.Fatalf("stats: %d %s", code, body)
	}
	run.Close()
	if _, err := os.Stat(run.CAFile); !os.IsNotExist(err) {
		t.Errorf("CA file left behind: %v", err)
	}
}

func TestListenPlain(t *testing.T) {
	run, err := New(Config{Jobs: 2}).Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	if run.CAFile != "" || !strings.HasPrefix(run.URL, "http://") {
		t.Fatalf("%+v", run)
	}
	resp, err := http.Get(run.URL + "/api/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
}

func TestMainRejectsBadFlags(t *testing.T) {
	var out bytes.Buffer
	if err := Main([]string{"-jobs", "many"}, &out); err == nil {
		t.Fatal("bad flag accepted")
	}
	if err := Main([]string{"extra"}, &out); err == nil {
		t.Fatal("stray argument accepted")
	}
}

// TestHistoryEnd: two servers of one seed whose histories end at the same
// instant hold the same fleet, whenever they are built (their clocks here
// are hours apart); tests that read a fleet's facts from one server and act
// on another rely on it.
func TestHistoryEnd(t *testing.T) {
	end := time.Date(2026, 12, 5, 11, 47, 0, 0, time.UTC)
	build := func(later time.Duration) *Server {
		return New(Config{Seed: 1, Jobs: 48, HistoryEnd: end, Now: func() time.Time { return end.Add(later) }})
	}
	a, b := build(time.Hour), build(9*time.Hour)
	for _, ja := range a.fleet.jobs {
		jb := b.fleet.jobByID[ja.id]
		if jb == nil || len(ja.sessions) != len(jb.sessions) {
			t.Fatalf("job %s: the fleets differ", ja.name)
		}
		for i, s := range ja.sessions {
			if o := jb.sessions[i]; s.id != o.id || !s.created.Equal(o.created) || s.result != o.result {
				t.Fatalf("job %s, session %d: %s %s %s vs %s %s %s", ja.name, i, s.id, s.created, s.result, o.id, o.created, o.result)
			}
		}
	}
}
