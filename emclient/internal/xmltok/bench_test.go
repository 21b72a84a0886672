package xmltok

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/agentdesk/agentdesk/emclient/emexamples"
)

// benchDocs are the documented job entity (~8.8 KB) and a query page of
// 1,000 such jobs (~8.5 MB).
func benchDocs(b *testing.B) (job, page []byte) {
	dir := emexamples.Dir(b)
	job, err := os.ReadFile(filepath.Join(dir, "agent_job_entity.xml"))
	if err != nil {
		b.Fatal(err)
	}
	job = emexamples.AmpFix(job)
	one := regexp.MustCompile(`(?s)^.*?(<[A-Za-z])`).ReplaceAll(job, []byte("$1"))
	var p bytes.Buffer
	p.WriteString(`<?xml version="1.0" encoding="utf-8"?><QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Entities><AgentBackupJobs>`)
	for range 1000 {
		p.Write(one)
	}
	p.WriteString(`</AgentBackupJobs></Entities><PagingInfo PageNum="1" PageSize="1000" PagesCount="10"/></QueryResult>`)
	return job, p.Bytes()
}

// BenchmarkTokens reads every token of the documents, with encoding/xml's
// Decoder.Token as emclient set it up (bufio, BOM check) and with this
// tokenizer (reused, as emclient's pool reuses it).
//
//	go test -run '^$' -bench Tokens -benchmem ./emclient/internal/xmltok/
func BenchmarkTokens(b *testing.B) {
	job, page := benchDocs(b)
	for _, doc := range []struct {
		name string
		b    []byte
	}{{"job", job}, {"page1000", page}} {
		b.Run(doc.name+"/encoding_xml", func(b *testing.B) {
			b.SetBytes(int64(len(doc.b)))
			b.ReportAllocs()
			for b.Loop() {
				br := bufio.NewReader(bytes.NewReader(doc.b))
				if head, _ := br.Peek(3); bytes.Equal(head, []byte("\xef\xbb\xbf")) {
					br.Discard(3)
				}
				d := xml.NewDecoder(br)
				for {
					_, err := d.Token()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(doc.name+"/xmltok", func(b *testing.B) {
			b.SetBytes(int64(len(doc.b)))
			b.ReportAllocs()
			d := NewDecoder(nil)
			for b.Loop() {
				d.Reset(bytes.NewReader(doc.b))
				for {
					_, err := d.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
