package clustertest

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/canopy-coord/canopy/api"
)

var linDuration = flag.Duration("lin.duration", 20*time.Second, "how long TestLinearizableUnderLeaderKillAndPartition records its history")

// linInput is one client operation on one key (a znode under /lin).
type linInput struct {
	Op      string // create, set, delete, get, check
	Key     string
	Value   string // create, set
	Version int32  // set, delete, check: -1 matches any
}

// linOutput is what the client saw. Code is "ok", an error code the
// operation may legitimately return (NoNode, NodeExists, BadVersion), or
// "unknown": a write answered 503 or 504, or not at all, which may or may
// not have taken effect.
type linOutput struct {
	Code    string
	Value   string // get
	Version int32  // get, and the new version of create and set
}

// linState is one key's znode: ZooKeeper's data and version.
type linState struct {
	Exists  bool
	Data    string
	Version int32
}

const unknownCode = "unknown"

// linStep is the sequential specification of one znode. An operation of
// unknown outcome is given the return time "end of test", so the checker
// may place its effect anywhere after its call, including after every
// other operation, which is the same as never.
func linStep(s linState, in linInput, out linOutput) (bool, linState) {
	matches := in.Version == -1 || in.Version == s.Version
	switch in.Op {
	case "get":
		if !s.Exists {
			return out.Code == string(api.CodeNoNode), s
		}
		return out.Code == "ok" && out.Value == s.Data && out.Version == s.Version, s
	case "check":
		switch {
		case !s.Exists:
			return out.Code == string(api.CodeNoNode), s
		case !matches:
			return out.Code == string(api.CodeBadVersion), s
		}
		return out.Code == "ok", s
	case "create":
		next := linState{Exists: true, Data: in.Value}
		switch {
		case out.Code == unknownCode && s.Exists:
			return true, s
		case out.Code == unknownCode:
			return true, next
		case s.Exists:
			return out.Code == string(api.CodeNodeExists), s
		}
		return out.Code == "ok" && out.Version == 0, next
	case "set":
		next := linState{Exists: true, Data: in.Value, Version: s.Version + 1}
		applies := s.Exists && matches
		switch {
		case out.Code == unknownCode && applies:
			return true, next
		case out.Code == unknownCode:
			return true, s
		case !s.Exists:
			return out.Code == string(api.CodeNoNode), s
		case !matches:
			return out.Code == string(api.CodeBadVersion), s
		}
		return out.Code == "ok" && out.Version == next.Version, next
	case "delete":
		applies := s.Exists && matches
		switch {
		case out.Code == unknownCode && applies:
			return true, linState{}
		case out.Code == unknownCode:
			return true, s
		case !s.Exists:
			return out.Code == string(api.CodeNoNode), s
		case !matches:
			return out.Code == string(api.CodeBadVersion), s
		}
		return out.Code == "ok", linState{}
	}
	panic("unknown op " + in.Op)
}

var znodeModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(linInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return linState{} },
	Step: func(state, input, output any) (bool, any) {
		return linStep(state.(linState), input.(linInput), output.(linOutput))
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		var args string
		switch in.Op {
		case "get":
			args = in.Key
		case "create":
			args = in.Key + ", " + in.Value
		case "set":
			args = fmt.Sprintf("%s, %s, v%d", in.Key, in.Value, in.Version)
		default:
			args = fmt.Sprintf("%s, v%d", in.Key, in.Version)
		}
		res := out.Code
		if out.Code == "ok" && (in.Op == "get") {
			res = fmt.Sprintf("%q v%d", out.Value, out.Version)
		} else if out.Code == "ok" && (in.Op == "set" || in.Op == "create") {
			res = fmt.Sprintf("ok v%d", out.Version)
		}
		return fmt.Sprintf("%s(%s) -> %s", in.Op, args, res)
	},
	DescribeState: func(state any) string {
		s := state.(linState)
		if !s.Exists {
			return "absent"
		}
		return fmt.Sprintf("%q v%d", s.Data, s.Version)
	},
}

// linRecorder collects the history of every client.
type linRecorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	tally map[string]int
}

func (h *linRecorder) now() int64 { return int64(time.Since(h.start)) }

func (h *linRecorder) add(client int, in linInput, out linOutput, call, ret int64, nd *node) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tally[in.Op+" "+out.Code]++
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret, Metadata: nd.id})
}

