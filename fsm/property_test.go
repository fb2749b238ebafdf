package fsm_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// historyGen makes random but plausible command sequences: names collide
// often, sessions come and go, TTLs are short enough to expire, and a share
// of commands is meant to fail.
type historyGen struct {
	r        *rand.Rand
	now      int64
	paths    []string // every path seen, most recent last (deleted ones too)
	sessions []api.ID // every session opened, closed ones too
	nextID   uint64
}

func newHistoryGen(seed uint64) *historyGen {
	return &historyGen{r: rand.New(rand.NewPCG(seed, seed^0x5eed)), now: t0, paths: []string{"/"}, nextID: 1}
}

var genNames = []string{"a", "b", "c", "lock-", "q", "x", "日"}

// badPaths are refused by validation (or, for writes, as reserved).
var badPaths = []string{"/a/", "//", "/a//b", "/.", "/a/..", "/\x01", "/\U0001F600", "/\xff", "/zookeeper/x", "/zookeeper", "", "a", "zookeeper"}

func (g *historyGen) pick() string {
	if g.r.IntN(2) == 0 && len(g.paths) > 40 {
		return g.paths[len(g.paths)-1-g.r.IntN(40)]
	}
	return g.paths[g.r.IntN(len(g.paths))]
}

func (g *historyGen) childPath() string {
	parent := g.pick()
	if g.r.IntN(20) == 0 {
		return badPaths[g.r.IntN(len(badPaths))]
	}
	if len(parent) > 40 {
		parent = "/"
	}
	return fsm.JoinPath(parent, genNames[g.r.IntN(len(genNames))])
}

func (g *historyGen) target() string {
	if g.r.IntN(25) == 0 {
		return badPaths[g.r.IntN(len(badPaths))]
	}
	return g.pick()
}

func (g *historyGen) version() int32 {
	switch n := g.r.IntN(10); {
	case n < 6:
		return fsm.AnyVersion
	case n < 9:
		return int32(g.r.IntN(3))
	default:
		return -2
	}
}

func (g *historyGen) session() api.ID {
	if len(g.sessions) == 0 || g.r.IntN(12) == 0 {
		return api.ID(g.r.Uint64N(1 << 20))
	}
	return g.sessions[g.r.IntN(len(g.sessions))]
}

func (g *historyGen) data() []byte {
	if g.r.IntN(4) == 0 {
		return nil
	}
	b := make([]byte, 1+g.r.IntN(24))
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return b
}

func (g *historyGen) create(inMulti bool) fsm.Command {
	c := fsm.Command{Op: fsm.OpCreate, Path: g.childPath(), Data: g.data(), Version: fsm.AnyVersion}
	switch n := g.r.IntN(20); {
	case n < 4:
		c.Flags |= fsm.FlagEphemeral
		c.Session = g.session()
	case n < 6:
		c.Flags |= fsm.FlagContainer
	case n < 8:
		c.TTL = 1 + g.r.Int64N(300)
	case n == 8:
		// A flag combination or TTL that CreateMode refuses.
		c.Flags |= [...]fsm.Flags{fsm.FlagContainer | fsm.FlagEphemeral, fsm.FlagContainer | fsm.FlagSequential}[g.r.IntN(2)]
		c.TTL = [...]int64{0, -3, fsm.MaxTTL + 1}[g.r.IntN(3)]
	}
	if g.r.IntN(4) == 0 && c.Flags&fsm.FlagContainer == 0 {
		c.Flags |= fsm.FlagSequential
		if g.r.IntN(4) == 0 {
			c.Path = fsm.ParentPath(c.Path)
			if c.Path != "/" {
				c.Path += "/"
			}
		}
	}
	if !inMulti && g.r.IntN(8) == 0 {
		c.Flags |= fsm.FlagParents
		c.Path = fsm.JoinPath(c.Path, genNames[g.r.IntN(len(genNames))])
	}
	if g.r.IntN(4) == 0 {
		c.ACL = g.acl()
	}
	return c
}

