// Package server wires one Canopy node together: the raft node, the watch
// hub, the HTTP API and the UI. The canopy binary runs it; tests start real
// nodes in-process through it, exactly as the binary does.
package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	canopy "github.com/canopy-coord/canopy"
	"github.com/canopy-coord/canopy/acl"
	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/audit"
	"github.com/canopy-coord/canopy/cluster"
	"github.com/canopy-coord/canopy/consensus"
	"github.com/canopy-coord/canopy/httpapi"
	"github.com/canopy-coord/canopy/service"
	"github.com/canopy-coord/canopy/web"
	"github.com/canopy-coord/canopy/wsnotify"
)

// Main is one running node: flags, the raft node, the HTTP server.
type Main struct {
	HTTPAddr          string
	HTTPAdvertise     string
	Peers             string
	Join              string
	RaftAddr          string
	RaftAdvertise     string
	DataDir           string
	ID                string
	LogLevel          string
	ElectionTimeout   time.Duration
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	ReapInterval      time.Duration
	Limits            service.Limits
	Pprof             bool
	MaxClientConns    int
	MaxClientRate     int
	AllowedOrigins    string
	PeerTLS           consensus.PeerTLS
	// TLSCert and TLSKey make the API serve TLS; TLSClientCA verifies
	// the client certificates sent to it.
	TLSCert, TLSKey, TLSClientCA string
	// AuthRequired has anonymous requests answered 401 AuthFailed, and
	// makes creator-all the default ACL (service.Security).
	AuthRequired bool
	// SuperDigest (user:<base64 sha1>) names the super user.
	SuperDigest string
	// MetricsAuth makes /metrics need credentials with AuthRequired.
	MetricsAuth bool
	// RaftVerifyInterval turns on the log verifier (consensus/verify.go).
	RaftVerifyInterval time.Duration
	// RaftLogStore is the log store of a new data directory ("boltdb" or
	// "wal"; "" is boltdb); an existing directory keeps its own.
	RaftLogStore string
	// AuditLog is the audit log's file (DESIGN §9); "" writes none.
	AuditLog string
	// ClusterTokenFile holds the secret every node of the cluster shares:
	// with access control on, node-to-node calls need it.
	ClusterTokenFile string
	// Version is reported by /v1/status and the start-up log line.
	Version string

	stderr    io.Writer
	joinDone  chan struct{}
	stopJoin  context.CancelFunc
	log       zerolog.Logger
	node      *consensus.Node
	listener  net.Listener
	server    *http.Server
	served    chan error
	forwarder *cluster.Client
	certs     *certSource // the API's certificate, nil without TLS
	audit     *audit.Log  // the audit log, nil without --audit-log
}

// New returns a Main with DESIGN §7's defaults.
func New(stderr io.Writer) *Main {
	return &Main{
		HTTPAddr: "127.0.0.1:8900",
		RaftAddr: "127.0.0.1:8901",
		DataDir:  "./canopy-data",
		ID:       "node1",
		LogLevel: "info",
		Limits:   service.DefaultLimits(),
		Version:  "dev",
		stderr:   stderr,
	}
}

