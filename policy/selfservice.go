package policy

// Self-service: end users whose only way to see jobs is that the jobs protect
// their own computers get a page of their own ("My backups") instead of the
// jobs list, which is a helpdesk tool.

// Owns reports whether j protects one of the user's own computers (from the
// self-service claims), whatever the user's roles. It says nothing about what
// the user may do with j: ask Can for that.
func (g *Grant) Owns(j Job) bool {
	if g == nil || len(g.computers) == 0 {
		return false
	}
	for _, jc := range j.Computers {
		for i := range g.computers {
			if sameComputer(&g.computers[i], jc, g.hostname) {
				return true
			}
		}
	}
	return false
}

// SelfServiceOnly reports whether every job the user may see is visible only
// because it protects one of their own computers: they hold at least one role
// that shows jobs through an own_computers selector, and none that shows jobs
// otherwise, and they may not read the audit log. Such a user is an end user,
// not staff.
func (g *Grant) SelfServiceOnly() bool {
	if g == nil || g.audit || g.all&View.bit() != 0 {
		return false
	}
	own := false
	for i := range g.entries {
		e := &g.entries[i]
		if e.actions&View.bit() == 0 {
			continue
		}
		if e.all {
			return false
		}
		for j := range e.selectors {
			if !e.selectors[j].ownComputers {
				return false
			}
			own = true
		}
	}
	return own
}
