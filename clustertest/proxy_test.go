package clustertest

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// raftNet is the network between the nodes' raft ports. Every node
// advertises the address of its own proxy, so each raft connection passes
// through exactly one proxy: the one in front of its destination. Cutting
// a node closes every connection to or from it and refuses new ones, in
// both directions, while its HTTP API keeps answering.
//
// A proxy knows a connection's destination; it learns its source from the
// first bytes, where hashicorp/raft's RPC header carries the sender's
// advertised address (which is the sender's proxy address). A connection
// whose sender cannot be told is let through and counted.
type raftNet struct {
	mu    sync.Mutex
	addrs map[string]string // advertised (proxy) address -> node id
	cut   map[string]bool
	links map[*link]struct{}

	unidentified atomic.Int64
}

// link is one proxied connection.
type link struct {
	src, dst string
	in, out  net.Conn
}

func (l *link) close() {
	l.in.Close()
	if l.out != nil {
		l.out.Close()
	}
}

func newRaftNet() *raftNet {
	return &raftNet{addrs: map[string]string{}, cut: map[string]bool{}, links: map[*link]struct{}{}}
}

// raftProxy listens on a node's advertised raft address and forwards to the
// address the node's raft binds.
type raftProxy struct {
	net    *raftNet
	id     string
	ln     net.Listener
	target string
	wg     sync.WaitGroup
}

// newProxy listens on a free loopback port in front of node id's raft
// address target and starts forwarding.
func (rn *raftNet) newProxy(id, target string) (*raftProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &raftProxy{net: rn, id: id, ln: ln, target: target}
	rn.mu.Lock()
	rn.addrs[p.addr()] = id
	rn.mu.Unlock()
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *raftProxy) addr() string { return p.ln.Addr().String() }

func (p *raftProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

// sniffLimit bounds what a proxy reads before it gives up telling the
// sender: the RPC header comes first, within a hundred bytes or so.
const sniffLimit = 1024

func (p *raftProxy) handle(in net.Conn) {
	if p.net.isCut(p.id) {
		in.Close()
		return
	}
	first, src := p.net.sniff(in)
	if src != "" && p.net.isCut(src) {
		in.Close()
		return
	}
	out, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		in.Close()
		return
	}
	l := &link{src: src, dst: p.id, in: in, out: out}
	if !p.net.add(l) {
		l.close()
		return
	}
	defer func() {
		p.net.remove(l)
		l.close()
	}()
	if _, err := out.Write(first); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(out, in); done <- struct{}{} }()
	go func() { io.Copy(in, out); done <- struct{}{} }()
	<-done // either side ending ends the link
}

// sniff reads the connection's first bytes until they name a known node's
// advertised address; the earliest one named is the sender's (the RPC
// header precedes anything else that could hold addresses).
func (rn *raftNet) sniff(c net.Conn) ([]byte, string) {
	var buf []byte
	chunk := make([]byte, 256)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	for len(buf) < sniffLimit {
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if id := rn.sender(buf); id != "" {
			return buf, id
		}
		if err != nil {
			break
		}
	}
	rn.unidentified.Add(1)
	return buf, ""
}

func (rn *raftNet) sender(buf []byte) string {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	best, id := -1, ""
	for addr, node := range rn.addrs {
		if i := bytes.Index(buf, []byte(addr)); i >= 0 && (best < 0 || i < best) {
			best, id = i, node
		}
	}
	return id
}

func (rn *raftNet) isCut(id string) bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.cut[id]
}

// add records a link unless one of its ends was cut meanwhile.
func (rn *raftNet) add(l *link) bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.cut[l.dst] || (l.src != "" && rn.cut[l.src]) {
		return false
	}
	rn.links[l] = struct{}{}
	return true
}

func (rn *raftNet) remove(l *link) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	delete(rn.links, l)
}

// partition cuts node id off: its connections close and new ones are refused.
func (rn *raftNet) partition(id string) {
	rn.mu.Lock()
	rn.cut[id] = true
	var doomed []*link
	for l := range rn.links {
		if l.src == id || l.dst == id {
			doomed = append(doomed, l)
		}
	}
	rn.mu.Unlock()
	for _, l := range doomed {
		l.close()
	}
}

// heal lets node id's raft traffic through again.
func (rn *raftNet) heal(id string) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	delete(rn.cut, id)
}

func (p *raftProxy) close() {
	p.ln.Close()
	p.net.mu.Lock()
	var mine []*link
	for l := range p.net.links {
		if l.dst == p.id {
			mine = append(mine, l)
		}
	}
	p.net.mu.Unlock()
	for _, l := range mine {
		l.close()
	}
	p.wg.Wait()
}
