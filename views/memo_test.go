package views

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
)

// withoutMemos turns the memos off for one test, so that the components
// render anew (memos with limit 0 call the component itself).
func withoutMemos(t testing.TB) {
	t.Helper()
	rows, page, list, table, each, frame := rowMemo, pageMemo, listMemo, jobTableMemo, rowsMemo, frameMemo
	rowMemo, rowsMemo, pageMemo, listMemo, jobTableMemo, frameMemo = rows.off(), each.off(), page.off(), list.off(), table.off(), frame.off()
	t.Cleanup(func() {
		rowMemo, pageMemo, listMemo, jobTableMemo, rowsMemo, frameMemo = rows, page, list, table, each, frame
	})
}

// fullDetail is a job page with every pointer set and every slice filled, so
// that leafChanges reaches every field.
func fullDetail() JobDetail {
	m := sampleDetail("Erin's laptop", hostile[1])
	m.Kind = KindPolicy
	m.LinkNote = "The retry was not opened: the job is running."
	m.HistoryURL, m.HistoryLoadURL = "/backup/audit?job="+jobID, "/backup/jobs/"+jobID+"/history"
	m.Sessions[1].ChildrenURL = "/backup/jobs/" + jobID + "/sessions/s2"
	m.Status = &ActionState{JobID: jobID, Action: ActionStart, Label: "Start", State: StateRunning, Message: "Backup started.",
		Progress: 10, TaskID: "task-1", PollURL: "/backup/jobs/" + jobID + "/status", CardURL: "/backup/jobs/" + jobID + "/card",
		RowURL: "/backup/jobs/" + jobID + "/row", By: "Alice", ClearConfirm: true}
	m.Confirm = &Confirm{JobID: jobID, JobName: m.Name, Action: actionsFor(jobID, false)[1], Desired: "disabled",
		CancelURL: m.URL, CSRFToken: token, Durations: []KV{{"1h", "1 hour"}, {"", "Until enabled again"}}, Already: "Sent a moment ago."}
	m.Hold = &HoldBanner{JobID: jobID, By: "Alice", DisabledAt: sampleAt.Add(-time.Hour), ReenableAt: sampleAt.Add(time.Hour),
		Now: sampleAt, Message: "EM refused.", Enable: &actionsFor(jobID, false)[0]}
	return m
}

func fullRow() JobRow {
	r := sampleRow(jobID, hostile[0], 2)
	r.Kind = KindJob
	return r
}

// TestMemoMatchesFreshRender renders varied lists and job pages with the
// memos (twice: a miss, then a hit) and without, and wants the same bytes.
func TestMemoMatchesFreshRender(t *testing.T) {
	var lists []JobList
	for i, name := range hostile {
		l := sampleList(12)
		for j := range l.Rows {
			l.Rows[j].Name = name + strconv.Itoa(j)
			l.Rows[j].ID = fmt.Sprintf("%02d-%02d", i%3, j) // ids shared across lists, rows differing
		}
		if i%2 == 1 {
			l.Filter.Q = name
		}
		lists = append(lists, l)
	}
	empty := sampleList(0)
	empty.Filter.Q = hostile[0]
	lists = append(lists, empty, sampleList(0))
	var details []JobDetail
	for i, name := range hostile {
		d := sampleDetail(name, hostile[(i+1)%len(hostile)])
		if i%2 == 0 {
			d = fullDetail()
			d.Name = name
		}
		d.ID = strconv.Itoa(i % 3)
		details = append(details, d)
	}
	var memoised []string
	for range 2 {
		for _, l := range lists {
			memoised = append(memoised, render(t, JobListPage(sampleLayout(), l)), render(t, JobTable(l)))
		}
		for _, d := range details {
			memoised = append(memoised, render(t, JobPage(sampleLayout(), d)))
		}
	}
	withoutMemos(t)
	var fresh []string
	for _, l := range lists {
		fresh = append(fresh, render(t, JobListPage(sampleLayout(), l)), render(t, JobTable(l)))
	}
	for _, d := range details {
		fresh = append(fresh, render(t, JobPage(sampleLayout(), d)))
	}
	for i, got := range memoised {
		if want := fresh[i%len(fresh)]; got != want {
			t.Errorf("render %d (pass %d) differs from the fresh render", i%len(fresh), i/len(fresh)+1)
		}
	}
}

