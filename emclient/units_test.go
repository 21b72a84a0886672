package emclient

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	base := time.Date(2025, 8, 16, 5, 17, 38, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "", want: time.Time{}},
		{in: "2025-08-16T05:17:38Z", want: base},
		{in: "2025-08-16T05:17:38.2Z", want: base.Add(200 * time.Millisecond)},
		{in: "2025-08-16T05:17:38.22Z", want: base.Add(220 * time.Millisecond)},
		{in: "2025-08-16T05:17:38.221Z", want: base.Add(221 * time.Millisecond)},
		{in: "2025-08-16T05:17:38.2214Z", want: base.Add(221400 * time.Microsecond)},
		{in: "2025-08-16T05:17:38.22142Z", want: base.Add(221420 * time.Microsecond)},
		{in: "2025-08-16T05:17:38.221421Z", want: base.Add(221421 * time.Microsecond)},
		{in: "2025-08-16T05:17:38.2214217Z", want: base.Add(2214217 * 100 * time.Nanosecond)},
		{in: "2025-08-16T07:17:38+02:00", want: base},
		{in: "2025-08-16T00:17:38.5-05:00", want: base.Add(500 * time.Millisecond)},
		{in: "2025-08-16T05:17:38", want: base}, // JSON form without zone: UTC
		{in: " 2025-08-16T05:17:38Z\n", want: base},
		{in: "1753-01-01T00:00:00Z", want: time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC)},
		{in: "yesterday", bad: true},
		{in: "2025-13-16T05:17:38Z", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTime(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("ParseTime(%q) = %v, want error", tc.in, got)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if !got.IsZero() && got.Location() != time.UTC {
				t.Errorf("location = %v, want UTC", got.Location())
			}
		})
	}
}

func TestTimeXMLRoundTrip(t *testing.T) {
	type doc struct {
		XMLName xml.Name `xml:"D"`
		A       Time     `xml:"A"`
		B       *Time    `xml:"B,omitempty"`
	}
	for _, in := range []string{"2025-08-16T05:17:38Z", "2025-08-16T05:17:38.22142Z", "2025-08-16T05:17:38.2214217Z"} {
		var d doc
		if err := xml.Unmarshal([]byte("<D><A>"+in+"</A></D>"), &d); err != nil {
			t.Fatal(err)
		}
		out, err := xml.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if want := "<D><A>" + in + "</A></D>"; string(out) != want {
			t.Errorf("round trip %s = %s, want %s", in, out, want)
		}
	}
	var d doc
	if err := xml.Unmarshal([]byte("<D><A>not a time</A></D>"), &d); err == nil {
		t.Error("bad time decoded without error")
	}
}

func TestTimeOfDayClock(t *testing.T) {
	for _, tc := range []struct {
		raw          string
		h, m, s, off int
		hasOff, bad  bool
	}{
		{raw: "16:00:00.0000000+01:00", h: 16, off: 3600, hasOff: true},
		{raw: "22:30:15.0000000-05:30", h: 22, m: 30, s: 15, off: -(5*3600 + 30*60), hasOff: true},
		{raw: "02:00:00", h: 2},
		{raw: "22:00:00.0000000", h: 22},
		{raw: "23:59:59Z", h: 23, m: 59, s: 59, hasOff: true},
		{raw: "2019-10-23T14:00:00", h: 14},
		{raw: "2019-10-23T22:00:00+02:00", h: 22, off: 7200, hasOff: true},
		{raw: "", bad: true},
		{raw: "24:00:00", bad: true},
		{raw: "-1:00:00", bad: true},
		{raw: "12:60:00", bad: true},
		{raw: "12:00:00junk", bad: true},
		{raw: "12:00:00.", bad: true},
		{raw: "12:00:00+1:00", bad: true},
		{raw: "1a:00:00", bad: true},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			h, m, s, off, hasOff, err := TimeOfDay{Raw: tc.raw}.Clock()
			if tc.bad {
				if err == nil {
					t.Fatalf("Clock(%q) = %d:%d:%d, want error", tc.raw, h, m, s)
				}
				return
			}
			if err != nil || h != tc.h || m != tc.m || s != tc.s || off != tc.off || hasOff != tc.hasOff {
				t.Fatalf("Clock(%q) = %d %d %d %d %v %v", tc.raw, h, m, s, off, hasOff, err)
			}
		})
	}
}