// ParseFlags reads the serve flags.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("canopy serve", flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.StringVar(&m.HTTPAddr, "http", m.HTTPAddr, "address of the API and UI")
	fs.StringVar(&m.RaftAddr, "raft", m.RaftAddr, "address raft listens on")
	fs.StringVar(&m.RaftAdvertise, "raft-advertise", "", "address peers reach raft on, when it differs from --raft")
	fs.StringVar(&m.HTTPAdvertise, "http-advertise", "", "address other nodes reach this node's API on, when it differs from --http")
	fs.StringVar(&m.Peers, "peers", "", "static initial cluster: id=raftaddr,... (every node gets the same list, itself included)")
	fs.StringVar(&m.Join, "join", "", "URL of a running cluster's node to join, e.g. http://127.0.0.1:8900 (a bare host:port takes this node's scheme)")
	fs.StringVar(&m.PeerTLS.CertFile, "peer-tls-cert", "", "raft mutual TLS: this node's certificate (its CommonName is its --id)")
	fs.StringVar(&m.PeerTLS.KeyFile, "peer-tls-key", "", "raft mutual TLS: this node's key")
	fs.StringVar(&m.PeerTLS.CAFile, "peer-tls-ca", "", "raft mutual TLS: the CA that signs every member's certificate")
	fs.StringVar(&m.DataDir, "data-dir", m.DataDir, "directory of the raft log and snapshots (created 0700)")
	fs.DurationVar(&m.RaftVerifyInterval, "raft-verify-interval", 0, "turn on raft-wal's log verifier: the leader appends a checkpoint this often and every node checksums the log between checkpoints; failures are logged and counted in canopy_raft_log_verifications_total (0: off)")
	fs.StringVar(&m.RaftLogStore, "raft-log-store", "", "the raft log store of a new data directory: boltdb (the default) or wal (hashicorp/raft-wal 0.4.0, for trials: see the README); a directory keeps the store it holds, and asking for the other is an error")
	fs.StringVar(&m.ID, "id", m.ID, "this node's id in the cluster")
	fs.StringVar(&m.LogLevel, "log-level", m.LogLevel, "debug (one line per request), info, warn or error")
	fs.DurationVar(&m.ElectionTimeout, "election-timeout", 500*time.Millisecond, "failover time: a new leader within twice this after the leader fails (raft's heartbeat and election timeouts are 2/5 of it)")
	fs.Uint64Var(&m.SnapshotThreshold, "snapshot-threshold", 16384, "log entries since the last snapshot that trigger a new one")
	fs.DurationVar(&m.SnapshotInterval, "snapshot-interval", 30*time.Second, "how often to check whether to snapshot")
	fs.Uint64Var(&m.TrailingLogs, "trailing-logs", 10240, "log entries kept after a snapshot")
	fs.DurationVar(&m.ReapInterval, "reap-interval", time.Second, "how often the leader deletes expired container and TTL nodes")
	fs.Int64Var(&m.Limits.MaxDataBytes, "max-data-bytes", m.Limits.MaxDataBytes, "largest node data")
	fs.IntVar(&m.Limits.MaxPathBytes, "max-path-bytes", m.Limits.MaxPathBytes, "longest node path")
	fs.Int64Var(&m.Limits.MaxBodyBytes, "max-body-bytes", m.Limits.MaxBodyBytes, "largest request body")
	fs.IntVar(&m.Limits.MaxMultiOps, "max-multi-ops", m.Limits.MaxMultiOps, "most operations in one multi")
	fs.BoolVar(&m.Pprof, "enable-pprof", false, "serve Go profiles at /debug/pprof/")
	fs.IntVar(&m.Limits.WatchHistory, "watch-history", m.Limits.WatchHistory, "events kept for since_zxid replay")
	fs.IntVar(&m.Limits.WatchQueue, "watch-queue", m.Limits.WatchQueue, "frames queued per connection before a slow one is closed (1008 resync)")
	fs.IntVar(&m.Limits.MaxWatches, "max-watches", m.Limits.MaxWatches, "most watches per connection")
	fs.IntVar(&m.MaxClientConns, "max-client-conns", 0, "most open connections from one client IP address, like ZooKeeper's maxClientCnxns; more are answered 429 (0: no limit)")
	fs.IntVar(&m.MaxClientRate, "max-client-rate", 0, "most requests and WebSocket frames a second from one client IP address; more are answered 429 (0: no limit)")
	fs.StringVar(&m.AllowedOrigins, "allowed-origins", "", "comma-separated Origin host patterns allowed to open WebSockets besides the same origin")
	fs.StringVar(&m.TLSCert, "tls-cert", "", "serve the API and UI over TLS with this certificate (PEM, re-read on SIGHUP); every node of a cluster serves TLS or none does")
	fs.StringVar(&m.TLSKey, "tls-key", "", "the key of --tls-cert (PEM, re-read on SIGHUP)")
	fs.StringVar(&m.TLSClientCA, "tls-client-ca", "", "PEM bundle of the CAs whose client certificates the API verifies (a client without one is still served); nodes also trust it when they forward to each other")
	fs.BoolVar(&m.AuthRequired, "auth-required", false, "answer anonymous requests 401 AuthFailed (health, readiness, metrics and the UI's files stay open), and give a create without an ACL creator-all")
	fs.StringVar(&m.SuperDigest, "super-digest", "", "the super user, who passes every ACL and administers the cluster: user:base64(sha1(user:password)), as `canopy digest USER` prints it")
	fs.BoolVar(&m.MetricsAuth, "metrics-auth", false, "with --auth-required, /metrics needs credentials too")
	fs.StringVar(&m.ClusterTokenFile, "cluster-token-file", "", "a file holding the secret all nodes share (one line, 16+ characters): with --auth-required or --super-digest, forwarding and membership calls between nodes need it")
	fs.StringVar(&m.AuditLog, "audit-log", "", "append one JSON line per write, session event, ACL change and authentication to this file (reopened on SIGHUP, for rotation)")
	fs.IntVar(&m.Limits.MaxEphemeralsPerSession, "max-ephemerals-per-session", 0, "most ephemerals one session may own; more are 507 QuotaExceeded (0: no limit)")
	fs.IntVar(&m.Limits.MaxSessionsPerClient, "max-sessions-per-client", 0, "most open sessions one client IP address may hold; more are 429 (0: no limit)")
	fs.Int64Var(&m.Limits.MaxTreeBytes, "max-tree-bytes", 0, "most bytes of node data the tree may hold; writes past it are 507 QuotaExceeded, deletes still work (0: no limit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if t := m.PeerTLS; (t.CertFile != "" || t.KeyFile != "" || t.CAFile != "") && (t.CertFile == "" || t.KeyFile == "" || t.CAFile == "") {
		return errors.New("--peer-tls-cert, --peer-tls-key and --peer-tls-ca go together")
	}
	if (m.TLSCert == "") != (m.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if m.SuperDigest != "" {
		if _, err := acl.Fixup("", []api.ACL{{Scheme: "digest", ID: m.SuperDigest, Perms: api.PermAll}}, nil); err != nil {
			return fmt.Errorf("--super-digest %q: want user:base64(sha1(user:password))", m.SuperDigest)
		}
	}
	if m.TLSClientCA != "" && m.TLSCert == "" {
		return errors.New("--tls-client-ca needs --tls-cert and --tls-key: client certificates come with TLS")
	}
	if _, err := m.joinURL(); err != nil {
		return err
	}
	if m.MaxClientConns < 0 || m.MaxClientRate < 0 {
		return errors.New("--max-client-conns and --max-client-rate are counts: 0 or more")
	}
	if m.Peers != "" && m.Join != "" {
		return errors.New("--peers and --join exclude each other: a node either starts a cluster or joins one")
	}
	_, err := m.peers()
	return err
}