// genACLs are the ACLs the histories set: a user's own, read-only for
// anyone, an address, "auth" (the caller's), and two InvalidACL.
var genACLs = [][]api.ACL{
	{{Scheme: "digest", ID: "user:0", Perms: api.PermAll}},
	{{Scheme: "world", ID: "anyone", Perms: api.PermRead}, {Scheme: "digest", ID: "user:1", Perms: api.PermAll}},
	{{Scheme: "ip", ID: "127.0.0.0/8", Perms: api.PermCreate | api.PermRead | api.PermDelete}},
	{{Scheme: "auth", Perms: api.PermAll}},
	{{Scheme: "world", ID: "anyone", Perms: api.PermAll}},
	{},
	{{Scheme: "digest", ID: "nohash", Perms: api.PermAll}},
}

func (g *historyGen) acl() []api.ACL { return genACLs[g.r.IntN(len(genACLs))] }

// genIdentities are who the histories' callers are.
var genIdentities = [][]string{
	nil,
	{"ip:127.0.0.1"},
	{"digest:user:0", "ip:127.0.0.1"},
	{"digest:user:1", "ip:10.0.0.1"},
	{"digest:user:2"},
	{"super:"},
}

func (g *historyGen) nodeOp(inMulti bool) fsm.Command {
	switch n := g.r.IntN(11); {
	case n < 4:
		return g.create(inMulti)
	case n < 7:
		return fsm.Command{Op: fsm.OpSetData, Path: g.target(), Data: g.data(), Version: g.version()}
	case n < 9:
		c := fsm.Command{Op: fsm.OpDelete, Path: g.target(), Version: g.version()}
		if !inMulti && g.r.IntN(5) == 0 {
			c.Flags |= fsm.FlagRecursive
		}
		return c
	case n < 10 || inMulti:
		return fsm.Command{Op: fsm.OpCheck, Path: g.target(), Version: g.version()}
	default:
		return fsm.Command{Op: fsm.OpSetACL, Path: g.target(), ACL: g.acl(), Version: g.version()}
	}
}

// next returns the next command; tree is the state it will apply to, for
// the reaper's view.
func (g *historyGen) next(tree *fsm.Tree) fsm.Command {
	g.now += g.r.Int64N(15)
	var c fsm.Command
	switch n := g.r.IntN(100); {
	case n < 55:
		c = g.nodeOp(false)
	case n < 67:
		ops := make([]fsm.Command, g.r.IntN(7))
		for i := range ops {
			ops[i] = g.nodeOp(true)
			if g.r.IntN(40) == 0 { // an op a multi refuses
				ops[i] = fsm.Command{Op: [...]fsm.Op{fsm.OpReap, fsm.OpCreateSession, fsm.OpMulti}[g.r.IntN(3)], Path: "/a"}
			}
		}
		c = fsm.Command{Op: fsm.OpMulti, Ops: ops}
	case n < 74:
		id := api.ID(g.nextID<<20 | g.r.Uint64N(1<<20))
		g.nextID++
		switch g.r.IntN(20) {
		case 0:
			id = 0
		case 1:
			id |= 1 << 63
		case 2:
			if len(g.sessions) > 0 {
				id = g.sessions[g.r.IntN(len(g.sessions))]
			}
		}
		c = fsm.Command{Op: fsm.OpCreateSession, Session: id, Timeout: [...]int64{0, 1, 5000, 90000}[g.r.IntN(4)]}
		if fsm.ValidSessionID(id) {
			g.sessions = append(g.sessions, id)
		}
	case n < 78:
		c = fsm.Command{Op: fsm.OpCloseSession, Session: g.session()}
	case n < 82:
		c = fsm.Command{Op: fsm.OpExpireSession, Session: g.session()}
	case n < 97:
		p := g.target()
		if due := tree.ReapCandidates(g.now); len(due) > 0 && g.r.IntN(4) != 0 {
			p = due[g.r.IntN(len(due))]
		}
		// Sometimes the reaper's clock is behind: the rule may not hold yet.
		c = fsm.Command{Op: fsm.OpReap, Path: p, Time: g.now - g.r.Int64N(50)}
	default:
		c = fsm.Command{Op: fsm.OpBarrier}
	}
	if c.Time == 0 {
		c.Time = g.now
	}
	if g.r.IntN(3) == 0 {
		c.Identity = genIdentities[g.r.IntN(len(genIdentities))]
	}
	return c
}

