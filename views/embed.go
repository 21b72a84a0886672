package views

import "strings"

// EmbedFrame is what an /embed/ page needs beyond Layout.
type EmbedFrame struct {
	// ParentOrigins may receive the card's postMessage (auto-height). Never
	// "*": app.js posts to each listed origin and the browser delivers to the
	// one that matches the parent. With none configured, only the portal's own
	// origin (a parent on the portal itself).
	ParentOrigins []string
	// OpenURL opens the same thing in the portal, in a new tab; "" hides the link.
	OpenURL string
}

func (e *EmbedFrame) origins() string {
	if e == nil {
		return ""
	}
	return strings.Join(e.ParentOrigins, " ")
}

func (e *EmbedFrame) openURL() string {
	if e == nil {
		return ""
	}
	return e.OpenURL
}

// EmbedSignIn is the signed-out embedded card. Sign-in never happens inside
// the frame (identity providers refuse to be framed): PopupURL is opened in a
// popup by app.js; TopURL is the no-popup fallback, opened with target=_top.
type EmbedSignIn struct {
	PopupURL    string // the sign-in, returning to /embed/done
	TopURL      string // the sign-in, returning to the embedded card as a full page
	Unavailable bool   // the identity provider is not reachable: the button is disabled
}

// EmbedMine is the embeddable "My backups" card.
type EmbedMine struct {
	Rows   []JobRow // at most a handful; URL is the embedded job card
	More   int      // further jobs not listed
	AllURL string   // the portal's own page for all of them, opened in a new tab
	// Poll is how often the list refreshes itself ("2s") while one of its jobs
	// is live; "" once all have settled. SelfURL is this list again.
	Poll    string
	SelfURL string
}