func TestParseUID(t *testing.T) {
	const id = "a6deb158-b26c-4140-8b26-5a3cc344e8ec"
	for _, tc := range []struct {
		in, typ, id string
		bad         bool
	}{
		{in: "urn:veeam:AgentBackupJob:" + id, typ: "AgentBackupJob", id: id},
		{in: "urn:veeam:Job:" + strings.ToUpper(id), typ: "Job", id: id},
		{in: "URN:Veeam:BackupJobSession:" + id, typ: "BackupJobSession", id: id},
		{in: "urn:veeam:Job:" + id + ":x", bad: true},
		{in: "urn:veeam::" + id, bad: true},
		{in: "urn:veeam:Job/../x:" + id, bad: true},
		{in: "urn:VMware:Vm:" + id, bad: true},
		{in: "urn:veeam:Job:not-a-guid", bad: true},
		{in: id, bad: true},
		{in: "", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			u, err := ParseUID(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("ParseUID(%q) = %+v, want error", tc.in, u)
				}
				if IDFromUID(tc.in) != "" {
					t.Errorf("IDFromUID(%q) not empty", tc.in)
				}
				return
			}
			if err != nil || u.Type != tc.typ || u.ID != tc.id {
				t.Fatalf("ParseUID(%q) = %+v, %v", tc.in, u, err)
			}
			if IDFromUID(tc.in) != tc.id {
				t.Errorf("IDFromUID(%q) = %q", tc.in, IDFromUID(tc.in))
			}
			if u.String() != "urn:veeam:"+tc.typ+":"+tc.id {
				t.Errorf("String() = %q", u.String())
			}
		})
	}
}

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"a6deb158-b26c-4140-8b26-5a3cc344e8ec", true},
		{"A6DEB158-B26C-4140-8B26-5A3CC344E8EC", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"a6deb158-b26c-4140-8b26-5a3cc344e8e", false},
		{"a6deb158-b26c-4140-8b26-5a3cc344e8ecc", false},
		{"a6deb158b26c-4140-8b26-5a3cc344e8ec-", false},
		{"g6deb158-b26c-4140-8b26-5a3cc344e8ec", false},
		{"../../../../../../../../../../../../", false},
		{"a6deb158-b26c-4140-8b26-5a3cc344e8e/", false},
		{"a6deb158-b26c-4140-8b26-5a3cc344e8e?", false},
		{"{a6deb158-b26c-4140-8b26-5a3cc344e8}", false},
		{"", false},
	} {
		if got := ValidID(tc.in); got != tc.ok {
			t.Errorf("ValidID(%q) = %v, want %v", tc.in, got, tc.ok)
		}
	}
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"task-1", true}, {"task-1234567890", true}, {"task-", false}, {"task-1a", false},
		{"task-1/../x", false}, {"Task-1", false}, {"task--1", false}, {"", false}, {"task-12345678901234567890", false},
	} {
		if got := validTaskID(tc.in); got != tc.ok {
			t.Errorf("validTaskID(%q) = %v, want %v", tc.in, got, tc.ok)
		}
	}
}

