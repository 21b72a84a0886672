package xmltok

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/agentdesk/agentdesk/emclient/emexamples"
)

// tok is a token as both tokenizers are compared: adjacent character data
// merged (encoding/xml splits it at comments, this tokenizer too, but
// neither needs to).
type tok struct {
	Kind  Kind
	Space string
	Local string
	Attrs []string // local=value
	Text  string
}

// stdTokens tokenizes b with encoding/xml as emclient set it up: a byte
// order mark skipped, UTF-8 spellings accepted as the declared encoding.
func stdTokens(b []byte) ([]tok, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	d := xml.NewDecoder(bytes.NewReader(b))
	d.CharsetReader = func(charset string, input io.Reader) (io.Reader, error) {
		if strings.EqualFold(strings.ReplaceAll(charset, "-", ""), "utf8") {
			return input, nil
		}
		return nil, fmt.Errorf("unsupported charset %q", charset)
	}
	var out []tok
	for {
		t, err := d.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		switch t := t.(type) {
		case xml.StartElement:
			k := tok{Kind: StartElement, Space: t.Name.Space, Local: t.Name.Local, Attrs: []string{}}
			for _, a := range t.Attr {
				k.Attrs = append(k.Attrs, a.Name.Local+"="+a.Value)
			}
			out = append(out, k)
		case xml.EndElement:
			out = append(out, tok{Kind: EndElement, Space: t.Name.Space, Local: t.Name.Local})
		case xml.CharData:
			out = appendText(out, string(t))
		}
	}
}

func appendText(out []tok, s string) []tok {
	if n := len(out); n > 0 && out[n-1].Kind == Text {
		out[n-1].Text += s
		return out
	}
	return append(out, tok{Kind: Text, Text: s})
}

// ourTokens tokenizes what r reads, starting with a buffer of bufSize bytes
// (0: the default).
func ourTokens(r io.Reader, bufSize int) ([]tok, error) {
	d := NewDecoder(r)
	if bufSize > 0 {
		d.buf = make([]byte, bufSize)
	}
	return ourTokensFrom(d)
}

// compare fails unless this tokenizer reads b as encoding/xml does: the
// same tokens, or both an error. Read whole, byte by byte and through a
// buffer of 7 bytes that has to grow, it must read the same.
func compare(t *testing.T, b []byte) {
	t.Helper()
	want, wantErr := stdTokens(b)
	for _, c := range []struct {
		name string
		r    io.Reader
		size int
	}{
		{"whole", bytes.NewReader(b), 0},
		{"one byte a read", iotest.OneByteReader(bytes.NewReader(b)), 0},
		{"small buffer", iotest.HalfReader(bytes.NewReader(b)), 7},
	} {
		got, err := ourTokens(c.r, c.size)
		if err != nil {
			if wantErr == nil {
				t.Fatalf("%s: error %v; encoding/xml reads it", c.name, err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%s: error %T %v, want a *SyntaxError", c.name, err, err)
			}
			continue
		}
		if wantErr != nil {
			t.Fatalf("%s: accepted; encoding/xml: %v", c.name, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			for i := range min(len(got), len(want)) {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("%s: token %d\n got %+v\nwant %+v", c.name, i, got[i], want[i])
				}
			}
			t.Fatalf("%s: %d tokens, want %d", c.name, len(got), len(want))
		}
	}
}

func examples(tb testing.TB) [][]byte {
	dir := emexamples.Find()
	if dir == "" {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b, emexamples.AmpFix(b))
	}
	return out
}

