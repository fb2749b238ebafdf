package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/prometheus/client_golang/prometheus"
)

// openTest opens a Log in a fresh directory with its counter on a registry
// of its own, and closes it when the test ends.
func openTest(t *testing.T, opts ...Option) (*Log, string, *prometheus.Registry) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	reg := prometheus.NewRegistry()
	if err := l.Register(reg); err != nil {
		t.Fatalf("Register: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path, reg
}

// dropped reads canopy_audit_dropped_total{reason} from reg.
func dropped(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "canopy_audit_dropped_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "reason" && lp.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("canopy_audit_dropped_total{reason=%q} not registered", reason)
	return 0
}

// readLines returns the file's lines, each decoded, failing t on any line
// that is not exactly one JSON object.
func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %q", len(out)+1, err, sc.Text())
		}
		if dec.More() {
			t.Fatalf("line %d holds more than one JSON value: %q", len(out)+1, sc.Text())
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return out
}

func TestLineHasTheDocumentedFieldsInOrder(t *testing.T) {
	l, path, _ := openTest(t)
	l.Record(Entry{
		Time:     time.Date(2026, 12, 7, 21, 30, 5, 123_456_789, time.FixedZone("CET", 3600)),
		Zxid:     0x1f,
		Identity: []string{"ip:127.0.0.1", "digest:alice:X/8="},
		Client:   "127.0.0.1:5432",
		Session:  "0x10000000a",
		Op:       "setData",
		Path:     "/app/a&b<c>",
		Result:   "BadVersion",
	})
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-12-07T20:30:05.123Z","zxid":31,"identity":["ip:127.0.0.1","digest:alice:X/8="],` +
		`"client":"127.0.0.1:5432","session":"0x10000000a","operation":"setData","path":"/app/a&b<c>","result":"BadVersion"}` + "\n"
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestEmptyEntryStillHasEveryFieldAndTheTimeOfRecord(t *testing.T) {
	l, path, _ := openTest(t)
	before := time.Now().Add(-time.Millisecond)
	l.Record(Entry{})
	l.Close()
	lines := readLines(t, path)
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1", len(lines))
	}
	m := lines[0]
	for _, k := range []string{"time", "zxid", "identity", "client", "session", "operation", "path", "result"} {
		if _, ok := m[k]; !ok {
			t.Errorf("field %q missing from %v", k, m)
		}
	}
	if ids, ok := m["identity"].([]any); !ok || len(ids) != 0 {
		t.Errorf("identity: got %#v, want []", m["identity"])
	}
	s, _ := m["time"].(string)
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(s) {
		t.Fatalf("time: got %q, want RFC 3339 with ms in UTC", s)
	}
	if at, _ := time.Parse(time.RFC3339, s); at.Before(before.Truncate(time.Millisecond)) || at.After(time.Now()) {
		t.Errorf("time: got %v, want the time Record was called (after %v)", at, before)
	}
}

func TestConcurrentRecordsAreAllWrittenEachAsOneJSONLine(t *testing.T) {
	const writers, each = 16, 500
	l, path, reg := openTest(t, WithBuffer(writers*each))
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := []string{"digest:u" + fmt.Sprint(g) + ":x"}
			for i := range each {
				l.Record(Entry{Zxid: int64(g*each + i), Identity: ids, Op: "create", Path: fmt.Sprintf("/g%d/n%d", g, i), Result: Success})
				ids[0] = "reused" // the caller may reuse its slice once Record returns
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	lines := readLines(t, path)
	if len(lines) != writers*each {
		t.Fatalf("got %d lines, want %d", len(lines), writers*each)
	}
	seen := make(map[int64]bool)
	for _, m := range lines {
		z := int64(m["zxid"].(float64))
		g, i := z/each, z%each
		if p := fmt.Sprintf("/g%d/n%d", g, i); m["path"] != p {
			t.Fatalf("zxid %d: got path %v, want %s", z, m["path"], p)
		}
		if seen[z] {
			t.Fatalf("zxid %d written twice", z)
		}
		seen[z] = true
	}
	if got := dropped(t, reg, "full"); got != 0 {
		t.Errorf("dropped full: got %v, want 0", got)
	}
}

func TestOpenCreatesTheFileMode0600AndAppends(t *testing.T) {
	l, path, _ := openTest(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode: got %v, want -rw-------", got)
	}
	l.Record(Entry{Op: "create", Path: "/first"})
	l.Close()
	l2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l2.Record(Entry{Op: "create", Path: "/second"})
	l2.Close()
	lines := readLines(t, path)
	if len(lines) != 2 || lines[0]["path"] != "/first" || lines[1]["path"] != "/second" {
		t.Errorf("got %v, want /first then /second", lines)
	}
}

func TestOpenFailsWhenTheDirectoryIsMissing(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing", "audit.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want an error wrapping os.ErrNotExist", err)
	}
}

func TestDigestIdentityIsWrittenAsGivenAndNeverThePassword(t *testing.T) {
	const password = "correct horse battery staple"
	l, path, _ := openTest(t)
	id := "digest:" + api.Digest("alice", password)
	l.Record(Entry{Identity: []string{id}, Client: "127.0.0.1", Op: "auth", Result: Success})
	l.Record(Entry{Identity: []string{"digest:" + api.Digest("alice", "wrong")}, Op: "setData", Path: "/a", Result: "NoAuth"})
	l.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(password)) || bytes.Contains(raw, []byte("wrong")) {
		t.Fatalf("a password is in the audit log:\n%s", raw)
	}
	lines := readLines(t, path)
	if ids := lines[0]["identity"].([]any); len(ids) != 1 || ids[0] != id {
		t.Errorf("identity: got %v, want [%s]", ids, id)
	}
}

