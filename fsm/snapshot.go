package fsm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"

	"github.com/google/btree"

	"github.com/canopy-coord/canopy/api"
)

// The snapshot format: a magic string with the format version, the applied
// index, the cluster members (id, raft and HTTP addresses), the sessions
// (id, timeout, owner identities, client address), then every node in index order (with
// its ACL), and a CRC-32C of everything before it. Ephemeral sets,
// timed-node sets and sizes are derived from the nodes on restore.
//
// Version 2, before ACLs, had no owners and no ACLs; Restore reads it.
const (
	snapshotMagic   = "CANOPY-SNAP-3\n"
	snapshotMagicV2 = "CANOPY-SNAP-2\n"
)

// Snapshot is a point-in-time copy of the tree that can be written while
// Apply goes on: the node index is a copy-on-write clone.
type Snapshot struct {
	applied  int64
	nodes    *btree.BTreeG[*node]
	sessions []snapSession
	members  []Member
}

type snapSession struct {
	id      api.ID
	timeout int64
	owner   []string
	addr    string
}

// Snapshot captures the tree in O(sessions) time.
func (t *Tree) Snapshot() *Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &Snapshot{applied: t.applied, nodes: t.nodes.Clone()}
	t.gen++ // every node the clone holds is now shared: none changes in place
	for _, sess := range t.sessions {
		s.sessions = append(s.sessions, snapSession{id: sess.id, timeout: sess.timeout, owner: sess.owner, addr: sess.addr})
	}
	sort.Slice(s.sessions, func(i, j int) bool { return s.sessions[i].id < s.sessions[j].id })
	for _, m := range t.members {
		s.members = append(s.members, m)
	}
	sort.Slice(s.members, func(i, j int) bool { return s.members[i].ID < s.members[j].ID })
	return s
}

// Applied is the index the snapshot reflects.
func (s *Snapshot) Applied() int64 { return s.applied }

// WriteTo writes the snapshot in the format above.
func (s *Snapshot) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	bw := bufio.NewWriterSize(io.MultiWriter(cw, crc), 1<<16)
	var buf []byte
	buf = append(buf, snapshotMagic...)
	buf = binary.AppendVarint(buf, s.applied)
	buf = binary.AppendUvarint(buf, uint64(len(s.members)))
	for _, m := range s.members {
		buf = appendString(buf, m.ID)
		buf = appendString(buf, m.RaftAddr)
		buf = appendString(buf, m.HTTPAddr)
	}
	buf = binary.AppendUvarint(buf, uint64(len(s.sessions)))
	for _, sess := range s.sessions {
		buf = binary.AppendUvarint(buf, uint64(sess.id))
		buf = binary.AppendVarint(buf, sess.timeout)
		buf = appendStrings(buf, sess.owner)
		buf = appendString(buf, sess.addr)
	}
	buf = binary.AppendUvarint(buf, uint64(s.nodes.Len()))
	if _, err := bw.Write(buf); err != nil {
		return cw.n, err
	}
	var werr error
	s.nodes.Ascend(func(n *node) bool {
		buf = appendNode(buf[:0], n)
		_, werr = bw.Write(buf)
		return werr == nil
	})
	if werr != nil {
		return cw.n, werr
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	_, err := cw.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
	return cw.n, err
}

func appendNode(b []byte, n *node) []byte {
	b = appendString(b, n.path)
	b = appendString(b, n.data)
	for _, v := range [...]int64{n.czxid, n.mzxid, n.pzxid, n.ctime, n.mtime,
		int64(n.version), int64(n.cversion), int64(n.aversion), int64(n.numChildren)} {
		b = binary.AppendVarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(n.owner))
	return appendACL(b, n.acl)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ErrBadSnapshot is returned for a snapshot that cannot be read.
var ErrBadSnapshot = errors.New("fsm: bad snapshot")

// Restore replaces the tree's whole state with the snapshot read from r. On
// error the tree is unchanged.
func (t *Tree) Restore(r io.Reader) error {
	fresh, err := readSnapshot(r)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nodes, t.sessions, t.timed, t.members = fresh.nodes, fresh.sessions, fresh.timed, fresh.members
	t.sessionsFrom = fresh.sessionsFrom
	t.applied, t.dataSize = fresh.applied, fresh.dataSize
	return nil
}

func readSnapshot(r io.Reader) (*Tree, error) {
	cr := &crcReader{r: r, table: crc32.MakeTable(crc32.Castagnoli)}
	sr := &snapReader{r: bufio.NewReaderSize(cr, 1<<16)}
	magic := make([]byte, len(snapshotMagic))
	sr.full(magic)
	if sr.err == nil && string(magic) != snapshotMagic && string(magic) != snapshotMagicV2 {
		return nil, fmt.Errorf("%w: not a Canopy snapshot", ErrBadSnapshot)
	}
	v3 := string(magic) == snapshotMagic
	t := emptyTree()
	t.applied = sr.varint()
	for i, n := uint64(0), sr.uvarint(); i < n && sr.err == nil; i++ {
		m := Member{ID: sr.string(), RaftAddr: sr.string(), HTTPAddr: sr.string()}
		t.members[m.ID] = m
	}
	for i, n := uint64(0), sr.uvarint(); i < n && sr.err == nil; i++ {
		id, timeout := api.ID(sr.uvarint()), sr.varint()
		s := &session{id: id, timeout: timeout, ephemerals: make(map[string]struct{})}
		if v3 {
			s.owner, s.addr = sr.strings(), sr.string()
		}
		t.addSession(s)
	}
	for i, n := uint64(0), sr.uvarint(); i < n && sr.err == nil; i++ {
		nd := newNode(sr.string())
		nd.data = sr.string()
		nd.czxid, nd.mzxid, nd.pzxid = sr.varint(), sr.varint(), sr.varint()
		nd.ctime, nd.mtime = sr.varint(), sr.varint()
		nd.version, nd.cversion, nd.aversion = int32(sr.varint()), int32(sr.varint()), int32(sr.varint())
		nd.numChildren = int32(sr.varint())
		nd.owner = api.ID(sr.uvarint())
		if v3 {
			nd.acl = sr.acl()
		}
		if sr.err == nil {
			t.nodes.ReplaceOrInsert(nd)
			t.index(nd, true)
		}
	}
	if sr.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSnapshot, sr.err)
	}
	// Everything but the trailer has been read; it must be the checksum.
	if _, err := sr.r.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the nodes", ErrBadSnapshot)
	}
	if !cr.ok() {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadSnapshot)
	}
	if t.lookup("/") == nil {
		return nil, fmt.Errorf("%w: no root node", ErrBadSnapshot)
	}
	return t, nil
}