// cases are documents that exercise each rule, well-formed or not.
var cases = []string{
	// Names beyond ASCII: accepted or refused as encoding/xml does.
	"<é/>", "<日本 属性='1'/>", "<a·b/>", "<·a/>", "<a\u0300/>", "<\u0300a/>", "<a\xffb/>", "<a é\u00b7='x'/>",
	"<a ·b='x'/>", "<p:é xmlns:p='u'/>", "<a>\u2028</a>", "<\U00010000/>",
	``,
	`<a/>`,
	`<a></a>`,
	"\xef\xbb\xbf<a/>",
	`<?xml version="1.0" encoding="utf-8"?><a/>`,
	`<?xml version="1.0" encoding="UTF8"?><a/>`,
	`<?xml version="1.0" encoding="u-t-f-8"?><a/>`,
	`<?xml version="1.0" encoding="ISO-8859-1"?><a/>`,
	`<?xml version="1.1"?><a/>`,
	`<?xml version='1.0' encoding='utf-16'?><a/>`,
	`<?pi data?><a/>`,
	`<?pi?><a/>`,
	`<? pi?><a/>`,
	`<?9?><a/>`,
	`<!DOCTYPE a [<!ENTITY x "y"> <!-- c --> ]><a/>`,
	`<!DOCTYPE a "q>"><a/>`,
	`<!x<>><a/>`,
	`<!x<y>><a/>`,
	`<!-- c --><a/>`,
	`<!-- c -- d --><a/>`,
	`<!----><a/>`,
	`<!---><a/>`,
	`<!-x><a/>`,
	`<![CDATA[x]]><a/>`,
	`<![CDAT[x]]><a/>`,
	`<a><![CDATA[<&>]] ]]></a>`,
	"<a><![CDATA[a\r\nb\rc]]></a>",
	`<a>x</b>`,
	`<a><b></a></b>`,
	`<a:b></c:b>`,
	`<a:b></a:b>`,
	`<a:b:c/>`,
	`<:a/>`,
	`<a:/>`,
	`</a>`,
	`<a>`,
	`<a><b/>`,
	`<a x="1" y='2' z = "3"/>`,
	`<a x="1"y="2"/>`,
	`<a x=1/>`,
	`<a x/>`,
	`<a x="1" x="2"/>`,
	`<a x="<"/>`,
	`<a x="]]>"/>`,
	`<a x="&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x1F600;"/>`,
	"<a x=\"a\r\nb\rc\td\nz\"/>",
	`<a>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x1F600;</a>`,
	`<a>&#0;</a>`,
	`<a>&#xD800;</a>`,
	`<a>&#xFFFE;</a>`,
	`<a>&#x110000;</a>`,
	`<a>&#99999999999999999999999;</a>`,
	`<a>&#00000000000000000000065;</a>`,
	`<a>&#X41;</a>`,
	`<a>&#;</a>`,
	`<a>&#x;</a>`,
	`<a>&nbsp;</a>`,
	`<a>&amp</a>`,
	`<a>&</a>`,
	`<a>]]></a>`,
	`<a>]]&gt;</a>`,
	`<a>] ]></a>`,
	"<a>\x00</a>",
	"<a>\x7f</a>",
	"<a>\xff</a>",
	"<a>\xef\xbf\xbe</a>",
	"<a>caf\xc3\xa9 \xf0\x9f\x98\x80</a>",
	"<a>a\r\nb\rc\r\r\nd</a>",
	"<\xc3\xa9l\xc3\xa9ment/>",
	"<a\xcc\x80/>",
	"<\xcc\x80/>",
	`<a><b>t</b> <c/></a>`,
	`text outside<a/>more<b/>`,
	`<a/><b/>`,
	`<a xmlns="u" xmlns:p="v"><b/><p:c p:x="1"/><xml:d/><xmlns:e/><xmlns/></a>`,
	`<p:a xmlns:p="v"><p:b xmlns:p="w"/><p:c/></p:a><p:d/>`,
	`<a b:c="1" xmlns:b="u"/>`,
	`<a></a >`,
	`<a></a x>`,
	`< a/>`,
	`<a / >`,
	`<a/ >`,
	`<>`,
	`<`,
	`<a x="1`,
	`<a x="1" `,
	`<a>text`,
	`<!-- c`,
	`<?pi`,
	`<![CDATA[x`,
	`<!DOCTYPE a`,
}

func TestAgreesWithEncodingXML(t *testing.T) {
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) { compare(t, []byte(c)) })
	}
	for i, b := range examples(t) {
		t.Run(fmt.Sprint("example", i), func(t *testing.T) { compare(t, b) })
	}
}