// learn remembers the paths a command created, for later targets.
func (g *historyGen) learn(res fsm.Result) {
	if res.Err != nil {
		return
	}
	if res.Stat != nil && res.Path != "" {
		g.paths = append(g.paths, res.Path)
	}
	for _, r := range res.Multi {
		if r.Op == "create" {
			g.paths = append(g.paths, r.Path)
		}
	}
}

// appliedEntry is one entry of the primary's history and what it returned.
type appliedEntry struct {
	zxid   int64
	cmd    *fsm.Command // nil: an entry without a command
	res    fsm.Result
	events []api.Event
}

func sameOutcome(tb testing.TB, who string, e appliedEntry, res fsm.Result, events []api.Event) {
	tb.Helper()
	if !reflect.DeepEqual(e.res, res) {
		tb.Fatalf("%s: zxid %d (%s %q): result %+v (err %v), primary had %+v (err %v)", who, e.zxid, e.cmd.Op, e.cmd.Path, res, res.Err, e.res, e.res.Err)
	}
	if !reflect.DeepEqual(e.events, events) {
		tb.Fatalf("%s: zxid %d (%s %q): events\n%sprimary had\n%s", who, e.zxid, e.cmd.Op, e.cmd.Path, formatEvents(events), formatEvents(e.events))
	}
}

func TestRandomHistoriesAreDeterministicAndSurviveSnapshots(t *testing.T) {
	seeds := []uint64{1, 2, 3, 42, 20240607}
	commands := 3000
	if testing.Short() {
		seeds, commands = seeds[:2], 1000
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			runHistory(t, seed, commands)
		})
	}
}

