package views

import (
	"encoding/xml"
	"errors"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/agentdesk/agentdesk/emclient/emexamples"
	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// TestEMWordsCoverEM fails when EM can send a value the translation table
// lacks: one named in emclient's type comments ("Kind is Hours or Minutes"),
// one in the EM documentation's example responses, or one the simulator
// sends. Such a value would reach a helpdesk person raw.
func TestEMWordsCoverEM(t *testing.T) {
	seen := map[string]map[string]string{} // field → value → where
	add := func(field, value, where string) {
		if value == "" {
			return
		}
		if seen[field] == nil {
			seen[field] = map[string]string{}
		}
		if _, ok := seen[field][value]; !ok {
			seen[field][value] = where
		}
	}

	// 1. emclient's documented value sets.
	for field, values := range typeCommentValues(t) {
		for _, v := range values {
			add(field, v, "emclient/types.go")
		}
	}
	if len(seen[EMVssMode]) == 0 || len(seen[EMDailyKind]) == 0 {
		t.Fatalf("found no value lists in emclient/types.go comments (%v): the parser is out of date", seen)
	}

	// 2. The EM documentation's examples (../shared/em-api/examples).
	if dir := emexamples.Lookup(t); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			collectXML(t, b, filepath.Base(f), add)
		}
	} else {
		t.Log("shared/em-api/examples not found above the package: checking emclient and emsim only")
	}

	// 3. What the simulator sends: every job entity and every session.
	sim := emsim.New(emsim.Config{Seed: 1, Jobs: 200})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	sid := emLogon(t, srv.URL)
	for _, p := range []string{"/api/agents/jobs?format=Entity", "/api/agents/backupSessions?format=Entity", "/api/query?type=BackupJobSession&format=Entities&pageSize=1000"} {
		collectXML(t, emGet(t, srv.URL+p, sid), "emsim "+p, add)
	}

	for field, values := range seen {
		if _, ok := emWords[field]; !ok {
			t.Errorf("the translation table has no field %q (values %v)", field, keys(values))
			continue
		}
		for _, v := range keys(values) {
			if _, ok := EMWord(field, v); !ok {
				t.Errorf("%s value %q (from %s) has no plain words in emWords", field, v, values[v])
			}
		}
	}
}

func TestPlainEMMarksUnknownValues(t *testing.T) {
	if got := PlainEM(EMSessionState, "Stopped"); got != "Finished" {
		t.Errorf("Stopped = %q, want Finished", got)
	}
	if got := PlainEM(EMVssMode, "Sometimes"); got != "Sometimes (Enterprise Manager's term)" {
		t.Errorf("an unknown value = %q, want it raw and marked", got)
	}
	if got := PlainEM(EMVssMode, ""); got != "" {
		t.Errorf("empty = %q", got)
	}
}

// typeCommentValues reads emclient/types.go and returns the value lists its
// comments document: "<Field> is A, B or C" (a comment on a type whose field
// is Kind becomes "<Type>.Kind").
func typeCommentValues(t *testing.T) map[string][]string {
	t.Helper()
	f, err := parser.ParseFile(gotoken.NewFileSet(), filepath.Join("..", "emclient", "types.go"), nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	list := regexp.MustCompile(`(\w+) is ((?:[A-Z]\w*(?: \([^)]*\))?, )*[A-Z]\w*(?: \([^)]*\))? or [A-Z]\w*)`)
	word := regexp.MustCompile(`\b[A-Z]\w*\b`)
	paren := regexp.MustCompile(`\([^)]*\)`)
	out := map[string][]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != gotoken.TYPE || g.Doc == nil {
			continue
		}
		typeName := g.Specs[0].(*ast.TypeSpec).Name.Name
		for _, m := range list.FindAllStringSubmatch(strings.Join(strings.Fields(g.Doc.Text()), " "), -1) {
			field := m[1]
			if field == "Kind" {
				field = typeName + ".Kind"
			}
			out[field] = append(out[field], word.FindAllString(paren.ReplaceAllString(m[2], ""), -1)...)
		}
	}
	return out
}

// collectXML adds the values of the translated elements found in an EM
// answer. State and Result count only inside a BackupJobSession (tasks have
// their own), Kind by its options element.
func collectXML(t *testing.T, b []byte, where string, add func(field, value, where string)) {
	t.Helper()
	direct := map[string]bool{EMVssMode: true, EMIndexingMode: true, EMLogsProcessing: true, EMRetainLimitType: true,
		EMGfsSelectedWeek: true, EMGfsSelectedDay: true, EMGfsSelectedMonth: true, EMDayNumberInMonth: true}
	// The documentation's examples carry bare '&' (examples/README.md).
	b = regexp.MustCompile(`&([^a-zA-Z#]|$)`).ReplaceAll(b, []byte("&amp;$1"))
	dec := xml.NewDecoder(strings.NewReader(string(b)))
	dec.Strict = false
	var stack []string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			stack = append(stack, el.Name.Local)
			text.Reset()
		case xml.CharData:
			text.Write(el)
		case xml.EndElement:
			name := el.Name.Local
			parent := ""
			if len(stack) > 1 {
				parent = stack[len(stack)-2]
			}
			v := strings.TrimSpace(text.String())
			switch {
			case direct[name]:
				add(name, v, where)
			case (name == "State" || name == "Result") && parent == "BackupJobSession":
				add(name, v, where)
			case name == "Kind" && (parent == "OptionsDaily" || parent == "OptionsPeriodically"):
				add(parent+".Kind", v, where)
			case name == "HierarchyObjRef" && parent == "ObjectInAgentBackupJob":
				if p := strings.Split(v, ":"); len(p) > 2 {
					add(EMIncludeObjectType, p[2], where)
				}
			}
			stack = stack[:len(stack)-1]
			text.Reset()
		}
	}
}

func emLogon(t *testing.T, base string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/sessionMngr/?v=latest", nil)
	req.SetBasicAuth("svc", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tok := resp.Header.Get("X-RestSvcSessionId")
	if tok == "" {
		t.Fatalf("emsim logon: %s, no session id", resp.Status)
	}
	return tok
}

func emGet(t *testing.T, url, token string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-RestSvcSessionId", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v\n%s", url, resp.Status, err, b)
	}
	return b
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
