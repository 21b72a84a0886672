// Package xmltok is a strict, streaming pull tokenizer for the XML that
// Veeam Enterprise Manager writes: elements, attributes and character data,
// read from an io.Reader through one buffer.
//
// emclient used encoding/xml's Decoder.Token for its token walks. Token
// allocates every name, attribute and text it returns, reads byte by byte
// (getc) and keeps a map of namespaces: it was 36% of a cold job page's CPU.
// This tokenizer returns views into its buffer instead, finds markup with
// bytes.IndexByte and checks text through a table. On the documented job
// entity (8.8 KB) encoding/xml reads ~25-33 MB/s with 1,405 allocations,
// this ~250-290 MB/s with none: ~9x (BenchmarkTokens, a noisy shared
// machine; ~7-9x on a query page of 1,000 such jobs).
//
// What it accepts is what encoding/xml accepts with Strict set (the
// default), token for token: the same names (the local part after a single
// "prefix:"), attribute values and text, with the five predefined entities
// and character references decoded, "\r\n" and "\r" read as "\n", CDATA
// sections read as text. Comments, processing instructions and directives
// (a DOCTYPE) are skipped, checked as encoding/xml checks them. A UTF-8 byte
// order mark opening the input is skipped. An XML declaration must name
// version 1.0 (or none) and an encoding that is a spelling of UTF-8 (or
// none): EM writes UTF-8. Every error of encoding/xml is an error here: tags
// that do not match, input ending inside an element, a bad entity, '<' in
// an attribute value, bytes that are not UTF-8 or not XML characters. Like
// encoding/xml it does not refuse a repeated attribute.
//
// A token (its name, attributes and text) is valid until the next call of
// Next or Skip. A token longer than the buffer grows it: the input is never
// held whole, only its longest token.
package xmltok

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// BufferSize is the size of the buffer a Decoder starts with.
const BufferSize = 32 << 10

// Kind is the kind of a token.
type Kind uint8

const (
	// None is returned with an error.
	None Kind = iota
	// StartElement: Name, Prefix, Attr and the other attribute methods.
	StartElement
	// EndElement: Name and Prefix; an empty element <a/> is a StartElement
	// and an EndElement.
	EndElement
	// Text is character data (Text); a CDATA section is a Text of its own.
	Text
)

// SyntaxError is a document that is not well-formed XML, or that the
// tokenizer does not accept (a declared encoding other than UTF-8).
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("XML syntax error on line %d: %s", e.Line, e.Msg)
}

// errShort: the markup being parsed runs past the buffered input.
var errShort = errors.New("short")

type attr struct{ prefix, local, value []byte }

// binding is a namespace prefix declared by an xmlns attribute.
type binding struct{ prefix, url string }

// frame is an open element: its qualified name is names[start:end], with a
// prefix of plen bytes (0: none), and it declared the last nbind namespace
// bindings.
type frame struct{ start, end, plen, nbind int }

// A Decoder reads tokens from an input. The zero value is not usable: call
// NewDecoder or Reset.
type Decoder struct {
	r        io.Reader
	buf      []byte
	pos, end int   // unread input: buf[pos:end]
	rerr     error // the reader's error, io.EOF at the end
	lines    int   // newlines in the input dropped from buf
	started  bool  // a byte order mark was looked for
	err      error // sticky: the error Next returned

	// The current token.
	kind          Kind
	prefix, local []byte
	attrs         []attr
	text          []byte
	scratch       []byte // decoded text and attribute values
	selfClose     bool   // the StartElement was <a/>: its end comes next

	names  []byte // the qualified names of the open elements
	stack  []frame
	ns     []binding
	nsDrop int       // bindings of the element just ended, dropped by Next
	known  []binding // bindings seen, kept by Reset
}

// NewDecoder returns a Decoder reading r.
func NewDecoder(r io.Reader) *Decoder {
	d := new(Decoder)
	d.Reset(r)
	return d
}

// Reset makes d read r from the start, keeping its buffers.
func (d *Decoder) Reset(r io.Reader) {
	*d = Decoder{
		r: r, buf: d.buf[:cap(d.buf)],
		attrs: d.attrs[:0], scratch: d.scratch[:0], names: d.names[:0], stack: d.stack[:0], ns: d.ns[:0],
		known: d.known,
	}
}

