package emclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// endless is an answer without Content-Length that never ends on its own: a
// client that buffers before checking the size would never stop reading.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

// TestAnswerLimits: the per-answer limit is checked while reading (an endless
// answer stops just past it), an announced length over the limit is not read
// at all, and an answer that needs more of the shared budget than is free
// fails at once instead of waiting for the others.
func TestAnswerLimits(t *testing.T) {
	ctx := context.Background()
	c, err := New(Config{BaseURL: "http://em.invalid:9398", Username: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	body := func(r io.Reader, length int64) *http.Response {
		return &http.Response{StatusCode: 200, ContentLength: length, Body: io.NopCloser(r)}
	}
	head := `<EntityReferences xmlns="http://www.veeam.com/ent/v1.0"><!--`

	src := &endless{}
	var refs EntityReferences
	err = c.readAnswer(ctx, "GET", "/agents/jobs", body(io.MultiReader(strings.NewReader(head), src), -1), 1<<20, &refs)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("endless answer: %v, want ErrMalformed larger than the limit", err)
	}
	if read := src.n + int64(len(head)); read > 1<<20+budgetChunk {
		t.Errorf("read %d bytes of an endless answer with a 1 MiB limit", read)
	}

	src = &endless{}
	err = c.readAnswer(ctx, "GET", "/agents/jobs", body(src, 50<<20), 1<<20, &refs)
	if !errors.Is(err, ErrMalformed) || src.n != 0 {
		t.Errorf("announced 50 MB: %v after reading %d bytes, want ErrMalformed and nothing read", err, src.n)
	}

	// Another answer holds all but one chunk of the budget.
	other := c.budget.answer(ctx, strings.NewReader(""), 1)
	if err := other.take(c.budget.size - budgetChunk); err != nil {
		t.Fatal(err)
	}
	src = &endless{}
	err = c.readAnswer(ctx, "GET", "/query", body(io.MultiReader(strings.NewReader(head), src), -1), maxBodySize, &refs)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "at once") {
		t.Errorf("over the shared budget: %v, want ErrMalformed naming the budget", err)
	}
	other.release()
	// With the budget free again, a normal answer decodes.
	ok := `<EntityReferences xmlns="http://www.veeam.com/ent/v1.0"><Ref UID="u" Name="n" Href="h" Type="t"/></EntityReferences>`
	if err := c.readAnswer(ctx, "GET", "/query", body(strings.NewReader("\xef\xbb\xbf"+ok), -1), maxBodySize, &refs); err != nil || len(refs.Refs) != 1 {
		t.Errorf("normal answer after the budget was released: %v, %d refs", err, len(refs.Refs))
	}
	if held := c.budget.size; !c.budget.sem.TryAcquire(held) {
		t.Error("budget not fully released after the answers")
	}
}

// TestPooledTokenizerStartsAfresh: decodeTokens reuses tokenizers; one left
// inside a document by an error reads the next answer as if new.
func TestPooledTokenizerStartsAfresh(t *testing.T) {
	for i := range 3 {
		var bad AgentBackupJob
		if err := decodeTokens(strings.NewReader(`<AgentBackupJob xmlns="urn:old" Name="old"><JobInfo><Includes>`), (*agentJobEntity)(&bad)); err == nil {
			t.Fatal("a cut entity decoded")
		}
		var j AgentBackupJob
		name := fmt.Sprintf("job %d", i)
		doc := `<AgentBackupJob xmlns="urn:new" Name="` + name + `"><Platform>p</Platform></AgentBackupJob>`
		if err := decodeTokens(strings.NewReader(doc), (*agentJobEntity)(&j)); err != nil {
			t.Fatal(err)
		}
		if j.Name != name || j.XMLName.Space != "urn:new" || j.Platform != "p" || j.JobInfo != nil {
			t.Fatalf("after a failed decode: %+v", j)
		}
	}
}
