package zkcompat

import (
	"testing"
	"time"
)

// sequences are run on both systems and compared step by step (see
// runSequence). Each runs in parallel with the others under its own root.
var sequences = []struct {
	name  string
	steps []op
}{
	{"basics", []op{
		create("$/a", "hello"),
		get("$/a"),
		exists("$/a"),
		ls("$"),
		create("$/a", "again"), // NodeExists
		create("$/a/b", ""),
		create("$/x/y", "orphan"), // NoNode: no parent
		get("$/nope"),
		exists("$/nope"),
		ls("$/nope"),
		set("$/nope", "x", -1),
		delAny("$/nope"),
		ls("$/a"),
		set("$/a", "world", 0),
		get("$/a"),
		delAny("$/a"), // NotEmpty
		del("$/a/b", 0),
		delAny("$/a"),
		get("$/a"),
		create("$/a", "reborn"), // a new czxid, versions from 0
		get("$/a"),
		create("$/bin", "\x00\xff\xfe\x80binary"),
		get("$/bin"),
		create("$/empty", ""),
		set("$/empty", "", -1),
		get("$/empty"),
		create("$/a/b", "1"),
		create("$/a/b/c", "2"),
		create("$/a/b/c/d", "3"),
		ls("$/a/b"),
		create("/", ""), // the root exists: NodeExists
		delAny("/"),     // BadArguments
	}},
	{"versions", []op{
		create("$/v", "0"),
		set("$/v", "1", 0),
		set("$/v", "x", 0), // BadVersion: version is 1 now
		set("$/v", "x", 5),
		set("$/v", "2", -1), // any version
		set("$/v", "x", -2), // BadVersion: -2 is not "any"
		set("$/v", "x", 2147483647),
		setAny("$/v", "3"),
		set("$/v", "3", 3), // identical bytes still bump the version
		setAny("$/v", "3"),
		get("$/v"),
		del("$/v", 0), // BadVersion
		del("$/v", -2),
		del("$/v", 6),
		del("$/v", 5),
		get("$/v"),
		create("$/w", ""),
		del("$/w", -1),
		create("$/w", ""),
		delAny("$/w"),
		create("$/p", "parent"),
		create("$/p/c", ""),
		del("$/p/c", -1),
		create("$/p/c", ""),
		exists("$/p"),
	}},
	// ZooKeeper's sequential suffix is the number of children ever created
	// under the parent (DESIGN §3). Deletes do not count, although they do
	// count in the cversion it reports: internally ZooKeeper keeps only the
	// number of creates, and Stat shows cversion = 2*creates - numChildren.
	// (So the suffix is not "the parent's cversion" once a child was deleted.)
	{"sequential", []op{
		create("$/s", ""),
		createK("$/s/n-", "a", sequential), // n-0000000000
		createK("$/s/n-", "b", sequential), // n-0000000001
		create("$/s/plain", ""),            // 3 creates
		createK("$/s/n-", "c", sequential), // n-0000000003
		delAny("$/s/n-0000000001"),         // cversion 5, still 4 creates
		createK("$/s/n-", "d", sequential), // n-0000000004
		delAny("$/s/plain"),
		createK("$/s/", "e", sequential),    // a trailing "/" is a valid sequential prefix: s/0000000005
		create("$/s/n-0000000007", "taken"), // the name the next sequential create will get
		createK("$/s/n-", "f", sequential),  // NodeExists
		createK("$/s/n-", "g", sequential),  // NodeExists again: a failed create counts for nothing
		delAny("$/s/n-0000000007"),
		createK("$/s/n-", "g", sequential), // still n-0000000007: deletes do not count
		ls("$/s"),
		exists("$/s"),
		createK("$/s/n-0000000003/x-", "", sequential),
		createEph("$/s/e-", "eph", ephemeralSeq, 1),
		createEph("$/s/e-", "eph", ephemeralSeq, 1),
		ls("$/s"),
		closeSession(1),
		ls("$/s"),
		createK("$/s/n-", "h", sequential),
		createK("$/q-", "", sequential), // under the sequence root
		ls("$"),
	}},
	{"ephemeral", []op{
		createEph("$/e", "mine", ephemeral, 1),
		get("$/e"),
		create("$/e/child", ""),                    // NoChildrenForEphemerals
		createK("$/e/seq-", "", sequential),        // NoChildrenForEphemerals
		createEph("$/e/child", "", ephemeral, 1),   // NoChildrenForEphemerals
		createEph("$/q-", "", ephemeralSeq, 1),     // q-0000000001
		createEph("$/f", "theirs", ephemeral, 2),   // another session
		create("$/p", ""),                          // persistent
		set("$/e", "changed by another client", 0), // allowed
		createEph("$/e", "dup", ephemeral, 2),      // NodeExists
		ls("$"),
		closeSession(1), // e and q-0000000001 go, in one change
		ls("$"),
		exists("$/e"),
		createEph("$/e", "again", ephemeral, 2),
		delAny("$/f"), // anyone may delete an ephemeral
		closeSession(2),
		ls("$"),
		exists("$"),
	}},
	{"multi-ok", []op{
		multi(0,
			mCreate("$/m", "a", persistent),
			mCreate("$/m/c", "child", persistent), // the parent was created by op 0
			mSet("$/m", "b", 0),
			mCheck("$/m", 1),
			mCreate("$/m/s-", "", sequential),
			mCreate("$/m/s-", "", sequential),
			mDel("$/m/c", 0),
		),
		get("$/m"),
		ls("$/m"),
		multi(0, mCheck("$/m", -1), mSet("$/m", "c", -1), mCheck("$/m", 2)),
		multi(0), // empty: succeeds
		multi(0, mDel("$/m/s-0000000001", -1), mDel("$/m/s-0000000002", -1), mDel("$/m", 2)),
		ls("$"),
	}},
	{"multi-fail", []op{
		create("$/m", "base"),
		create("$/m/full", ""),
		create("$/m/full/c", ""),
		multi(0, mCreate("$/m/a", "", persistent), mSet("$/missing", "x", -1), mCreate("$/m/b", "", persistent)),
		multi(0, mCreate("$/m/a", "", persistent), mCreate("$/m/a", "", persistent)),
		multi(0, mCreate("$/m/c", "", persistent), mDel("$/m/c", 5)),
		multi(0, mCheck("$/m", 3), mCreate("$/m/d", "", persistent)),
		multi(0, mSet("$/m", "x", 0), mCheck("$/m", 0)), // the check sees the set: version 1
		multi(0, mCreate("$/m/e", "", persistent), mDel("$/m/full", -1)),
		multi(0, mCreate("$/m/s-", "", sequential), mCreate("$/m/s-", "", sequential), mSet("$/m", "y", 7)),
		// Invalid paths. (ZooKeeper looks the parent up before it checks
		// the path, and answers NoNode when the parent is missing, e.g. for
		// "rel/x" or "/no/such/"; DESIGN §3 makes that BadArguments, so only
		// paths with an existing parent are compared.)
		multi(0, mCreate("$/m/f", "", persistent), mCreate("relative", "", persistent)),
		multi(0, mCreate("$/m/f", "", persistent), mCreate("$/m/f/", "", persistent)),
		multi(0, mCreate("$/m/f", "", persistent), mSet("$/m/f/./g", "", -1)),
		multi(0, mCreate("$/m/f", "", persistent), mCreate("$/m/f/x", "", persistent), mCreate("$/m/f/x", "", persistent)),
		ls("$/m"),
		get("$/m"),
		createK("$/m/s-", "", sequential), // failed multis left cversion alone
	}},
	{"multi-ephemeral", []op{
		multi(1,
			mCreate("$/owner", "", persistent),
			mCreate("$/owner/e", "", ephemeral),
			mCreate("$/owner/es-", "", ephemeralSeq),
		),
		ls("$/owner"),
		multi(1, mCreate("$/owner/e/child", "", persistent)), // NoChildrenForEphemerals
		multi(2, mCreate("$/owner/e2", "", ephemeral), mCreate("$/owner/e", "", ephemeral)),
		closeSession(1),
		ls("$/owner"),
		exists("$/owner"),
	}},
	{"container", []op{
		createK("$/c", "box", container),
		createK("$/never-used", "", container), // never had a child: stays
		create("$/c/x", "1"),
		create("$/c/y", "2"),
		createK("$/c/x", "", container), // NodeExists
		delAny("$/c/x"),
		ls("$/c"),
		delAny("$/c/y").noSnapshot(), // the last child goes: the container will
		gone("$/c"),
		exists("$"),
		sleep(2500 * time.Millisecond), // more than two container checks
		exists("$/never-used"),
		createK("$/c2", "", container),
		create("$/c2/child", ""),
		multi(0, mDel("$/c2/child", -1)).noSnapshot(),
		gone("$/c2"),
		ls("$"),
	}},
	{"ttl", []op{
		createTTL("$/t1", ttlNode, 1000), // empty: deleted after 1 s
		createTTL("$/t2", ttlNode, 1000), // has a child: kept
		create("$/t2/c", ""),
		createTTL("$/ts-", ttlSeqNode, 60000),
		exists("$/t1"),
		gone("$/t1"),
		sleep(1500 * time.Millisecond),
		exists("$/t2"),
		delAny("$/t2/c").noSnapshot(), // t2 is empty and older than its TTL
		gone("$/t2"),
		ls("$"),
	}},
	{"ttl-touched", []op{
		createTTL("$/t", ttlNode, 3000),
		sleep(2000 * time.Millisecond),
		set("$/t", "touched", 0), // a data change restarts the TTL
		sleep(2000 * time.Millisecond),
		exists("$/t"), // 4 s old, but changed 2 s ago
		gone("$/t"),
		ls("$"),
	}},
	{"ttl-bad", []op{
		createTTL("$/zero", ttlNode, 0), // TTL must be positive
		createTTL("$/neg", ttlNode, -5),
		createTTL("$/max", ttlNode, 1<<40-1),
		createTTL("$/toolong", ttlNode, 1<<40),
		ls("$"),
	}},
	{"odd-names", []op{
		create("$/a..b", ""),
		create("$/.hidden", ""),
		create("$/...", ""),
		create("$/trailing.", ""),
		create("$/with space", ""),
		create("$/ünïcødé", ""),
		create("$/per%cent", ""),
		create("$/q?x=1&y", ""),
		create("$/hash#frag", ""),
		create("$/colon:semi;", ""),
		create("$/plus+", ""),
		create("$/日本", ""),
		ls("$"),
		get("$/per%cent"),
		get("$/q?x=1&y"),
		set("$/with space", "data", 0),
		delAny("$/hash#frag"),
		ls("$"),
	}},
}

func TestCompareSequences(t *testing.T) {
	needSystems(t)
	for _, s := range sequences {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			runSequence(t, s.name, s.steps)
		})
	}
}
