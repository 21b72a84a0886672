package emclient

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient/emexamples"
)

func FuzzDecode(f *testing.F) {
	if dir := emexamples.Find(); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(emexamples.AmpFix(b))
			}
		}
	}
	f.Add([]byte(`<QueryResult><Entities><AgentBackupJobs><AgentBackupJob><NextRun>x</NextRun></AgentBackupJob></AgentBackupJobs></Entities></QueryResult>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []any{new(AgentBackupJob), new(QueryResult), new(Task), new(ErrorBody)} {
			if err := decode(b, v); err != nil {
				continue
			}
			// Whatever decodes must marshal again.
			if _, err := xml.Marshal(v); err != nil {
				t.Errorf("%T decoded but does not marshal: %v", v, err)
			}
		}
		if j := new(AgentBackupJob); decode(b, j) == nil && j.JobScheduleOptions != nil && j.JobScheduleOptions.Standart != nil {
			if d := j.JobScheduleOptions.Standart.OptionsDaily; d != nil {
				d.Time.Clock() // must not panic on any text
			}
		}
	})
}

type leaf struct{ field, op, value string }

// parseFilter is an independent tokenizer for EM's filter grammar: it returns the
// terms in order and fails on anything unbalanced or unexpected.
func parseFilter(s string) ([]leaf, error) {
	var out []leaf
	depth := 0
	i := 0
	expectTerm := true
	for i < len(s) {
		c := s[i]
		switch {
		case c == '(' && expectTerm:
			depth++
			i++
		case c == ')' && !expectTerm:
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced ) at %d", i)
			}
			i++
		case (c == ';' || c == ',') && !expectTerm:
			expectTerm = true
			i++
		case expectTerm && ('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'):
			j := i
			for j < len(s) && ('A' <= s[j] && s[j] <= 'Z' || 'a' <= s[j] && s[j] <= 'z' || '0' <= s[j] && s[j] <= '9') {
				j++
			}
			field := s[i:j]
			var op string
			for _, o := range []string{"==", "!=", "<=", ">=", "<", ">"} {
				if strings.HasPrefix(s[j:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, fmt.Errorf("no operator at %d", j)
			}
			j += len(op)
			var val string
			if j < len(s) && s[j] == '"' {
				var b strings.Builder
				k := j + 1
				closed := false
				for k < len(s) {
					if s[k] == '"' {
						if k+1 < len(s) && s[k+1] == '"' {
							b.WriteByte('"')
							k += 2
							continue
						}
						closed = true
						k++
						break
					}
					b.WriteByte(s[k])
					k++
				}
				if !closed {
					return nil, fmt.Errorf("unterminated string at %d", j)
				}
				val, j = `"`+b.String()+`"`, k
			} else {
				k := j
				for k < len(s) && (s[k] == '-' || '0' <= s[k] && s[k] <= '9' || 'a' <= s[k] && s[k] <= 'z') {
					k++
				}
				if k == j {
					return nil, fmt.Errorf("empty value at %d", j)
				}
				val, j = s[j:k], k
			}
			out = append(out, leaf{field, op, val})
			expectTerm = false
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at %d (expect term: %v)", c, i, expectTerm)
		}
	}
	if depth != 0 || (expectTerm && len(s) > 0) {
		return nil, fmt.Errorf("incomplete expression")
	}
	return out, nil
}

func FuzzFilter(f *testing.F) {
	f.Add("Fileserver Backup", `x";Name=="y`, int64(5), uint8(0))
	f.Add(`"`, `""`, int64(-1), uint8(7))
	f.Add("a,b;c(d)e", "", int64(0), uint8(3))
	f.Fuzz(func(t *testing.T, a, b string, n int64, shape uint8) {
		terms := []Filter{Eq("Name", a), Ne("Description", b), Ge("Progress", n), Eq("IsRetry", shape&1 == 1),
			Lt("CreationTime", time.Unix(n%1e10, 0))}
		want := []leaf{
			{"Name", "==", `"` + a + `"`},
			{"Description", "!=", `"` + b + `"`},
			{"Progress", ">=", fmt.Sprint(n)},
			{"IsRetry", "==", fmt.Sprint(shape&1 == 1)},
			{"CreationTime", "<", `"` + time.Unix(n%1e10, 0).UTC().Format(time.RFC3339) + `"`},
		}
		// Combine the terms into a tree whose shape depends on the fuzz input.
		var build func(fs []Filter, bit uint) Filter
		build = func(fs []Filter, bit uint) Filter {
			if len(fs) == 1 {
				return fs[0]
			}
			mid := len(fs) / 2
			l, r := build(fs[:mid], bit+1), build(fs[mid:], bit+2)
			if shape>>(bit%8)&1 == 1 {
				return And(l, r)
			}
			return Or(l, r)
		}
		expr := build(terms, 1).String()
		got, err := parseFilter(expr)
		if err != nil {
			t.Fatalf("expression %q does not parse: %v", expr, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("expression %q\nparsed %q\nwant   %q", expr, got, want)
		}
	})
}
