package policy

import (
	"errors"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// glob is a job-name pattern compiled once at parse time. It matches exactly
// like path.Match(strings.ToLower(pattern), strings.ToLower(name)) but lowers
// the name rune by rune while matching, so matching never allocates.
type glob struct {
	pattern string // as written, for messages
	toks    []globTok
}

type globKind uint8

const (
	globLit   globKind = iota
	globAny            // ?
	globStar           // *
	globClass          // [...]
)

type globTok struct {
	kind   globKind
	r      rune // globLit, lower case
	neg    bool
	ranges []runeRange
}

type runeRange struct{ lo, hi rune }

var errBadGlob = errors.New("syntax error in pattern")

func compileGlob(pattern string) (glob, error) {
	// path.Match is the reference: it reports malformed patterns even when the
	// name does not match.
	if _, err := path.Match(pattern, ""); err != nil {
		return glob{}, err
	}
	g := glob{pattern: pattern}
	p := strings.ToLower(pattern)
	for len(p) > 0 {
		switch p[0] {
		case '*':
			if n := len(g.toks); n == 0 || g.toks[n-1].kind != globStar {
				g.toks = append(g.toks, globTok{kind: globStar})
			}
			p = p[1:]
		case '?':
			g.toks = append(g.toks, globTok{kind: globAny})
			p = p[1:]
		case '[':
			t := globTok{kind: globClass}
			p = p[1:]
			if len(p) > 0 && p[0] == '^' {
				t.neg = true
				p = p[1:]
			}
			for {
				if len(p) > 0 && p[0] == ']' && len(t.ranges) > 0 {
					p = p[1:]
					break
				}
				lo, rest, err := classChar(p)
				if err != nil {
					return glob{}, err
				}
				hi := lo
				if rest[0] == '-' {
					if hi, rest, err = classChar(rest[1:]); err != nil {
						return glob{}, err
					}
				}
				t.ranges = append(t.ranges, runeRange{lo, hi})
				p = rest
			}
			g.toks = append(g.toks, t)
		case '\\':
			p = p[1:]
			if len(p) == 0 {
				return glob{}, errBadGlob
			}
			fallthrough
		default:
			r, n := utf8.DecodeRuneInString(p)
			g.toks = append(g.toks, globTok{kind: globLit, r: r})
			p = p[n:]
		}
	}
	return g, nil
}

// classChar reads one possibly escaped character of a character class; the
// rules are those of path.Match.
func classChar(p string) (rune, string, error) {
	if len(p) == 0 || p[0] == '-' || p[0] == ']' {
		return 0, "", errBadGlob
	}
	if p[0] == '\\' {
		p = p[1:]
		if len(p) == 0 {
			return 0, "", errBadGlob
		}
	}
	r, n := utf8.DecodeRuneInString(p)
	if (r == utf8.RuneError && n == 1) || len(p) == n {
		return 0, "", errBadGlob
	}
	return r, p[n:], nil
}

func lower(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(r)
}

func (t *globTok) matches(r rune) bool {
	switch t.kind {
	case globLit:
		return t.r == r
	case globAny:
		return r != '/'
	case globClass:
		in := false
		for _, rg := range t.ranges {
			if rg.lo <= r && r <= rg.hi {
				in = true
				break
			}
		}
		return in != t.neg
	}
	return false
}

// match reports whether name matches, ignoring case. '*' and '?' do not
// match '/', as in path.Match.
func (g *glob) match(name string) bool {
	toks := g.toks
	ti, ni := 0, 0
	star, starNi := -1, 0 // the last '*' seen and where its match ends
	for {
		if ti < len(toks) && toks[ti].kind == globStar {
			star, starNi = ti, ni
			ti++
			continue
		}
		if ti < len(toks) && ni < len(name) {
			r, n := utf8.DecodeRuneInString(name[ni:])
			if toks[ti].matches(lower(r)) {
				ti++
				ni += n
				continue
			}
		} else if ti == len(toks) && ni == len(name) {
			return true
		}
		// Mismatch: let the last star swallow one more rune, unless that
		// rune is a '/'. Earlier stars never need to grow: the tokens between
		// them already matched at the leftmost place possible.
		if star < 0 || starNi >= len(name) {
			return false
		}
		r, n := utf8.DecodeRuneInString(name[starNi:])
		if r == '/' {
			return false
		}
		starNi += n
		ti, ni = star+1, starNi
	}
}
