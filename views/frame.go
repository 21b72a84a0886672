package views

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"slices"
	"strings"

	"github.com/a-h/templ"
	templruntime "github.com/a-h/templ/runtime"
)

// page is the document frame around a full page's content (layoutPage),
// memoised: the layout is the same from one request to the next for a
// person on a page but for its per-request secrets, the CSP nonce of its
// three scripts and the masked CSRF token (the body's hx-headers, the
// sign-out form), and its title (a job's name), which is written per
// response like them so that one frame serves every job page a person
// opens, a cold one included. Its markup is kept per frame model (the Layout
// without them), cut where they go; a response copies the stretches between them,
// each a Chunk compressed once (a gzip response splices them in), writes the
// secrets' markup for this request, and the page's content in the middle.
func page(l Layout) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		ctx = templ.InitializeContext(ctx)
		children := templ.GetChildren(ctx)
		ctx = templ.ClearChildren(ctx)
		return frameMemo.write(ctx, w, l.frameKey(), l, children)
	})
}

// frameLimit bounds the frames kept: one per person and current navigation
// entry recently shown, ~2.2 KB of markup and ~1.2 KB compressed each.
const frameLimit = 1024

var frameMemo = &memo[Layout]{
	limit: frameLimit,
	equal: Layout.frameEqual,
	// The kept model holds no secret of the response that filled it.
	clone: func(l Layout) Layout {
		l = l.clone()
		l.CSPNonce, l.CSRFToken, l.Title = "", "", ""
		return l
	},
	render: func(l Layout, content templ.Component) templ.Component {
		return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
			return layoutPage(l).Render(templ.WithChildren(ctx, content), w)
		})
	},
	mark: func(l Layout) Layout {
		l.CSPNonce, l.CSRFToken, l.Title = nonceMark, tokenMark, titleMark
		return l
	},
	// Each secret's markup is made by the very expressions layoutPage
	// uses for its attributes, so it is escaped exactly as there; a value
	// that no escaping changes (a base64 nonce or token) takes a shortcut
	// to the same bytes.
	secrets: []secret[Layout]{
		{mark: nonceMark, markup: func(ctx context.Context, l Layout) (string, error) {
			return attrMarkup(ctx, l.CSPNonce)
		}},
		{mark: headersMark, markup: func(ctx context.Context, l Layout) (string, error) {
			if unescaped(l.CSRFToken) {
				return headersBefore + l.CSRFToken + headersAfter, nil
			}
			return templruntime.NewAttributeExpression(csrfHeaders(l.CSRFToken)).Resolve(ctx)
		}},
		{mark: tokenMark, markup: func(ctx context.Context, l Layout) (string, error) {
			return attrMarkup(ctx, l.CSRFToken)
		}},
		// The title: as <title>{ pageTitle(l.Title) }</title> writes it.
		{mark: titleMarkup, markup: func(_ context.Context, l Layout) (string, error) {
			return templ.EscapeString(pageTitle(l.Title)), nil
		}},
	},
	entries: make(map[string]memoEntry[Layout]),
}

// The placeholders of the frame's secrets: letters, digits and dashes, which
// no escaping changes (in an attribute, in JSON), and a random part, made
// anew by each process and never sent, that no title or name can hold.
var (
	nonceMark, tokenMark, titleMark = placeholder("nonce"), placeholder("token"), placeholder("title")
	titleMarkup                     = templ.EscapeString(pageTitle(titleMark))
)

func placeholder(name string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "agentdesk-" + name + "-" + hex.EncodeToString(b)
}

// attrMarkup is the markup of an attribute's value v, as templ writes it for
// attr={ v }.
func attrMarkup(ctx context.Context, v string) (string, error) {
	if unescaped(v) {
		return v, nil
	}
	return templruntime.NewAttributeExpression(v).Resolve(ctx)
}

// headersMark is the markup of hx-headers with the token placeholder, and
// headersBefore and headersAfter what comes before and after the token in it.
var (
	headersMark                 = mustResolve(csrfHeaders(tokenMark))
	headersBefore, headersAfter = cutAround(headersMark, tokenMark)
)

func cutAround(s, sep string) (before, after string) {
	before, after, ok := strings.Cut(s, sep)
	if !ok {
		panic("views: the CSRF header's markup does not hold the token")
	}
	return before, after
}

// unescaped reports whether s is made of letters, digits and "-_.~+/="
// only: characters that neither JSON nor HTML attribute escaping changes,
// as in base64.
func unescaped(s string) bool {
	for i := 0; i < len(s); i++ {
		if !unescapedByte[s[i]] {
			return false
		}
	}
	return true
}

var unescapedByte = func() (t [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~+/=") {
		t[c] = true
	}
	return t
}()

func mustResolve(v string) string {
	s, err := templruntime.NewAttributeExpression(v).Resolve(context.Background())
	if err != nil {
		panic(err) // a string attribute always resolves
	}
	return s
}

// frameKey tells the frames of different people and pages apart; frameEqual
// decides whether a kept frame is this one.
func (l Layout) frameKey() string {
	var who string
	if l.User != nil {
		who = l.User.Email
	}
	var current string
	for _, n := range l.Nav {
		if n.Current {
			current = n.URL
		}
	}
	return who + "\x00" + current
}

// frameEqual reports whether two layouts render alike but for their
// secrets: every other field, deep (TestMemoEqualSeesEveryField changes each
// leaf in turn).
func (l Layout) frameEqual(o Layout) bool {
	return l.BasePath == o.BasePath && l.CSSURL == o.CSSURL && l.JSURL == o.JSURL &&
		l.UIURL == o.UIURL && l.HTMXURL == o.HTMXURL && l.IconURL == o.IconURL &&
		equalPtr(l.User, o.User, User.equal) && slices.Equal(l.Nav, o.Nav) && l.SignOutURL == o.SignOutURL &&
		l.DemoBanner == o.DemoBanner && equalPtr(l.Flash, o.Flash, func(a, b Flash) bool { return a == b }) &&
		l.EMDownSince == o.EMDownSince && equalPtr(l.Embed, o.Embed, EmbedFrame.equal)
}

func (l Layout) clone() Layout {
	l.User = clonePtr(l.User, func(u User) User { u.Roles = slices.Clone(u.Roles); return u })
	l.Nav = slices.Clone(l.Nav)
	l.Flash = clonePtr(l.Flash, func(f Flash) Flash { return f })
	l.Embed = clonePtr(l.Embed, func(e EmbedFrame) EmbedFrame { e.ParentOrigins = slices.Clone(e.ParentOrigins); return e })
	return l
}

func (u User) equal(o User) bool {
	return u.DisplayName == o.DisplayName && u.Email == o.Email && slices.Equal(u.Roles, o.Roles)
}

func (e EmbedFrame) equal(o EmbedFrame) bool {
	return slices.Equal(e.ParentOrigins, o.ParentOrigins) && e.OpenURL == o.OpenURL
}