// BufferCap is the size the buffer has grown to (a pool keeps only
// decoders that stayed small).
func (d *Decoder) BufferCap() int { return cap(d.buf) }

// Name is the local name of the current StartElement or EndElement.
func (d *Decoder) Name() []byte { return d.local }

// Prefix is the namespace prefix of the current element's name ("" for
// none).
func (d *Decoder) Prefix() []byte { return d.prefix }

// Space is the namespace of the current element's name as encoding/xml
// translates it (Name.Space): the URL its prefix, or the default namespace,
// is bound to; an unbound prefix is itself.
func (d *Decoder) Space() string {
	p := d.prefix
	switch {
	case string(p) == "xmlns":
		return "xmlns"
	case len(p) == 0 && string(d.local) == "xmlns":
		return ""
	case string(p) == "xml":
		return "http://www.w3.org/XML/1998/namespace"
	}
	for i := len(d.ns) - 1; i >= 0; i-- {
		if d.ns[i].prefix == string(p) {
			return d.ns[i].url
		}
	}
	return string(p)
}

// Attr returns the value of the current StartElement's attribute of the
// given local name, in any namespace; of several, the last, as
// encoding/xml's Unmarshal leaves a field.
func (d *Decoder) Attr(local string) ([]byte, bool) {
	for i := len(d.attrs) - 1; i >= 0; i-- {
		if string(d.attrs[i].local) == local {
			return d.attrs[i].value, true
		}
	}
	return nil, false
}

// NumAttr is the number of attributes of the current StartElement.
func (d *Decoder) NumAttr() int { return len(d.attrs) }

// AttrAt returns the i-th attribute of the current StartElement: its
// prefix, local name and value.
func (d *Decoder) AttrAt(i int) (prefix, local, value []byte) {
	a := &d.attrs[i]
	return a.prefix, a.local, a.value
}

// Text is the character data of the current Text token.
func (d *Decoder) Text() []byte { return d.text }

// Depth is the number of elements open, the current StartElement included
// and the current EndElement excluded.
func (d *Decoder) Depth() int { return len(d.stack) }

// Next reads the next token. At the end of a well-formed input it returns
// None and io.EOF; an input that is not well-formed is a *SyntaxError; the
// reader's errors are returned as they are. After an error Next returns it
// again.
func (d *Decoder) Next() (Kind, error) {
	if d.err != nil {
		return None, d.err
	}
	d.scratch = d.scratch[:0]
	d.ns = d.ns[:len(d.ns)-d.nsDrop]
	d.nsDrop = 0
	if d.selfClose {
		d.selfClose = false
		d.pop()
		d.kind = EndElement
		return EndElement, nil
	}
	if !d.started {
		d.started = true
		for d.end-d.pos < 3 && d.fill() {
		}
		if bytes.HasPrefix(d.buf[d.pos:d.end], []byte("\xef\xbb\xbf")) {
			d.pos += 3
		}
	}
	for {
		if d.pos == d.end && !d.fill() {
			switch {
			case d.rerr != io.EOF:
				d.err = d.rerr
			case len(d.stack) > 0:
				d.err = d.syntax("unexpected EOF")
			default:
				d.err = io.EOF
			}
			return None, d.err
		}
		var (
			k   Kind
			err error
		)
		if d.buf[d.pos] != '<' {
			k, err = d.readText()
		} else {
			k, err = d.readMarkup()
		}
		if err != nil {
			d.err = err
			return None, err
		}
		if k != None {
			d.kind = k
			return k, nil
		}
	}
}

// Skip reads up to the end of the element most recently started, its
// children included.
func (d *Decoder) Skip() error {
	depth := len(d.stack)
	for {
		k, err := d.Next()
		if err != nil {
			return err
		}
		if k == EndElement && len(d.stack) < depth {
			return nil
		}
	}
}

