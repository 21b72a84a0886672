package jobs

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/agentdesk/agentdesk/emclient"
)

// DescribeSchedule puts a job's schedule into plain words, one line per fact, in
// the order a helpdesk person asks about them: when it runs, then the window,
// then the retries. It never fails: an odd value is shown as it came.
func DescribeSchedule(configured, enabled bool, o *emclient.JobScheduleOptions) []string {
	if !configured || o == nil || o.Standart == nil {
		return []string{"No schedule: runs only when started by hand"}
	}
	s := o.Standart
	// EM gives each time of day with its own offset. When they agree (the
	// usual case) the zone is said once, after the times, instead of on
	// every line.
	var times []emclient.TimeOfDay
	if d := s.OptionsDaily; d != nil && d.Enabled {
		times = append(times, d.Time)
	}
	if m := s.OptionsMonthly; m != nil && m.Enabled {
		times = append(times, m.Time)
	}
	zone, shared := sharedZone(times)
	at := func(t emclient.TimeOfDay) string { return clock(t, !shared) }
	var lines []string
	if d := s.OptionsDaily; d != nil && d.Enabled {
		lines = append(lines, describeDaily(d, at))
	}
	if m := s.OptionsMonthly; m != nil && m.Enabled {
		lines = append(lines, describeMonthly(m, at))
	}
	if p := s.OptionsPeriodically; p != nil && p.Enabled {
		lines = append(lines, describePeriodically(p))
	}
	if c := s.OptionsContinuous; c != nil && c.Enabled {
		line := "Continuously"
		if w := describeHours(c.Schedule, "hours"); w != "" {
			line += ", " + w
		}
		lines = append(lines, line)
	}
	if dc := s.OptionsDaisyChaining; dc != nil && dc.Enabled {
		lines = append(lines, "After another job finishes")
	}
	if len(lines) == 0 {
		lines = append(lines, "Scheduled, but no schedule option is enabled")
	}
	if shared {
		lines = append(lines, "Times are in "+zone+", as Enterprise Manager gives them")
	}
	if w := s.OptionsBackupWindow; w != nil && w.Enabled {
		if d := describeHours(w.TimePeriods, "window"); d != "" {
			lines = append(lines, "Backup window: "+d)
		}
	}
	if r := s.RetryOptions; r != nil {
		lines = append(lines, describeRetry(r))
	}
	if !enabled {
		lines = append(lines, "The schedule is disabled: the job will not run by itself")
	}
	return lines
}

func describeRetry(r *emclient.RetryOptions) string {
	if !r.RetrySpecified || r.RetryTimes <= 0 {
		return "No automatic retries"
	}
	return fmt.Sprintf("Retries: %s every %s", plural(r.RetryTimes, "time", "times"), plural(r.RetryTimeout, "minute", "minutes"))
}

func describeDaily(d *emclient.OptionsDaily, clockOf func(emclient.TimeOfDay) string) string {
	at := clockOf(d.Time)
	switch d.Kind {
	case "Everyday":
		return "Every day at " + at
	case "WeekDays":
		return "On weekdays at " + at
	default:
		if len(d.Days) == 0 {
			return "Daily at " + at + " (no day selected)"
		}
		return "Every " + joinDays(d.Days) + " at " + at
	}
}

func describeMonthly(m *emclient.OptionsMonthly, clockOf func(emclient.TimeOfDay) string) string {
	at := clockOf(m.Time)
	var when string
	if m.DayNumberInMonth == "OnDay" || (m.DayNumberInMonth == "" && m.DayOfMonth > 0) {
		when = "on day " + strconv.Itoa(m.DayOfMonth)
	} else {
		when = "on the " + strings.ToLower(m.DayNumberInMonth) + " " + m.DayOfWeek
	}
	if len(m.Months) > 0 && len(m.Months) < 12 {
		return "In " + joinList(m.Months) + ", " + when + " at " + at
	}
	return "Every month " + when + " at " + at
}

func describePeriodically(p *emclient.OptionsPeriodically) string {
	unit := "hour"
	units := "hours"
	if p.Kind == "Minutes" {
		unit, units = "minute", "minutes"
	}
	every := "Every " + unit
	if p.FullPeriod > 1 {
		every = "Every " + strconv.Itoa(p.FullPeriod) + " " + units
	}
	if w := describeHours(p.Schedule, "days"); w != "" {
		every += " " + w
	}
	return every
}

