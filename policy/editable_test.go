package policy

import (
	"strings"
	"testing"
)

// TestEditableClaimWarnings: self-service or bindings on a claim users can
// edit are legal but loudly warned about; the example policy has none.
func TestEditableClaimWarnings(t *testing.T) {
	ex, err := Parse(Default())
	if err != nil {
		t.Fatal(err)
	}
	if w := ex.Warnings(); len(w) != 0 {
		t.Errorf("example policy warns: %q", w)
	}
	for _, c := range ex.computerClaims {
		if ex.editable(c) {
			t.Errorf("example policy's self-service uses the user-editable claim %q", c)
		}
	}

	tests := []struct {
		name, doc string
		want      []string
	}{
		{"preferred_username", "self_service: { computer_claims: [computer, preferred_username] }\n", []string{`"preferred_username"`}},
		{"email binding", "self_service: { computer_claims: [computer] }\n", nil},
		{"listed claim", "self_service: { computer_claims: [dept], user_editable_claims: [dept] }\n", []string{`"dept"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := "roles:\n  r: { actions: [view], jobs: { own_computers: true } }\n" +
				"bindings:\n  - { group: g, roles: [r] }\n" + tc.doc
			p, err := Parse([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(p.Warnings(), "\n")
			if len(tc.want) == 0 && got != "" {
				t.Errorf("unexpected warnings: %s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("warnings %q lack %s", got, w)
				}
			}
		})
	}
	p, err := Parse([]byte("roles:\n  r: { actions: [view] }\nbindings:\n  - { claim: { name: email, equals: a@b.c }, roles: [r] }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings()) != 1 || !strings.Contains(p.Warnings()[0], `"email"`) {
		t.Errorf("binding on email: warnings %q", p.Warnings())
	}
}