func TestFilterBuilder(t *testing.T) {
	ts := time.Date(2025, 8, 15, 8, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	for _, tc := range []struct {
		name string
		f    Filter
		want string
	}{
		{"zero", Filter{}, ""},
		{"string", Eq("Name", "Fileserver Backup"), `Name=="Fileserver Backup"`},
		{"embedded quote", Eq("Name", `Erin's "laptop"`), `Name=="Erin's ""laptop"""`},
		{"separators stay inside quotes", Eq("Name", `a;b,c)(d==e"`), `Name=="a;b,c)(d==e"""`},
		{"empty string", Ne("Description", ""), `Description!=""`},
		{"bool", Eq("ScheduleEnabled", false), `ScheduleEnabled==false`},
		{"int", Ge("Progress", 50), `Progress>=50`},
		{"int64", Lt("TotalSize", int64(-3)), `TotalSize<-3`},
		{"time in UTC", Gt("CreationTime", ts), `CreationTime>"2025-08-15T06:00:00Z"`},
		{"le", Le("EndTime", ts), `EndTime<="2025-08-15T06:00:00Z"`},
		{"and", And(Eq("Result", "Failed"), Eq("JobType", "AgentBackup")), `Result=="Failed";JobType=="AgentBackup"`},
		{"or", Or(Eq("Platform", "AgentForWindows"), Eq("Platform", "AgentForLinux")), `Platform=="AgentForWindows",Platform=="AgentForLinux"`},
		{"or inside and is grouped", And(Or(Eq("A", 1), Eq("B", 2)), Eq("C", 3)), `(A==1,B==2);C==3`},
		{"and inside or is grouped", Or(Eq("A", 1), And(Eq("B", 2), Eq("C", 3))), `A==1,(B==2;C==3)`},
		{"nested same op flattens", And(And(Eq("A", 1), Eq("B", 2)), Eq("C", 3)), `A==1;B==2;C==3`},
		{"zero operands skipped", And(Filter{}, Eq("A", 1), Filter{}), `A==1`},
		{"all zero", Or(Filter{}, Filter{}), ``},
		{"single group kept", And(Or(Eq("A", 1), Eq("B", 2))), `A==1,B==2`},
		{"single group grouped later", Or(Eq("X", 0), And(Or(Eq("A", 1), Eq("B", 2)))), `X==0,A==1,B==2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestFilterPanics(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field string
		value any
	}{
		{"empty field", "", 1},
		{"digit first", "1Name", 1},
		{"operator in field", "Name==x;A", 1},
		{"space", "Job Name", 1},
		{"unicode", "Nämé", 1},
		{"unsupported value", "Name", 1.5},
		{"nil value", "Name", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Eq(%q, %v) did not panic", tc.field, tc.value)
				}
			}()
			Eq(tc.field, tc.value)
		})
	}
}

func TestQueryValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    Query
		want string
		bad  bool
	}{
		{name: "refs", q: Query{Type: "AgentBackupJob"}, want: "type=AgentBackupJob"},
		{name: "full", q: Query{Type: "BackupJobSession", Entities: true, Filter: Eq("JobName", "a b&c=d"), SortDesc: "CreationTime", PageSize: 10, Page: 2},
			want: "filter=JobName%3D%3D%22a+b%26c%3Dd%22&format=Entities&page=2&pageSize=10&sortDesc=CreationTime&type=BackupJobSession"},
		{name: "page defaults to 1", q: Query{Type: "Task", PageSize: 5}, want: "page=1&pageSize=5&type=Task"},
		{name: "bad type", q: Query{Type: "Task&x=1"}, bad: true},
		{name: "both sorts", q: Query{Type: "Task", SortAsc: "A", SortDesc: "B"}, bad: true},
		{name: "bad sort", q: Query{Type: "Task", SortAsc: "A;B"}, bad: true},
		{name: "negative", q: Query{Type: "Task", PageSize: -1}, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.q.values()
			if tc.bad {
				if err == nil {
					t.Fatalf("no error for %+v", tc.q)
				}
				return
			}
			if err != nil || v.Encode() != tc.want {
				t.Fatalf("values = %s, %v; want %s", v.Encode(), err, tc.want)
			}
		})
	}
}
