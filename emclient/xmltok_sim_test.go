package emclient_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"testing"

	"github.com/agentdesk/agentdesk/emclient/internal/xmltok"
)

// TestTokenizerAgreesOnSim reads the simulator's answers the token walks
// read (the job list, a job entity, session pages, and the other entity
// queries) with the tokenizer and with encoding/xml: the same tokens, token
// for token. (The walks' models are held to the tagged types' on the same
// answers by TestRowsMatchFullModelOnSim and
// TestJobPageDecodersMatchFullModelOnSim.)
func TestTokenizerAgreesOnSim(t *testing.T) {
	e := newSim(t)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/sessionMngr/?v=latest", nil)
	req.SetBasicAuth("svc", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	token := resp.Header.Get("X-RestSvcSessionId")
	if token == "" {
		t.Fatalf("logon: %s", resp.Status)
	}
	get := func(path string) []byte {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api"+path, nil)
		req.Header.Set("X-RestSvcSessionId", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %v", path, resp.Status, err)
		}
		return b
	}
	jobs := e.sim.Jobs()
	paths := []string{
		"/query?type=AgentBackupJob&format=Entities&pageSize=1000",
		"/query?type=BackupJobSession&format=Entities&pageSize=200&sortDesc=CreationTime",
		"/query?type=BackupServer&format=Entities",
		"/query?type=AgentBackupJob&format=References",
		"/agents/jobs/" + jobs[0].ID + "?format=Entity",
		"/agents/jobs/" + jobs[len(jobs)-1].ID + "?format=Entity",
	}
	for _, p := range paths {
		b := get(p)
		want, wantErr := simStdTokens(b)
		got, gotErr := simOurTokens(b)
		if wantErr != nil || gotErr != nil {
			t.Fatalf("%s: encoding/xml %v, tokenizer %v", p, wantErr, gotErr)
		}
		if len(want) < 10 || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: the tokenizer reads %d tokens, encoding/xml %d, not the same", p, len(got), len(want))
		}
	}
}

func simStdTokens(b []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	var out []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			s := fmt.Sprintf("<%s %s", tok.Name.Space, tok.Name.Local)
			for _, a := range tok.Attr {
				s += fmt.Sprintf(" %s=%q", a.Name.Local, a.Value)
			}
			out = append(out, s)
		case xml.EndElement:
			out = append(out, fmt.Sprintf("</%s %s", tok.Name.Space, tok.Name.Local))
		case xml.CharData:
			out = append(out, string(tok))
		}
	}
}

func simOurTokens(b []byte) ([]string, error) {
	d := xmltok.NewDecoder(bytes.NewReader(b))
	var out []string
	for {
		k, err := d.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch k {
		case xmltok.StartElement:
			s := fmt.Sprintf("<%s %s", d.Space(), d.Name())
			for i := range d.NumAttr() {
				_, local, v := d.AttrAt(i)
				s += fmt.Sprintf(" %s=%q", local, v)
			}
			out = append(out, s)
		case xmltok.EndElement:
			out = append(out, fmt.Sprintf("</%s %s", d.Space(), d.Name()))
		case xmltok.Text:
			out = append(out, string(d.Text()))
		}
	}
}
