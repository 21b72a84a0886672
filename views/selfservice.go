package views

import (
	"fmt"
	"strconv"
	"time"
)

// MyBackups is an end user's home page: the jobs that protect their computers.
type MyBackups struct {
	Cards      []BackupCard
	StaleAfter time.Duration // the age at which a backup counts as overdue
	More       int           // jobs left out (the page shows a bounded number)
	JobsURL    string        // the full jobs list; "" hides the link
}

// BackupCard is one job on the end user's page: #job-card-<JobID>, swapped
// after an action like the job page's card.
type BackupCard struct {
	JobID   string
	Name    string
	URL     string // the job page
	CardURL string // GET returns this card again (polled while running)
	// Poll is how often the card refreshes itself ("1s"): while the backup
	// runs or an action is in progress; "" when the job has settled.
	Poll string

	Computers []string // what the job protects
	// Covers, when set, says that backing up now reaches other computers too:
	// "This backup policy covers 12 computers: backing up now starts it on all of them."
	Covers string

	Now      time.Time // for the age words
	LastGood time.Time // end of the newest Success/Warning session; zero: none
	// NoGood words the lack of a good backup: "Never backed up", or "No
	// successful backup in the last 10 runs" when older history exists.
	NoGood string

	Running  bool
	Progress int

	LastFailed     bool // the newest finished run failed
	FailedAt       time.Time
	FailureMessage string
	Stale          bool // no good backup, or older than StaleAfter

	BackUp     *ActionButton // the Start action ("Back up now"); nil when not offered
	BackUpNote string        // why there is no button, when there is a reason to give

	Hold   *HoldBanner
	Status *ActionState // an action the portal follows
}

// HoldBanner says that a schedule is disabled for a while and when it returns.
type HoldBanner struct {
	JobID      string
	By         string
	DisabledAt time.Time
	ReenableAt time.Time
	Now        time.Time
	Message    string        // why the last try to enable it again failed, if it did
	Enable     *ActionButton // "Enable now"; nil when the user may not
}

// agoWords is how long ago t was, in words: "3 days ago", "2 hours ago".
func agoWords(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return countLabel(int(d/time.Minute), "minute", "minutes") + " ago"
	case d < 48*time.Hour:
		return countLabel(int(d/time.Hour), "hour", "hours") + " ago"
	default:
		return countLabel(int(d/(24*time.Hour)), "day", "days") + " ago"
	}
}

// LastBackedUp is the card's headline: "Last backed up 3 days ago".
func (c BackupCard) LastBackedUp() string {
	if c.LastGood.IsZero() {
		if c.NoGood != "" {
			return c.NoGood
		}
		return "Never backed up"
	}
	return "Last backed up " + agoWords(c.Now, c.LastGood)
}

// durationWords is a span in words, largest two units: "3 hours 50 minutes",
// "1 day 2 hours", "less than a minute".
func durationWords(d time.Duration) string {
	if d < time.Minute {
		return "less than a minute"
	}
	d = d.Round(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, countLabel(days, "day", "days"))
	}
	if hours > 0 {
		parts = append(parts, countLabel(hours, "hour", "hours"))
	}
	if mins > 0 && days == 0 {
		parts = append(parts, countLabel(mins, "minute", "minutes"))
	}
	if len(parts) > 2 {
		parts = parts[:2]
	}
	out := parts[0]
	if len(parts) == 2 {
		out += " " + parts[1]
	}
	return out
}

// DurationWords is durationWords for handlers: "4 hours", "1 day".
func DurationWords(d time.Duration) string { return durationWords(d) }

// comesBack is the end of the hold banner's sentence.
func (b HoldBanner) comesBack() string {
	at := b.ReenableAt.Format(clockLayout(b.ReenableAt, b.Now))
	if !b.ReenableAt.After(b.Now) {
		return fmt.Sprintf("it was due back at %s; AgentDesk is enabling it again.", at)
	}
	return fmt.Sprintf("it comes back at %s (in %s).", at, durationWords(b.ReenableAt.Sub(b.Now)))
}

// clockLayout shows the time alone for today and the date too otherwise.
func clockLayout(t, now time.Time) string {
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.In(t.Location()).Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return "15:04 MST"
	}
	return "2006-01-02 15:04 MST"
}

// staleWords is the threshold in words for the overdue warning: "48 hours".
func staleWords(d time.Duration) string {
	if d >= 72*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	return durationWords(d)
}