// peers parses --peers; it must name this node.
func (m *Main) peers() ([]consensus.Peer, error) {
	if m.Peers == "" {
		return nil, nil
	}
	var out []consensus.Peer
	self := false
	for _, item := range splitList(m.Peers) {
		id, addr, ok := strings.Cut(item, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("--peers: %q is not id=raftaddr", item)
		}
		out = append(out, consensus.Peer{ID: id, Raft: addr})
		self = self || id == m.ID
	}
	if !self {
		return nil, fmt.Errorf("--peers must include this node (--id %s)", m.ID)
	}
	return out, nil
}

// Run opens the node and starts serving; it returns once both listen.
func (m *Main) Run(ctx context.Context) error {
	level, err := zerolog.ParseLevel(m.LogLevel)
	if err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	m.log = zerolog.New(m.stderr).Level(level).With().Timestamp().Str("node", m.ID).Logger()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	apiTLS, err := m.apiTLS()
	if err != nil {
		return err
	}
	forwardTLS, err := m.forwardTLS()
	if err != nil {
		return err
	}
	join, err := m.joinURL()
	if err != nil {
		return err
	}
	m.listener, err = net.Listen("tcp", m.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.HTTPAddr, err)
	}
	clients := httpapi.NewClientLimits(m.MaxClientConns, m.MaxClientRate, reg)
	m.listener = clients.Listener(m.listener)
	if msg := exposureWarning(m.listener.Addr().String(), apiTLS != nil, m.AuthRequired); msg != "" {
		m.log.Warn().Str("http", m.listener.Addr().String()).Msg(msg)
		fmt.Fprintln(m.stderr, "canopy: WARNING: "+msg)
	}
	peers, _ := m.peers()
	httpAdvertise := m.HTTPAdvertise
	if httpAdvertise == "" {
		httpAdvertise = m.listener.Addr().String()
	}
	token, err := m.clusterToken()
	if err != nil {
		return err
	}
	if token == "" && (m.AuthRequired || m.SuperDigest != "") && (m.Peers != "" || m.Join != "") {
		msg := "access control is on but --cluster-token-file is not set: this node's followers cannot forward writes to it, nor it to its leader"
		m.log.Warn().Msg(msg)
		fmt.Fprintln(m.stderr, "canopy: WARNING: "+msg)
	}
	forwarder := cluster.NewClient(forwardTLS)
	forwarder.SetToken(token)
	m.forwarder = forwarder
	watchMetrics := wsnotify.NewMetrics(reg)
	limits := m.Limits.WithDefaults()
	hub := wsnotify.NewHub(wsnotify.HubConfig{
		History: limits.WatchHistory, QueueSize: limits.WatchQueue, MaxWatches: limits.MaxWatches, Metrics: watchMetrics,
	})
	m.node, err = consensus.Open(consensus.Config{
		ID:                m.ID,
		RaftBind:          m.RaftAddr,
		RaftAdvertise:     m.RaftAdvertise,
		HTTPAdvertise:     httpAdvertise,
		DataDir:           m.DataDir,
		LogStore:          m.RaftLogStore,
		VerifyInterval:    m.RaftVerifyInterval,
		Bootstrap:         m.Join == "",
		Peers:             peers,
		Forwarder:         forwarder,
		PeerTLS:           m.peerTLS(),
		ElectionTime:      m.ElectionTimeout,
		SnapshotThreshold: m.SnapshotThreshold,
		SnapshotInterval:  m.SnapshotInterval,
		TrailingLogs:      m.TrailingLogs,
		ReapInterval:      m.ReapInterval,
		Sink:              hub,
		Logger:            m.log,
		LogOutput:         m.stderr,
		Registerer:        reg,
	})
	if err != nil {
		return err
	}
	sec := service.Security{AuthRequired: m.AuthRequired, SuperDigest: m.SuperDigest}
	if m.AuditLog != "" {
		if m.audit, err = audit.Open(m.AuditLog); err != nil {
			return fmt.Errorf("--audit-log: %w", err)
		}
		if err := m.audit.Register(reg); err != nil {
			return err
		}
		sec.Audit = auditor{m.audit}
	}
	svc := service.New(m.node, limits).WithSecurity(sec)
	watch := wsnotify.NewHandler(svc, hub, wsnotify.Config{
		OriginPatterns: splitList(m.AllowedOrigins),
		Logger:         m.log,
		Metrics:        watchMetrics,
		Throttle:       clients.Throttle,
	})
	// A forwarded command is its request's body and path in another
	// encoding: twice the body limit leaves room for any of them.
	streams := cluster.NewStreamServer(m.node, 2*int(limits.MaxBodyBytes), m.log, reg)
	handler := httpapi.New(svc, m.node, httpapi.Config{
		OpenAPI:      canopy.OpenAPI,
		UI:           web.Files(),
		Version:      m.Version,
		Pprof:        m.Pprof,
		MetricsAuth:  m.MetricsAuth,
		ClusterToken: token,
		Clients:      clients,
		Watch:        watch.ServeWS,
		Events:       watch.ServeSSE,
		WatchCount:   hub.WatchCount,
		Stream:       streams,
		Logger:       m.log,
		Registerer:   reg,
		Gatherer:     reg,
	})
	m.server = &http.Server{
		Handler:           handler,
		ConnContext:       clients.ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
		TLSConfig:         apiTLS,
	}
	// The forwarding streams are hijacked connections the server no
	// longer tracks: they end with it.
	m.server.RegisterOnShutdown(streams.Close)
	m.served = make(chan error, 1)
	go func() {
		if apiTLS != nil {
			// The certificate comes from TLSConfig.GetCertificate.
			m.served <- m.server.ServeTLS(m.listener, "", "")
			return
		}
		m.served <- m.server.Serve(m.listener)
	}()
	if join != "" && m.node.Fresh() {
		m.joinDone = make(chan struct{})
		var joinCtx context.Context
		joinCtx, m.stopJoin = context.WithTimeout(context.Background(), 5*time.Minute)
		go m.join(joinCtx, forwarder, join, httpAdvertise)
	}
	m.log.Info().Str("http", m.HTTPURL()).Str("raft", m.node.RaftAddr()).Str("data_dir", m.DataDir).Str("raft_log_store", m.node.LogStore()).
		Str("version", m.Version).Msg("canopy serving; UI at " + m.HTTPURL() + "/ui/")
	return nil
}

