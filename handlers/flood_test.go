package handlers_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

var loopbackProxy = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// slowPost opens a connection that sends a form POST's headers and one byte
// of its body, then nothing; the answer arrives on the returned channel.
func slowPost(t *testing.T, p *testPortal, path, clientIP string) <-chan int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nX-Forwarded-For: %s\r\nOrigin: %s\r\nSec-Fetch-Site: same-origin\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nu", path, strings.TrimPrefix(p.URL, "http://"), clientIP, p.URL)
	got := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			got <- 0 // connection closed without an answer
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	return got
}

// TestSlowBodiesCannotStarve: one address sending bodies a byte at a time
// holds at most its share of the in-flight slots, and others are still
// served.
func TestSlowBodiesCannotStarve(t *testing.T) {
	t.Parallel()
	const slots = 16 // per client: 16/8 = 2
	// The body deadline is far away: here only the slots matter.
	p := newPortal(t, portalOptions{maxInFlight: slots, trustedProxies: loopbackProxy, bodyTimeout: time.Hour})
	answers := make(chan int, slots)
	for range slots {
		a := slowPost(t, p, "/auth/breakglass", "10.9.9.9")
		go func() { answers <- <-a }()
	}
	// All but the address's share are refused at once.
	for range slots - 2 {
		if st := <-answers; st != http.StatusServiceUnavailable {
			t.Fatalf("slow body answered %d, want 503", st)
		}
	}
	t.Logf("%d slow bodies from one address: 2 hold a slot, %d refused with 503", slots, slots-2)
	// Someone else is served meanwhile.
	r := p.newClient().get("/auth/signin", header("X-Forwarded-For", "10.8.8.8"))
	wantStatus(t, "another address during the flood", r, http.StatusOK)
}

// TestSlowBodyDeadline: a body that does not arrive within the body deadline
// ends the request with 408, freeing its slot.
func TestSlowBodyDeadline(t *testing.T) {
	t.Parallel()
	p := newPortal(t, portalOptions{bodyTimeout: 100 * time.Millisecond})
	if st := <-slowPost(t, p, "/auth/breakglass", "10.9.9.9"); st != http.StatusRequestTimeout {
		t.Errorf("slow body ended with %d, want 408", st)
	}
}

// TestAnonymousFloodBounded: failed callbacks and sign-in pages from one
// address add a bounded number of small rows.
func TestAnonymousFloodBounded(t *testing.T) {
	t.Parallel()
	p := newPortal(t, portalOptions{anonymousBurst: 5000})
	rows := func(q string) (n, size int) {
		t.Helper()
		if err := p.db.QueryRow(q).Scan(&n, &size); err != nil {
			t.Fatal(err)
		}
		return n, size
	}
	const auditQ = `SELECT count(*), coalesce(sum(length(user_agent) + length(message)), 0) FROM audit_log`
	const sessQ = `SELECT count(*), coalesce(sum(length(data)), 0) FROM sessions`
	a0, _ := rows(auditQ)
	s0, _ := rows(sessQ)
	agent := "Mozilla/5.0 " + strings.Repeat("A", 60<<10)
	c := p.newClient()
	for i := range 1000 {
		r := c.get(fmt.Sprintf("/auth/callback?state=forged%d&code=x", i), header("User-Agent", agent))
		if r.StatusCode != http.StatusBadRequest {
			t.Fatalf("failed callback %d: %d", i, r.StatusCode)
		}
	}
	for range 1000 { // fresh browsers, as a crawler or a script
		wantStatus(t, "sign-in page", p.newClient().get("/auth/signin", header("User-Agent", agent)), http.StatusOK)
	}
	a1, aBytes := rows(auditQ)
	s1, _ := rows(sessQ)
	t.Logf("1,000 failed callbacks + 1,000 sign-in pages: +%d audit rows (%d bytes of agent and message), +%d session rows", a1-a0, aBytes, s1-s0)
	if a1-a0 > 5 {
		t.Errorf("%d audit rows for one address's failed callbacks, want at most 5", a1-a0)
	}
	if aBytes > 5*(256+256) {
		t.Errorf("audit rows hold %d bytes of free text", aBytes)
	}
	if s1 != s0 {
		t.Errorf("anonymous requests stored %d session rows", s1-s0)
	}

	// Starting a sign-in stores a record for minutes, not a session for hours.
	r := c.get("/auth/login?return_to=%2F")
	wantStatus(t, "start sign-in", r, http.StatusSeeOther)
	var long int
	if err := p.db.QueryRow(`SELECT count(*) FROM sessions WHERE expiry > julianday('now', '+15 minutes')`).Scan(&long); err != nil {
		t.Fatal(err)
	}
	if long != 0 {
		t.Errorf("a pending sign-in stored %d rows living longer than 15 minutes", long)
	}
	// A signed-in session gets the full lifetime again.
	p.signIn("audrey")
	if err := p.db.QueryRow(`SELECT count(*) FROM sessions WHERE expiry > julianday('now', '+7 hours') AND token NOT LIKE 'agentdesk.%'`).Scan(&long); err != nil {
		t.Fatal(err)
	}
	if long != 1 {
		t.Errorf("%d signed-in sessions with the 8 h lifetime, want 1", long)
	}
}

