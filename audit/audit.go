package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/canopy-coord/canopy/api"
)

// Success is an Entry's Result when the operation succeeded; otherwise the
// Result is the error's code ("NoAuth", "BadVersion", ...).
const Success = "success"

// ResultOf is an Entry's Result for an operation that ended with err:
// Success for nil, otherwise its API code ("NoAuth"; SystemError for an
// error without one).
func ResultOf(err error) string {
	if err == nil {
		return Success
	}
	return string(api.CodeOf(err))
}

// DefaultBuffer is how many entries wait for the writer before Record
// starts dropping them: at audit rates (writes that went through raft) a
// full buffer means the disk has stalled, not a burst.
const DefaultBuffer = 4096

// ErrClosed is returned by Reopen on a closed Log.
var ErrClosed = errors.New("audit: log closed")

// timeFormat is RFC 3339 with milliseconds; times are written in UTC.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// maxBatch bounds how many bytes of queued lines go into one write.
const maxBatch = 64 << 10

// Entry is one audited event.
type Entry struct {
	Time     time.Time // when it happened; zero means when Record was called
	Zxid     int64     // the transaction's zxid, 0 when none (a refused request, an authentication)
	Identity []string  // every identity the caller holds, "scheme:id"
	Client   string    // the client's ip or ip:port
	Session  string    // "0x..." or ""
	Op       string    // create, delete, setData, setACL, multi, createSession, closeSession, expireSession, auth, ...
	Path     string
	Result   string // Success or the error code, e.g. "NoAuth"
}

// line is an Entry as written: the field names and order of the format.
// It is encoded with encoding/json rather than zerolog because a zerolog
// event obeys the process-wide zerolog.SetGlobalLevel, and an audit line
// must not disappear with a log-level setting.
type line struct {
	Time      string   `json:"time"`
	Zxid      int64    `json:"zxid"`
	Identity  []string `json:"identity"`
	Client    string   `json:"client"`
	Session   string   `json:"session"`
	Operation string   `json:"operation"`
	Path      string   `json:"path"`
	Result    string   `json:"result"`
}

// Log appends entries to a file, one JSON object a line. Its methods are
// safe for concurrent use, and a nil *Log does nothing, so callers need no
// nil check when auditing is off.
type Log struct {
	path string
	open func(path string) (io.WriteCloser, error)

	// mu orders Record's send against Close's close of entries.
	mu      sync.RWMutex
	closed  bool
	entries chan Entry
	done    chan struct{} // closed when the drainer has written everything

	// wmu guards out: the drainer writes it, Reopen and Close replace it.
	wmu sync.Mutex
	out io.WriteCloser

	dropped *prometheus.CounterVec
}

// Option changes how Open makes a Log.
type Option func(*Log)

// WithBuffer sets how many entries may wait for the writer (DefaultBuffer
// when n < 1).
func WithBuffer(n int) Option {
	return func(l *Log) {
		if n > 0 {
			l.entries = make(chan Entry, n)
		}
	}
}

// withOpener replaces how the file is opened: tests hand in a writer that
// blocks or fails.
func withOpener(open func(path string) (io.WriteCloser, error)) Option {
	return func(l *Log) { l.open = open }
}

// Open appends to the audit log at path, creating it with mode 0600 (its
// directory must exist), and starts the goroutine that writes it. Close
// stops it.
func Open(path string, opts ...Option) (*Log, error) {
	l := &Log{
		path:    path,
		open:    openFile,
		entries: make(chan Entry, DefaultBuffer),
		done:    make(chan struct{}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canopy_audit_dropped_total",
			Help: "Audit entries not written, by reason: full (the writer fell behind), write (the file failed), closed (recorded after Close).",
		}, []string{"reason"}),
	}
	for _, o := range opts {
		o(l)
	}
	out, err := l.open(path)
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	l.out = out
	// Every reason is shown from the start, so a dashboard sees 0, not no data.
	for _, r := range []string{"full", "write", "closed"} {
		l.dropped.WithLabelValues(r)
	}
	go l.drain()
	return l, nil
}

func openFile(path string) (io.WriteCloser, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
}

// Register adds canopy_audit_dropped_total to reg.
func (l *Log) Register(reg prometheus.Registerer) error {
	if l == nil || reg == nil {
		return nil
	}
	return reg.Register(l.dropped)
}

// Record queues e for writing and returns at once. When the queue is full
// the entry is dropped and counted: an audit log that fell behind must not
// hold up the write it records.
func (l *Log) Record(e Entry) {
	if l == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	// The line is encoded later, on the drainer: the caller may reuse its slice.
	e.Identity = slices.Clone(e.Identity)
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.dropped.WithLabelValues("closed").Inc()
		return
	}
	select {
	case l.entries <- e:
	default:
		l.dropped.WithLabelValues("full").Inc()
	}
}

// drain writes queued entries until Close closes the queue, gathering what
// is already queued into one write.
func (l *Log) drain() {
	defer close(l.done)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // paths stay readable: "/a&b", not "/a\u0026b"
	for e := range l.entries {
		buf.Reset()
		n := 1
		encode(enc, e)
	batch:
		for buf.Len() < maxBatch {
			select {
			case e, ok := <-l.entries:
				if !ok {
					break batch
				}
				encode(enc, e)
				n++
			default:
				break batch
			}
		}
		l.write(buf.Bytes(), n)
	}
}

func encode(enc *json.Encoder, e Entry) {
	ids := e.Identity
	if ids == nil {
		ids = []string{} // always an array, never null
	}
	// Encoding strings and a slice of strings cannot fail.
	_ = enc.Encode(line{
		Time:      e.Time.UTC().Format(timeFormat),
		Zxid:      e.Zxid,
		Identity:  ids,
		Client:    e.Client,
		Session:   e.Session,
		Operation: e.Op,
		Path:      e.Path,
		Result:    e.Result,
	})
}

// write writes n lines in p; a failed write drops them (counted) and the
// next batch tries again, so a full disk loses lines only while it is full.
func (l *Log) write(p []byte, n int) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if _, err := l.out.Write(p); err != nil {
		l.dropped.WithLabelValues("write").Add(float64(n))
	}
}

// Reopen closes the file and opens path again, creating it if it is gone:
// after logrotate renamed the file, new lines go to a new file at path.
// If path cannot be opened the old file stays in use.
func (l *Log) Reopen() error {
	if l == nil {
		return nil
	}
	out, err := l.open(l.path)
	if err != nil {
		return fmt.Errorf("audit: reopen %s: %w", l.path, err)
	}
	l.wmu.Lock()
	old := l.out
	if old == nil {
		l.wmu.Unlock()
		out.Close()
		return ErrClosed
	}
	l.out = out
	l.wmu.Unlock()
	if err := old.Close(); err != nil {
		return fmt.Errorf("audit: close rotated %s: %w", l.path, err)
	}
	return nil
}

// Close writes what is queued, stops the writer and closes the file.
// Entries recorded after Close are dropped (counted as "closed").
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.entries)
	l.mu.Unlock()
	<-l.done
	l.wmu.Lock()
	out := l.out
	l.out = nil
	l.wmu.Unlock()
	if err := out.Close(); err != nil {
		return fmt.Errorf("audit: close %s: %w", l.path, err)
	}
	return nil
}
