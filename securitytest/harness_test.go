package securitytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// TestMain lets every test start at once: each attack waits for its turn
// (attackTurn) so that a legitimate client's latencies show that attack
// alone, while the slowloris, which is nothing but waiting, runs beside
// them.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		if err := flag.Set("test.parallel", "64"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

var turn sync.Mutex

// attackTurn waits until no other attack runs, and lets the next one go
// when the test ends.
func attackTurn(t *testing.T) {
	t.Helper()
	turn.Lock()
	t.Cleanup(turn.Unlock)
}

// user is a digest user: Basic credentials that the node maps to the
// identity digest:name:base64(sha1(name:password)).
type user struct{ name, password string }

var (
	alice = user{"alice", "alice-Secret-1"}
	bob   = user{"bob", "bob-Secret-2"}
	// root is the --super-digest user: it reads the whole tree for the
	// before-and-after comparison, whatever the ACLs.
	root = user{"root", "root-Secret-3"}
	// anonymous sends no credentials.
	anonymous = user{}
)

// wrongPassword is a guess at alice's password.
const wrongPassword = "alice-Guess-4"

func (u user) digest() string { return api.Digest(u.name, u.password) }

// node is a real single node with --auth-required, root as its
// --super-digest, and an --audit-log.
type node struct {
	*testnode.Node
	addr     string // host:port, for raw connections
	client   *http.Client
	auditLog string
}

func startSecure(t *testing.T) *node {
	t.Helper()
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	nd := testnode.Start(t, func(m *server.Main) {
		m.AuthRequired = true
		m.SuperDigest = root.digest()
		m.AuditLog = auditLog
	})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	t.Cleanup(tr.CloseIdleConnections)
	n := &node{
		Node:     nd,
		addr:     strings.TrimPrefix(nd.URL, "http://"),
		client:   &http.Client{Transport: tr, Timeout: 20 * time.Second},
		auditLog: auditLog,
	}
	// Whatever the attack, the audit log holds no password.
	t.Cleanup(func() {
		for _, l := range n.audited(t) {
			noPassword(t, "audit log", reply{body: []byte(fmt.Sprint(l))})
		}
	})
	return n
}