// Halted is closed when the node stopped itself (an entry of the raft log
// this version cannot read, from a newer leader); Err then says why.
func (m *Main) Halted() <-chan struct{} { return m.node.Halted() }

// HaltErr is why the node stopped itself, once Halted is closed.
func (m *Main) HaltErr() error { return m.node.HaltErr() }

// Registered reports whether this node's own member record (its
// addresses) is in the replicated state: the first entry a node commits of
// its own accord, after which it writes nothing unless asked or a timer
// (expiry, reaping) says so.
func (m *Main) Registered() bool {
	rec, ok := m.node.Tree().Member(m.node.ID())
	return ok && rec.HTTPAddr != ""
}

// HTTPURL is the base URL the API listens on.
func (m *Main) HTTPURL() string { return m.scheme() + "://" + m.listener.Addr().String() }

// scheme is the API's, and every other node's: a cluster is all-TLS or
// all-plain, and member records hold host:port only.
func (m *Main) scheme() string {
	if m.TLSCert != "" {
		return "https"
	}
	return "http"
}

// joinURL is --join as a URL: a bare host:port gets this node's scheme,
// and a URL of the other scheme is refused (a TLS node cannot join a
// plain cluster, nor the reverse).
func (m *Main) joinURL() (string, error) {
	if m.Join == "" {
		return "", nil
	}
	join := strings.TrimSuffix(m.Join, "/")
	scheme, _, found := strings.Cut(join, "://")
	switch {
	case !found:
		return m.scheme() + "://" + join, nil
	case scheme != m.scheme():
		return "", fmt.Errorf("--join %s: this node's API is %s, and every node of a cluster serves TLS or none does", m.Join, m.scheme())
	}
	return join, nil
}