// TestMemoEqualSeesEveryField changes each leaf of a row and of a job page in
// turn (every field, nested slices and pointers included, so a field added
// later is covered): equal must tell the change, and the memo, holding the
// unchanged model's markup, must render the changed model as a fresh render
// does, whether the change comes as a new value or is made in place on the
// model the memo was given.
func TestMemoEqualSeesEveryField(t *testing.T) {
	t.Run("row", func(t *testing.T) {
		checkEveryField(t, fullRow(), JobRow.equal, func(r JobRow) string { return render(t, JobRowView(r)) },
			func(r JobRow) string { return render(t, jobRow(r)) }, seesAll)
	})
	t.Run("job page", func(t *testing.T) {
		// The confirmation's token is a secret, written per response.
		checkEveryField(t, fullDetail(), JobDetail.equal, func(m JobDetail) string { return render(t, jobPageBody(m)) },
			func(m JobDetail) string { return render(t, jobBody(m)) }, func(path string) bool { return path != ".Confirm.CSRFToken" })
	})
	// The frame's memo leaves the secrets out of its model (they are
	// written anew on each call); what is rendered must still follow them.
	t.Run("layout", func(t *testing.T) {
		content := templ.Raw("<p>content</p>")
		withContent := func(c templ.Component) string {
			return render(t, templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
				return c.Render(templ.WithChildren(ctx, content), w)
			}))
		}
		checkEveryField(t, fullLayout(), Layout.frameEqual, func(l Layout) string { return withContent(page(l)) },
			func(l Layout) string { return withContent(layoutPage(l)) },
			func(path string) bool { return path != ".CSPNonce" && path != ".CSRFToken" && path != ".Title" })
	})
	// The list memos leave the rows out of their model (rows are rendered
	// on each call, each from the rows memo), so a change inside a row is
	// not theirs to see; what is rendered must still follow it.
	t.Run("list", func(t *testing.T) {
		fresh := func(m JobList) string {
			rows := templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
				for _, r := range m.Rows {
					if err := jobRow(r).Render(ctx, w); err != nil {
						return err
					}
				}
				return nil
			})
			return render(t, listBody(m, rows)) + render(t, jobTable(m, rows))
		}
		checkEveryField(t, fullList(), JobList.equal, func(m JobList) string { return render(t, listPageBody(m)) + render(t, JobTable(m)) },
			fresh, func(path string) bool { return !strings.HasPrefix(path, ".Rows") })
		// Only whether there are rows: without, the table says so instead.
		empty := fullList()
		empty.Rows = nil
		if fullList().equal(empty) {
			t.Error("equal does not see that the rows are gone")
		}
		render(t, JobTable(fullList()))
		if got, want := render(t, JobTable(empty)), fresh(empty); !strings.HasSuffix(want, got) {
			t.Error("memoised empty table differs from the fresh one")
		}
	})
}

func checkEveryField[M any](t *testing.T, base M, equal func(a, b M) bool, memoised, fresh func(M) string, sees func(path string) bool) {
	t.Helper()
	changes := leafChanges(reflect.ValueOf(base), "")
	if len(changes) < 20 {
		t.Fatalf("only %d changes found", len(changes))
	}
	for _, c := range changes {
		changed := deepCopy(base)
		c.apply(reflect.ValueOf(&changed).Elem())
		if equal(base, changed) && sees(c.path) {
			t.Errorf("%s: equal does not see the change", c.path)
		}
		// A new value, the memo holding base's markup.
		memoised(deepCopy(base))
		if got, want := memoised(changed), fresh(changed); got != want {
			t.Errorf("%s: memoised render differs from the fresh one", c.path)
		}
		// The same value changed in place after the memo kept it; but
		// not a list's rows, which their callers never change once
		// rendered (JobList.Rows: the rows memo recognises a slice it has
		// compared, TestRowsMemoSameSlice).
		if strings.HasPrefix(c.path, ".Rows[") {
			continue
		}
		inPlace := deepCopy(base)
		memoised(inPlace)
		c.apply(reflect.ValueOf(&inPlace).Elem())
		if got, want := memoised(inPlace), fresh(inPlace); got != want {
			t.Errorf("%s changed in place: memoised render differs from the fresh one (the memo shares the caller's slices)", c.path)
		}
	}
}

func seesAll(string) bool { return true }

// fullList is a list page with every field set: rows, filters, a pager.
func fullList() JobList {
	m := sampleList(3)
	m.Filter.Server, m.Refreshing, m.RefreshFailed = "vbr-berlin.corp.example", true, true
	return m
}

func TestMemoBounded(t *testing.T) {
	m := newMemo(3, rowMemo.equal, rowMemo.clone, rowMemo.render)
	for i := range 10 {
		r := sampleRow(strconv.Itoa(i), "job", i)
		if got, want := render(t, m.component(r.ID, r, nil)), render(t, jobRow(r)); got != want {
			t.Fatalf("row %d differs", i)
		}
	}
	if n := len(m.entries); n != 3 {
		t.Errorf("%d entries, want the limit, 3", n)
	}
}

// change changes one leaf of a model, found by path.
type change struct {
	path  string
	apply func(root reflect.Value)
}

var timeType = reflect.TypeFor[time.Time]()

