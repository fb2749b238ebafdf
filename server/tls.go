package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// The API's TLS (DESIGN §9): one listener serves the API, the UI, the
// WebSocket and SSE over TLS 1.2 or later, with Go's default ciphers. The
// certificate is re-read on SIGHUP (ReloadTLS) and handed to each new
// handshake, so connections already open keep theirs and none is dropped.
// A client certificate is verified when one is sent and --tls-client-ca is
// given; a client without one (a browser) is still served.

// certSource is the API's current certificate, swapped whole by a reload
// while handshakes read it.
type certSource struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

// load reads the certificate and key files; the current certificate is
// replaced only when both read and match.
func (s *certSource) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", s.certFile, s.keyFile, err)
	}
	if cert.Leaf == nil { // parsed by LoadX509KeyPair unless GODEBUG says not
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("--tls-cert %s: %w", s.certFile, err)
		}
	}
	s.cert.Store(&cert)
	return &cert, nil
}

func (s *certSource) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cert.Load(), nil
}

// apiTLS is the API listener's configuration, nil without --tls-cert. The
// certificate is loaded here: a node whose files do not load does not
// start.
func (m *Main) apiTLS() (*tls.Config, error) {
	if m.TLSCert == "" {
		return nil, nil
	}
	m.certs = &certSource{certFile: m.TLSCert, keyFile: m.TLSKey}
	if _, err := m.certs.load(); err != nil {
		return nil, err
	}
	config := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: m.certs.getCertificate,
	}
	if m.TLSClientCA != "" {
		pool, err := loadCAs(m.TLSClientCA, x509.NewCertPool())
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		config.ClientCAs = pool
		// A browser without a certificate still gets the UI; whoever
		// sends one must send one the CA signed.
		config.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return config, nil
}

// forwardTLS is how this node reaches another's API (forwarding to the
// leader, joining), nil without --tls-cert: every node of a cluster serves
// TLS or none does. It trusts the system's roots and --tls-client-ca (the
// CA operators sign their nodes' certificates with), and presents
// --peer-tls-cert to a node that asks for a certificate of its issuer.
func (m *Main) forwardTLS() (*tls.Config, error) {
	if m.TLSCert == "" {
		return nil, nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if m.TLSClientCA != "" {
		if roots, err = loadCAs(m.TLSClientCA, roots); err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
	}
	config := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	if m.PeerTLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(m.PeerTLS.CertFile, m.PeerTLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--peer-tls-cert: %w", err)
		}
		config.GetClientCertificate = func(req *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			// A certificate the other node's --tls-client-ca did not sign
			// would fail the handshake: without one the call is anonymous.
			if req.SupportsCertificate(&cert) != nil {
				return &tls.Certificate{}, nil
			}
			return &cert, nil
		}
	}
	return config, nil
}

// loadCAs adds the certificates of the PEM bundle in file to pool.
func loadCAs(file string, pool *x509.CertPool) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in " + file)
	}
	return pool, nil
}

// ReloadTLS re-reads --tls-cert and --tls-key (the canopy binary calls it
// on SIGHUP). New handshakes get the new certificate; open connections
// keep the old one. When the files do not load, the old certificate stays
// and the error is logged and returned. Without TLS it does nothing.
func (m *Main) ReloadTLS() error {
	if m.certs == nil {
		m.log.Info().Msg("TLS reload asked for, but the API does not serve TLS (no --tls-cert)")
		return nil
	}
	cert, err := m.certs.load()
	if err != nil {
		m.log.Error().Err(err).Msg("TLS reload failed: the API keeps its current certificate")
		return err
	}
	level := zerolog.InfoLevel
	if time.Now().After(cert.Leaf.NotAfter) {
		level = zerolog.WarnLevel // loaded as asked, but clients will refuse it
	}
	m.log.WithLevel(level).Str("cert", m.TLSCert).Str("subject", cert.Leaf.Subject.String()).
		Time("not_after", cert.Leaf.NotAfter).Msg("TLS certificate reloaded")
	return nil
}