// join asks the cluster at url to add this node, retrying until it does.
func (m *Main) join(ctx context.Context, c *cluster.Client, url, httpAdvertise string) {
	defer close(m.joinDone)
	req := api.MemberRequest{ID: m.ID, Raft: m.node.RaftAddr(), HTTP: httpAdvertise, Voter: true}
	if err := c.Join(ctx, url, req); err != nil {
		m.log.Error().Err(err).Str("join", url).Msg("could not join the cluster")
		return
	}
	m.log.Info().Str("join", url).Msg("joined the cluster")
}

// Log is the node's logger, for the caller's own lines.
func (m *Main) Log() *zerolog.Logger { return &m.log }

// shutdownGrace is how long Close lets requests in flight finish.
const shutdownGrace = 2 * time.Second

// Close stops serving (letting requests in flight finish, within
// shutdownGrace) and closes the node: in a few seconds whatever the load.
func (m *Main) Close() error {
	var errs []error
	if m.stopJoin != nil {
		m.stopJoin()
		<-m.joinDone
	}
	if m.server != nil {
		// Requests in flight get a grace period to finish; past it their
		// connections are closed, which ends their contexts, so that a
		// long wait (a min_zxid read, a write whose leader is gone) cannot
		// hold the process after SIGTERM.
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := m.server.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			m.log.Warn().Dur("grace", shutdownGrace).Msg("requests still in flight after the grace period; closing their connections")
			errs = append(errs, m.server.Close())
		} else {
			errs = append(errs, err)
		}
		if err := <-m.served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	} else if m.listener != nil {
		m.listener.Close()
	}
	if m.node != nil {
		errs = append(errs, m.node.Close())
	}
	if m.forwarder != nil {
		m.forwarder.Close()
	}
	if m.audit != nil {
		errs = append(errs, m.audit.Close())
	}
	return errors.Join(errs...)
}