// linClient runs one client until stop: random operations on random keys,
// each through a random node.
func linClient(c *cluster, id int, keys []string, h *linRecorder, unknownReturn int64, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	seen := map[string]int32{} // the last version this client saw of each key
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		key := keys[rng.IntN(len(keys))]
		in := linInput{Key: key, Value: fmt.Sprintf("c%d-%d", id, n), Version: -1}
		if v, ok := seen[key]; ok && rng.IntN(2) == 0 {
			in.Version = v
		}
		switch x := rng.IntN(100); {
		case x < 30:
			in.Op = "get"
		case x < 55:
			in.Op = "set"
		case x < 70:
			in.Op = "create"
		case x < 85:
			in.Op = "delete"
		default:
			in.Op = "check"
		}
		c.mu.Lock()
		nd := c.nodes[rng.IntN(len(c.nodes))]
		c.mu.Unlock()

		call := h.now()
		r := linRequest(nd, in)
		ret := h.now()
		out := linOutput{Code: "ok"}
		switch {
		case r.unknown():
			out.Code = unknownCode
		case r.Status/100 != 2:
			out.Code = string(r.code())
			switch api.Code(out.Code) {
			case api.CodeNoNode, api.CodeNodeExists, api.CodeBadVersion:
			default:
				// Not an answer the operation can give: reported, and the
				// operation counts as one of unknown outcome.
				h.mu.Lock()
				h.tally[fmt.Sprintf("%s unexpected %d %s", in.Op, r.Status, out.Code)]++
				h.mu.Unlock()
				out.Code = unknownCode
			}
		}
		if out.Code == "ok" {
			switch in.Op {
			case "get":
				var d api.NodeData
				if err := r.decode(&d); err != nil {
					out.Code = "undecodable: " + err.Error()
				}
				out.Value, out.Version = d.Data, d.Stat.Version
				seen[key] = d.Stat.Version
			case "create", "set":
				var ps api.PathStat
				if err := r.decode(&ps); err != nil {
					out.Code = "undecodable: " + err.Error()
				}
				out.Version = ps.Stat.Version
				seen[key] = ps.Stat.Version
			}
		}
		switch {
		case out.Code == unknownCode && (in.Op == "get" || in.Op == "check"):
			// A read that failed has no effect: it is left out.
		case out.Code == unknownCode:
			h.add(id, in, out, call, unknownReturn, nd)
		default:
			h.add(id, in, out, call, ret, nd)
		}
		if out.Code == unknownCode {
			time.Sleep(100 * time.Millisecond) // few unknowns keep the check fast
		}
	}
}

// linRequest performs one operation through the REST API.
func linRequest(nd *node, in linInput) reply {
	const timeout = 5 * time.Second
	p := "/v1/nodes/lin/" + in.Key
	switch in.Op {
	case "get":
		return get(nd, p, timeout)
	case "create":
		return post(nd, p, []byte(in.Value), timeout)
	case "set":
		return call(nd, http.MethodPut, fmt.Sprintf("%s?version=%d", p, in.Version), []byte(in.Value), timeout)
	case "delete":
		return call(nd, http.MethodDelete, fmt.Sprintf("%s?version=%d", p, in.Version), nil, timeout)
	case "check":
		v := int64(in.Version)
		body, _ := json.Marshal(api.MultiRequest{Ops: []api.MultiOp{{Op: "check", Path: "/lin/" + in.Key, Version: &v}}})
		return post(nd, "/v1/multi", body, timeout)
	}
	panic(in.Op)
}