var weekdays = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// describeHours summarises a TimePeriods grid: "" when every hour of every day is
// allowed, otherwise the days and, when they share one, the hour range.
func describeHours(tp emclient.TimePeriods, mode string) string {
	if len(tp.Days) == 0 {
		return ""
	}
	grid := map[string][24]bool{}
	for _, d := range tp.Days {
		var h [24]bool
		for i, f := range strings.Split(d.Hours, ",") {
			if i < 24 {
				h[i] = strings.TrimSpace(f) == "1"
			}
		}
		grid[d.Name] = h
	}
	var days []string
	var common *[24]bool
	sameHours := true
	allHours := true
	for _, name := range weekdays {
		h, ok := grid[name]
		if !ok {
			continue
		}
		any, full := false, true
		for _, v := range h {
			any = any || v
			full = full && v
		}
		if !any {
			continue
		}
		allHours = allHours && full
		days = append(days, name)
		if common == nil {
			c := h
			common = &c
		} else if *common != h {
			sameHours = false
		}
	}
	if len(days) == 0 {
		return "never (no hour allowed)"
	}
	var dayText string
	switch {
	case len(days) == 7:
		dayText = ""
	case len(days) == 5 && days[0] == "Monday" && days[4] == "Friday":
		dayText = "on weekdays"
	default:
		dayText = "on " + joinDays(days)
	}
	if allHours && len(days) == 7 {
		return ""
	}
	hours := ""
	if !allHours && sameHours && common != nil {
		hours = hourRanges(*common)
	} else if !allHours {
		// The days differ: name each day's hours rather than leave "which hours?".
		var per []string
		for _, name := range days {
			per = append(per, name+" "+hourRanges(grid[name]))
		}
		return strings.Join(per, "; ")
	}
	return strings.TrimSpace(strings.Join(nonEmpty(dayText, hours), ", "))
}

// hourRanges turns 24 flags into "08:00–18:00" style ranges.
func hourRanges(h [24]bool) string {
	var out []string
	for i := 0; i < 24; {
		if !h[i] {
			i++
			continue
		}
		j := i
		for j < 24 && h[j] {
			j++
		}
		out = append(out, fmt.Sprintf("%02d:00–%02d:00", i, j%24))
		i = j
	}
	return strings.Join(out, ", ")
}

// clock is a time of day as "16:00", followed by its zone ("16:00 (UTC+1)")
// when withZone is set and EM gave one.
func clock(t emclient.TimeOfDay, withZone bool) string {
	h, m, _, off, hasOff, err := t.Clock()
	if err != nil {
		if t.Raw == "" {
			return "an unknown time"
		}
		return t.Raw
	}
	s := fmt.Sprintf("%02d:%02d", h, m)
	if hasOff && withZone {
		s += " (" + utcOffset(off) + ")"
	}
	return s
}

// sharedZone is the one zone all of times carry ("UTC+1"); false when there
// is none, when one has no zone or cannot be read, or when they differ.
func sharedZone(times []emclient.TimeOfDay) (string, bool) {
	zone := ""
	for _, t := range times {
		_, _, _, off, hasOff, err := t.Clock()
		if err != nil || !hasOff {
			return "", false
		}
		z := utcOffset(off)
		if zone != "" && z != zone {
			return "", false
		}
		zone = z
	}
	return zone, zone != ""
}

func utcOffset(sec int) string {
	if sec == 0 {
		return "UTC"
	}
	sign := "+"
	if sec < 0 {
		sign = "-"
		sec = -sec
	}
	h, m := sec/3600, (sec%3600)/60
	if m == 0 {
		return fmt.Sprintf("UTC%s%d", sign, h)
	}
	return fmt.Sprintf("UTC%s%d:%02d", sign, h, m)
}

func joinDays(days []string) string {
	if len(days) == 5 && days[0] == "Monday" && days[4] == "Friday" {
		return "weekday"
	}
	return joinList(days)
}

func joinList(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func nonEmpty(xs ...string) []string {
	out := xs[:0]
	for _, x := range xs {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}