// leafChanges lists a change for every leaf under v: a string gets longer, a
// bool flips, a number grows, a time moves (and, separately, changes zone
// only), a slice gets one element more and one less, a pointer becomes nil
// or, when nil, points to a zero value.
func leafChanges(v reflect.Value, path string) []change {
	if v.Type() == timeType {
		return []change{
			{path + " moved", func(x reflect.Value) { x.Set(reflect.ValueOf(x.Interface().(time.Time).Add(time.Minute))) }},
			{path + " zone", func(x reflect.Value) {
				x.Set(reflect.ValueOf(x.Interface().(time.Time).In(time.FixedZone("X", 7200))))
			}},
		}
	}
	var out []change
	switch v.Kind() {
	case reflect.String:
		out = append(out, change{path, func(x reflect.Value) { x.SetString(x.String() + "<x>") }})
	case reflect.Bool:
		out = append(out, change{path, func(x reflect.Value) { x.SetBool(!x.Bool()) }})
	case reflect.Int, reflect.Int64:
		step := int64(1)
		if v.Type() == reflect.TypeFor[time.Duration]() {
			step = int64(time.Second) // durations print in seconds
		}
		out = append(out, change{path, func(x reflect.Value) { x.SetInt(x.Int() + step) }})
	case reflect.Struct:
		for i := range v.NumField() {
			for _, c := range leafChanges(v.Field(i), path+"."+v.Type().Field(i).Name) {
				out = append(out, change{c.path, func(x reflect.Value) { c.apply(x.Field(i)) }})
			}
		}
	case reflect.Slice:
		out = append(out, change{path + " +1", func(x reflect.Value) { x.Set(reflect.Append(x, reflect.Zero(x.Type().Elem()))) }})
		if v.Len() > 0 {
			out = append(out, change{path + " -1", func(x reflect.Value) { x.Set(x.Slice(0, x.Len()-1)) }})
		}
		for i := range v.Len() {
			for _, c := range leafChanges(v.Index(i), path+"["+strconv.Itoa(i)+"]") {
				out = append(out, change{c.path, func(x reflect.Value) { c.apply(x.Index(i)) }})
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			out = append(out, change{path + " set", func(x reflect.Value) { x.Set(reflect.New(x.Type().Elem())) }})
			break
		}
		out = append(out, change{path + " nil", func(x reflect.Value) { x.Set(reflect.Zero(x.Type())) }})
		for _, c := range leafChanges(v.Elem(), path) {
			out = append(out, change{c.path, func(x reflect.Value) { c.apply(x.Elem()) }})
		}
	default:
		panic("leafChanges: no change for " + v.Type().String() + " at " + path)
	}
	return out
}

// deepCopy copies a model, sharing no slice or pointer with it.
func deepCopy[M any](m M) M {
	out := reflect.New(reflect.TypeFor[M]()).Elem()
	copyInto(out, reflect.ValueOf(m))
	return out.Interface().(M)
}

func copyInto(dst, src reflect.Value) {
	if src.Type() == timeType {
		dst.Set(src)
		return
	}
	switch src.Kind() {
	case reflect.Struct:
		for i := range src.NumField() {
			copyInto(dst.Field(i), src.Field(i))
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Len()))
		for i := range src.Len() {
			copyInto(dst.Index(i), src.Index(i))
		}
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		dst.Set(reflect.New(src.Type().Elem()))
		copyInto(dst.Elem(), src.Elem())
	default:
		dst.Set(src)
	}
}

// TestMemoConcurrent renders rows that share ids but differ, from several
// goroutines at once (go test -race): each must get its own row's markup.
func TestMemoConcurrent(t *testing.T) {
	m := newMemo(8, rowMemo.equal, rowMemo.clone, rowMemo.render)
	var rows []JobRow
	var want []string
	for i := range 24 {
		r := sampleRow(strconv.Itoa(i%4), hostile[i%len(hostile)], i)
		rows = append(rows, r)
		want = append(want, render(t, jobRow(r)))
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for n := range 200 {
				i := (n*7 + g) % len(rows)
				var b strings.Builder
				if err := m.component(rows[i].ID, rows[i], nil).Render(context.Background(), &b); err != nil {
					errs <- err
					return
				}
				if b.String() != want[i] {
					errs <- fmt.Errorf("row %d: memoised markup differs", i)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestRowsMemoSameSlice: rows served again as the very slice the memo found
// equal are not compared again, and any other slice, even of equal rows
// after a change in place was undone, is compared row by row: a changed row
// in a new slice is rendered anew.
func TestRowsMemoSameSlice(t *testing.T) {
	var compared int
	m := sameSlice(newMemo(8, func(a, b []JobRow) bool { compared++; return rowsEqual(a, b) }, rowsClone,
		func(rows []JobRow, _ templ.Component) templ.Component { return eachRow(rows) }))
	render := func(rows []JobRow) string {
		var buf bytes.Buffer
		if err := m.write(context.Background(), &buf, "k", rows, nil); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	rows := sampleList(3).Rows
	first := render(rows)
	render(rows) // compared once, then remembered as seen
	n := compared
	if got := render(rows); got != first || compared != n {
		t.Errorf("the same slice: compared %d more times, markup same: %v", compared-n, got == first)
	}
	changed := slices.Clone(rows)
	changed[1].Name = "renamed"
	if got := render(changed); got == first || !strings.Contains(got, "renamed") {
		t.Error("a new slice with a changed row was served the kept markup")
	}
	if got := render(rows); got != first {
		t.Error("the first rows again: markup differs from their first render")
	}
}
