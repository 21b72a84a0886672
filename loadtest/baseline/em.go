// Package baseline holds the yardsticks the side-by-side benchmark measures
// the portal against: a minimal portal (net/http + html/template making the
// two EM calls of a cold job page) and the fetch-and-decode floor of the job
// list. They are deliberately naive and are not part of the portal.
package baseline

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// em is the least client that can talk to Enterprise Manager: one logon
// token, renewed once when EM answers 401.
type em struct {
	base       string // ends in /api
	user, pass string
	hc         *http.Client

	mu    sync.Mutex
	token string
}

func newEM(baseURL, user, pass string) *em {
	base := strings.TrimRight(baseURL, "/")
	if !strings.HasSuffix(base, "/api") {
		base += "/api"
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	return &em{base: base, user: user, pass: pass, hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

func (c *em) logon(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/sessionMngr/?v=latest", http.NoBody)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(c.user, c.pass)
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	tok := resp.Header.Get("X-RestSvcSessionId")
	if resp.StatusCode/100 != 2 || tok == "" {
		return "", fmt.Errorf("baseline: EM logon answered %d", resp.StatusCode)
	}
	return tok, nil
}

func (c *em) currentToken(ctx context.Context, stale string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.token != stale {
		return c.token, nil
	}
	tok, err := c.logon(ctx)
	if err != nil {
		return "", err
	}
	c.token = tok
	return tok, nil
}

var errUnauthorized = errors.New("baseline: EM answered 401")

// get decodes the answer of GET base+path into out (nil: reads it only),
// counting its bytes in n.
func (c *em) get(ctx context.Context, path string, q url.Values, out any) (n int64, err error) {
	tok := ""
	for range 2 {
		if tok, err = c.currentToken(ctx, tok); err != nil {
			return 0, err
		}
		n, err = c.getOnce(ctx, tok, path, q, out)
		if !errors.Is(err, errUnauthorized) {
			return n, err
		}
	}
	return n, err
}

// post is get for POST (an action), never repeated but after a 401.
func (c *em) post(ctx context.Context, path string, q url.Values, out any) (n int64, err error) {
	tok := ""
	for range 2 {
		if tok, err = c.currentToken(ctx, tok); err != nil {
			return 0, err
		}
		n, err = c.do(ctx, http.MethodPost, tok, path, q, out)
		if !errors.Is(err, errUnauthorized) {
			return n, err
		}
	}
	return n, err
}

func (c *em) getOnce(ctx context.Context, tok, path string, q url.Values, out any) (int64, error) {
	return c.do(ctx, http.MethodGet, tok, path, q, out)
}

func (c *em) do(ctx context.Context, method, tok, path string, q url.Values, out any) (int64, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-RestSvcSessionId", tok)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		io.Copy(io.Discard, resp.Body)
		return 0, errUnauthorized
	}
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("baseline: %s %s answered %d", method, path, resp.StatusCode)
	}
	cr := &countReader{r: resp.Body}
	if out == nil { // read, not decoded
		_, err := io.Copy(io.Discard, cr)
		return cr.n, err
	}
	if err := xml.NewDecoder(cr).Decode(out); err != nil {
		return cr.n, fmt.Errorf("baseline: decode %s: %w", path, err)
	}
	io.Copy(io.Discard, cr)
	return cr.n, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// The few fields a page or the list shows; encoding/xml skips the rest.
type job struct {
	Name               string `xml:"Name,attr"`
	UID                string `xml:"UID,attr"`
	Platform           string `xml:"Platform"`
	Description        string `xml:"Description"`
	ScheduleConfigured bool   `xml:"ScheduleConfigured"`
	ScheduleEnabled    bool   `xml:"ScheduleEnabled"`
	NextRun            string `xml:"NextRun"`
	Links              []link `xml:"Links>Link"`
}

type link struct {
	Rel  string `xml:"Rel,attr"`
	Type string `xml:"Type,attr"`
	Name string `xml:"Name,attr"`
}

func (j *job) server() string {
	for _, l := range j.Links {
		if l.Rel == "Up" && l.Type == "BackupServerReference" {
			return l.Name
		}
	}
	return ""
}

type session struct {
	Name         string `xml:"Name,attr"`
	JobUID       string `xml:"JobUid"`
	CreationTime string `xml:"CreationTimeUTC"`
	EndTime      string `xml:"EndTimeUTC"`
	State        string `xml:"State"`
	Result       string `xml:"Result"`
	Progress     int    `xml:"Progress"`
}

type queryResult struct {
	Jobs     []job     `xml:"Entities>AgentBackupJobs>AgentBackupJob"`
	Sessions []session `xml:"Entities>BackupJobSessions>BackupJobSession"`
	Paging   struct {
		PageNum    int `xml:"PageNum,attr"`
		PagesCount int `xml:"PagesCount,attr"`
	} `xml:"PagingInfo"`
}