// audited stops the node, which writes out its audit log, and returns
// the log's lines; each must be one JSON object.
func (n *node) audited(t testing.TB) []map[string]any {
	t.Helper()
	n.Stop()
	raw, err := os.ReadFile(n.auditLog)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	noPassword(t, "audit log", reply{body: raw})
	var lines []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("audit log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// auditHas reports whether one of lines has every field of want.
func auditHas(lines []map[string]any, want map[string]string) bool {
	for _, l := range lines {
		ok := true
		for k, v := range want {
			switch got := l[k].(type) {
			case string:
				ok = ok && got == v
			case float64: // zxid
				ok = ok && strconv.FormatFloat(got, 'f', -1, 64) == v
			case []any:
				ok = ok && slices.Contains(got, any(v))
			default:
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// reply is one answer, read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// code is the error body's code, "" when there is none.
func (r reply) code() api.Code {
	var e api.ErrorBody
	if json.Unmarshal(r.body, &e) != nil || e.Error == nil {
		return ""
	}
	return e.Error.Code
}

func (r reply) String() string {
	b := r.body
	if len(b) > 300 {
		b = append(b[:300:300], "..."...)
	}
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(b))
}

// call sends one request as u (no credentials for anonymous); hdr are
// extra header lines, "Key: value".
func (n *node) call(t testing.TB, as user, method, target string, body []byte, hdr ...string) reply {
	t.Helper()
	r, err := n.try(as, method, target, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s as %q: %v", method, target, as.name, err)
	}
	noPassword(t, method+" "+target, r)
	return r
}

// passwords are every password the tests send, a wrong one included.
var passwords = []string{alice.password, bob.password, root.password, wrongPassword}

// noPassword checks an answer, headers and body, echoes no password.
func noPassword(t testing.TB, what string, r reply) {
	t.Helper()
	var all bytes.Buffer
	r.header.Write(&all)
	all.Write(r.body)
	for _, pw := range passwords {
		if bytes.Contains(all.Bytes(), []byte(pw)) {
			t.Errorf("%s: the answer holds a password: %s", what, all.Bytes())
		}
	}
}

// try is call for a goroutine: it returns the error instead of failing.
func (n *node) try(as user, method, target string, body []byte, hdr ...string) (reply, error) {
	req, err := http.NewRequest(method, n.URL+target, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	if as != anonymous {
		req.SetBasicAuth(as.name, as.password)
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, err
}

// must is call that fails t unless the status is want.
func (n *node) must(t testing.TB, want int, as user, method, target string, body []byte, hdr ...string) reply {
	t.Helper()
	r := n.call(t, as, method, target, body, hdr...)
	if r.status != want {
		t.Fatalf("%s %s as %q: got %v, want %d", method, target, as.name, r, want)
	}
	return r
}

// refused checks an attack's answer: the status and code expected, and
// the Retry-After a 429 must carry.
func refused(t testing.TB, what string, r reply, status int, code api.Code) {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Errorf("%s: got %v, want %d %s", what, r, status, code)
		return
	}
	if status == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
		t.Errorf("%s: 429 without Retry-After", what)
	}
}

// session opens a session as u and returns its id.
func (n *node) session(t testing.TB, as user) string {
	t.Helper()
	var s api.Session
	r := n.must(t, http.StatusCreated, as, "POST", "/v1/sessions", []byte(`{"timeout_ms":30000}`))
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatalf("session: %v in %s", err, r.body)
	}
	return s.ID.String()
}

// legitPrefix is where the legitimate client writes: the one subtree the
// before-and-after comparison leaves out.
const legitPrefix = "/legit"

// tree is every node's stat by path (the subtree a legitimate client
// works in left out), read as the super user: a write the attack got
// through shows as a node more or less, or a version, aversion or zxid
// that moved.
func (n *node) tree(t testing.TB) map[string]api.Stat {
	t.Helper()
	r := n.must(t, http.StatusOK, root, "GET", "/v1/tree/?depth=1000&limit=10000", nil)
	var top api.TreeNode
	if err := json.Unmarshal(r.body, &top); err != nil {
		t.Fatalf("tree: %v", err)
	}
	out := map[string]api.Stat{}
	var walk func(*api.TreeNode)
	walk = func(tn *api.TreeNode) {
		if tn.Truncated {
			t.Fatalf("tree: %s truncated; the comparison needs every node", tn.Path)
		}
		if tn.Path == legitPrefix || strings.HasPrefix(tn.Path, legitPrefix+"/") {
			return
		}
		out[tn.Path] = tn.Stat
		for _, c := range tn.Children {
			walk(c)
		}
	}
	walk(&top)
	return out
}

// compareTrees fails t when the tree after an attack differs from the
// one before, naming the paths.
func compareTrees(t testing.TB, before, after map[string]api.Stat) {
	t.Helper()
	if reflect.DeepEqual(before, after) {
		return
	}
	var diffs []string
	for p, st := range before {
		if a, ok := after[p]; !ok {
			diffs = append(diffs, p+" deleted")
		} else if a != st {
			diffs = append(diffs, fmt.Sprintf("%s changed: %+v -> %+v", p, st, a))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			diffs = append(diffs, p+" created")
		}
	}
	sort.Strings(diffs)
	t.Errorf("the attack changed the tree:\n%s", strings.Join(diffs, "\n"))
}

// legit is a legitimate client (alice) doing get and set on her own node
// while an attack runs.
type legit struct {
	name string
	stop chan struct{}
	done chan struct{}

	mu        sync.Mutex
	latencies []time.Duration
	failures  []string
}

// Bounds on the legitimate client: it must get at least minRequests done,
// and its p99 stay under maxP99 (generous: the machine is shared).
const (
	minRequests = 20
	maxP99      = 2 * time.Second
)

// startLegit starts alice's get+set loop on /legit/<name> (/legit is
// setUp's), on a client of its own (its own connections, as a separate
// process would have).
func startLegit(t *testing.T, n *node, name string) *legit {
	t.Helper()
	path := "/v1/nodes" + legitPrefix + "/" + name
	n.must(t, http.StatusCreated, alice, "POST", path, []byte("0"))
	own := &node{Node: n.Node, addr: n.addr, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}, Timeout: 10 * time.Second}}
	l := &legit{name: name, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		defer own.client.CloseIdleConnections()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			ok := l.request(own, "GET", path, nil, http.StatusOK)
			ok = l.request(own, "PUT", path, []byte(fmt.Sprint(i)), http.StatusOK) && ok
			if !ok {
				// Refused: back off as a real client would, rather than
				// spin on instant refusals.
				select {
				case <-l.stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}()
	return l
}

// request makes one request and records it; false when it failed.
func (l *legit) request(n *node, method, path string, body []byte, want int) bool {
	start := time.Now()
	r, err := n.try(alice, method, path, body)
	took := time.Since(start)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.latencies = append(l.latencies, took)
	if err != nil {
		l.failures = append(l.failures, fmt.Sprintf("%s %s: %v", method, path, err))
		return false
	}
	if r.status != want {
		l.failures = append(l.failures, fmt.Sprintf("%s %s: %v", method, path, r))
		return false
	}
	return true
}

func (l *legit) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.latencies)
}

// finish waits until the client has done minRequests (within a bound),
// stops it, logs its p99 in a line the lead can paste, and checks the
// generous bounds. tolerate is how many refused requests are expected
// of this attack, 0 for most, -1 for any (a limit by client address
// also catches alice, who shares the attacker's loopback address).
func (l *legit) finish(t *testing.T, tolerate int) {
	t.Helper()
	testkit.WaitFor(t, 20*time.Second, fmt.Sprintf("the legitimate client to complete %d requests during %s", minRequests, l.name),
		func() bool { return l.count() >= minRequests })
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	lat := slices.Clone(l.latencies)
	slices.Sort(lat)
	p99 := lat[(len(lat)*99+99)/100-1]
	t.Logf("attack %s: legit p99 %d ms over %d requests (%d refused or failed)", l.name, p99.Milliseconds(), len(lat), len(l.failures))
	if len(l.failures) > 0 {
		t.Logf("attack %s: the legitimate client's first refusal: %s", l.name, l.failures[0])
	}
	if p99 > maxP99 {
		t.Errorf("attack %s: legit p99 %v, want under %v", l.name, p99, maxP99)
	}
	if tolerate >= 0 && len(l.failures) > tolerate {
		t.Errorf("attack %s: the legitimate client failed %d of %d requests, e.g. %s", l.name, len(l.failures), len(lat), l.failures[0])
	}
}

// raw is one hand-driven TCP connection: requests a Go client would
// correct (dot segments, bad escapes) go out exactly as written.
func (n *node) raw(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", n.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", n.addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawCall sends one request line and headers as written, and reads the
// answer.
func (n *node) rawCall(t testing.TB, as user, method, target string, body []byte) reply {
	t.Helper()
	c := n.raw(t)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: %d\r\n", method, target, n.addr, len(body))
	if as != anonymous {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(as.name, as.password)
		fmt.Fprintf(&b, "Authorization: %s\r\n", req.Header.Get("Authorization"))
	}
	b.WriteString("\r\n")
	b.Write(body)
	if _, err := c.Write(b.Bytes()); err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, body: rb}
	noPassword(t, method+" "+target, r)
	return r
}

func readAll(r io.Reader) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, 1<<20))
	return b
}
