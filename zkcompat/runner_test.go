package zkcompat

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// op is one step of a sequence. Paths starting with "$" are relative to the
// sequence's root ("$" is the root itself); others are used as they are.
type op struct {
	do      string // create get exists children set delete multi close gone sleep getacl setacl
	path    string
	data    string
	kind    kind
	ttlMs   int64
	sess    int
	version int32
	anyVer  bool // set/delete without a version (ZooKeeper: -1)
	ops     []mop
	dur     time.Duration
	// noSnap skips the comparison of the trees after this step: it makes a
	// container or TTL node eligible for deletion, which then happens at a
	// different moment on each system.
	noSnap bool
	// as is who runs the step: "" anonymous, or a principal's name (see
	// principals). Steps with a session run as the session's owner.
	as string
	// acl is a create's or setacl's ACL, zkCli's scheme:id:perms with
	// @placeholders (see expandACL); nil is none given, which setacl
	// sends as an empty list. setacl's aversion is version.
	acl []string
}

func (o op) String() string {
	s := o.describe()
	if o.acl != nil && o.do != "setacl" {
		s += fmt.Sprintf(" acl=%q", o.acl)
	}
	if o.as != "" {
		s += " as " + o.as
	}
	return s
}

func (o op) describe() string {
	switch o.do {
	case "setacl":
		return fmt.Sprintf("setacl %s %q aversion=%d", o.path, o.acl, o.version)
	case "create":
		s := fmt.Sprintf("create %s %q %s", o.path, o.data, o.kind)
		if o.kind.isTTL() {
			s += fmt.Sprintf(" ttl=%dms", o.ttlMs)
		}
		if o.sess > 0 {
			s += fmt.Sprintf(" session%d", o.sess)
		}
		return s
	case "set":
		return fmt.Sprintf("set %s %q %s", o.path, o.data, verString(o.version, o.anyVer))
	case "delete":
		return fmt.Sprintf("delete %s %s", o.path, verString(o.version, o.anyVer))
	case "multi":
		parts := make([]string, len(o.ops))
		for i, m := range o.ops {
			switch m.op {
			case "create":
				parts[i] = fmt.Sprintf("create %s %q %s", m.path, m.data, m.kind)
				if m.rawACL != nil {
					parts[i] += fmt.Sprintf(" acl=%q", m.rawACL)
				}
			case "set":
				parts[i] = fmt.Sprintf("set %s %q v=%d", m.path, m.data, m.version)
			default:
				parts[i] = fmt.Sprintf("%s %s v=%d", m.op, m.path, m.version)
			}
		}
		s := "multi[" + strings.Join(parts, "; ") + "]"
		if o.sess > 0 {
			s += fmt.Sprintf(" session%d", o.sess)
		}
		return s
	case "close":
		return fmt.Sprintf("close session%d", o.sess)
	case "sleep":
		return fmt.Sprintf("sleep %v", o.dur)
	case "gone":
		return fmt.Sprintf("wait until %s is deleted (up to %v)", o.path, goneDeadline)
	}
	return o.do + " " + o.path
}

func verString(v int32, any bool) string {
	if any {
		return "(no version)"
	}
	return fmt.Sprintf("v=%d", v)
}

// Step constructors, to keep the tables short.
func create(p, data string) op { return op{do: "create", path: p, data: data} }
func createK(p, data string, k kind) op {
	return op{do: "create", path: p, data: data, kind: k}
}
func createEph(p, data string, k kind, sess int) op {
	return op{do: "create", path: p, data: data, kind: k, sess: sess}
}
func createTTL(p string, k kind, ttlMs int64) op {
	return op{do: "create", path: p, kind: k, ttlMs: ttlMs}
}
func get(p string) op                    { return op{do: "get", path: p} }
func exists(p string) op                 { return op{do: "exists", path: p} }
func ls(p string) op                     { return op{do: "children", path: p} }
func set(p, data string, v int32) op     { return op{do: "set", path: p, data: data, version: v} }
func setAny(p, data string) op           { return op{do: "set", path: p, data: data, anyVer: true} }
func del(p string, v int32) op           { return op{do: "delete", path: p, version: v} }
func delAny(p string) op                 { return op{do: "delete", path: p, anyVer: true} }
func multi(sess int, ops ...mop) op      { return op{do: "multi", sess: sess, ops: ops} }
func closeSession(sess int) op           { return op{do: "close", sess: sess} }
func gone(p string) op                   { return op{do: "gone", path: p} }
func sleep(d time.Duration) op           { return op{do: "sleep", dur: d} }
func mCreate(p, data string, k kind) mop { return mop{op: "create", path: p, data: data, kind: k} }
func mSet(p, data string, v int32) mop   { return mop{op: "set", path: p, data: data, version: v} }
func mDel(p string, v int32) mop         { return mop{op: "delete", path: p, version: v} }
func mCheck(p string, v int32) mop       { return mop{op: "check", path: p, version: v} }