// TestAnonymousRateLimit: the sign-in endpoints answer 429 to an address
// beyond its budget, and other addresses are not affected.
func TestAnonymousRateLimit(t *testing.T) {
	t.Parallel()
	p := newPortal(t, portalOptions{anonymousBurst: 10, trustedProxies: loopbackProxy})
	c := p.newClient()
	got := map[int]int{}
	for range 30 {
		got[c.get("/auth/signin", header("X-Forwarded-For", "10.1.1.1")).StatusCode]++
	}
	if got[http.StatusOK] != 10 || got[http.StatusTooManyRequests] != 20 {
		t.Errorf("30 sign-in pages from one address: %v, want 10 × 200 and 20 × 429", got)
	}
	wantStatus(t, "another address", c.get("/auth/signin", header("X-Forwarded-For", "10.1.1.2")), http.StatusOK)
}

// TestBreakGlassGuessesLockOutNobody: wrong guesses from one address slow
// down that address only; the administrator signs in from another at once.
func TestBreakGlassGuessesLockOutNobody(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("right horse battery"), 10)
	if err != nil {
		t.Fatal(err)
	}
	// The first delay is long, so that nothing here depends on timing.
	p := newPortal(t, portalOptions{breakGlass: []byte("root:" + string(hash)), breakGlassDelay: time.Hour, trustedProxies: loopbackProxy})
	attacker := p.newClient()
	attacker.csrf = attacker.readCSRF(attacker.get("/auth/signin", header("X-Forwarded-For", "10.6.6.6")))
	got := map[int]int{}
	for range 8 {
		r := attacker.postForm("/auth/breakglass", url.Values{"csrf": {attacker.csrf}, "username": {"root"}, "password": {"guess"}},
			sameOrigin, header("X-Forwarded-For", "10.6.6.6"))
		got[r.StatusCode]++
	}
	if got[http.StatusUnauthorized] != 4 || got[http.StatusTooManyRequests] != 4 {
		t.Errorf("8 wrong guesses: %v, want 3 free, 1 more wrong, then 429 while the delay runs", got)
	}
	admin := p.newClient()
	admin.csrf = admin.readCSRF(admin.get("/auth/signin", header("X-Forwarded-For", "10.5.5.5")))
	r := admin.postForm("/auth/breakglass", url.Values{"csrf": {admin.csrf}, "username": {"root"}, "password": {"right horse battery"}},
		sameOrigin, header("X-Forwarded-For", "10.5.5.5"))
	wantStatus(t, "the right password from another address", r, http.StatusSeeOther)
}
