package emsim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// largeFleet is the size above which a job keeps only its last few sessions, so
// that 10 000 jobs build in a few tens of milliseconds and stay small in memory.
const (
	largeFleet      = 300
	largeHistoryLen = 2
	historyWindow   = 30 * 24 * time.Hour
	erinJobName     = "Erin's laptop"
	erinComputer    = "erin-laptop.corp.example"
)

// cet is the zone schedules are written in (Time "hh:mm:ss.0000000+01:00").
var cet = time.FixedZone("CET", 3600)

type backupServer struct {
	id, name, desc, version string
	site                    string
}

type include struct {
	oid      string
	group    bool
	name     string
	hierRef  string
	members  []member
	platform string
}

// member is one protected computer; childJobID names the per-computer child job
// EM shows in AgentManagement sessions ("<Job> - <computer>").
type member struct {
	computer   string
	childJobID string
}

type schedKind int

const (
	schedDaily schedKind = iota
	schedWeekdays
	schedSelected
	schedMonthly
	schedPeriodic
	schedContinuous
)

type schedule struct {
	kind         schedKind
	hour, minute int
	days         []time.Weekday // schedSelected
	periodHours  int
	nthWeek      string // monthly: First..Fourth, Last
	monthDay     time.Weekday
	window       bool // backup window: no runs 08-18 on weekdays
	retry        bool
	retryTimes   int
	retryTimeout int
	configured   bool
}

type job struct {
	idx        int
	id         string
	name, desc string
	srv        *backupServer
	windows    bool
	policy     bool
	includes   []*include
	sched      schedule
	enabled    bool
	gfs        bool
	retainDays bool
	retain     int
	vssMode    string
	indexMode  string
	sql        bool
	forceFail  bool

	sessions []*jobSession // parent sessions, oldest first
	runs     int           // sessions started through the API
}

func (j *job) uid() string { return "urn:veeam:AgentBackupJob:" + j.id }

func (j *job) platform() string {
	if j.windows {
		return "AgentForWindows"
	}
	return "AgentForLinux"
}

func (j *job) computers() []string {
	var out []string
	for _, in := range j.includes {
		for _, m := range in.members {
			out = append(out, m.computer)
		}
	}
	return out
}

func (j *job) members() []member {
	var out []member
	for _, in := range j.includes {
		out = append(out, in.members...)
	}
	return out
}

// fleet is the generated inventory. It is built once per Server and then only
// mutated under Server.mu (schedule toggles, sessions started by actions).
type fleet struct {
	servers  []*backupServer
	jobs     []*job
	jobByID  map[string]*job
	sessByID map[string]*jobSession
	// jobByUID finds a job by the JobUid its sessions carry: its own id for
	// parent sessions, a member's child job id for per-computer sessions.
	jobByUID map[string]*job
}

// jobsByUID returns the jobs whose sessions carry one of the JobUid GUIDs
// (lower case), in fleet order.
func (f *fleet) jobsByUID(uids map[string]bool) []*job {
	var out []*job
	for id := range uids {
		if j := f.jobByUID[id]; j != nil && !slices.Contains(out, j) {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b *job) int { return a.idx - b.idx })
	return out
}

// names of generated jobs; several carry characters that must be escaped in XML
// and URLs (&, <, quotes) or are not ASCII.
var (
	winServerNames = []string{"File server FS01", "SQL & Exchange servers", "Finance <critical> servers", `"Gold" tier app servers`, "Domain controllers", "Print & scan servers", "Buchhaltung – Terminalserver", "Hyper-V hosts (physical)"}
	winPolicyNames = []string{"Berlin laptops", "München Workstations", "Développement – postes", "CAD workstations <Zürich>", "HR & payroll laptops", `Sales "road warriors"`, "Reception PCs", "Kundendienst-Notebooks"}
	lnxServerNames = []string{"PostgreSQL primary & replica", "Web frontends (nginx)", "Build agents <ci>", `"Legacy" CentOS boxes`, "Kafka brokers", "Ceph monitors – Ørestad"}
	lnxPolicyNames = []string{"Ops jump hosts", "Developer workstations (Ubuntu)", "Søren's dev boxes & VMs", "Grafana/Prometheus nodes"}
	groupNames     = []string{"Laptops", "Workstations", "Servers", "SQL servers", "Manually Added", "Linux Web Farm", "Außenstellen"}
	descriptions   = []string{
		"Created by CORP\\backup-admin.",
		"Backs up <all> volumes & system state.",
		`Nightly image-level backup ("bare metal").`,
		"Sicherung der Büro-Rechner – bitte nicht ändern.",
		"",
		"Volume-level backup of data disks; OS excluded.",
	}
	weekdays = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	months   = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// newGUID draws a random (version 4 shaped) GUID from r, so ids are deterministic per seed.
func newGUID(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	a = a&^(0xf<<12) | 0x4<<12
	b = b&^(0x3<<62) | 0x2<<62
	const hex = "0123456789abcdef"
	var out [36]byte
	var raw [16]byte
	for i := 0; i < 8; i++ {
		raw[i] = byte(a >> (56 - 8*i))
		raw[8+i] = byte(b >> (56 - 8*i))
	}
	p := 0
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[p] = '-'
			p++
		}
		out[p], out[p+1] = hex[c>>4], hex[c&0xf]
		p += 2
	}
	return string(out[:])
}

