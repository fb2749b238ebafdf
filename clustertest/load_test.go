package clustertest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeLoad is a set of clients creating distinct nodes under a parent,
// each request through the next node in turn. It keeps what was
// acknowledged (201) apart from what is unknown (503, 504, no answer):
// an unknown write may or may not have happened and is never checked.
type writeLoad struct {
	c      *cluster
	parent string
	pause  time.Duration // between one client's requests; 0 = closed loop

	mu         sync.Mutex
	acked      []string
	ackedAt    []time.Time
	unknown    map[string]int // by kind: status and code, or "no answer"
	unexpected []string

	stop chan struct{}
	halt func() // stops the clients; idempotent
	wg   sync.WaitGroup
}

func startWriteLoad(t testing.TB, c *cluster, parent string, clients int, pause time.Duration) *writeLoad {
	w := &writeLoad{c: c, parent: parent, pause: pause, stop: make(chan struct{}), unknown: map[string]int{}}
	w.halt = sync.OnceFunc(func() { close(w.stop); w.wg.Wait() })
	t.Cleanup(w.halt) // when the test ends early
	for i := 0; i < clients; i++ {
		w.wg.Add(1)
		go w.client(i)
	}
	return w
}

func (w *writeLoad) client(id int) {
	defer w.wg.Done()
	for i := 0; ; i++ {
		select {
		case <-w.stop:
			return
		default:
		}
		// Every node in turn, the stopped and killed ones included.
		w.c.mu.Lock()
		nd := w.c.nodes[(id+i)%len(w.c.nodes)]
		w.c.mu.Unlock()
		name := fmt.Sprintf("c%02d-%06d", id, i)
		r := post(nd, "/v1/nodes"+w.parent+"/"+name, []byte(name), requestTimeout)
		w.mu.Lock()
		switch {
		case r.Status == http.StatusCreated:
			w.acked = append(w.acked, name)
			w.ackedAt = append(w.ackedAt, time.Now())
		case r.Err != nil:
			w.unknown["no answer"]++
		case r.unknown():
			w.unknown[fmt.Sprintf("%d %s", r.Status, r.code())]++
		default:
			w.unexpected = append(w.unexpected, fmt.Sprintf("create %s/%s through %s: %s", w.parent, name, nd.id, r))
		}
		w.mu.Unlock()
		if r.unknown() {
			// No busy loop against a node that is down or has no leader.
			time.Sleep(50 * time.Millisecond)
		} else if w.pause > 0 {
			time.Sleep(w.pause)
		}
	}
}

// ackedSince counts the writes acknowledged after t.
func (w *writeLoad) ackedSince(t time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, at := range w.ackedAt {
		if at.After(t) {
			n++
		}
	}
	return n
}

// end stops the clients and returns the acknowledged names; a response
// that is neither an acknowledgement nor an unknown outcome fails the test.
func (w *writeLoad) end(t testing.TB) []string {
	t.Helper()
	w.halt()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, u := range w.unexpected {
		t.Errorf("unexpected answer under load: %s", u)
	}
	t.Logf("write load on %s: %d acknowledged, unknown outcome: %v", w.parent, len(w.acked), w.unknown)
	return append([]string(nil), w.acked...)
}

// assertHasAll checks that nd, once it has applied zxid, has every name
// under parent.
func assertHasAll(t testing.TB, nd *node, parent string, names []string, zxid int64) {
	t.Helper()
	got, err := children(nd, parent, zxid)
	if err != nil {
		t.Fatalf("children of %s on %s: %v", parent, nd.id, err)
	}
	have := make(map[string]bool, len(got))
	for _, g := range got {
		have[g] = true
	}
	var missing []string
	for _, n := range names {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s lacks %d of %d acknowledged writes under %s, e.g. %v", nd.id, len(missing), len(names), parent, missing[:min(5, len(missing))])
	}
}

// raftLogLine is one JSON line of hashicorp/raft's log.
type raftLogLine struct {
	Message   string    `json:"@message"`
	Timestamp time.Time `json:"@timestamp"`
}

// logTimes returns the times of the node's raft log lines with the given
// message after t.
func (nd *node) logTimes(message string, after time.Time) []time.Time {
	f, err := os.Open(nd.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), message) {
			continue
		}
		var l raftLogLine
		if json.Unmarshal(line, &l) == nil && l.Message == message && l.Timestamp.After(after) {
			out = append(out, l.Timestamp)
		}
	}
	return out
}
