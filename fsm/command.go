package fsm

import (
	"github.com/canopy-coord/canopy/api"
)

// Op is a command's type; its encoding starts with the byte 0x80|Op (codec.go).
type Op uint8

const (
	OpCreate        Op = 1
	OpSetData       Op = 2
	OpDelete        Op = 3
	OpCheck         Op = 4
	OpMulti         Op = 5
	OpCreateSession Op = 6
	OpCloseSession  Op = 7
	OpExpireSession Op = 8
	OpReap          Op = 9
	// OpBarrier changes nothing; a new leader commits one so that its commit
	// index always names an entry the state machine has seen.
	OpBarrier Op = 10
	// OpSetMember records a cluster member's addresses (Path is its id);
	// OpRemoveMember forgets them.
	OpSetMember    Op = 11
	OpRemoveMember Op = 12
	// OpSetACL replaces a node's ACL (ZooKeeper's setACL): Version is the
	// aversion precondition.
	OpSetACL Op = 13
)

var opNames = map[Op]string{
	OpCreate: "create", OpSetData: "set", OpDelete: "delete", OpCheck: "check",
	OpMulti: "multi", OpCreateSession: "createSession", OpCloseSession: "closeSession",
	OpExpireSession: "expireSession", OpReap: "reap", OpBarrier: "barrier",
	OpSetMember: "setMember", OpRemoveMember: "removeMember", OpSetACL: "setACL",
}

func (o Op) String() string {
	if n, ok := opNames[o]; ok {
		return n
	}
	return "unknown"
}

// Flags of a create or delete.
type Flags uint8

const (
	FlagEphemeral Flags = 1 << iota
	FlagSequential
	FlagContainer
	FlagParents   // create: make missing ancestors as persistent nodes
	FlagRecursive // delete: the whole subtree
)

// AnyVersion is the version precondition that matches every version.
const AnyVersion int32 = -1

// MaxTTL is ZooKeeper's largest TTL (EphemeralType.MAX_TTL), in milliseconds.
const MaxTTL = 1<<40 - 1

// Command is one state change as it travels through raft. The proposing
// node stamps Time and generated ids into it; Apply reads nothing else.
type Command struct {
	Op   Op
	Time int64 // milliseconds since the epoch, from the proposer's clock
	// Session is the caller's session: the owner of ephemerals it creates,
	// and the subject of the session commands.
	Session api.ID
	// Identity is every identity the caller holds (scheme:id, see package
	// acl): the state machine checks ACLs and session ownership on it.
	Identity []string
	// ACL is a create's or a setACL's access list, as the caller gave it:
	// the state machine expands "auth" and validates it (acl.Fixup). A
	// create from before ACLs carries none, and gets world:anyone.
	ACL     []api.ACL
	Path    string
	Data    []byte
	Version int32
	Flags   Flags
	TTL     int64 // milliseconds; TTL nodes only
	Timeout int64 // milliseconds; OpCreateSession only
	Ops     []Command
	// RaftAddr and HTTPAddr are a member's addresses; OpSetMember only.
	RaftAddr string
	HTTPAddr string
}

func (c *Command) has(f Flags) bool { return c.Flags&f != 0 }