// blockingWriter blocks every Write until release is closed, and says on
// entered when the first Write began.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *blockingWriter) Close() error { return nil }

func TestFullBufferDropsAndCountsInsteadOfBlocking(t *testing.T) {
	const buffer, extra = 4, 10
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	l, _, reg := openTest(t, WithBuffer(buffer), withOpener(func(string) (io.WriteCloser, error) { return w, nil }))
	l.Record(Entry{Path: "/stuck"})
	select {
	case <-w.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the writer never started writing")
	}
	// The writer holds one entry and is stuck: the buffer takes `buffer`
	// more, and every one after that is dropped at once.
	start := time.Now()
	for i := range buffer + extra {
		l.Record(Entry{Path: fmt.Sprintf("/n%d", i)})
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Record blocked on a stuck writer: %d calls took %v", buffer+extra, took)
	}
	if got := dropped(t, reg, "full"); got != extra {
		t.Errorf("dropped full: got %v, want %d", got, extra)
	}
	close(w.release)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := strings.Count(w.buf.String(), "\n"); got != 1+buffer {
		t.Errorf("got %d lines written, want %d (the stuck one and the buffered ones)", got, 1+buffer)
	}
}

// failingWriter fails its first Write and keeps the rest.
type failingWriter struct {
	mu    sync.Mutex
	calls int
	buf   bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	if w.calls == 1 {
		return 0, errors.New("disk full")
	}
	return w.buf.Write(p)
}

func (w *failingWriter) Close() error { return nil }

func (w *failingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestFailedWriteIsCountedAndLaterLinesAreStillWritten(t *testing.T) {
	w := &failingWriter{}
	l, _, reg := openTest(t, withOpener(func(string) (io.WriteCloser, error) { return w, nil }))
	l.Record(Entry{Path: "/lost"})
	testkit.WaitFor(t, 5*time.Second, "the failed write counted", func() bool { return dropped(t, reg, "write") == 1 })
	l.Record(Entry{Path: "/kept"})
	l.Close()
	if got := w.String(); !strings.Contains(got, `"path":"/kept"`) || strings.Contains(got, "/lost") {
		t.Errorf("got %q, want only the line recorded after the failure", got)
	}
}

func TestReopenAfterRenameWritesToANewFile(t *testing.T) {
	l, path, _ := openTest(t)
	l.Record(Entry{Path: "/before"})
	testkit.WaitFor(t, 5*time.Second, "the first line in the file", func() bool {
		b, _ := os.ReadFile(path)
		return bytes.Contains(b, []byte("/before"))
	})
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatalf("Reopen: %v", err)
	}
	l.Record(Entry{Path: "/after"})
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if old := readLines(t, rotated); len(old) != 1 || old[0]["path"] != "/before" {
		t.Errorf("rotated file: got %v, want only /before", old)
	}
	if cur := readLines(t, path); len(cur) != 1 || cur[0]["path"] != "/after" {
		t.Errorf("new file: got %v, want only /after", cur)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new file: got %v (%v), want mode 0600", fi.Mode().Perm(), err)
	}
}

func TestReopenKeepsTheOldFileWhenThePathCannotBeOpened(t *testing.T) {
	w := &failingWriter{calls: 1} // past its one failure: it keeps every write
	opens := 0
	l, _, _ := openTest(t, withOpener(func(string) (io.WriteCloser, error) {
		if opens++; opens > 1 {
			return nil, os.ErrPermission
		}
		return w, nil
	}))
	if err := l.Reopen(); !errors.Is(err, os.ErrPermission) {
		t.Fatalf("Reopen: got %v, want the open's error", err)
	}
	l.Record(Entry{Path: "/still"})
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !strings.Contains(w.String(), "/still") {
		t.Errorf("got %q, want the line in the old file", w.String())
	}
}

func TestRecordAfterCloseIsDroppedAndCounted(t *testing.T) {
	l, _, reg := openTest(t)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Record(Entry{Path: "/late"})
	if got := dropped(t, reg, "closed"); got != 1 {
		t.Errorf("dropped closed: got %v, want 1", got)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.Reopen(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reopen after Close: got %v, want ErrClosed", err)
	}
}

func TestNilLogDoesNothing(t *testing.T) {
	var l *Log
	l.Record(Entry{Path: "/x"})
	if err := l.Reopen(); err != nil {
		t.Errorf("Reopen: %v", err)
	}
	if err := l.Register(prometheus.NewRegistry()); err != nil {
		t.Errorf("Register: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestResultOfIsSuccessOrTheErrorsCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "success"},
		{api.NoAuth("/a", api.PermWrite), "NoAuth"},
		{fmt.Errorf("setData: %w", api.NoNode("/a")), "NoNode"},
		{errors.New("disk on fire"), "SystemError"},
	} {
		if got := ResultOf(c.err); got != c.want {
			t.Errorf("ResultOf(%v): got %q, want %q", c.err, got, c.want)
		}
	}
}
