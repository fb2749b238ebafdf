package fsm_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// t0 is the proposer's clock at zxid 0 in these tests; a command applied by a
// harness without its own Time is stamped at(zxid).
const t0 int64 = 1_700_000_000_000

func at(zxid int64) int64 { return t0 + 1000*zxid }

// ZooKeeper's ephemeralOwner encodings of the node kinds.
const (
	containerOwner api.ID = 0x8000000000000000
	ttlOwnerBase   api.ID = 0xFF << 56
)

// harness applies commands to a fresh tree at consecutive zxids.
type harness struct {
	tb   testing.TB
	tree *fsm.Tree
	zxid int64
}

func newHarness(tb testing.TB) *harness {
	return &harness{tb: tb, tree: fsm.NewTree()}
}

// apply applies cmd at the next zxid, stamping at(zxid) unless cmd has a Time.
func (h *harness) apply(cmd fsm.Command) (fsm.Result, []api.Event) {
	h.zxid++
	if cmd.Time == 0 {
		cmd.Time = at(h.zxid)
	}
	return h.tree.Apply(h.zxid, &cmd)
}

// ok applies cmd and fails the test unless it succeeds.
func (h *harness) ok(cmd fsm.Command) (fsm.Result, []api.Event) {
	h.tb.Helper()
	res, ev := h.apply(cmd)
	if res.Err != nil {
		h.tb.Fatalf("%s %q at zxid %d: unexpected error %v", cmd.Op, cmd.Path, h.zxid, res.Err)
	}
	return res, ev
}

// fails applies cmd, checks that it fails with code and leaves the tree and
// the events untouched, and returns the error.
func (h *harness) fails(cmd fsm.Command, code api.Code) *api.Error {
	h.tb.Helper()
	before := captureState(h.tb, h.tree)
	res, ev := h.apply(cmd)
	if res.Err == nil {
		h.tb.Fatalf("%s %q: got success (path %q), want %s", cmd.Op, cmd.Path, res.Path, code)
	}
	if res.Err.Code != code {
		h.tb.Fatalf("%s %q: got %v, want %s", cmd.Op, cmd.Path, res.Err, code)
	}
	if len(ev) != 0 {
		h.tb.Errorf("%s %q failed with %s but emitted events:\n%s", cmd.Op, cmd.Path, code, formatEvents(ev))
	}
	after := captureState(h.tb, h.tree)
	after.Counts.Applied = before.Counts.Applied // a failed command still advances the applied index
	if d := diffStates(before, after); d != "" {
		h.tb.Errorf("%s %q failed with %s but changed the tree: %s", cmd.Op, cmd.Path, code, d)
	}
	return res.Err
}

func (h *harness) stat(p string) api.Stat {
	h.tb.Helper()
	st, _, err := h.tree.Stat(p)
	if err != nil {
		h.tb.Fatalf("stat %q: %v", p, err)
	}
	return st
}

func (h *harness) data(p string) string {
	h.tb.Helper()
	d, _, _, err := h.tree.Get(p)
	if err != nil {
		h.tb.Fatalf("get %q: %v", p, err)
	}
	return d
}

func (h *harness) exists(p string) bool {
	_, _, err := h.tree.Stat(p)
	return err == nil
}

func (h *harness) children(p string) []string {
	h.tb.Helper()
	page, err := h.tree.Children(p, "", 0, false)
	if err != nil {
		h.tb.Fatalf("children %q: %v", p, err)
	}
	return page.Names
}

// Command constructors. Every one says "any version" unless given one:
// Command.Version's zero value is a real precondition.

func create(p, data string, flags ...fsm.Flags) fsm.Command {
	c := fsm.Command{Op: fsm.OpCreate, Path: p, Data: []byte(data), Version: fsm.AnyVersion}
	for _, f := range flags {
		c.Flags |= f
	}
	return c
}