func TestLinearizableUnderLeaderKillAndPartition(t *testing.T) {
	c := startCluster(t, 3)
	mustCreate(t, c.leader(t), "/lin", "")
	keys := []string{"k0", "k1", "k2", "k3"}
	const clients = 6

	h := &linRecorder{start: time.Now(), tally: map[string]int{}}
	unknownReturn := int64(*linDuration + time.Hour) // after everything: "end of test"
	stop := make(chan struct{})
	var wg sync.WaitGroup
	end := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer end() // also when the nemesis fails the test
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			linClient(c, i, keys, h, unknownReturn, stop)
		}(i)
	}

	// The nemesis: kill -9 the leader and bring it back, then cut the
	// (new) leader off for a while and heal it.
	d := *linDuration
	at := func(frac float64) <-chan time.Time {
		return time.After(time.Until(h.start.Add(time.Duration(frac * float64(d)))))
	}
	<-at(0.2)
	victim := c.leader(t)
	victim.kill(t)
	t.Logf("%v: killed -9 leader %s", time.Since(h.start).Round(time.Millisecond), victim.id)
	<-at(0.35)
	victim.restart(t)
	t.Logf("%v: restarted %s", time.Since(h.start).Round(time.Millisecond), victim.id)
	<-at(0.5)
	cut := c.leader(t)
	cut.partition()
	t.Logf("%v: cut off leader %s", time.Since(h.start).Round(time.Millisecond), cut.id)
	<-at(0.7)
	cut.heal()
	t.Logf("%v: healed %s", time.Since(h.start).Round(time.Millisecond), cut.id)
	<-at(1)
	end()

	var tally []string
	for k, v := range h.tally {
		tally = append(tally, fmt.Sprintf("%s:%d", k, v))
	}
	sort.Strings(tally)
	t.Logf("history of %d operations over %v: %s", len(h.ops), d, strings.Join(tally, " "))
	if h.tally["get ok"] == 0 || h.tally["set ok"] == 0 || h.tally["create ok"] == 0 || h.tally["delete ok"] == 0 {
		t.Errorf("the history lacks successful operations of some kind: %v", tally)
	}
	for k, n := range h.tally {
		if strings.Contains(k, "undecodable") || strings.Contains(k, "unexpected") {
			t.Errorf("unexpected outcome %d times: %s", n, k)
		}
	}

	checkStart := time.Now()
	res, linfo := porcupine.CheckOperationsVerbose(znodeModel, h.ops, 2*time.Minute)
	t.Logf("porcupine: %s in %v", res, time.Since(checkStart).Round(time.Millisecond))
	if res != porcupine.Ok {
		f, err := os.CreateTemp("", "canopy-linearizability-*.html")
		if err == nil {
			err = porcupine.Visualize(znodeModel, linfo, f)
			f.Close()
		}
		if err != nil {
			t.Errorf("write the visualization: %v", err)
		} else {
			t.Logf("visualization of the history: %s", f.Name())
		}
		t.Fatalf("the history is not linearizable (porcupine: %s)", res)
	}
}

// TestZnodeModelRejectsStaleRead checks the checker: a read that misses a
// write acknowledged before it started is caught, while the same read
// concurrent with the write, or after a write of unknown outcome, is not.
func TestZnodeModelRejectsStaleRead(t *testing.T) {
	create := linInput{Op: "create", Key: "k", Value: "a", Version: -1}
	set := linInput{Op: "set", Key: "k", Value: "b", Version: -1}
	get := linInput{Op: "get", Key: "k"}
	op := func(client int, in linInput, out linOutput, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret}
	}
	ok := func(v int32) linOutput { return linOutput{Code: "ok", Version: v} }
	read := func(data string, v int32) linOutput { return linOutput{Code: "ok", Value: data, Version: v} }
	for _, tc := range []struct {
		name    string
		history []porcupine.Operation
		want    bool
	}{
		{"stale read after an acknowledged set", []porcupine.Operation{
			op(0, create, ok(0), 0, 1), op(0, set, ok(1), 2, 3), op(1, get, read("a", 0), 4, 5)}, false},
		{"read concurrent with the set", []porcupine.Operation{
			op(0, create, ok(0), 0, 1), op(0, set, ok(1), 2, 5), op(1, get, read("a", 0), 3, 4)}, true},
		{"unknown set read as applied", []porcupine.Operation{
			op(0, create, ok(0), 0, 1), op(0, set, linOutput{Code: unknownCode}, 2, 100), op(1, get, read("b", 1), 4, 5)}, true},
		{"unknown set read as never applied", []porcupine.Operation{
			op(0, create, ok(0), 0, 1), op(0, set, linOutput{Code: unknownCode}, 2, 100), op(1, get, read("a", 0), 4, 5)}, true},
		{"read flips back after the unknown set showed", []porcupine.Operation{
			op(0, create, ok(0), 0, 1), op(0, set, linOutput{Code: unknownCode}, 2, 100),
			op(1, get, read("b", 1), 4, 5), op(1, get, read("a", 0), 6, 7)}, false},
		{"create of an existing node succeeds", []porcupine.Operation{
			op(0, create, ok(0), 0, 1), op(1, create, ok(0), 2, 3)}, false},
	} {
		if got := porcupine.CheckOperations(znodeModel, tc.history); got != tc.want {
			t.Errorf("%s: linearizable = %v, want %v", tc.name, got, tc.want)
		}
		// The failure report renders.
		_, info := porcupine.CheckOperationsVerbose(znodeModel, tc.history, 0)
		if err := porcupine.Visualize(znodeModel, info, io.Discard); err != nil {
			t.Errorf("%s: visualize: %v", tc.name, err)
		}
	}
}
