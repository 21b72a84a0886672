package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// replicas returns n Sessions that share one store and one clock, as
// replicas of the portal share the session store.
func replicas(t *testing.T, n int, store scs.Store) ([]*Sessions, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	out := make([]*Sessions, n)
	for i := range out {
		out[i] = NewSessions(NewSessionManager(store, time.Hour, "", true), time.Hour)
		out[i].SetClock(clock.Now)
	}
	return out, clock
}

// TestEndedElsewhereWithinBound: a session ended on replica A is refused on
// A at once and on replica B, which read it just before, once
// MaxSessionStaleness has passed (B answers from its reads until then).
func TestEndedElsewhereWithinBound(t *testing.T) {
	u := testUser
	u.IdPSID = "idp-session-1"
	cases := []struct {
		name string
		end  func(t *testing.T, a *browser)
	}{
		{"sign-out", func(t *testing.T, a *browser) {
			a.do(func(ctx context.Context) {
				if err := a.s.SignOut(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}},
		{"administrator ends the user's sessions", func(t *testing.T, a *browser) {
			if n, err := a.s.EndUser(context.Background(), u.Key()); n != 1 || err != nil {
				t.Fatalf("EndUser = %d, %v", n, err)
			}
		}},
		{"back-channel logout", func(t *testing.T, a *browser) {
			if n, err := a.s.EndLogout(context.Background(), LogoutRequest{Issuer: u.Issuer, SID: u.IdPSID}); n != 1 || err != nil {
				t.Fatalf("EndLogout = %d, %v", n, err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, clock := replicas(t, 2, newMemStore(t))
			a := &browser{t: t, s: rs[0]}
			signIn(t, a, u)
			token := a.token
			b := &browser{t: t, s: rs[1], token: token}
			if currentUser(a) == nil || currentUser(b) == nil {
				t.Fatal("not signed in on both replicas")
			}

			tc.end(t, a)
			if currentUser(&browser{t: t, s: rs[0], token: token}) != nil {
				t.Fatal("still signed in on the replica that ended the session")
			}
			clock.Advance(MaxSessionStaleness - time.Nanosecond)
			if currentUser(b) == nil {
				// Not a promise, but then this test would not test the bound.
				t.Fatal("the other replica did not answer from its reads within the bound")
			}
			clock.Advance(time.Nanosecond)
			if currentUser(b) != nil {
				t.Fatalf("still signed in on the other replica %v after the session ended", MaxSessionStaleness)
			}
		})
	}
}

// TestChangeHereSeenAtOnce: what a replica writes or deletes, it reads back
// at once, whatever it read before; what appears in the store is seen at
// once (absence is never remembered).
func TestChangeHereSeenAtOnce(t *testing.T) {
	ctx := context.Background()
	inner := newMemStore(t)
	clock := newFakeClock()
	a, b := newStoreCache(inner, clock.Now), newStoreCache(inner, clock.Now)
	exp := clock.Now().Add(time.Hour)
	find := func(c *storeCache) string {
		t.Helper()
		v, found, err := c.FindCtx(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			return "(none)"
		}
		return string(v)
	}
	steps := []struct {
		do           func() error
		wantA, wantB string
	}{
		{func() error { return nil }, "(none)", "(none)"},
		{func() error { return b.CommitCtx(ctx, "k", []byte("v1"), exp) }, "v1", "v1"},
		{func() error { return a.CommitCtx(ctx, "k", []byte("v2"), exp) }, "v2", "v1"}, // b: its read of v1
		{func() error { return b.CommitCtx(ctx, "k", []byte("v3"), exp) }, "v2", "v3"},
		{func() error { return b.DeleteCtx(ctx, "k") }, "v2", "(none)"},
		{func() error { clock.Advance(MaxSessionStaleness); return nil }, "(none)", "(none)"},
		{func() error { return inner.Commit("k", []byte("v4"), exp) }, "v4", "v4"},
	}
	for i, st := range steps {
		if err := st.do(); err != nil {
			t.Fatal(err)
		}
		if got := find(a); got != st.wantA {
			t.Errorf("step %d: replica A reads %s, want %s", i, got, st.wantA)
		}
		if got := find(b); got != st.wantB {
			t.Errorf("step %d: replica B reads %s, want %s", i, got, st.wantB)
		}
	}
}

// gatedFind holds a Find of one key, after it read the store, until the
// test releases it: a write can then land while the read is in flight.
type gatedFind struct {
	scs.Store
	key              string
	read, release    chan struct{}
	finds, committed atomic.Int32
}

func (g *gatedFind) Find(key string) ([]byte, bool, error) {
	g.finds.Add(1)
	b, found, err := g.Store.Find(key)
	if key == g.key && g.read != nil {
		g.read <- struct{}{}
		<-g.release
	}
	return b, found, err
}

func (g *gatedFind) Commit(key string, b []byte, expiry time.Time) error {
	g.committed.Add(1)
	return g.Store.Commit(key, b, expiry)
}

// TestReadOverlappingWriteNotKept: a read that began before a write of this
// replica and ends after it holds the data from before the write; it must
// not be kept, or the replica would serve the old data for the bound.
func TestReadOverlappingWriteNotKept(t *testing.T) {
	ctx := context.Background()
	g := &gatedFind{Store: newMemStore(t), key: "k", read: make(chan struct{}), release: make(chan struct{})}
	clock := newFakeClock()
	c := newStoreCache(g, clock.Now)
	exp := clock.Now().Add(time.Hour)
	if err := g.Store.Commit("k", []byte("old"), exp); err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		b, _, _ := c.FindCtx(ctx, "k")
		got <- string(b)
	}()
	<-g.read
	if err := c.CommitCtx(ctx, "k", []byte("new"), exp); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	<-got // either is right for a read concurrent with the write
	g.read = nil
	if b, _, _ := c.FindCtx(ctx, "k"); string(b) != "new" {
		t.Fatalf("after the write: %q, want new", b)
	}
}

// TestStoreCacheBounded: however many sessions are read, the cache holds at
// most maxCachedReads, and every answer is the store's.
func TestStoreCacheBounded(t *testing.T) {
	ctx := context.Background()
	inner := newMemStore(t)
	clock := newFakeClock()
	c := newStoreCache(inner, clock.Now)
	exp := clock.Now().Add(time.Hour)
	const n = 3*maxCachedReads + 7
	for i := range n {
		if err := inner.Commit(fmt.Sprint(i), []byte(fmt.Sprint("v", i)), exp); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 2 {
		for i := range n {
			b, found, err := c.FindCtx(ctx, fmt.Sprint(i))
			if err != nil || !found || string(b) != fmt.Sprint("v", i) {
				t.Fatalf("round %d, key %d: %q %t %v", round, i, b, found, err)
			}
			if size := len(c.cur) + len(c.old); size > maxCachedReads {
				t.Fatalf("%d reads cached, want at most %d", size, maxCachedReads)
			}
		}
	}
}

// TestRecordsReadFresh: records (sign-in states, hand-offs, indexes) are
// read from the store itself: taken on one replica, they are gone on the
// other at once, even if it read them just before.
func TestRecordsReadFresh(t *testing.T) {
	rs, _ := replicas(t, 2, newMemStore(t))
	ctx := context.Background()
	key := txKeyPrefix + "state"
	if err := rs[0].putRecord(ctx, key, "tx", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var v string
	if found, err := rs[1].readRecord(ctx, key, &v); !found || err != nil || v != "tx" {
		t.Fatalf("readRecord = %t, %v, %q", found, err, v)
	}
	if found, err := rs[0].takeRecord(ctx, key, &v); !found || err != nil {
		t.Fatalf("takeRecord = %t, %v", found, err)
	}
	if found, err := rs[1].takeRecord(ctx, key, &v); found || err != nil {
		t.Fatalf("the other replica took the record again: %t, %v", found, err)
	}
}

// TestSessionWritesReachStore: the session is written to the store as
// without the cache: once at sign-in, then only when Touch moves the idle
// clock (at most once a minute), whatever was read in between.
func TestSessionWritesReachStore(t *testing.T) {
	g := &gatedFind{Store: newMemStore(t)}
	s := NewSessions(NewSessionManager(g, time.Hour, "", true), time.Hour)
	clock := newFakeClock()
	s.SetClock(clock.Now)
	b := &browser{t: t, s: s}
	signIn(t, b, testUser)
	request := func() {
		b.do(func(ctx context.Context) {
			if _, ok := s.User(ctx); !ok {
				t.Fatal("not signed in")
			}
			s.Touch(ctx, false)
		})
	}
	base := g.committed.Load()
	for range 5 {
		clock.Advance(10 * time.Second)
		request()
	}
	if n := g.committed.Load() - base; n != 0 {
		t.Fatalf("%d writes within a minute of the sign-in, want 0", n)
	}
	clock.Advance(20 * time.Second)
	request()
	if n := g.committed.Load() - base; n != 1 {
		t.Fatalf("%d writes a minute after the sign-in, want 1", n)
	}
	// And the write holds: the store has the new activity time.
	enc, _, err := g.Store.Find(hashToken(b.token))
	if err != nil {
		t.Fatal(err)
	}
	_, values, err := codec{}.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := values[keyActive], clock.Now().UnixNano(); got != want {
		t.Fatalf("activity in the store %v, want %d", got, want)
	}
}

// TestUserDecodeCache: users decoded from remembered bytes are the users
// decoded afresh, each request gets slices and maps of its own, and the
// cache stays bounded.
func TestUserDecodeCache(t *testing.T) {
	var c userCache
	raws := make([][]byte, 0, 2*maxCachedUsers+3)
	for i := range cap(raws) {
		u := testUser
		u.Subject = fmt.Sprint("user-", i%(maxCachedUsers+5))
		u.Groups = []string{fmt.Sprint("g", i), "staff"}
		u.Claims = map[string]string{"computer": fmt.Sprint("pc-", i)}
		u.Roles = []string{fmt.Sprint("r", i%3)}
		u.SignedInAt = time.Unix(int64(i), 0).UTC()
		raw, err := json.Marshal(toStored(u))
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	for round := range 2 {
		for i, raw := range raws {
			var want storedUser
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			got, err := c.decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, user %d: %+v, want %+v", round, i, got, want)
			}
			// A request that changes its user changes nobody else's.
			u := got.user()
			u.Groups[0], u.Roles[0], u.Claims["computer"] = "evil", "admin", "evil"
			if again, _ := c.decode(raw); !reflect.DeepEqual(again, want) {
				t.Fatalf("round %d, user %d: a caller's change reached the cache: %+v", round, i, again)
			}
			if len(c.m) > maxCachedUsers {
				t.Fatalf("%d users cached, want at most %d", len(c.m), maxCachedUsers)
			}
		}
	}
	if _, err := c.decode([]byte(`{"iss":`)); err == nil {
		t.Error("broken JSON decoded")
	}
}

// TestSessionsFromGobCodec: sessions and records written by the portal
// before this codec (scs's GobCodec) keep working after the upgrade: the
// user is signed in, activity is recorded, and signing out everywhere ends
// them.
func TestSessionsFromGobCodec(t *testing.T) {
	inner := newMemStore(t)
	oldSM := NewSessionManager(inner, time.Hour, "", true)
	oldSM.Codec = scs.GobCodec{}
	old := NewSessions(oldSM, time.Hour)
	clock := newFakeClock()
	old.SetClock(clock.Now)
	u := testUser
	u.IdPSID = "idp-session-1"
	laptop, phone := &browser{t: t, s: old}, &browser{t: t, s: old}
	signIn(t, laptop, u)
	signIn(t, phone, u)
	for _, b := range []*browser{laptop, phone} {
		enc, found, err := inner.Find(hashToken(b.token))
		if err != nil || !found || enc[0] == codecMagic {
			t.Fatalf("test setup: the session is not in gob (%t, %v)", found, err)
		}
	}

	s := NewSessions(NewSessionManager(inner, time.Hour, "", true), time.Hour)
	s.SetClock(clock.Now)
	laptop.s, phone.s = s, s
	got := currentUser(laptop)
	if got == nil {
		t.Fatal("a session from before the upgrade is not signed in")
	}
	if !got.SignedInAt.Equal(clock.Now()) {
		t.Errorf("signed in at %v, want %v", got.SignedInAt, clock.Now())
	}
	want := u
	want.IDToken = u.RawIDToken()
	want.idToken, want.IdPSID = "", "" // not stored
	got.idToken, got.IdPSID, got.SignedInAt = "", "", time.Time{}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("user after the upgrade\n%#v\nwant\n%#v", *got, want)
	}
	clock.Advance(2 * time.Minute)
	laptop.do(func(ctx context.Context) { s.Touch(ctx, false) })
	enc, _, _ := inner.Find(hashToken(laptop.token))
	if enc[0] != codecMagic {
		t.Error("a touched session is still written in gob")
	}
	if currentUser(laptop) == nil || currentUser(phone) == nil {
		t.Fatal("signed out by the first write in the new codec")
	}
	// The indexes were written in gob too.
	if n, err := s.EndLogout(context.Background(), LogoutRequest{Issuer: u.Issuer, SID: u.IdPSID}); n != 2 || err != nil {
		t.Fatalf("EndLogout = %d, %v; want both sessions", n, err)
	}
	if currentUser(laptop) != nil || currentUser(phone) != nil {
		t.Fatal("signed in after the back-channel logout")
	}
}

// hashToken is the store key of a session token (scs's HashTokenInStore).
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestFindPrefixed: findPrefixed answers as FindCtx of the whole key:
// from a fresh cached read, from the store once the read is too old or the
// key was written, and for keys too long for its buffer.
func TestFindPrefixed(t *testing.T) {
	ctx := context.Background()
	inner := newMemStore(t)
	clock := newFakeClock()
	c := newStoreCache(inner, clock.Now)
	exp := clock.Now().Add(time.Hour)
	long := string(make([]byte, 200))
	for _, id := range []string{"abc", long} {
		key := sidKeyPrefix + id
		if err := inner.Commit(key, []byte("one"), exp); err != nil {
			t.Fatal(err)
		}
		find := func() string {
			b, found, err := c.findPrefixed(ctx, sidKeyPrefix, id)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%s %t", b, found)
		}
		if got := find(); got != "one true" {
			t.Fatalf("first read %q", got)
		}
		// Changed behind the cache's back: the cached read answers while
		// fresh, the store once it is not.
		if err := inner.Commit(key, []byte("two"), exp); err != nil {
			t.Fatal(err)
		}
		if got := find(); got != "one true" {
			t.Fatalf("fresh cached read: %q", got)
		}
		clock.Advance(MaxSessionStaleness)
		if got := find(); got != "two true" {
			t.Fatalf("after MaxSessionStaleness: %q", got)
		}
		// Written through the cache: seen at once.
		if err := c.DeleteCtx(ctx, key); err != nil {
			t.Fatal(err)
		}
		if got := find(); got != " false" {
			t.Fatalf("after delete: %q", got)
		}
		// Another id under the same prefix is another key.
		if b, found, _ := c.findPrefixed(ctx, sidKeyPrefix, id+"x"); found {
			t.Fatalf("other id found: %q", b)
		}
	}
}

// TestFindPrefixedCachedAllocs: a cached sign-in record is found without
// putting its key together.
func TestFindPrefixedCachedAllocs(t *testing.T) {
	ctx := context.Background()
	inner := newMemStore(t)
	clock := newFakeClock()
	c := newStoreCache(inner, clock.Now)
	id := "Zq2v8c1oWw4l3e8Q3GQ0b8i3z7mGugGZ8Q4WZ0lq2xQ"
	if err := inner.Commit(sidKeyPrefix+id, []byte("x"), clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := c.findPrefixed(ctx, sidKeyPrefix, id); !found {
		t.Fatal("not found")
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = c.findPrefixed(ctx, sidKeyPrefix, id) }); n != 0 {
		t.Fatalf("%v allocations per cached find", n)
	}
}

// TestUserDecodeCachedAllocs: a cached user is found without an allocation.
func TestUserDecodeCachedAllocs(t *testing.T) {
	var c userCache
	raw, err := json.Marshal(toStored(testUser))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.decode(raw); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = c.decode(raw) }); n != 0 {
		t.Fatalf("%v allocations per cached decode", n)
	}
}
