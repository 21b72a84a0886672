package jobs

// LastGood returns the newest session in sessions (newest first, as Sessions
// returns them) that produced a restore point: Success or Warning. A running
// session or a failed one does not count. It returns nil when there is none.
func LastGood(sessions []*Session) *Session {
	for _, s := range sessions {
		if s.Running() {
			continue
		}
		if s.Result == "Success" || s.Result == "Warning" {
			return s
		}
	}
	return nil
}