func createTTL(p, data string, ttl int64, flags ...fsm.Flags) fsm.Command {
	c := create(p, data, flags...)
	c.TTL = ttl
	return c
}

func createEphemeral(p, data string, session api.ID, flags ...fsm.Flags) fsm.Command {
	c := create(p, data, append(flags, fsm.FlagEphemeral)...)
	c.Session = session
	return c
}

func set(p, data string, version int32) fsm.Command {
	return fsm.Command{Op: fsm.OpSetData, Path: p, Data: []byte(data), Version: version}
}

func del(p string, version int32) fsm.Command {
	return fsm.Command{Op: fsm.OpDelete, Path: p, Version: version}
}

func delAll(p string) fsm.Command {
	return fsm.Command{Op: fsm.OpDelete, Path: p, Version: fsm.AnyVersion, Flags: fsm.FlagRecursive}
}

func check(p string, version int32) fsm.Command {
	return fsm.Command{Op: fsm.OpCheck, Path: p, Version: version}
}

func multi(ops ...fsm.Command) fsm.Command {
	return fsm.Command{Op: fsm.OpMulti, Version: fsm.AnyVersion, Ops: ops}
}

func openSession(id api.ID, timeoutMs int64) fsm.Command {
	return fsm.Command{Op: fsm.OpCreateSession, Session: id, Timeout: timeoutMs, Version: fsm.AnyVersion}
}

func closeSession(id api.ID) fsm.Command {
	return fsm.Command{Op: fsm.OpCloseSession, Session: id, Version: fsm.AnyVersion}
}

func expireSession(id api.ID) fsm.Command {
	return fsm.Command{Op: fsm.OpExpireSession, Session: id, Version: fsm.AnyVersion}
}

func reap(p string, now int64) fsm.Command {
	return fsm.Command{Op: fsm.OpReap, Path: p, Time: now, Version: fsm.AnyVersion}
}

// Event constructors.

func evCreated(p string, zxid int64, st api.Stat) api.Event {
	return api.Event{Type: api.EventNodeCreated, Path: p, Zxid: zxid, Stat: &st}
}

func evDeleted(p string, zxid int64) api.Event {
	return api.Event{Type: api.EventNodeDeleted, Path: p, Zxid: zxid}
}

func evChanged(p string, zxid int64, st api.Stat) api.Event {
	return api.Event{Type: api.EventNodeDataChanged, Path: p, Zxid: zxid, Stat: &st}
}

func evAdded(parent, child string, zxid int64) api.Event {
	return api.Event{Type: api.EventNodeChildrenChanged, Path: parent, Zxid: zxid, Child: child, Change: "added"}
}

func evRemoved(parent, child string, zxid int64) api.Event {
	return api.Event{Type: api.EventNodeChildrenChanged, Path: parent, Zxid: zxid, Child: child, Change: "removed"}
}

func formatEvent(e api.Event) string {
	s := fmt.Sprintf("%s %s @%d", e.Type, e.Path, e.Zxid)
	if e.Child != "" || e.Change != "" {
		s += fmt.Sprintf(" child=%q %s", e.Child, e.Change)
	}
	if e.Stat != nil {
		s += fmt.Sprintf(" stat=%+v", *e.Stat)
	}
	return s
}

func formatEvents(evs []api.Event) string {
	if len(evs) == 0 {
		return "\t(none)"
	}
	var b strings.Builder
	for i, e := range evs {
		fmt.Fprintf(&b, "\t%d: %s\n", i, formatEvent(e))
	}
	return b.String()
}

func checkEvents(tb testing.TB, got, want []api.Event) {
	tb.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("events:\ngot\n%swant\n%s", formatEvents(got), formatEvents(want))
	}
}

func checkStat(tb testing.TB, what string, got, want api.Stat) {
	tb.Helper()
	if got != want {
		tb.Errorf("%s stat:\ngot  %+v\nwant %+v", what, got, want)
	}
}