// fill reads more input after buf[pos:end], first moving the unread bytes
// to the front of the buffer and growing it when they fill it. It reports
// whether any byte was added.
func (d *Decoder) fill() bool {
	if d.rerr != nil {
		return false
	}
	if d.pos > 0 {
		d.lines += bytes.Count(d.buf[:d.pos], []byte{'\n'})
		d.end = copy(d.buf, d.buf[d.pos:d.end])
		d.pos = 0
	}
	if d.end == len(d.buf) {
		n := 2 * len(d.buf)
		if n == 0 {
			n = BufferSize
		}
		b := make([]byte, n)
		copy(b, d.buf[:d.end])
		d.buf = b
	}
	for range 100 {
		n, err := d.r.Read(d.buf[d.end:])
		d.end += n
		if err != nil {
			d.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	d.rerr = io.ErrNoProgress
	return false
}

// syntax is a SyntaxError at the current position.
func (d *Decoder) syntax(msg string) error {
	return &SyntaxError{Line: 1 + d.lines + bytes.Count(d.buf[:d.pos], []byte{'\n'}), Msg: msg}
}

// short handles errShort from parsing the markup at buf[pos:]: it reads
// more input, or returns why there is none. The markup is parsed again from
// its start, so the input it has is doubled first: a long comment or tag
// that arrives a few bytes at a time costs linear time, not quadratic.
func (d *Decoder) short() error {
	want := 2 * (d.end - d.pos)
	added := false
	for d.end-d.pos < want && d.fill() {
		added = true
	}
	if added {
		return nil
	}
	if d.rerr != io.EOF {
		return d.rerr
	}
	return d.syntax("unexpected EOF")
}

// readText reads the character data at buf[pos:], up to the next '<' or
// the end of the input.
func (d *Decoder) readText() (Kind, error) {
	// The usual text is plain ASCII up to a '<' (whitespace between
	// elements, a value): a view of the buffer, read in one pass.
	b := d.buf[d.pos:d.end]
	n := 0
	for n < len(b) && plain[b[n]] {
		n++
	}
	if n < len(b) && b[n] == '<' {
		d.text = b[:n]
		d.pos += n
		return Text, nil
	}
	// bytes known to be free of '<': n
	for {
		if i := bytes.IndexByte(d.buf[d.pos+n:d.end], '<'); i >= 0 {
			n += i
			break
		}
		n = d.end - d.pos
		if !d.fill() {
			if d.rerr != io.EOF {
				return None, d.rerr
			}
			break
		}
	}
	raw := d.buf[d.pos : d.pos+n]
	t, err := d.unescape(raw, modeText)
	if err != nil {
		return None, err
	}
	d.pos += n
	d.text = t
	return Text, nil
}

// readMarkup reads the markup at buf[pos:] (which starts with '<'): None
// for a comment, processing instruction or directive.
func (d *Decoder) readMarkup() (Kind, error) {
	for {
		k, n, err := d.markup(d.buf[d.pos:d.end])
		if err == errShort {
			if err := d.short(); err != nil {
				return None, err
			}
			continue
		}
		if err != nil {
			return None, err
		}
		d.pos += n
		if k == StartElement {
			d.push()
		}
		return k, nil
	}
}

// markup parses the markup b starts with, returning its kind and length,
// or errShort when b ends first. It sets the token's views into b; it
// changes nothing else, so that it can be called again with more input.
func (d *Decoder) markup(b []byte) (Kind, int, error) {
	if len(b) < 2 {
		return None, 0, errShort
	}
	switch b[1] {
	case '/':
		i := 2
		n := nameLen(b[i:])
		if i+n == len(b) {
			return None, 0, errShort
		}
		if n == 0 {
			return None, 0, d.syntax("expected element name after </")
		}
		qname := b[i : i+n]
		if f, ok := d.top(); ok && bytes.Equal(d.names[f.start:f.end], qname) {
			// The usual end tag, its start's name: checked then.
			d.prefix, d.local = nil, qname
			if f.plen > 0 {
				d.prefix, d.local = qname[:f.plen], qname[f.plen+1:]
			}
		} else if err := d.setName(qname, "expected element name after </"); err != nil {
			return None, 0, err
		}
		i = skipSpace(b, i+n)
		if i == len(b) {
			return None, 0, errShort
		}
		if b[i] != '>' {
			return None, 0, d.syntax("invalid characters between </" + string(d.local) + " and >")
		}
		if len(d.stack) == 0 {
			return None, 0, d.syntax("unexpected end element </" + string(d.local) + ">")
		}
		f := d.stack[len(d.stack)-1]
		if open := d.names[f.start:f.end]; !bytes.Equal(open, qname) {
			op, ol := splitName(open)
			if !bytes.Equal(ol, d.local) {
				return None, 0, d.syntax("element <" + string(ol) + "> closed by </" + string(d.local) + ">")
			}
			space := string(d.prefix)
			if space == "" {
				space = `""`
			}
			return None, 0, d.syntax("element <" + string(ol) + "> in space " + string(op) + " closed by </" + string(d.local) + "> in space " + space)
		}
		d.pop()
		return EndElement, i + 1, nil

	case '?':
		i := 2
		n := nameLen(b[i:])
		if i+n == len(b) {
			return None, 0, errShort
		}
		if n == 0 {
			return None, 0, d.syntax("expected target name after <?")
		}
		target := b[i : i+n]
		if !isName(target) {
			return None, 0, d.syntax("invalid XML name: " + string(target))
		}
		i = skipSpace(b, i+n)
		j := bytes.Index(b[i:], []byte("?>"))
		if j < 0 {
			return None, 0, errShort
		}
		if string(target) == "xml" {
			content := b[i : i+j]
			if v := procInst("version=", content); len(v) > 0 && string(v) != "1.0" {
				return None, 0, d.syntax(fmt.Sprintf("unsupported version %q; only version 1.0 is supported", v))
			}
			if enc := procInst("encoding=", content); len(enc) > 0 && !isUTF8(enc) {
				return None, 0, d.syntax(fmt.Sprintf("unsupported encoding %q: EM writes UTF-8", enc))
			}
		}
		return None, i + j + 2, nil

	case '!':
		if len(b) < 3 {
			return None, 0, errShort
		}
		switch b[2] {
		case '-':
			if len(b) < 4 {
				return None, 0, errShort
			}
			if b[3] != '-' {
				return None, 0, d.syntax("invalid sequence <!- not part of <!--")
			}
			j := bytes.Index(b[4:], []byte("--"))
			if j < 0 || 4+j+2 >= len(b) {
				return None, 0, errShort
			}
			if b[4+j+2] != '>' {
				return None, 0, d.syntax(`invalid sequence "--" not allowed in comments`)
			}
			return None, 4 + j + 3, nil
		case '[':
			const cdata = "<![CDATA["
			for i := 3; i < len(cdata); i++ {
				if i == len(b) {
					return None, 0, errShort
				}
				if b[i] != cdata[i] {
					return None, 0, d.syntax("invalid <![ sequence")
				}
			}
			j := bytes.Index(b[len(cdata):], []byte("]]>"))
			if j < 0 {
				return None, 0, errShort
			}
			t, err := d.unescape(b[len(cdata):len(cdata)+j], modeCDATA)
			if err != nil {
				return None, 0, err
			}
			d.text = t
			return Text, len(cdata) + j + 3, nil
		}
		n, err := directive(b)
		return None, n, err
	}
	return d.startTag(b)
}

// startTag parses the start tag b starts with.
func (d *Decoder) startTag(b []byte) (Kind, int, error) {
	i := 1
	n := nameLen(b[i:])
	if i+n == len(b) {
		return None, 0, errShort
	}
	if n == 0 {
		return None, 0, d.syntax("expected element name after <")
	}
	if err := d.setName(b[i:i+n], "expected element name after <"); err != nil {
		return None, 0, err
	}
	i += n
	d.attrs = d.attrs[:0]
	d.scratch = d.scratch[:0]
	d.selfClose = false
	for {
		i = skipSpace(b, i)
		if i == len(b) {
			return None, 0, errShort
		}
		switch b[i] {
		case '/':
			if i+1 == len(b) {
				return None, 0, errShort
			}
			if b[i+1] != '>' {
				return None, 0, d.syntax("expected /> in element")
			}
			d.selfClose = true
			return StartElement, i + 2, nil
		case '>':
			return StartElement, i + 1, nil
		}
		n := nameLen(b[i:])
		if i+n == len(b) {
			return None, 0, errShort
		}
		if n == 0 {
			return None, 0, d.syntax("expected attribute name in element")
		}
		prefix, local, err := d.checkName(b[i:i+n], "expected attribute name in element")
		if err != nil {
			return None, 0, err
		}
		i = skipSpace(b, i+n)
		if i == len(b) {
			return None, 0, errShort
		}
		if b[i] != '=' {
			return None, 0, d.syntax("attribute name without = in element")
		}
		i = skipSpace(b, i+1)
		if i == len(b) {
			return None, 0, errShort
		}
		q := b[i]
		if q != '"' && q != '\'' {
			return None, 0, d.syntax("unquoted or missing attribute value in element")
		}
		i++
		// The usual value is plain ASCII up to its quote: a view of b.
		j := i
		for j < len(b) && plain[b[j]] && b[j] != q {
			j++
		}
		if j < len(b) && b[j] == q {
			d.attrs = append(d.attrs, attr{prefix: prefix, local: local, value: b[i:j]})
			i = j + 1
			continue
		}
		j = bytes.IndexByte(b[i:], q)
		if j < 0 {
			if bytes.IndexByte(b[i:], '<') >= 0 {
				return None, 0, d.syntax("unescaped < inside quoted string")
			}
			return None, 0, errShort
		}
		raw := b[i : i+j]
		if bytes.IndexByte(raw, '<') >= 0 {
			return None, 0, d.syntax("unescaped < inside quoted string")
		}
		v, err := d.unescape(raw, modeAttr)
		if err != nil {
			return None, 0, err
		}
		d.attrs = append(d.attrs, attr{prefix: prefix, local: local, value: v})
		i += j + 1
	}
}

// setName checks an element's qualified name and makes it the token's.
func (d *Decoder) setName(qname []byte, missing string) error {
	prefix, local, err := d.checkName(qname, missing)
	d.prefix, d.local = prefix, local
	return err
}

// checkName checks a qualified name as encoding/xml does (an XML name, at
// most one colon; missing is the error for two) and splits it.
func (d *Decoder) checkName(q []byte, missing string) (prefix, local []byte, err error) {
	colon, colons, ascii := -1, 0, true
	for i, c := range q {
		if c == ':' {
			if colons == 0 {
				colon = i
			}
			colons++
		} else if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if ascii {
		c := q[0]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' || c == ':') {
			return nil, nil, d.syntax("invalid XML name: " + string(q))
		}
	} else if !isName(q) {
		return nil, nil, d.syntax("invalid XML name: " + string(q))
	}
	if colons > 1 {
		return nil, nil, d.syntax(missing)
	}
	if colon > 0 && colon < len(q)-1 {
		return q[:colon], q[colon+1:], nil
	}
	return nil, q, nil
}

// push opens the element just read, with the namespaces it declares.
func (d *Decoder) push() {
	nb := 0
	for _, a := range d.attrs {
		switch {
		case string(a.prefix) == "xmlns":
			d.ns = append(d.ns, d.bind(a.local, a.value))
			nb++
		case len(a.prefix) == 0 && string(a.local) == "xmlns":
			d.ns = append(d.ns, d.bind(nil, a.value))
			nb++
		}
	}
	start := len(d.names)
	d.names = append(d.names, d.prefix...)
	if len(d.prefix) > 0 {
		d.names = append(d.names, ':')
	}
	d.names = append(d.names, d.local...)
	d.stack = append(d.stack, frame{start: start, end: len(d.names), plen: len(d.prefix), nbind: nb})
}

// top is the innermost open element.
func (d *Decoder) top() (frame, bool) {
	if len(d.stack) == 0 {
		return frame{}, false
	}
	return d.stack[len(d.stack)-1], true
}

// bind returns the binding of prefix to url, reusing the strings of one
// seen before: EM declares the same namespaces on every entity of a list.
func (d *Decoder) bind(prefix, url []byte) binding {
	for _, b := range d.known {
		if b.prefix == string(prefix) && b.url == string(url) {
			return b
		}
	}
	b := binding{prefix: string(prefix), url: string(url)}
	if len(d.known) < 16 {
		d.known = append(d.known, b)
	}
	return b
}

// pop closes the innermost element. Its namespace bindings stay until the
// next token: they name the space of its EndElement.
func (d *Decoder) pop() {
	f := d.stack[len(d.stack)-1]
	d.stack = d.stack[:len(d.stack)-1]
	d.names = d.names[:f.start]
	d.nsDrop = f.nbind
}

// directive skips the directive (<!DOCTYPE ...>) b starts with, as
// encoding/xml reads it: up to a '>' outside quotes and nested '<...>',
// comments inside skipped.
func directive(b []byte) (int, error) {
	var inquote byte
	depth := 0
	i := 3 // after "<!" and the byte that is not '-' or '['
	for {
		if i >= len(b) {
			return 0, errShort
		}
		c := b[i]
		i++
		if inquote == 0 && c == '>' && depth == 0 {
			return i, nil
		}
	handle:
		switch {
		case c == inquote:
			inquote = 0
		case inquote != 0:
		case c == '\'' || c == '"':
			inquote = c
		case c == '>':
			depth--
		case c == '<':
			for _, s := range []byte("!--") {
				if i >= len(b) {
					return 0, errShort
				}
				c = b[i]
				i++
				if c != s {
					depth++
					goto handle
				}
			}
			j := bytes.Index(b[i:], []byte("-->"))
			if j < 0 {
				return 0, errShort
			}
			i += j + 3
		}
	}
}

// The modes of unescape.
const (
	modeText  = iota // character data: entities, and "]]>" is an error
	modeAttr         // an attribute value: entities
	modeCDATA        // a CDATA section: no entities
)

// plain marks the bytes text may hold as they are: the ASCII characters of
// XML but '&', '\r' and ']' (and '<', never in raw text).
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = true
	}
	t['\t'], t['\n'] = true, true
	t['&'], t[']'], t['<'] = false, false, false
	return t
}()