// TestLongTokens: text, attribute values and comments longer than the
// buffer are read whole.
func TestLongTokens(t *testing.T) {
	long := strings.Repeat("abc&amp;def\r\n", 20000)
	doc := `<a x="` + long + `"><!--` + strings.Repeat("c", 100000) + `-->` + long + `<![CDATA[` + long + `]]></a>`
	compare(t, []byte(doc))
	toks, err := ourTokens(iotest.HalfReader(strings.NewReader(doc)), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("abc&def\n", 20000)
	if len(toks) != 3 || toks[0].Attrs[0] != "x="+want || toks[1].Text != want+long2(long) {
		t.Fatalf("long tokens read wrong: %d tokens", len(toks))
	}
}

// long2 is the CDATA section's reading of s: no entities, "\r\n" as "\n".
func long2(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// TestViews: a token's text is a view into the buffer, decoded into the
// scratch buffer only when it holds an entity or a carriage return.
func TestViews(t *testing.T) {
	d := NewDecoder(strings.NewReader(`<a x="plain" y="a&amp;b">text</a>`))
	if k, err := d.Next(); k != StartElement || err != nil {
		t.Fatal(k, err)
	}
	x, _ := d.Attr("x")
	y, _ := d.Attr("y")
	if string(x) != "plain" || string(y) != "a&b" {
		t.Fatalf("x=%q y=%q", x, y)
	}
	if &x[0] != &d.buf[6] {
		t.Error("a plain attribute value was copied")
	}
	if _, ok := d.Attr("z"); ok {
		t.Error("attribute z found")
	}
	d2 := NewDecoder(strings.NewReader(`<a x="1" p:x="2"/>`))
	d2.Next()
	if x, _ := d2.Attr("x"); string(x) != "2" {
		t.Errorf("of two attributes x, Attr read %q, want the last as encoding/xml's Unmarshal", x)
	}
	if false {
		t.Error("attribute z found")
	}
	if k, _ := d.Next(); k != Text || string(d.Text()) != "text" {
		t.Fatalf("text %q", d.Text())
	}
	if k, _ := d.Next(); k != EndElement || string(d.Name()) != "a" || d.Depth() != 0 {
		t.Fatalf("end %q depth %d", d.Name(), d.Depth())
	}
	if k, err := d.Next(); k != None || err != io.EOF {
		t.Fatalf("after the root: %v %v", k, err)
	}
}

// TestSkip skips a subtree and stops after its end.
func TestSkip(t *testing.T) {
	d := NewDecoder(strings.NewReader(`<a><b><c/>t<d x="1">u</d></b><e/></a>`))
	d.Next() // a
	d.Next() // b
	if err := d.Skip(); err != nil {
		t.Fatal(err)
	}
	if k, _ := d.Next(); k != StartElement || string(d.Name()) != "e" || d.Depth() != 2 {
		t.Fatalf("after Skip: %q at depth %d", d.Name(), d.Depth())
	}
}

// TestReadError: the reader's error is returned as it is, not as a syntax
// error.
func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	d := NewDecoder(io.MultiReader(strings.NewReader(`<a><b>te`), iotest.ErrReader(boom)))
	var err error
	for err == nil {
		_, err = d.Next()
	}
	if err != boom {
		t.Fatalf("err = %v, want boom", err)
	}
}

// FuzzTokens: for any input the tokenizer does not panic, and it reads a
// document exactly when encoding/xml does, with the same tokens.
func FuzzTokens(f *testing.F) {
	for _, c := range cases {
		f.Add([]byte(c))
	}
	for _, b := range examples(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { compare(t, b) })
}

// TestResetForgetsTheLastInput: a decoder reused (emclient pools them)
// starts afresh, whatever state the last input left it in; namespace
// strings it reuses are those of the new input.
func TestResetForgetsTheLastInput(t *testing.T) {
	d := NewDecoder(strings.NewReader(`<a xmlns="u1" xmlns:p="v1"><p:b x="1"><c>cut`))
	var err error
	for err == nil {
		_, err = d.Next()
	}
	if err == io.EOF {
		t.Fatal("a cut input read to its end")
	}
	for _, doc := range []string{`<p:a xmlns="u2" xmlns:p="v2"><b/></p:a>`, `<p:a xmlns="u1" xmlns:p="v1"><b/></p:a>`, `<p:a><b/></p:a>`} {
		d.Reset(strings.NewReader(doc))
		got, err := ourTokensFrom(d)
		want, _ := stdTokens([]byte(doc))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("after Reset, %s:\n got %+v %v\nwant %+v", doc, got, err, want)
		}
	}
}

// ourTokensFrom reads d's tokens to the end.
func ourTokensFrom(d *Decoder) ([]tok, error) {
	var out []tok
	for {
		k, err := d.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		switch k {
		case StartElement:
			t := tok{Kind: k, Space: d.Space(), Local: string(d.Name()), Attrs: []string{}}
			for i := range d.NumAttr() {
				_, local, value := d.AttrAt(i)
				t.Attrs = append(t.Attrs, string(local)+"="+string(value))
			}
			out = append(out, t)
		case EndElement:
			out = append(out, tok{Kind: k, Space: d.Space(), Local: string(d.Name())})
		case Text:
			out = appendText(out, string(d.Text()))
		}
	}
}