// nodeState is one node as the public read API shows it.
type nodeState struct {
	Path string
	Data string
	Stat api.Stat
	ACL  string // as zkCli prints it, entries joined by ","
}

// treeState is everything a replica exposes: every node, the sessions with
// their ephemerals, the sizes, and which nodes are due for reaping.
type treeState struct {
	Nodes    []nodeState
	Sessions []fsm.SessionInfo
	Timeouts map[api.ID]int64
	Counts   fsm.Counts
	// Containers due at any time, and every reapable node far in the future.
	ReapNow, ReapLater []string
	// Owners is each node's ephemeralOwner as stored (and snapshotted), with
	// ZooKeeper's kind markers that Stat hides from clients; zero ones left out.
	Owners map[string]api.ID
}

// captureState walks the whole tree through the read API, depth first in
// name order.
func captureState(tb testing.TB, tree *fsm.Tree) treeState {
	tb.Helper()
	var s treeState
	var walk func(p string)
	walk = func(p string) {
		data, st, _, err := tree.Get(p)
		if err != nil {
			tb.Fatalf("walk: get %q: %v", p, err)
		}
		var list []api.ACL
		tree.Read(func(r fsm.Reader) { list, _, _, err = r.ACL(p) })
		if err != nil {
			tb.Fatalf("walk: acl %q: %v", p, err)
		}
		s.Nodes = append(s.Nodes, nodeState{Path: p, Data: data, Stat: st, ACL: aclString(list)})
		page, err := tree.Children(p, "", 0, false)
		if err != nil {
			tb.Fatalf("walk: children %q: %v", p, err)
		}
		for _, name := range page.Names {
			walk(fsm.JoinPath(p, name))
		}
	}
	walk("/")
	s.Owners = snapshotOwners(tb, tree, s.Nodes)
	s.Sessions, _ = tree.Sessions()
	s.Timeouts = tree.SessionTimeouts()
	s.Counts = tree.Counts()
	s.ReapNow = tree.ReapCandidates(math.MinInt64 / 4)
	s.ReapLater = tree.ReapCandidates(math.MaxInt64 / 4)
	return s
}

func aclString(list []api.ACL) string {
	var parts []string
	for _, a := range list {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, ",")
}

// diffStates describes the first difference between two states, or "".
func diffStates(a, b treeState) string {
	for i := 0; i < len(a.Nodes) || i < len(b.Nodes); i++ {
		switch {
		case i >= len(a.Nodes):
			return fmt.Sprintf("extra node %+v", b.Nodes[i])
		case i >= len(b.Nodes):
			return fmt.Sprintf("missing node %+v", a.Nodes[i])
		case a.Nodes[i] != b.Nodes[i]:
			return fmt.Sprintf("node differs:\n\t%+v\n\t%+v", a.Nodes[i], b.Nodes[i])
		}
	}
	if !reflect.DeepEqual(a.Sessions, b.Sessions) {
		return fmt.Sprintf("sessions differ:\n\t%+v\n\t%+v", a.Sessions, b.Sessions)
	}
	if !reflect.DeepEqual(a.Timeouts, b.Timeouts) {
		return fmt.Sprintf("session timeouts differ:\n\t%v\n\t%v", a.Timeouts, b.Timeouts)
	}
	if a.Counts != b.Counts {
		return fmt.Sprintf("counts differ:\n\t%+v\n\t%+v", a.Counts, b.Counts)
	}
	if !reflect.DeepEqual(a.ReapNow, b.ReapNow) || !reflect.DeepEqual(a.ReapLater, b.ReapLater) {
		return fmt.Sprintf("reap candidates differ:\n\t%v %v\n\t%v %v", a.ReapNow, a.ReapLater, b.ReapNow, b.ReapLater)
	}
	if !reflect.DeepEqual(a.Owners, b.Owners) {
		return fmt.Sprintf("stored owners differ:\n\t%v\n\t%v", a.Owners, b.Owners)
	}
	return ""
}

