package consensus

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/hashicorp/raft"
)

// PeerTLS secures raft traffic with mutual TLS: every node presents a
// certificate signed by CA whose CommonName (or a DNS name) is its node id,
// and a node talks only to peers whose id is a member of the cluster.
type PeerTLS struct {
	CertFile, KeyFile, CAFile string
}

// tlsStreamLayer is raft's transport stream over mutual TLS, with the peer
// allowlist checked on both sides of every connection.
type tlsStreamLayer struct {
	net.Listener
	advertise net.Addr
	config    *tls.Config
	isMember  func(id string) bool
}

func loadPeerTLS(p PeerTLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("peer TLS certificate: %w", err)
	}
	caPEM, err := os.ReadFile(p.CAFile)
	if err != nil {
		return nil, fmt.Errorf("peer TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("peer TLS CA: no certificate in " + p.CAFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
		// Peers are named by node id, not host name: the chain is verified
		// against the CA here, the name against the member list below.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, pool)
		},
	}, nil
}

func verifyChain(raw [][]byte, pool *x509.CertPool) error {
	if len(raw) == 0 {
		return errors.New("peer sent no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots: pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err
}

// peerIDs are the ids a certificate names: its CommonName and DNS names.
func peerIDs(c *x509.Certificate) []string {
	return append([]string{c.Subject.CommonName}, c.DNSNames...)
}

func (l *tlsStreamLayer) allowed(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("peer sent no certificate")
	}
	for _, id := range peerIDs(cs.PeerCertificates[0]) {
		if id != "" && l.isMember(id) {
			return nil
		}
	}
	return fmt.Errorf("peer %q is not a member of this cluster", cs.PeerCertificates[0].Subject.CommonName)
}

// Accept hands raft only connections from members.
func (l *tlsStreamLayer) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := tls.Server(c, l.config)
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			c.Close()
			continue
		}
		if err := l.allowed(tc.ConnectionState()); err != nil {
			c.Close()
			continue
		}
		tc.SetDeadline(time.Time{})
		return tc, nil
	}
}

// Dial connects to a peer and refuses it unless it is a member.
func (l *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	tc, err := tls.DialWithDialer(d, "tcp", string(address), l.config)
	if err != nil {
		return nil, err
	}
	if err := l.allowed(tc.ConnectionState()); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}

func (l *tlsStreamLayer) Addr() net.Addr {
	if l.advertise != nil {
		return l.advertise
	}
	return l.Listener.Addr()
}

// isMember reports whether id is in the raft configuration or the
// replicated member list (a node being added is in the first first).
func (n *Node) isMember(id string) bool {
	if r := n.raftRef.Load(); r != nil {
		if f := r.GetConfiguration(); f.Error() == nil {
			for _, s := range f.Configuration().Servers {
				if string(s.ID) == id {
					return true
				}
			}
		}
	}
	for _, p := range n.cfg.Peers {
		if p.ID == id {
			return true
		}
	}
	_, ok := n.tree.Member(id)
	return ok || id == n.cfg.ID
}