func buildFleet(seed int64, n int, now time.Time) *fleet {
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	f := &fleet{
		jobByID:  make(map[string]*job, n),
		jobByUID: make(map[string]*job, n*3),
		sessByID: make(map[string]*jobSession, n*8),
	}
	f.servers = []*backupServer{
		{id: newGUID(r), name: "vbr-berlin.corp.example", desc: "Zentrale Berlin – Rechenzentrum 1", version: "13.0.1.1071", site: "ber"},
		{id: newGUID(r), name: "vbr-munich.corp.example", desc: "Standort München & Außenstellen", version: "13.0.1.1071", site: "muc"},
	}
	large := n > largeFleet
	erinIdx := 5
	if erinIdx >= n {
		erinIdx = n - 1
	}
	computerSeq := 0
	groupSeq := 0
	nameUse := map[string]int{}
	f.jobs = make([]*job, 0, n)
	for i := 0; i < n; i++ {
		j := &job{idx: i, id: newGUID(r)}
		if i == erinIdx {
			j.name = erinJobName
			j.desc = "Personal laptop of Erin (Sales) – self-service restore enabled."
			j.srv = f.servers[0]
			j.windows = true
			j.enabled = true
			j.sched = schedule{kind: schedDaily, hour: 12, minute: 30, retry: true, retryTimes: 3, retryTimeout: 10, configured: true}
			j.vssMode, j.indexMode, j.retain = "RequireSuccess", "ExceptSpecifiedFolders", 14
			j.includes = []*include{{
				oid: newGUID(r), name: erinComputer, platform: "AgentForWindows",
				members: []member{{computer: erinComputer, childJobID: newGUID(r)}},
			}}
			j.includes[0].hierRef = "urn:AgentForWindows:VeeamAgent:00000000-0000-0000-0000-000000000000." + newGUID(r)
			f.add(j)
			continue
		}
		j.srv = f.servers[r.IntN(2)]
		j.windows = r.IntN(10) < 6
		j.policy = r.IntN(3) == 0
		var list []string
		switch {
		case j.windows && !j.policy:
			list = winServerNames
		case j.windows:
			list = winPolicyNames
		case !j.policy:
			list = lnxServerNames
		default:
			list = lnxPolicyNames
		}
		base := list[r.IntN(len(list))]
		nameUse[base]++
		j.name = base
		if k := nameUse[base]; k > 1 {
			j.name = base + " " + strconv.Itoa(k)
		}
		j.desc = descriptions[r.IntN(len(descriptions))]
		j.sched = randomSchedule(r)
		j.enabled = j.sched.configured && i%9 != 4
		j.forceFail = i%6 == 2
		j.gfs = r.IntN(3) == 0
		j.retainDays = r.IntN(4) == 0
		j.retain = 7 + r.IntN(24)
		j.vssMode = []string{"RequireSuccess", "IgnoreFailures"}[r.IntN(2)]
		j.indexMode = []string{"EveryFolders", "ExceptSpecifiedFolders", "Disabled"}[r.IntN(3)]
		j.sql = j.windows && r.IntN(3) == 0

		platform := j.platform()
		prefix := "srv"
		switch {
		case !j.windows:
			prefix = "lnx"
		case j.policy:
			prefix = "nb"
		}
		maxMembers := 4
		if large {
			maxMembers = 2
		}
		newMember := func() member {
			computerSeq++
			return member{
				computer:   fmt.Sprintf("%s-%s-%04d.corp.example", prefix, j.srv.site, computerSeq),
				childJobID: newGUID(r),
			}
		}
		groups := 0
		if j.policy {
			groups = 1 + r.IntN(2)
		} else if r.IntN(5) < 2 {
			groups = 1
		}
		if groups == 0 {
			for k := 1 + r.IntN(3); k > 0; k-- {
				m := newMember()
				in := &include{oid: newGUID(r), name: m.computer, platform: platform, members: []member{m}}
				in.hierRef = "urn:AgentForWindows:VeeamAgent:00000000-0000-0000-0000-000000000000." + newGUID(r)
				j.includes = append(j.includes, in)
			}
		}
		for g := 0; g < groups; g++ {
			groupSeq++
			in := &include{oid: newGUID(r), group: true, platform: platform}
			in.name = fmt.Sprintf("%s %s %d", groupNames[r.IntN(len(groupNames))], j.srv.site, groupSeq)
			in.hierRef = "urn:AgentForWindows:AgentProtectionGroup:00000000-0000-0000-0000-000000000000." + newGUID(r)
			for k := 2 + r.IntN(maxMembers-1); k > 0; k-- {
				in.members = append(in.members, newMember())
			}
			j.includes = append(j.includes, in)
		}
		f.add(j)
	}
	for _, j := range f.jobs {
		f.history(j, r, now, large)
	}
	return f
}