// crcReader checksums what it reads except the last four bytes of the
// stream, which it holds back: at EOF they are the trailer to compare with.
type crcReader struct {
	r     io.Reader
	table *crc32.Table
	sum   uint32
	tail  [4]byte
	held  int // bytes of tail in use
	eof   bool
}

func (c *crcReader) Read(p []byte) (int, error) {
	if c.eof {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Read behind the held bytes, then release all but the last four.
	buf := p
	if len(buf) < 8 {
		buf = make([]byte, 8)
	}
	copy(buf, c.tail[:c.held])
	n, err := c.r.Read(buf[c.held:])
	total := c.held + n
	out := total - 4
	if out < 0 {
		out = 0
	}
	c.sum = crc32.Update(c.sum, c.table, buf[:out])
	c.held = copy(c.tail[:], buf[out:total])
	if &buf[0] != &p[0] {
		copy(p, buf[:out])
	}
	if err == io.EOF {
		c.eof = true
		if out == 0 {
			return 0, io.EOF
		}
		return out, nil
	}
	return out, err
}

func (c *crcReader) ok() bool {
	return c.eof && c.held == 4 && binary.BigEndian.Uint32(c.tail[:]) == c.sum
}

// snapReader reads the snapshot's fields; the first error sticks.
type snapReader struct {
	r       *bufio.Reader
	err     error
	scratch []byte
}

func (s *snapReader) full(p []byte) {
	if s.err != nil {
		return
	}
	if _, err := io.ReadFull(s.r, p); err != nil {
		s.err = err
	}
}

func (s *snapReader) varint() int64 {
	if s.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(s.r)
	s.err = err
	return v
}

func (s *snapReader) uvarint() uint64 {
	if s.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(s.r)
	s.err = err
	return v
}

// maxSnapshotString bounds one path or data field, so a corrupt length
// cannot make Restore allocate without limit.
const maxSnapshotString = 64 << 20

// string reads a length-prefixed string, allocating only the string.
func (s *snapReader) string() string {
	n := s.uvarint()
	if s.err != nil || n == 0 {
		return ""
	}
	if n > maxSnapshotString {
		s.err = fmt.Errorf("field of %d bytes", n)
		return ""
	}
	if uint64(cap(s.scratch)) < n {
		s.scratch = make([]byte, n)
	}
	b := s.scratch[:n]
	s.full(b)
	return string(b)
}

// SnapshotApplied reads the applied index from the start of a snapshot
// (its first 32 bytes suffice), without reading the rest.
func SnapshotApplied(head []byte) (int64, error) {
	if len(head) < len(snapshotMagic) || (string(head[:len(snapshotMagic)]) != snapshotMagic && string(head[:len(snapshotMagic)]) != snapshotMagicV2) {
		return 0, fmt.Errorf("%w: not a Canopy snapshot", ErrBadSnapshot)
	}
	v, n := binary.Varint(head[len(snapshotMagic):])
	if n <= 0 || v < 0 {
		return 0, fmt.Errorf("%w: bad header", ErrBadSnapshot)
	}
	return v, nil
}

// maxSnapshotList bounds a list's count (owners, ACL entries): far above
// any real one, so a corrupt count cannot make Restore allocate much.
const maxSnapshotList = 1 << 16

func (s *snapReader) count() int {
	n := s.uvarint()
	if s.err == nil && n > maxSnapshotList {
		s.err = fmt.Errorf("list of %d items", n)
	}
	if s.err != nil {
		return 0
	}
	return int(n)
}

func (s *snapReader) strings() []string {
	n := s.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = s.string()
	}
	return out
}

func (s *snapReader) acl() []api.ACL {
	n := s.count()
	if n == 0 {
		return nil
	}
	out := make([]api.ACL, n)
	for i := range out {
		out[i].Scheme, out[i].ID = s.string(), s.string()
		p := s.uvarint()
		if p > uint64(api.PermAll) && s.err == nil {
			s.err = fmt.Errorf("perms %d past cdrwa", p)
		}
		out[i].Perms = api.Perms(p)
	}
	return out
}