// checkInvariants verifies what must hold of any tree the state machine can
// reach: child counts, data lengths, node kinds, session bookkeeping, sizes.
func checkInvariants(tb testing.TB, s treeState) {
	tb.Helper()
	kids := map[string]int32{}
	byPath := map[string]nodeState{}
	var dataBytes int64
	ephemerals := map[api.ID][]string{}
	numEphemerals := 0
	for _, n := range s.Nodes {
		byPath[n.Path] = n
		if n.Path != "/" {
			kids[fsm.ParentPath(n.Path)]++
		}
		dataBytes += int64(len(n.Data))
		if err := fsm.ValidatePath(n.Path); err != nil {
			tb.Errorf("node with an invalid path %q: %v", n.Path, err)
		}
		if n.Stat.DataLength != int32(len(n.Data)) {
			tb.Errorf("%s: dataLength %d, data has %d bytes", n.Path, n.Stat.DataLength, len(n.Data))
		}
		if n.Stat.Mzxid < n.Stat.Czxid || n.Stat.Pzxid < n.Stat.Czxid {
			tb.Errorf("%s: zxids out of order: %+v", n.Path, n.Stat)
		}
		if n.Stat.Czxid > s.Counts.Applied || n.Stat.Mzxid > s.Counts.Applied || n.Stat.Pzxid > s.Counts.Applied {
			tb.Errorf("%s: zxid beyond applied %d: %+v", n.Path, s.Counts.Applied, n.Stat)
		}
		if n.Stat.Version < 0 || n.Stat.Cversion < 0 || n.Stat.Aversion < 0 {
			tb.Errorf("%s: negative version: %+v", n.Path, n.Stat)
		}
		switch o := s.Owners[n.Path]; {
		case fsm.ValidSessionID(o):
			ephemerals[o] = append(ephemerals[o], n.Path)
			numEphemerals++
			if n.Stat.NumChildren != 0 {
				tb.Errorf("ephemeral %s has %d children", n.Path, n.Stat.NumChildren)
			}
			if n.Stat.EphemeralOwner != o {
				tb.Errorf("ephemeral %s: Stat says owner %s, stored %s", n.Path, n.Stat.EphemeralOwner, o)
			}
		case o == 0, o == containerOwner, isTTLOwner(o):
			// Stat shows 0 for persistent, container and TTL nodes alike.
			if n.Stat.EphemeralOwner != 0 {
				tb.Errorf("%s (stored owner %s): Stat says owner %s, want 0", n.Path, o, n.Stat.EphemeralOwner)
			}
		default:
			tb.Errorf("%s: stored ephemeralOwner %s is no kind", n.Path, o)
		}
	}
	for _, n := range s.Nodes {
		if n.Stat.NumChildren != kids[n.Path] {
			tb.Errorf("%s: numChildren %d, has %d", n.Path, n.Stat.NumChildren, kids[n.Path])
		}
	}
	if s.Counts.Nodes != len(s.Nodes) {
		tb.Errorf("Counts.Nodes = %d, walked %d", s.Counts.Nodes, len(s.Nodes))
	}
	if s.Counts.DataBytes != dataBytes {
		tb.Errorf("Counts.DataBytes = %d, data adds up to %d", s.Counts.DataBytes, dataBytes)
	}
	if s.Counts.Ephemerals != numEphemerals || s.Counts.Sessions != len(s.Sessions) {
		tb.Errorf("Counts = %+v; %d ephemeral nodes, %d sessions", s.Counts, numEphemerals, len(s.Sessions))
	}
	open := map[api.ID]bool{}
	for _, sess := range s.Sessions {
		open[sess.ID] = true
		if !fsm.ValidSessionID(sess.ID) {
			tb.Errorf("session with invalid id %s", sess.ID)
		}
		if sess.TimeoutMs < fsm.MinSessionTimeout || sess.TimeoutMs > fsm.MaxSessionTimeout {
			tb.Errorf("session %s: timeout %d out of range", sess.ID, sess.TimeoutMs)
		}
		if s.Timeouts[sess.ID] != sess.TimeoutMs {
			tb.Errorf("session %s: SessionTimeouts says %d, Sessions %d", sess.ID, s.Timeouts[sess.ID], sess.TimeoutMs)
		}
		want := ephemerals[sess.ID]
		if len(want) == 0 && len(sess.Ephemerals) == 0 {
			continue
		}
		if !sameSet(sess.Ephemerals, want) {
			tb.Errorf("session %s lists %v, owns %v", sess.ID, sess.Ephemerals, want)
		}
	}
	for id, paths := range ephemerals {
		if !open[id] {
			tb.Errorf("ephemerals %v owned by session %s, which is not open", paths, id)
		}
	}
	if len(s.Timeouts) != len(s.Sessions) {
		tb.Errorf("SessionTimeouts has %d sessions, Sessions %d", len(s.Timeouts), len(s.Sessions))
	}
	for _, p := range s.ReapLater {
		n, ok := byPath[p]
		if o := s.Owners[p]; !ok || n.Stat.NumChildren != 0 || (o != containerOwner && !isTTLOwner(o)) {
			tb.Errorf("reap candidate %s (stored owner %s) is not an empty container or TTL node: %+v", p, o, n)
		}
	}
	for _, p := range s.ReapNow {
		if s.Owners[p] != containerOwner || byPath[p].Stat.Cversion == 0 {
			tb.Errorf("reap candidate at the dawn of time %s is not a container that had a child", p)
		}
	}
	for _, want := range []string{"/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"} {
		if _, ok := byPath[want]; !ok {
			tb.Errorf("%s is missing", want)
		}
	}
}