func (f *fleet) add(j *job) {
	f.jobs = append(f.jobs, j)
	f.jobByID[j.id] = j
	f.jobByUID[strings.ToLower(j.id)] = j
	for _, m := range j.members() {
		f.jobByUID[strings.ToLower(m.childJobID)] = j
	}
}

func randomSchedule(r *rand.Rand) schedule {
	s := schedule{
		kind:       schedKind(r.IntN(6)),
		hour:       []int{19, 20, 21, 22, 23, 0, 1, 2, 3, 5, 12}[r.IntN(11)],
		minute:     []int{0, 15, 30, 45}[r.IntN(4)],
		configured: r.IntN(12) != 0,
	}
	if r.IntN(4) != 0 {
		s.retry, s.retryTimes, s.retryTimeout = true, 1+r.IntN(5), []int{5, 10, 15, 30}[r.IntN(4)]
	} else {
		s.retryTimes, s.retryTimeout = 3, 10
	}
	switch s.kind {
	case schedSelected:
		s.days = []time.Weekday{time.Monday, time.Wednesday, time.Friday}
		if r.IntN(2) == 0 {
			s.days = []time.Weekday{time.Tuesday, time.Saturday}
		}
	case schedMonthly:
		s.nthWeek = []string{"First", "Second", "Third", "Fourth", "Last"}[r.IntN(5)]
		s.monthDay = time.Weekday(r.IntN(7))
	case schedPeriodic:
		s.periodHours = []int{6, 8, 12}[r.IntN(3)]
		s.window = r.IntN(2) == 0
	case schedContinuous:
		s.window = r.IntN(2) == 0
	}
	return s
}

// runsOn reports whether a scheduled run happens on day d (a date in cet).
func (s schedule) runsOn(d time.Time) bool {
	switch s.kind {
	case schedWeekdays:
		return d.Weekday() != time.Saturday && d.Weekday() != time.Sunday
	case schedSelected:
		for _, w := range s.days {
			if d.Weekday() == w {
				return true
			}
		}
		return false
	case schedMonthly:
		if d.Weekday() != s.monthDay {
			return false
		}
		if s.nthWeek == "Last" {
			return d.AddDate(0, 0, 7).Month() != d.Month()
		}
		return []string{"First", "Second", "Third", "Fourth"}[(d.Day()-1)/7%4] == s.nthWeek && d.Day() <= 28
	}
	return true
}

// allowed reports whether the backup window permits a run at t.
func (s schedule) allowed(t time.Time) bool {
	if !s.window {
		return true
	}
	t = t.In(cet)
	wd := t.Weekday() != time.Saturday && t.Weekday() != time.Sunday
	return !(wd && t.Hour() >= 8 && t.Hour() < 18)
}

