package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/policy"
)

func subjectOf(id *auth.Identity) policy.Subject {
	return policy.Subject{Key: id.Key(), Groups: id.Groups, Claims: id.Claims}
}

// grant is the signed-in user's permissions under the current policy. It is
// computed per request, so a policy reload takes effect at once.
func (h *Handler) grant(c echo.Context) *policy.Grant {
	if g, ok := c.Get(grantKey).(*policy.Grant); ok {
		return g
	}
	u := h.currentUser(c)
	if u == nil {
		return nil
	}
	var g *policy.Grant
	if u.BreakGlass {
		g = policy.Unrestricted("you signed in as the break-glass administrator")
	} else {
		g = h.svc.Policy().For(subjectOf(&u.Identity))
	}
	c.Set(grantKey, g)
	return g
}

const grantKey = "agentdesk.grant"

func policyJob(j *jobs.Job) policy.Job { return j.PolicyJob() }

// policyAction maps the portal's actions onto policy actions (the same names).
func policyAction(a jobs.Action) policy.Action { return policy.Action(a) }