// unescape checks the raw text of a mode and decodes it: raw itself when
// nothing needs decoding, else a copy in d.scratch.
func (d *Decoder) unescape(raw []byte, mode int) ([]byte, error) {
	i := 0
	for i < len(raw) && plain[raw[i]] {
		i++
	}
	if i == len(raw) {
		return raw, nil
	}
	start := len(d.scratch)
	copied := false // raw[:i] is in scratch[start:]: a byte differs
	for i < len(raw) {
		c := raw[i]
		switch {
		case plain[c]:
			if copied {
				d.scratch = append(d.scratch, c)
			}
			i++
			continue
		case c == '&' && mode != modeCDATA:
			r, n := entity(raw[i:])
			if n == 0 {
				return nil, d.syntax("invalid character entity " + entityText(raw[i:]))
			}
			if !isInCharacterRange(r) {
				return nil, d.syntax(fmt.Sprintf("illegal character code %U", r))
			}
			if !copied {
				d.scratch, copied = append(d.scratch, raw[:i]...), true
			}
			d.scratch = utf8.AppendRune(d.scratch, r)
			i += n
			continue
		case c == '\r':
			if !copied {
				d.scratch, copied = append(d.scratch, raw[:i]...), true
			}
			d.scratch = append(d.scratch, '\n')
			i++
			if i < len(raw) && raw[i] == '\n' {
				i++
			}
			continue
		case c == ']':
			if mode == modeText && bytes.HasPrefix(raw[i:], []byte("]]>")) {
				return nil, d.syntax("unescaped ]]> not in CDATA section")
			}
			if copied {
				d.scratch = append(d.scratch, c)
			}
			i++
			continue
		case c < utf8.RuneSelf:
			if c == '&' || c == '<' { // '&' in CDATA; '<' only there too
				if copied {
					d.scratch = append(d.scratch, c)
				}
				i++
				continue
			}
			return nil, d.syntax(fmt.Sprintf("illegal character code %U", rune(c)))
		}
		r, n := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && n == 1 {
			return nil, d.syntax("invalid UTF-8")
		}
		if !isInCharacterRange(r) {
			return nil, d.syntax(fmt.Sprintf("illegal character code %U", r))
		}
		if copied {
			d.scratch = append(d.scratch, raw[i:i+n]...)
		}
		i += n
	}
	if !copied {
		return raw, nil
	}
	return d.scratch[start:], nil
}

