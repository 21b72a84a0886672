package emsim

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/agentdesk/agentdesk/emclient/emexamples"
)

// shape is the set of element paths of a document, each with the set of its
// attribute names (namespace declarations left out).
type shape map[string]map[string]bool

func shapeOf(t *testing.T, doc []byte) shape {
	t.Helper()
	s := shape{}
	d := xml.NewDecoder(bytes.NewReader(doc))
	var stack []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			stack = append(stack, x.Name.Local)
			p := strings.Join(stack, "/")
			if s[p] == nil {
				s[p] = map[string]bool{}
			}
			for _, a := range x.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue
				}
				s[p][a.Name.Local] = true
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	return s
}

func keys(m map[string]bool) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

type shapeRule struct {
	extra      []string // paths emsim may add (documented elsewhere in the README)
	ignore     []string // path prefixes compared on neither side
	attrSubset []string // paths where emsim may use fewer of the example's attributes
}

func (r shapeRule) ignored(p string) bool {
	for _, pre := range r.ignore {
		if p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

func compareShapes(t *testing.T, got, want shape, rule shapeRule) {
	t.Helper()
	extra := map[string]bool{}
	for _, p := range rule.extra {
		extra[p] = true
	}
	for p, attrs := range want {
		if rule.ignored(p) {
			continue
		}
		g, ok := got[p]
		if !ok {
			t.Errorf("missing element %s", p)
			continue
		}
		if slices.Contains(rule.attrSubset, p) {
			for a := range g {
				if !attrs[a] {
					t.Errorf("%s: attribute %s is not in the example", p, a)
				}
			}
		} else if keys(g) != keys(attrs) {
			t.Errorf("%s: attributes %s, example has %s", p, keys(g), keys(attrs))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok && !extra[p] && !rule.ignored(p) {
			t.Errorf("element %s is not in the example", p)
		}
	}
}

func TestStructureMatchesExamples(t *testing.T) {
	dir := emexamples.Dir(t)
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")

	// A job with an enabled daily schedule (so NextRun is present), a finished
	// successful parent session and its child, a started and a finished task.
	var j *job
	for _, c := range e.s.fleet.jobs {
		if c.enabled && c.sched.kind == schedDaily && !c.policy && c.latest() != nil && c.latest().result == "Success" {
			j = c
			break
		}
	}
	if j == nil {
		t.Fatal("no suitable job in the fleet")
	}
	sess := j.latest()
	r202 := e.do("POST", "/api/agents/jobs/"+j.id+"?action=start", tok, nil)
	task := decode[taskBody](t, r202)
	e.waitTask(tok, e.pathOf(task.Href))
	// Three pages of jobs so that PagingInfo carries First, Next and Last.
	paged := q("type", "AgentBackupJob", "format", "Entities", "sortDesc", "Name", "pageSize", "3", "page", "1", "filter", "Platform!=x")

	tests := []struct {
		example string
		path    string
		body    []byte
		rule    shapeRule
	}{
		{example: "agent_job_entity.xml", path: "/api/agents/jobs/" + j.id + "?format=Entity",
			rule: shapeRule{extra: []string{"AgentBackupJob/JobInfo/Includes/ObjectInAgentBackupJob/HierarchyObjRef"}}},
		{example: "agent_jobs_refs.xml", path: "/api/agents/jobs"},
		{example: "agent_backup_sessions_refs.xml", path: "/api/agents/backupSessions"},
		{example: "backup_job_session_entity_docs.xml", path: "/api/backupSessions/" + sess.id + "?format=Entity"},
		{example: "backup_server_entity.xml", path: "/api/backupServers/" + j.srv.id + "?format=Entity",
			rule: shapeRule{extra: []string{"BackupServer/WcfPort"}}},
		{example: "logon_session_v13.xml", path: "/api/logonSessions/" + mustSessionID(t, tok)},
		{example: "entrypoint_v13.xml", path: "/api/"},
		{example: "agents_service.xml", path: "/api/agents"},
		{example: "task_running_202.xml", body: r202.body},
		{example: "task_finished_agent_start.xml", path: e.pathOf(task.Href)},
		{example: "query_tasks_resources.xml", path: q("type", "Task", "filter", "State==Finished"),
			// the example's cloned-job Related link has a Name; session links have none
			rule: shapeRule{attrSubset: []string{"QueryResult/Resources/Tasks/Task/Links/Link"}}},
		{example: "query_agentprotectiongroups.xml", path: q("type", "AgentBackupJob", "format", "Entities"),
			rule: shapeRule{ignore: []string{"QueryResult/Entities"}}},
		{example: "query_backuptasksession_paged.xml", path: paged,
			rule: shapeRule{ignore: []string{"QueryResult/Entities"}}},
	}
	for _, tc := range tests {
		t.Run(tc.example, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, tc.example))
			if errors.Is(err, os.ErrNotExist) && os.Getenv("CI") != "true" {
				t.Skipf("%s not present", tc.example)
			}
			if err != nil {
				t.Fatal(err)
			}
			want := shapeOf(t, emexamples.AmpFix(raw))
			body := tc.body
			if body == nil {
				r := e.get(tc.path, tok)
				if r.status != 200 {
					t.Fatalf("GET %s: %d %s", tc.path, r.status, r.body)
				}
				body = r.body
			}
			if root, ns := rootOf(body); ns != namespace {
				t.Errorf("root %s in namespace %q", root, ns)
			}
			compareShapes(t, shapeOf(t, body), want, tc.rule)
		})
	}
}

func mustSessionID(t *testing.T, tok string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
