// Package zkcompat holds the comparison test between Canopy and a real
// Apache ZooKeeper 3.8: the same operation sequences run against both
// systems (ZooKeeper through github.com/go-zookeeper/zk, Canopy through its
// REST API), and the outcomes are compared op by op: error codes, created
// paths, data, children and the Stat fields that must agree exactly, plus
// the relations between zxids (which cannot be equal across systems).
//
// The ACL sequences (acl_test.go) run steps as several principals: alice
// and bob (ZooKeeper: addauth digest on their connection; Canopy: HTTP
// Basic on their requests), anonymous callers, a wrong password and the
// super user (both servers start with the same super digest), each from
// its own loopback address. They compare getACL/setACL, NoAuth and
// InvalidACL answers, and the trees with their ACLs, read as super.
//
// The test starts its own ZooKeeper (from Debian's zookeeper package, found
// at /usr/share/java/zookeeper.jar) and its own single-node Canopy built from
// ./cmd/canopy. Without java or ZooKeeper it skips, unless CI=true, where it
// fails. The package has no non-test code.
package zkcompat