// runsBetween lists scheduled start times in [from, to).
func (s schedule) runsBetween(from, to time.Time) []time.Time {
	var out []time.Time
	day := time.Date(from.In(cet).Year(), from.In(cet).Month(), from.In(cet).Day(), 0, 0, 0, 0, cet)
	for ; day.Before(to); day = day.AddDate(0, 0, 1) {
		var hours []int
		switch s.kind {
		case schedPeriodic:
			for h := 0; h < 24; h += s.periodHours {
				hours = append(hours, h)
			}
		case schedContinuous:
			hours = []int{2, 10, 18}
		default:
			if !s.runsOn(day) {
				continue
			}
			hours = []int{s.hour}
		}
		for _, h := range hours {
			t := day.Add(time.Duration(h)*time.Hour + time.Duration(s.minute)*time.Minute)
			if !t.Before(from) && t.Before(to) && s.allowed(t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// nextRun is the next scheduled start after now, or zero when there is none to show.
func (j *job) nextRun(now time.Time) time.Time {
	if !j.enabled || !j.sched.configured || j.sched.kind == schedContinuous {
		return time.Time{}
	}
	runs := j.sched.runsBetween(now, now.Add(70*24*time.Hour))
	if len(runs) == 0 {
		return time.Time{}
	}
	return runs[0].UTC()
}

var (
	warningMessages = []string{
		"Changed block tracking driver is not installed; incremental run read the full disk.",
		"Free space on the backup repository is below 10% & retention may be reduced.",
		"Some files could not be read: access denied to C:\\Users\\<profile>\\NTUSER.DAT.",
	}
	failureMessages = []string{
		"Error: Failed to connect to the Veeam Agent on the computer: host is unreachable.",
		"Error: Not enough space on the backup repository \"Repo-01\".",
		"Error: VSS snapshot could not be created (0x80042306).",
	}
)

// history generates the scheduled sessions of the last 30 days (the last few in
// large fleets). Every session ends before now.
func (f *fleet) history(j *job, r *rand.Rand, now time.Time, large bool) {
	from := now.Add(-historyWindow + time.Hour)
	to := now
	if !j.enabled && j.sched.configured {
		to = now.Add(-time.Duration(3+j.idx%7) * 24 * time.Hour)
	}
	var starts []time.Time
	if j.sched.configured {
		starts = j.sched.runsBetween(from, to)
	}
	if len(starts) == 0 {
		starts = []time.Time{now.Add(-17*24*time.Hour - 150*time.Minute), now.Add(-3*24*time.Hour - 5*time.Hour)}
	}
	if large && len(starts) > largeHistoryLen {
		starts = starts[len(starts)-largeHistoryLen:]
	}
	for k, st := range starts {
		st = st.Add(time.Duration(r.IntN(40))*time.Second + time.Duration(r.IntN(1000000))*time.Microsecond).UTC()
		length := time.Duration(4+r.IntN(50))*time.Minute + time.Duration(r.IntN(60))*time.Second
		if !st.Add(length).Before(now) {
			continue
		}
		result := "Success"
		switch x := r.IntN(100); {
		case x < 9:
			result = "Failed"
		case x < 22:
			result = "Warning"
		}
		last := k == len(starts)-1
		if last && j.name == erinJobName {
			result = "Success"
		}
		if last && j.forceFail {
			result = "Failed"
		}
		p := &jobSession{id: newGUID(r), job: j, created: st, length: length, result: result}
		p.message = pickMessage(r, result)
		for mi, m := range j.members() {
			off := time.Duration(3+r.IntN(20)) * time.Second
			c := &jobSession{
				id: newGUID(r), job: j, parent: p, member: m,
				created: st.Add(off), length: length - off - time.Duration(r.IntN(30))*time.Second,
				result: "Success",
			}
			if mi == 0 {
				c.result, c.message = result, p.message
			}
			p.children = append(p.children, c)
			f.sessByID[c.id] = c
		}
		j.sessions = append(j.sessions, p)
		f.sessByID[p.id] = p
	}
	sort.Slice(j.sessions, func(a, b int) bool { return j.sessions[a].created.Before(j.sessions[b].created) })
}

func pickMessage(r *rand.Rand, result string) string {
	switch result {
	case "Warning":
		return warningMessages[r.IntN(len(warningMessages))]
	case "Failed":
		return failureMessages[r.IntN(len(failureMessages))]
	}
	return ""
}