// clusterToken reads --cluster-token-file.
func (m *Main) clusterToken() (string, error) {
	if m.ClusterTokenFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(m.ClusterTokenFile)
	if err != nil {
		return "", fmt.Errorf("--cluster-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) < 16 || strings.ContainsAny(token, "\r\n") {
		return "", fmt.Errorf("--cluster-token-file %s: want one line of at least 16 characters", m.ClusterTokenFile)
	}
	return token, nil
}

// ReopenAudit reopens the audit log's file (after a rotation moved it).
func (m *Main) ReopenAudit() error {
	if m.audit == nil {
		return nil
	}
	if err := m.audit.Reopen(); err != nil {
		m.log.Error().Err(err).Str("file", m.AuditLog).Msg("audit log reopen failed")
		return err
	}
	return nil
}

// auditor writes the operation layer's audit records to the audit log.
type auditor struct{ log *audit.Log }

func (a auditor) Record(r service.AuditRecord) {
	session := ""
	if r.Session != 0 {
		session = r.Session.String()
	}
	a.log.Record(audit.Entry{Time: r.Time, Zxid: r.Zxid, Identity: r.Identity, Client: r.Client,
		Session: session, Op: r.Op, Path: r.Path, Result: r.Result})
}

// exposureWarning is the start-up warning for an API listening at addr
// (host:port), or "" when none is due (DESIGN §9): beyond loopback, the
// API wants both TLS and authentication. A host name other than localhost
// is taken to be reachable: this decides without resolving it.
func exposureWarning(addr string, tls, auth bool) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return ""
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		return ""
	}
	switch {
	case !tls && !auth:
		return "!!! the API listens beyond loopback WITHOUT TLS OR AUTHENTICATION: anyone who can reach it can read and change every node !!!"
	case !tls:
		return "!!! the API listens beyond loopback WITHOUT TLS: credentials and data cross the network in the clear (--tls-cert, --tls-key) !!!"
	case !auth:
		return "!!! the API listens beyond loopback WITHOUT AUTHENTICATION: anyone who can reach it can read and change every node (--auth-required) !!!"
	}
	return ""
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (m *Main) peerTLS() *consensus.PeerTLS {
	if m.PeerTLS.CertFile == "" {
		return nil
	}
	t := m.PeerTLS
	return &t
}