// entity decodes the entity or character reference b starts with ('&'):
// its rune and length, 0 when it is not one encoding/xml reads.
func entity(b []byte) (rune, int) {
	if len(b) > 1 && b[1] == '#' {
		i, base := 2, rune(10)
		if len(b) > 2 && b[2] == 'x' {
			i, base = 3, 16
		}
		var v rune
		digits := i
		for ; i < len(b); i++ {
			c := b[i]
			var x rune
			switch {
			case '0' <= c && c <= '9':
				x = rune(c - '0')
			case base == 16 && 'a' <= c && c <= 'f':
				x = rune(c-'a') + 10
			case base == 16 && 'A' <= c && c <= 'F':
				x = rune(c-'A') + 10
			default:
				x = -1
			}
			if x < 0 {
				break
			}
			if v <= unicode.MaxRune { // beyond it stays beyond: no overflow
				v = v*base + x
			}
		}
		if i == digits || i == len(b) || b[i] != ';' || v > unicode.MaxRune {
			return 0, 0
		}
		if 0xD800 <= v && v <= 0xDFFF {
			v = utf8.RuneError // as string(rune(v)) in encoding/xml
		}
		return v, i + 1
	}
	for _, e := range [...]struct {
		name string
		r    rune
	}{{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&apos;", '\''}, {"&quot;", '"'}} {
		if bytes.HasPrefix(b, []byte(e.name)) {
			return e.r, len(e.name)
		}
	}
	return 0, 0
}

// entityText is what an error names of a bad entity.
func entityText(b []byte) string {
	if i := bytes.IndexByte(b, ';'); i >= 0 && i < 32 {
		return string(b[:i+1])
	}
	return string(b[:min(len(b), 16)]) + " (no semicolon)"
}

// isUTF8 reports whether a declared encoding is a spelling of UTF-8
// ("UTF-8", "utf8"), as emclient's CharsetReader for encoding/xml did.
func isUTF8(enc []byte) bool {
	return strings.EqualFold(strings.ReplaceAll(string(enc), "-", ""), "utf8")
}

// procInst is encoding/xml's: the value of param ("version=") in the
// content of a processing instruction, nil when it has none.
func procInst(param string, s []byte) []byte {
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := bytes.Index(sub, []byte(param))
		if k < 0 || lenp+k >= len(sub) {
			return nil
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return nil
	}
	j := bytes.IndexByte(s[i:], sep)
	if j < 0 {
		return nil
	}
	return s[i : i+j]
}

func isInCharacterRange(r rune) bool {
	return r == 0x09 ||
		r == 0x0A ||
		r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// nameByte marks the bytes a name runs over, as encoding/xml reads one:
// ASCII letters, digits, "_:.-" and every byte of a multi-byte character
// (isName checks those).
var nameByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '_' || c == ':' || c == '.' || c == '-' || c >= utf8.RuneSelf
	}
	return t
}()

