package emsim

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// BenchmarkJobSessionQuery measures the per-job session query the portal sends
// for a job page (jobs.Service.loadSessions) on a 10,000-job fleet, alone and
// from parallel clients.
func BenchmarkJobSessionQuery(b *testing.B) {
	clock := newClock()
	s := New(Config{Jobs: 10000, Now: clock.Now})
	tok := benchLogon(b, s)
	jobs := s.Jobs()
	paths := make([]string, len(jobs))
	for i, j := range jobs {
		f := "((JobUid==\"urn:veeam:AgentBackupJob:" + j.ID + "\",JobUid==\"urn:veeam:Job:" + j.ID + "\");JobType==\"AgentBackup\")"
		paths[i] = "/api/query?type=BackupJobSession&format=Entities&filter=" + url.QueryEscape(f) + "&sortDesc=CreationTime&pageSize=20&page=1"
	}
	get := func(b *testing.B, i int) {
		req := httptest.NewRequest(http.MethodGet, paths[i%len(paths)], nil)
		req.Header.Set(tokenName, tok)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.Run("single", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			get(b, i*7919)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := int(time.Now().UnixNano())
			for pb.Next() {
				i += 7919
				get(b, i&0x7fffffff)
			}
		})
	})
}

func benchLogon(b *testing.B, s *Server) string {
	b.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/sessionMngr/?v=latest", nil)
	req.SetBasicAuth("svc", "secret")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	tok := rec.Header().Get(tokenName)
	if rec.Code != http.StatusCreated || tok == "" {
		b.Fatalf("logon: status %d: %s", rec.Code, rec.Body)
	}
	return tok
}