// createACL creates a persistent node with an ACL (none: an empty list).
func createACL(p, data string, acl ...string) op {
	return op{do: "create", path: p, data: data, acl: append([]string{}, acl...)}
}
func createEphACL(p string, sess int, acl ...string) op {
	return op{do: "create", path: p, kind: ephemeral, sess: sess, acl: append([]string{}, acl...)}
}
func getACL(p string) op { return op{do: "getacl", path: p} }
func setACL(p string, aversion int32, acl ...string) op {
	return op{do: "setacl", path: p, version: aversion, acl: append([]string{}, acl...)}
}
func mCreateACL(p, data string, k kind, acl ...string) mop {
	return mop{op: "create", path: p, data: data, kind: k, rawACL: append([]string{}, acl...)}
}

// by runs the step as principal who.
func (o op) by(who string) op { o.as = who; return o }

// noSnap marks a step after which the trees are not compared.
func (o op) noSnapshot() op { o.noSnap = true; return o }

// goneDeadline bounds the wait for a container or TTL node to be deleted.
const goneDeadline = 15 * time.Second

// cmpStat holds the Stat fields that must be equal between the systems.
type cmpStat struct {
	Version, Cversion, Aversion, DataLength, NumChildren int32
	// EphemeralOwner: "0", "session<N>" (the sequence's N-th session) or
	// "other(0x...)" (neither zero nor one of the sessions).
	EphemeralOwner string
}

// outcome is what one step did on one system, in comparable form.
type outcome struct {
	Code     string        `json:"code"`
	Path     string        `json:"path,omitempty"`
	Data     *string       `json:"data,omitempty"`
	Children []string      `json:"children,omitempty"`
	Stat     *cmpStat      `json:"stat,omitempty"`
	Multi    []multiResult `json:"multi,omitempty"`
	FailedOp *int          `json:"failedOp,omitempty"`
	ACL      []string      `json:"acl,omitempty"`
}

