package policy

import (
	"fmt"
	"slices"
)

// userEditableClaims are standard OpenID Connect claims that many identity
// providers let users change themselves (profile self-service, or a social
// account behind the IdP). A rule that matches them can be satisfied by the
// user: one who sets preferred_username to a server's host name would "own"
// that server.
var userEditableClaims = []string{
	"preferred_username", "name", "given_name", "family_name", "middle_name",
	"nickname", "email", "profile", "picture", "website", "locale", "zoneinfo",
}

// Warnings are what the loader found legal but dangerous: self-service or
// binding rules that use a claim the user may be able to edit. Each is a
// sentence for the log and the status page.
func (p *Policy) Warnings() []string {
	if p == nil {
		return nil
	}
	return p.warnings
}

func (p *Policy) editable(claim string) bool {
	return slices.Contains(userEditableClaims, claim) || slices.Contains(p.editableClaims, claim)
}

func editableClaimWarnings(p *Policy) []string {
	var out []string
	for _, c := range p.computerClaims {
		if p.editable(c) {
			out = append(out, fmt.Sprintf("self_service.computer_claims uses %q, which users may be able to change themselves: "+
				"a user who sets it to a computer's name sees that computer's jobs and may act on them. "+
				"Use a claim only an identity-provider administrator sets (such as computer or an extension attribute).", c))
		}
	}
	for _, b := range p.bindings {
		if b.claim != "" && p.editable(b.claim) {
			out = append(out, fmt.Sprintf("a binding grants roles on the claim %q, which users may be able to change themselves. "+
				"Bind roles to groups or to a claim only an identity-provider administrator sets.", b.claim))
		}
	}
	return out
}