func nameLen(b []byte) int {
	for i, c := range b {
		if !nameByte[c] {
			return i
		}
	}
	return len(b)
}

// isName reports whether b, read by nameLen, is an XML name.
func isName(b []byte) bool {
	c := b[0]
	ascii := true
	for _, c := range b {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' || c == ':'
	}
	return nonASCIIName(b)
}

// nonASCIIName asks encoding/xml itself whether a name with characters
// beyond ASCII is one, so such a name is accepted or refused exactly as
// encoding/xml does (its tables of name characters are not exported). EM's
// names are ASCII: this is the rare path, and its cost does not matter.
func nonASCIIName(b []byte) bool {
	doc := make([]byte, 0, len(b)+3)
	doc = append(append(append(doc, '<'), b...), "/>"...)
	_, err := xml.NewDecoder(bytes.NewReader(doc)).RawToken()
	return err == nil
}

// splitName splits a qualified name as encoding/xml does: at its colon
// when there is one with a prefix and a local part around it.
func splitName(q []byte) (prefix, local []byte) {
	if i := bytes.IndexByte(q, ':'); i > 0 && i < len(q)-1 {
		return q[:i], q[i+1:]
	}
	return nil, q
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\r', '\n', '\t':
			i++
		default:
			return i
		}
	}
	return i
}