type multiResult struct {
	Code string   `json:"code"`
	Path string   `json:"path,omitempty"`
	Stat *cmpStat `json:"stat,omitempty"`
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// node is one node of a tree snapshot.
type node struct {
	Data     string
	Stat     cmpStat
	Children []string
	ACL      []string // ACL sequences only
	raw      nstat
}

// side is one system within a sequence run.
type side struct {
	sys  system
	root string
	// ACL sequences: src gives the principals their addresses, snap (the
	// super user) reads the trees, and the trees hold the ACLs.
	src  *srcNet
	snap system
}

func (s *side) abs(p string) string {
	if strings.HasPrefix(p, "$") {
		return s.root + p[1:]
	}
	return p
}

// rel turns a path the system returned back into "$..." form.
func (s *side) rel(p string) string {
	if p == s.root || strings.HasPrefix(p, s.root+"/") {
		return "$" + p[len(s.root):]
	}
	return p
}

func (s *side) cmp(st *nstat) *cmpStat {
	if st == nil {
		return nil
	}
	owner := "0"
	if st.EphemeralOwner != 0 {
		owner = fmt.Sprintf("other(%#x)", st.EphemeralOwner)
		if n, ok := s.sys.sessions()[st.EphemeralOwner]; ok {
			owner = fmt.Sprintf("session%d", n)
		}
	}
	return &cmpStat{
		Version: st.Version, Cversion: st.Cversion, Aversion: st.Aversion,
		DataLength: st.DataLength, NumChildren: st.NumChildren, EphemeralOwner: owner,
	}
}

// exec runs one step. The stats it saw go to stats, keyed by relative path.
func (s *side) exec(o op, stats map[string]*nstat) outcome {
	p := s.abs(o.path)
	sys := s.sys.as(o.as)
	switch o.do {
	case "create":
		got, code := sys.createACL(p, []byte(o.data), o.kind, o.ttlMs, o.sess, s.expandACL(o.acl))
		return outcome{Code: code, Path: s.rel(got)}
	case "getacl":
		list, st, code := sys.getACL(p)
		out := outcome{Code: code, Stat: s.cmp(st)}
		if code == "" {
			out.ACL = s.relACL(list)
			stats[o.path] = st
		}
		return out
	case "setacl":
		list := s.expandACL(o.acl)
		if list == nil {
			list = []aclEntry{}
		}
		st, code := sys.setACL(p, list, o.version)
		if code == "" {
			stats[o.path] = st
		}
		return outcome{Code: code, Stat: s.cmp(st)}
	case "get":
		d, st, code := sys.get(p)
		out := outcome{Code: code, Stat: s.cmp(st)}
		if code == "" {
			ds := string(d)
			out.Data = &ds
			stats[o.path] = st
		}
		return out
	case "exists":
		st, code := sys.exists(p)
		if code == "" {
			stats[o.path] = st
		}
		return outcome{Code: code, Stat: s.cmp(st)}
	case "children":
		ch, st, code := sys.children(p)
		if code == "" {
			stats[o.path] = st
		}
		ch = append([]string(nil), ch...)
		sort.Strings(ch)
		return outcome{Code: code, Children: ch, Stat: s.cmp(st)}
	case "set":
		st, code := sys.set(p, []byte(o.data), o.version, o.anyVer)
		if code == "" {
			stats[o.path] = st
		}
		return outcome{Code: code, Stat: s.cmp(st)}
	case "delete":
		return outcome{Code: sys.del(p, o.version, o.anyVer)}
	case "multi":
		ops := make([]mop, len(o.ops))
		for i, m := range o.ops {
			m.path = s.abs(m.path)
			if m.rawACL != nil {
				m.acl = s.expandACL(m.rawACL)
				if m.acl == nil {
					m.acl = []aclEntry{}
				}
			}
			ops[i] = m
		}
		res, failed, code := sys.multi(o.sess, ops)
		out := outcome{Code: code, Multi: []multiResult{}}
		if failed != -1 {
			out.FailedOp = &failed
		}
		for i, r := range res {
			out.Multi = append(out.Multi, multiResult{Code: r.code, Path: s.rel(r.path), Stat: s.cmp(r.stat)})
			if r.stat != nil && i < len(o.ops) {
				stats[fmt.Sprintf("%s(multi op %d)", o.ops[i].path, i)] = r.stat
			}
		}
		return out
	case "close":
		if err := sys.closeSession(o.sess); err != nil {
			return outcome{Code: "close(" + err.Error() + ")"}
		}
		return outcome{}
	}
	panic("unknown step " + o.do)
}

// waitGone polls until p does not exist.
func (s *side) waitGone(p string, deadline time.Time) outcome {
	for {
		_, code := s.sys.exists(s.abs(p))
		if code == "NoNode" {
			return outcome{}
		}
		if code != "" {
			return outcome{Code: "exists: " + code}
		}
		if time.Now().After(deadline) {
			return outcome{Code: fmt.Sprintf("StillThereAfter%v", goneDeadline)}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitEphemeralsGone polls until no node of the tree is owned by the
// session: a ZooKeeper client's Close returns before the server has
// committed the close. Canopy answers DELETE /v1/sessions only after.
func (s *side) waitEphemeralsGone(owner uint64) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		tree := s.snapshot()
		left := false
		for _, n := range tree {
			if n.raw.EphemeralOwner == owner {
				left = true
			}
		}
		if !left {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// snapshot reads the sequence's whole tree: data, stat and children of
// every node. A node that vanishes while being read is left out.
func (s *side) snapshot() map[string]*node {
	sys := s.sys
	if s.snap != nil {
		sys = s.snap
	}
	tree := map[string]*node{}
	var walk func(p string)
	walk = func(p string) {
		d, st, code := sys.get(p)
		if code != "" {
			return
		}
		ch, _, code := sys.children(p)
		if code != "" {
			return
		}
		ch = append([]string(nil), ch...)
		sort.Strings(ch)
		n := &node{Data: string(d), Stat: *s.cmp(st), Children: ch, raw: *st}
		if s.snap != nil {
			list, _, code := sys.getACL(p)
			if code != "" {
				n.ACL = []string{"getACL: " + code}
			} else {
				n.ACL = s.relACL(list)
			}
		}
		tree[s.rel(p)] = n
		for _, c := range ch {
			walk(p + "/" + c)
		}
	}
	walk(s.root)
	return tree
}

// zxidSlot is one observed zxid, as seen on both systems.
type zxidSlot struct {
	label  string
	zk, cp int64
}

// checker compares one sequence's two runs and reports differences once.
type checker struct {
	t        *testing.T
	name     string
	reported map[string]bool
	errors   int
	slots    []zxidSlot
	last     map[string][2]int64
}

const maxErrorsPerSequence = 12

func (c *checker) errorf(key, format string, args ...any) {
	c.t.Helper()
	if c.reported[key] {
		return
	}
	c.reported[key] = true
	c.errors++
	if c.errors > maxErrorsPerSequence {
		if c.errors == maxErrorsPerSequence+1 {
			c.t.Errorf("%s: more differences, not shown", c.name)
		}
		return
	}
	c.t.Errorf("%s: "+format, append([]any{c.name}, args...)...)
}

// observe records the zxids of a stat seen on both systems, when they
// changed since the last observation of the same field.
func (c *checker) observe(where, step string, zs, cs *nstat) {
	if zs == nil || cs == nil {
		return
	}
	for _, f := range []struct {
		field  string
		zk, cp int64
	}{{"czxid", zs.Czxid, cs.Czxid}, {"mzxid", zs.Mzxid, cs.Mzxid}, {"pzxid", zs.Pzxid, cs.Pzxid}} {
		key := where + "." + f.field
		pair := [2]int64{f.zk, f.cp}
		if old, ok := c.last[key]; ok && old == pair {
			continue
		}
		c.last[key] = pair
		c.slots = append(c.slots, zxidSlot{label: fmt.Sprintf("%s (%s)", key, step), zk: f.zk, cp: f.cp})
	}
}

func rel3(a, b int64) string {
	switch {
	case a < b:
		return "<"
	case a > b:
		return ">"
	}
	return "=="
}

// checkZxids compares every pair of observed zxids: the relation (<, ==,
// >) must be the same on both systems.
func (c *checker) checkZxids() {
	shown := 0
	for i := 0; i < len(c.slots) && shown < 6; i++ {
		for j := i + 1; j < len(c.slots) && shown < 6; j++ {
			a, b := c.slots[i], c.slots[j]
			zr, cr := rel3(a.zk, b.zk), rel3(a.cp, b.cp)
			if zr != cr {
				shown++
				c.errorf("zxid "+a.label+"|"+b.label,
					"zxid relation differs: %s vs %s: zookeeper %d %s %d, canopy %d %s %d",
					a.label, b.label, a.zk, zr, b.zk, a.cp, cr, b.cp)
			}
		}
	}
}

func (c *checker) compareTrees(step string, zt, ct map[string]*node) {
	paths := map[string]bool{}
	for p := range zt {
		paths[p] = true
	}
	for p := range ct {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	for _, p := range sorted {
		zn, cn := zt[p], ct[p]
		switch {
		case zn == nil:
			c.errorf("tree-extra "+p, "after %s: canopy has %s, zookeeper does not", step, p)
			continue
		case cn == nil:
			c.errorf("tree-missing "+p, "after %s: zookeeper has %s, canopy does not", step, p)
			continue
		}
		if zn.Data != cn.Data {
			c.errorf(fmt.Sprintf("data %s %q %q", p, zn.Data, cn.Data),
				"after %s: data of %s: zookeeper %q, canopy %q", step, p, zn.Data, cn.Data)
		}
		if !reflect.DeepEqual(zn.ACL, cn.ACL) {
			c.errorf(fmt.Sprintf("acl %s %q %q", p, zn.ACL, cn.ACL),
				"after %s: ACL of %s: zookeeper %q, canopy %q", step, p, zn.ACL, cn.ACL)
		}
		if !reflect.DeepEqual(zn.Children, cn.Children) {
			c.errorf(fmt.Sprintf("children %s %v %v", p, zn.Children, cn.Children),
				"after %s: children of %s: zookeeper %q, canopy %q", step, p, zn.Children, cn.Children)
		}
		zv, cv := reflect.ValueOf(zn.Stat), reflect.ValueOf(cn.Stat)
		for i := 0; i < zv.NumField(); i++ {
			f := zv.Type().Field(i).Name
			a, b := fmt.Sprint(zv.Field(i).Interface()), fmt.Sprint(cv.Field(i).Interface())
			if a != b {
				c.errorf(fmt.Sprintf("stat %s.%s %s %s", p, f, a, b),
					"after %s: %s.%s: zookeeper %s, canopy %s", step, p, f, a, b)
			}
		}
		c.observe(p, step, &zn.raw, &cn.raw)
	}
}

// traceSteps (ZKCOMPAT_TRACE=1) logs every step's outcome when the
// systems agree, to see what a sequence exercises (with go test -v).
var traceSteps = os.Getenv("ZKCOMPAT_TRACE") != ""

var seqCounter atomic.Int64

func init() { seqCounter.Store(time.Now().UnixMilli() % 1000000) }

// runSequence runs the steps on both systems in lockstep, each under a
// fresh root "/cmp-<name>-<n>", and compares them after every step.
func runSequence(t *testing.T, name string, steps []op) {
	t.Helper()
	runSteps(t, name, steps, false)
}

// runSteps is runSequence; withACL runs it as an ACL sequence (see
// newACLSides).
func runSteps(t *testing.T, name string, steps []op, withACL bool) {
	t.Helper()
	n := seqCounter.Add(1)
	root := fmt.Sprintf("/cmp-%s-%d", name, n)
	var zs, cs *side
	if withACL {
		zs, cs = newACLSides(t, root)
	} else {
		zs, cs = newSides(t, root)
	}
	c := &checker{t: t, name: name, reported: map[string]bool{}, last: map[string][2]int64{}}

	all := append([]op{create("$", "")}, steps...)
	for i, o := range all {
		step := fmt.Sprintf("step %d [%s]", i, o)
		var zo, co outcome
		zstats, cstats := map[string]*nstat{}, map[string]*nstat{}
		switch o.do {
		case "sleep":
			time.Sleep(o.dur)
		case "gone":
			deadline := time.Now().Add(goneDeadline)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); zo = zs.waitGone(o.path, deadline) }()
			go func() { defer wg.Done(); co = cs.waitGone(o.path, deadline) }()
			wg.Wait()
		case "close":
			var owner uint64
			for id, s := range zs.sys.sessions() {
				if s == o.sess {
					owner = id
				}
			}
			zo = zs.exec(o, zstats)
			if zo.Code == "" {
				zs.waitEphemeralsGone(owner)
			}
			co = cs.exec(o, cstats)
		default:
			zo = zs.exec(o, zstats)
			co = cs.exec(o, cstats)
		}
		if i == 0 && (zo.Code != "" || co.Code != "") {
			t.Fatalf("%s: creating the root %s: zookeeper %q, canopy %q", name, root, zo.Code, co.Code)
		}
		if !reflect.DeepEqual(zo, co) {
			c.errorf("outcome "+step, "%s:\n\tzookeeper: %s\n\tcanopy:    %s", step, js(zo), js(co))
		} else if traceSteps {
			t.Logf("%s: %s", step, js(zo))
		}
		for k, zst := range zstats {
			c.observe(k, step, zst, cstats[k])
		}
		if !o.noSnap {
			c.compareTrees(step, zs.snapshot(), cs.snapshot())
		}
	}
	c.checkZxids()
	checkTransport(t, cs)
}

// newSides returns the two systems for a test rooted at root; they are shut
// down (their sessions closed) when the test ends.
func newSides(t *testing.T, root string) (zs, cs *side) {
	zs = &side{sys: newZKSystem(), root: root}
	cs = &side{sys: newCanopySystem(), root: root}
	t.Cleanup(func() {
		zs.sys.shutdown()
		cs.sys.shutdown()
	})
	return zs, cs
}

// checkTransport reports the response-level trouble Canopy's side noted.
func checkTransport(t *testing.T, s *side) {
	t.Helper()
	if c, ok := s.sys.(*canopySystem); ok {
		c.checkFailures(t)
	}
}
