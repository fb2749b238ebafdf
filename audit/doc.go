// Package audit writes Canopy's audit log, ZooKeeper 3.6's audit logger as
// JSON lines: one object per write, session event, ACL change and
// authentication, success or failure, saying when (time, zxid), who
// (identities, client address, session), what (operation, path) and how it
// ended (result).
//
// It must never slow down or fail the operation it records: Record hands
// the entry to a bounded buffer that one goroutine drains to the file, and
// when that buffer is full the entry is counted as dropped
// (canopy_audit_dropped_total) instead of waiting. It must never write a
// secret: an Entry has no field that could hold a password, only the
// identities ("digest:user:base64(sha1)") the caller was authenticated as.
package audit