// sameSet reports whether two path lists hold the same paths: the walk
// yields depth-first order, the session list is sorted.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, p := range a {
		seen[p]++
	}
	for _, p := range b {
		seen[p]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// roundTrip writes a snapshot of tree and restores it into a fresh tree.
func roundTrip(tb testing.TB, tree *fsm.Tree) *fsm.Tree {
	tb.Helper()
	var buf bytes.Buffer
	if _, err := tree.Snapshot().WriteTo(&buf); err != nil {
		tb.Fatalf("snapshot write: %v", err)
	}
	fresh := fsm.NewTree()
	if err := fresh.Restore(&buf); err != nil {
		tb.Fatalf("restore: %v", err)
	}
	return fresh
}

// isTTLOwner reports whether o is ZooKeeper's TTL marker: 0xFF in the top
// byte, a TTL of 1..MaxTTL in the low 40 bits, nothing in between.
func isTTLOwner(o api.ID) bool {
	ttl := int64(o &^ ttlOwnerBase)
	return o&ttlOwnerBase == ttlOwnerBase && ttl >= 1 && ttl <= fsm.MaxTTL
}

// snapNode is one node record of a snapshot.
type snapNode struct {
	Path, Data                        string
	Czxid, Mzxid, Pzxid, Ctime, Mtime int64
	Version, Cversion, Aversion       int64
	NumChildren                       int64
	Owner                             api.ID
	ACL                               []api.ACL
}

// parsedSnapshot is a snapshot read independently of Restore, by the
// format documented in snapshot.go.
type parsedSnapshot struct {
	Applied  int64
	Members  []fsm.Member
	Sessions map[api.ID]int64
	Owners   map[api.ID][]string
	Nodes    []snapNode
}

func parseSnapshot(tb testing.TB, b []byte) parsedSnapshot {
	tb.Helper()
	const magic = "CANOPY-SNAP-3\n"
	if len(b) < len(magic)+4 || string(b[:len(magic)]) != magic {
		tb.Fatalf("snapshot: bad magic or too short (%d bytes)", len(b))
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != sum {
		tb.Fatalf("snapshot: checksum mismatch")
	}
	r := bytes.NewReader(body[len(magic):])
	fail := func(err error) {
		if err != nil {
			tb.Fatalf("snapshot: %v", err)
		}
	}
	varint := func() int64 { v, err := binary.ReadVarint(r); fail(err); return v }
	uvarint := func() uint64 { v, err := binary.ReadUvarint(r); fail(err); return v }
	str := func() string {
		b := make([]byte, uvarint())
		_, err := io.ReadFull(r, b)
		fail(err)
		return string(b)
	}
	var ps parsedSnapshot
	ps.Applied = varint()
	for n := uvarint(); n > 0; n-- {
		ps.Members = append(ps.Members, fsm.Member{ID: str(), RaftAddr: str(), HTTPAddr: str()})
	}
	strs := func() []string {
		var out []string
		for n := uvarint(); n > 0; n-- {
			out = append(out, str())
		}
		return out
	}
	ps.Sessions, ps.Owners = map[api.ID]int64{}, map[api.ID][]string{}
	for n := uvarint(); n > 0; n-- {
		id := api.ID(uvarint())
		ps.Sessions[id] = varint()
		ps.Owners[id] = strs()
		str() // the client address
	}
	for n := uvarint(); n > 0; n-- {
		sn := snapNode{Path: str(), Data: str()}
		for _, f := range []*int64{&sn.Czxid, &sn.Mzxid, &sn.Pzxid, &sn.Ctime, &sn.Mtime, &sn.Version, &sn.Cversion, &sn.Aversion, &sn.NumChildren} {
			*f = varint()
		}
		sn.Owner = api.ID(uvarint())
		for n := uvarint(); n > 0; n-- {
			sn.ACL = append(sn.ACL, api.ACL{Scheme: str(), ID: str(), Perms: api.Perms(uvarint())})
		}
		ps.Nodes = append(ps.Nodes, sn)
	}
	if r.Len() != 0 {
		tb.Fatalf("snapshot: %d bytes after the last node", r.Len())
	}
	return ps
}

// snapshotOwners writes a snapshot of tree, checks that it holds exactly the
// walked nodes, and returns the stored owners.
func snapshotOwners(tb testing.TB, tree *fsm.Tree, walked []nodeState) map[string]api.ID {
	tb.Helper()
	var buf bytes.Buffer
	if _, err := tree.Snapshot().WriteTo(&buf); err != nil {
		tb.Fatalf("snapshot: %v", err)
	}
	ps := parseSnapshot(tb, buf.Bytes())
	if len(ps.Nodes) != len(walked) {
		tb.Fatalf("snapshot holds %d nodes, the tree walk found %d", len(ps.Nodes), len(walked))
	}
	byPath := make(map[string]nodeState, len(walked))
	for _, n := range walked {
		byPath[n.Path] = n
	}
	owners := map[string]api.ID{}
	for _, sn := range ps.Nodes {
		n, ok := byPath[sn.Path]
		st := n.Stat
		if !ok || sn.Data != n.Data || sn.Czxid != st.Czxid || sn.Mzxid != st.Mzxid || sn.Pzxid != st.Pzxid ||
			sn.Ctime != st.Ctime || sn.Mtime != st.Mtime || sn.Version != int64(st.Version) ||
			sn.Cversion != int64(st.Cversion) || sn.Aversion != int64(st.Aversion) || sn.NumChildren != int64(st.NumChildren) ||
			(sn.ACL != nil && aclString(sn.ACL) != n.ACL) || (sn.ACL == nil && n.ACL != "world:anyone:cdrwa") {
			tb.Fatalf("snapshot record %+v does not match the tree's %+v", sn, n)
		}
		if sn.Owner != 0 {
			owners[sn.Path] = sn.Owner
		}
	}
	return owners
}

// storedOwner is a node's ephemeralOwner as the snapshot stores it.
func storedOwner(tb testing.TB, tree *fsm.Tree, p string) api.ID {
	tb.Helper()
	return captureState(tb, tree).Owners[p]
}
