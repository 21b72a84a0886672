package emclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agentdesk/agentdesk/emclient/emexamples"
)

// decodeBoth decodes b with AgentJob's hand decoder and with the tagged
// types through encoding/xml, as AgentJob did before.
func decodeBoth(b []byte) (hand, full AgentBackupJob, handErr, fullErr error) {
	handErr = decodeTokens(bytes.NewReader(b), (*agentJobEntity)(&hand))
	fullErr = decode(b, &full)
	return
}

// agree fails unless both decoders succeed with the same values, or both fail.
func agree(t *testing.T, b []byte) {
	t.Helper()
	hand, full, handErr, fullErr := decodeBoth(b)
	switch {
	case (handErr == nil) != (fullErr == nil):
		t.Fatalf("hand decoder error %v, encoding/xml error %v", handErr, fullErr)
	case handErr == nil && !reflect.DeepEqual(hand, full):
		t.Fatalf("hand decoder:\n%+v\nencoding/xml:\n%+v", hand, full)
	}
}

// TestAgentJobDecodersAgree holds AgentJob's hand decoder to encoding/xml's
// decode of the tagged types: every documented example (those of another
// root must fail in both), and the documented job with elements no EM
// version documents at every level it walks.
func TestAgentJobDecodersAgree(t *testing.T) {
	dir := emexamples.Dir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s (%v)", dir, err)
	}
	jobs := 0
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b := loadExample(t, dir, name)
			agree(t, b)
			if root, _ := rootName(b); root == "AgentBackupJob" {
				jobs++
			}
		})
	}
	if jobs == 0 {
		t.Fatal("no AgentBackupJob among the examples")
	}

	b := loadExample(t, dir, "agent_job_entity.xml")
	unknown := `<FutureField Enabled="x"><Deep a="1">text<Deeper/></Deep></FutureField>`
	// Before the end tag of every element of the entity that has children,
	// and repeated elements: the last scalar wins, struct elements merge,
	// lists grow.
	s := string(b)
	for _, tag := range []string{"</Links>", "</JobScheduleOptions>", "</Standart>", "</RetryOptions>", "</OptionsDaily>",
		"</OptionsMonthly>", "</Schedule>", "</OptionsBackupWindow>", "</TimePeriods>", "</OptionsDaisyChaining>", "</Includes>",
		"</ObjectInAgentBackupJob>", "</GuestProcessingOptions>", "</VssSnapshotOptions>", "</ExcludedIndexingFolders>",
		"</SqlBackupOptions>", "</GfsRetentionPolicy>", "</Weekly>", "</SimpleRetentionPolicy>", "</JobInfo>", "</AgentBackupJob>"} {
		if !strings.Contains(s, tag) {
			t.Fatalf("the example has no %s", tag)
		}
		s = strings.ReplaceAll(s, tag, unknown+tag)
	}
	s = strings.Replace(s, "</JobInfo>", `<SimpleRetentionPolicy><RetainCycles>9</RetainCycles></SimpleRetentionPolicy></JobInfo>`, 1)
	s = strings.Replace(s, "<JobType>", `<Platform>first</Platform><Description>a<!-- c --><![CDATA[ & b]]>&amp;c<x>skipped</x>d</Description><JobType>`, 1)
	s = strings.Replace(s, "</AgentBackupJob>", `<NextRun></NextRun><Links><Link Rel="Edit" Href="h"/></Links></AgentBackupJob>`, 1)
	t.Run("unknown and repeated elements", func(t *testing.T) { agree(t, []byte(s)) })
	t.Run("prefixed namespace", func(t *testing.T) {
		agree(t, []byte(`<em:AgentBackupJob xmlns:em="http://www.veeam.com/ent/v1.0" em:Name="n"><em:Platform>p</em:Platform><em:JobInfo><em:Includes><em:ObjectInAgentBackupJob><em:Name>pc</em:Name></em:ObjectInAgentBackupJob></em:Includes></em:JobInfo></em:AgentBackupJob>`))
	})
	t.Run("empty", func(t *testing.T) { agree(t, []byte(`<AgentBackupJob/>`)) })
}

// TestAgentJobRejectsWhatTheFullModelRejects: a malformed answer is an error
// naming what is wrong, as the tagged types' decode gives one.
func TestAgentJobRejectsWhatTheFullModelRejects(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"wrong root", `<EntityReferences/>`, "expected element type <AgentBackupJob>"},
		{"bad bool", `<AgentBackupJob><ScheduleEnabled>yes please</ScheduleEnabled></AgentBackupJob>`, "ScheduleEnabled"},
		{"bad bool attribute", `<AgentBackupJob><JobScheduleOptions><Standart><OptionsDaily Enabled="maybe"/></Standart></JobScheduleOptions></AgentBackupJob>`, "Enabled"},
		{"bad int", `<AgentBackupJob><JobInfo><SimpleRetentionPolicy><RetainCycles>five</RetainCycles></SimpleRetentionPolicy></JobInfo></AgentBackupJob>`, "RetainCycles"},
		{"bad time", `<AgentBackupJob><NextRun>soon</NextRun></AgentBackupJob>`, "bad date-time"},
		{"cut short", `<AgentBackupJob Name="a"><Links><Link Rel="Up"/>`, "EOF"},
		{"tags crossed", `<AgentBackupJob><Platform><JobType></Platform></JobType></AgentBackupJob>`, "element <JobType> closed by </Platform>"},
		{"not XML", `{"Name": "a job"}`, "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, handErr, fullErr := decodeBoth([]byte(tc.body))
			if fullErr == nil {
				t.Fatalf("encoding/xml decoded it: the case tests nothing")
			}
			if handErr == nil || !strings.Contains(handErr.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", handErr, tc.want)
			}
		})
	}
}

// TestAgentJobMalformedAnswer: through the client, a malformed entity is
// ErrMalformed with the endpoint and the decoder's reason in the message.
func TestAgentJobMalformedAnswer(t *testing.T) {
	e := newFakeEM(t)
	e.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/api/agents/jobs/") {
			return false
		}
		w.Header().Set("Content-Type", "application/xml")
		io.WriteString(w, `<AgentBackupJob Name="a"><ScheduleEnabled>sometimes</ScheduleEnabled></AgentBackupJob>`)
		return true
	}
	_, err := e.client(t).AgentJob(context.Background(), fakeJobID)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "/agents/jobs/{id}") || !strings.Contains(err.Error(), "ScheduleEnabled") {
		t.Fatalf("err = %v, want ErrMalformed naming the endpoint and the field", err)
	}
}

// FuzzAgentJob: the hand decoder never panics, and reads what encoding/xml
// reads of the tagged types, value for value, failing where it fails.
func FuzzAgentJob(f *testing.F) {
	if dir := emexamples.Find(); dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, "agent_job_entity.xml")); err == nil {
			f.Add(emexamples.AmpFix(b))
		}
	}
	f.Add([]byte(`<AgentBackupJob UID="u"><ScheduleEnabled> true </ScheduleEnabled><NextRun/><JobInfo><Includes><ObjectInAgentBackupJob/></Includes></JobInfo></AgentBackupJob>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		hand, full, handErr, fullErr := decodeBoth(b)
		if (handErr == nil) != (fullErr == nil) {
			t.Fatalf("hand decoder error %v, encoding/xml error %v", handErr, fullErr)
		}
		if handErr == nil && !reflect.DeepEqual(hand, full) {
			t.Fatalf("hand decoder:\n%+v\nencoding/xml:\n%+v", hand, full)
		}
	})
}