// runHistory applies a random history to a primary tree and checks that:
// every command's encoding decodes to it; a replica fed the decoded commands
// in ApplyBatch batches returns the same results and events; snapshots taken
// along the way (and written only after more commands have been applied)
// restore into trees identical to the primary at that point, which then
// replay the rest of the history with the same results and events; and
// every tree ends identical and consistent.
func runHistory(t *testing.T, seed uint64, commands int) {
	g := newHistoryGen(seed)
	primary, replica := fsm.NewTree(), fsm.NewTree()
	var history []appliedEntry
	var batch []fsm.Entry

	type pendingSnap struct {
		snap  *fsm.Snapshot
		state treeState
		at    int // len(history) when taken
	}
	var pending []pendingSnap
	type follower struct {
		tree *fsm.Tree
		next int // index in history of the next entry to replay
	}
	var followers []*follower

	flushReplica := func() {
		outs := replica.ApplyBatch(batch)
		base := len(history) - len(batch)
		for i, o := range outs {
			e := history[base+i]
			if e.cmd == nil {
				continue
			}
			sameOutcome(t, "replica", e, o.Result, o.Events)
		}
		batch = batch[:0]
	}
	catchUp := func(f *follower) {
		for ; f.next < len(history); f.next++ {
			e := history[f.next]
			if e.cmd == nil {
				f.tree.ApplyBatch([]fsm.Entry{{Zxid: e.zxid}})
				continue
			}
			res, ev := f.tree.Apply(e.zxid, e.cmd)
			sameOutcome(t, fmt.Sprintf("tree restored at entry %d", f.next), e, res, ev)
		}
	}

	var zxid int64
	for i := 0; i < commands; i++ {
		zxid++
		if g.r.IntN(30) == 0 { // a configuration entry: no command
			primary.ApplyBatch([]fsm.Entry{{Zxid: zxid}})
			history = append(history, appliedEntry{zxid: zxid})
			batch = append(batch, fsm.Entry{Zxid: zxid})
			zxid++
		}
		cmd := g.next(primary)
		enc := cmd.Encode(nil)
		dec, err := fsm.Decode(enc)
		if err != nil {
			t.Fatalf("command %d (%+v) does not decode: %v", i, cmd, err)
		}
		if !reflect.DeepEqual(normalized(cmd), *dec) {
			t.Fatalf("command %d round trip:\ngot  %+v\nwant %+v", i, *dec, cmd)
		}
		res, ev := primary.Apply(zxid, &cmd)
		history = append(history, appliedEntry{zxid: zxid, cmd: dec, res: res, events: ev})
		batch = append(batch, fsm.Entry{Zxid: zxid, Cmd: dec})
		if len(batch) >= 1+g.r.IntN(8) {
			flushReplica()
		}
		g.learn(res)

		if i%500 == 250 {
			st := captureState(t, primary)
			checkInvariants(t, st)
			pending = append(pending, pendingSnap{snap: primary.Snapshot(), state: st, at: len(history)})
		}
		// Write each snapshot 100 commands after taking it.
		for len(pending) > 0 && len(history)-pending[0].at >= 100 {
			p := pending[0]
			pending = pending[1:]
			var buf bytes.Buffer
			if _, err := p.snap.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			restored := fsm.NewTree()
			if err := restored.Restore(&buf); err != nil {
				t.Fatalf("restore of the snapshot at entry %d: %v", p.at, err)
			}
			if d := diffStates(p.state, captureState(t, restored)); d != "" {
				t.Fatalf("snapshot at entry %d restored differently: %s", p.at, d)
			}
			f := &follower{tree: restored, next: p.at}
			catchUp(f)
			followers = append(followers, f)
		}
		for _, f := range followers {
			catchUp(f)
		}
	}
	flushReplica()

	final := captureState(t, primary)
	checkInvariants(t, final)
	if d := diffStates(final, captureState(t, replica)); d != "" {
		t.Errorf("replica differs from the primary: %s", d)
	}
	for _, f := range followers {
		if d := diffStates(final, captureState(t, f.tree)); d != "" {
			t.Errorf("restored follower differs from the primary: %s", d)
		}
	}
	if d := diffStates(final, captureState(t, roundTrip(t, primary))); d != "" {
		t.Errorf("final snapshot restores differently: %s", d)
	}
	if len(followers) == 0 && commands > 500 {
		t.Errorf("no snapshot was restored")
	}
	t.Logf("seed %d: %d entries, %d nodes, %d sessions, %d ephemerals, %d followers",
		seed, len(history), final.Counts.Nodes, final.Counts.Sessions, final.Counts.Ephemerals, len(followers))
	logOutcomeMix(t, history)
}

// normalized is what Decode gives back for c: the fields of its kind,
// empty slices as nil.
func normalized(c fsm.Command) fsm.Command { return carried(c) }

// logOutcomeMix shows that the generator reaches both success and each
// failure, so a quiet generator does not pass unnoticed.
func logOutcomeMix(t *testing.T, history []appliedEntry) {
	mix := map[string]int{}
	for _, e := range history {
		if e.cmd == nil {
			continue
		}
		k := e.cmd.Op.String() + ":ok"
		if e.res.Err != nil {
			k = e.cmd.Op.String() + ":" + string(e.res.Err.Code)
		}
		mix[k]++
		switch {
		case e.cmd.Op == fsm.OpReap && len(e.events) > 0:
			mix["reap:deleted"]++
		case e.cmd.Op == fsm.OpDelete && len(e.events) > 2:
			mix["delete:subtree"]++
		case (e.cmd.Op == fsm.OpCloseSession || e.cmd.Op == fsm.OpExpireSession) && len(e.events) > 0:
			mix["sessionEnd:ephemerals"]++
		case e.cmd.Op == fsm.OpCreate && len(e.events) > 2:
			mix["create:parents"]++
		}
	}
	for _, must := range []string{"create:ok", "set:ok", "delete:ok", "multi:ok", "reap:ok", "closeSession:ok",
		"create:NodeExists", "create:NoNode", "set:BadVersion", "multi:NoNode", "closeSession:SessionExpired",
		"reap:deleted", "delete:subtree", "sessionEnd:ephemerals", "create:parents"} {
		if mix[must] == 0 && len(history) > 500 {
			t.Errorf("the history never produced %s; mix %v", must, mix)
		}
	}
	t.Logf("outcomes: %v", mix)
}
