package zkcompat

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// kind is a create mode, named as ZooKeeper's CreateMode.
type kind int

const (
	persistent kind = iota
	ephemeral
	sequential // persistent sequential
	ephemeralSeq
	container
	ttlNode    // PERSISTENT_WITH_TTL
	ttlSeqNode // PERSISTENT_SEQUENTIAL_WITH_TTL
)

func (k kind) String() string {
	return [...]string{"persistent", "ephemeral", "sequential", "ephemeral-sequential", "container", "ttl", "ttl-sequential"}[k]
}

func (k kind) isEphemeral() bool  { return k == ephemeral || k == ephemeralSeq }
func (k kind) isSequential() bool { return k == sequential || k == ephemeralSeq || k == ttlSeqNode }
func (k kind) isTTL() bool        { return k == ttlNode || k == ttlSeqNode }

// nstat is a Stat as either system reports it.
type nstat struct {
	Czxid, Mzxid, Pzxid         int64
	Version, Cversion, Aversion int32
	EphemeralOwner              uint64
	DataLength, NumChildren     int32
}

// mop is one operation of a multi.
type mop struct {
	op      string // create, set, delete, check
	path    string
	data    string
	version int32
	kind    kind
	// acl is a create's ACL, as the runner expanded it (see expandACL):
	// nil is "none given" (ZooKeeper: world:anyone:cdrwa; Canopy: its
	// default, the same on a server without --auth-required).
	acl []aclEntry
	// rawACL is acl before expansion (scheme:id:perms with @placeholders).
	rawACL []string
}

// mres is one operation's outcome in a multi.
type mres struct {
	code string
	path string // created path (create only)
	stat *nstat // set only
}

// system is one side of the comparison. Paths are absolute and used as
// given, invalid ones included. Codes are Canopy's error codes ("" = ok).
// sess 0 is "no particular session"; ephemeral nodes need sess >= 1, a
// session opened on first use.
//
// Identities: every system is a view that runs its operations as one
// principal (see principals); as returns the same system seen by another.
// A session belongs to the principal that first used it: its operations run
// with that principal's credentials whichever view asks (in ZooKeeper the
// credentials belong to the connection, which is the session).
type system interface {
	name() string
	as(who string) system
	create(path string, data []byte, k kind, ttlMs int64, sess int) (string, string)
	// createACL is create with an ACL: nil is none given (see mop.acl).
	createACL(path string, data []byte, k kind, ttlMs int64, sess int, acl []aclEntry) (string, string)
	getACL(path string) ([]aclEntry, *nstat, string)
	// setACL: aversion -1 is any version, as in ZooKeeper.
	setACL(path string, acl []aclEntry, aversion int32) (*nstat, string)
	get(path string) ([]byte, *nstat, string)
	exists(path string) (*nstat, string)
	children(path string) ([]string, *nstat, string)
	// set and del: anyVersion means "no version given" (ZooKeeper: -1).
	set(path string, data []byte, version int32, anyVersion bool) (*nstat, string)
	del(path string, version int32, anyVersion bool) string
	// multi returns the per-op outcomes, the failing op's index (-1 if
	// none) and the overall code.
	multi(sess int, ops []mop) ([]mres, int, string)
	closeSession(sess int) error
	// sessions maps the session ids handed out so far to their numbers.
	sessions() map[uint64]int
	shutdown()
}

// ---------------------------------------------------------------- ZooKeeper

// zkShared is the state the views of one zkSystem share.
type zkShared struct {
	mu    sync.Mutex
	conns map[int]*zk.Conn    // sessions, each with its first user's credentials
	users map[string]*zk.Conn // principal -> its connection for sess 0
	ids   map[uint64]int
	// src, when set, gives each principal its own source address (see
	// srcNet); when nil, anonymous operations without a session use zkMain.
	src *srcNet
}

type zkSystem struct {
	*zkShared
	who string
}

func newZKSystem() *zkSystem { return newZKSystemFrom(nil) }

func newZKSystemFrom(src *srcNet) *zkSystem {
	return &zkSystem{zkShared: &zkShared{conns: map[int]*zk.Conn{}, users: map[string]*zk.Conn{},
		ids: map[uint64]int{}, src: src}}
}

func (z *zkSystem) name() string { return "zookeeper" }

func (z *zkSystem) as(who string) system {
	principalOf(who) // panics on an unknown name
	return &zkSystem{zkShared: z.zkShared, who: who}
}

// dial opens a connection for principal who: from its source address
// when there is a srcNet, authenticated (addauth digest) when it has
// credentials.
func (z *zkSystem) dial(who string) (*zk.Conn, error) {
	local := ""
	if z.src != nil {
		local = z.src.addr(who)
	}
	c, err := connectZKFrom(10*time.Second, local)
	if err != nil {
		return nil, err
	}
	if p := principalOf(who); p.creds() {
		if err := c.AddAuth("digest", []byte(p.user+":"+p.password)); err != nil {
			c.Close()
			return nil, fmt.Errorf("addauth digest %s: %w", p.user, err)
		}
	}
	return c, nil
}

func (z *zkSystem) conn(sess int) (*zk.Conn, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if sess == 0 {
		if z.who == "" && z.src == nil {
			return zkMain, nil
		}
		if c, ok := z.users[z.who]; ok {
			return c, nil
		}
		c, err := z.dial(z.who)
		if err != nil {
			return nil, err
		}
		z.users[z.who] = c
		return c, nil
	}
	if c, ok := z.conns[sess]; ok {
		return c, nil
	}
	c, err := z.dial(z.who)
	if err != nil {
		return nil, err
	}
	z.conns[sess] = c
	z.ids[uint64(c.SessionID())] = sess
	return c, nil
}

// zkCode maps go-zookeeper's errors to Canopy's codes.
func zkCode(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, zk.ErrNoNode):
		return "NoNode"
	case errors.Is(err, zk.ErrNodeExists):
		return "NodeExists"
	case errors.Is(err, zk.ErrNotEmpty):
		return "NotEmpty"
	case errors.Is(err, zk.ErrBadVersion):
		return "BadVersion"
	case errors.Is(err, zk.ErrNoChildrenForEphemerals):
		return "NoChildrenForEphemerals"
	case errors.Is(err, zk.ErrBadArguments):
		return "BadArguments"
	case errors.Is(err, zk.ErrInvalidPath):
		// The client library refuses the path before sending it, as the
		// Java client's PathUtils.validatePath does.
		return "BadArguments"
	case errors.Is(err, zk.ErrInvalidACL):
		return "InvalidACL"
	case errors.Is(err, zk.ErrNoAuth):
		return "NoAuth"
	case errors.Is(err, zk.ErrAuthFailed):
		return "AuthFailed"
	case errors.Is(err, zk.ErrSessionExpired):
		return "SessionExpired"
	case err.Error() == "unknown error: -2":
		// go-zookeeper has no name for ZooKeeper's RUNTIMEINCONSISTENCY.
		return "RuntimeInconsistency"
	}
	return "zk-error(" + err.Error() + ")"
}

func fromZKStat(s *zk.Stat) *nstat {
	if s == nil {
		return nil
	}
	return &nstat{
		Czxid: s.Czxid, Mzxid: s.Mzxid, Pzxid: s.Pzxid,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion,
		EphemeralOwner: uint64(s.EphemeralOwner),
		DataLength:     s.DataLength, NumChildren: s.NumChildren,
	}
}

func zkFlags(k kind) int32 {
	switch k {
	case ephemeral:
		return zk.FlagEphemeral
	case sequential:
		return zk.FlagSequence
	case ephemeralSeq:
		return zk.FlagEphemeralSequential
	case container:
		return zk.FlagContainer
	case ttlNode:
		return zk.FlagTTL
	case ttlSeqNode:
		return zk.FlagPersistentSequentialWithTTL
	}
	return zk.FlagPersistent
}

var worldAll = zk.WorldACL(zk.PermAll)

func (z *zkSystem) create(path string, data []byte, k kind, ttlMs int64, sess int) (string, string) {
	return z.createACL(path, data, k, ttlMs, sess, nil)
}

func toZKACL(acl []aclEntry) []zk.ACL {
	if acl == nil {
		return worldAll
	}
	out := make([]zk.ACL, len(acl))
	for i, a := range acl {
		out[i] = zk.ACL{Perms: a.Perms, Scheme: a.Scheme, ID: a.ID}
	}
	return out
}

func (z *zkSystem) createACL(path string, data []byte, k kind, ttlMs int64, sess int, acl []aclEntry) (string, string) {
	c, err := z.conn(sess)
	if err != nil {
		return "", "session(" + err.Error() + ")"
	}
	list := toZKACL(acl)
	var p string
	switch {
	case k == container:
		p, err = c.CreateContainer(path, data, zk.FlagContainer, list)
	case k.isTTL():
		p, err = c.CreateTTL(path, data, zkFlags(k), list, time.Duration(ttlMs)*time.Millisecond)
	default:
		p, err = c.Create(path, data, zkFlags(k), list)
	}
	if err != nil {
		return "", zkCode(err)
	}
	return p, ""
}

func (z *zkSystem) get(path string) ([]byte, *nstat, string) {
	c, err := z.conn(0)
	if err != nil {
		return nil, nil, "conn(" + err.Error() + ")"
	}
	d, s, err := c.Get(path)
	if err != nil {
		return nil, nil, zkCode(err)
	}
	return d, fromZKStat(s), ""
}

func (z *zkSystem) exists(path string) (*nstat, string) {
	c, err := z.conn(0)
	if err != nil {
		return nil, "conn(" + err.Error() + ")"
	}
	ok, s, err := c.Exists(path)
	if err != nil {
		return nil, zkCode(err)
	}
	if !ok {
		return nil, "NoNode"
	}
	return fromZKStat(s), ""
}

func (z *zkSystem) children(path string) ([]string, *nstat, string) {
	c, err := z.conn(0)
	if err != nil {
		return nil, nil, "conn(" + err.Error() + ")"
	}
	ch, s, err := c.Children(path)
	if err != nil {
		return nil, nil, zkCode(err)
	}
	return ch, fromZKStat(s), ""
}

func (z *zkSystem) set(path string, data []byte, version int32, anyVersion bool) (*nstat, string) {
	if anyVersion {
		version = -1
	}
	c, err := z.conn(0)
	if err != nil {
		return nil, "conn(" + err.Error() + ")"
	}
	s, err := c.Set(path, data, version)
	if err != nil {
		return nil, zkCode(err)
	}
	return fromZKStat(s), ""
}

func (z *zkSystem) del(path string, version int32, anyVersion bool) string {
	if anyVersion {
		version = -1
	}
	c, err := z.conn(0)
	if err != nil {
		return "conn(" + err.Error() + ")"
	}
	return zkCode(c.Delete(path, version))
}

func (z *zkSystem) getACL(path string) ([]aclEntry, *nstat, string) {
	c, err := z.conn(0)
	if err != nil {
		return nil, nil, "conn(" + err.Error() + ")"
	}
	list, s, err := c.GetACL(path)
	if err != nil {
		return nil, nil, zkCode(err)
	}
	out := make([]aclEntry, len(list))
	for i, a := range list {
		out[i] = aclEntry{Scheme: a.Scheme, ID: a.ID, Perms: a.Perms}
	}
	return out, fromZKStat(s), ""
}

func (z *zkSystem) setACL(path string, acl []aclEntry, aversion int32) (*nstat, string) {
	c, err := z.conn(0)
	if err != nil {
		return nil, "conn(" + err.Error() + ")"
	}
	list := toZKACL(acl)
	if acl == nil {
		list = nil
	}
	s, err := c.SetACL(path, list, aversion)
	if err != nil {
		return nil, zkCode(err)
	}
	return fromZKStat(s), ""
}

func (z *zkSystem) multi(sess int, ops []mop) ([]mres, int, string) {
	c, err := z.conn(sess)
	if err != nil {
		return nil, -1, "session(" + err.Error() + ")"
	}
	reqs := make([]any, len(ops))
	for i, o := range ops {
		switch o.op {
		case "create":
			reqs[i] = &zk.CreateRequest{Path: o.path, Data: []byte(o.data), Acl: toZKACL(o.acl), Flags: zkFlags(o.kind)}
		case "set":
			reqs[i] = &zk.SetDataRequest{Path: o.path, Data: []byte(o.data), Version: o.version}
		case "delete":
			reqs[i] = &zk.DeleteRequest{Path: o.path, Version: o.version}
		case "check":
			reqs[i] = &zk.CheckVersionRequest{Path: o.path, Version: o.version}
		default:
			panic("unknown multi op " + o.op)
		}
	}
	res, err := c.Multi(reqs...)
	out := make([]mres, len(res))
	failed := -1
	for i, r := range res {
		out[i].code = zkCode(r.Error)
		if r.Error == nil {
			if ops[i].op == "create" {
				out[i].path = r.String
			}
			if ops[i].op == "set" {
				out[i].stat = fromZKStat(r.Stat)
			}
		} else if failed < 0 {
			failed = i
		}
	}
	return out, failed, zkCode(err)
}

func (z *zkSystem) closeSession(sess int) error {
	z.mu.Lock()
	c, ok := z.conns[sess]
	delete(z.conns, sess)
	z.mu.Unlock()
	if !ok {
		return fmt.Errorf("session %d is not open", sess)
	}
	c.Close()
	return nil
}

func (z *zkSystem) sessions() map[uint64]int {
	z.mu.Lock()
	defer z.mu.Unlock()
	m := make(map[uint64]int, len(z.ids))
	for k, v := range z.ids {
		m[k] = v
	}
	return m
}

func (z *zkSystem) shutdown() {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, c := range z.conns {
		c.Close()
	}
	for _, c := range z.users {
		c.Close()
	}
	z.conns = map[int]*zk.Conn{}
	z.users = map[string]*zk.Conn{}
}

// ---------------------------------------------------------------- Canopy

var httpClient = &http.Client{Timeout: 20 * time.Second}

// cpShared is the state the views of one canopySystem share.
type cpShared struct {
	mu       sync.Mutex
	sessHex  map[int]string
	owners   map[int]string // session -> the principal it belongs to
	ids      map[uint64]int
	failures []string // transport-level trouble, reported by the runner
	// src, when set, gives each principal its own source address (see
	// srcNet) and so its own HTTP client; when nil, all use httpClient.
	src     *srcNet
	clients map[string]*http.Client
}

type canopySystem struct {
	*cpShared
	who string
}

func newCanopySystem() *canopySystem { return newCanopySystemFrom(nil) }

func newCanopySystemFrom(src *srcNet) *canopySystem {
	return &canopySystem{cpShared: &cpShared{sessHex: map[int]string{}, owners: map[int]string{},
		ids: map[uint64]int{}, src: src, clients: map[string]*http.Client{}}}
}

func (c *canopySystem) name() string { return "canopy" }

func (c *canopySystem) as(who string) system {
	principalOf(who) // panics on an unknown name
	return &canopySystem{cpShared: c.cpShared, who: who}
}

// client is the HTTP client of principal who: from its source address
// when there is a srcNet.
func (c *canopySystem) client(who string) *http.Client {
	if c.src == nil {
		return httpClient
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if hc, ok := c.clients[who]; ok {
		return hc
	}
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.src.addr(who))}}
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
	c.clients[who] = hc
	return hc
}

// authorize adds who's HTTP Basic credentials, if it has any.
func authorize(req *http.Request, who string) {
	if p := principalOf(who); p.creds() {
		req.SetBasicAuth(p.user, p.password)
	}
}

// cStat is Stat on Canopy's wire.
type cStat struct {
	Czxid          int64  `json:"czxid"`
	Mzxid          int64  `json:"mzxid"`
	Pzxid          int64  `json:"pzxid"`
	Ctime          int64  `json:"ctime"`
	Mtime          int64  `json:"mtime"`
	Version        int32  `json:"version"`
	Cversion       int32  `json:"cversion"`
	Aversion       int32  `json:"aversion"`
	EphemeralOwner string `json:"ephemeralOwner"`
	DataLength     int32  `json:"dataLength"`
	NumChildren    int32  `json:"numChildren"`
}

func (s *cStat) toN() *nstat {
	if s == nil {
		return nil
	}
	owner, err := parseHexID(s.EphemeralOwner)
	if err != nil {
		owner = 0xDEADBEEFDEADBEEF // shows up as a strange owner in diffs
	}
	return &nstat{
		Czxid: s.Czxid, Mzxid: s.Mzxid, Pzxid: s.Pzxid,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion,
		EphemeralOwner: owner, DataLength: s.DataLength, NumChildren: s.NumChildren,
	}
}

func parseHexID(s string) (uint64, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if h == "" || len(h) > 16 {
		return 0, fmt.Errorf("bad id %q", s)
	}
	return strconv.ParseUint(h, 16, 64)
}

type cErr struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Path    string `json:"path"`
	Index   *int   `json:"index"`
}

// httpStatusOf is DESIGN §4's code → status table.
var httpStatusOf = map[string]int{
	"NoNode": 404, "NodeExists": 409, "NotEmpty": 409, "NoChildrenForEphemerals": 409,
	"BadVersion": 412, "BadArguments": 400, "InvalidACL": 400, "AuthFailed": 401,
	"NoAuth": 403, "SessionExpired": 410, "TooLarge": 413, "RuntimeInconsistency": 400,
	"Throttled": 429,
}

// escapePath percent-encodes each segment of p; empty segments, "." and
// ".." stay as they are, so that invalid paths reach the server intact.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// call does one request. query is raw (flags like "ephemeral" without "=").
// It returns the status, the body and the code: "" on a 2xx equal to okStatus,
// the error body's code otherwise; a code whose HTTP status is not the one
// DESIGN §4 gives gets "/HTTP<status>" appended, so that it shows as a
// difference.
func (c *canopySystem) call(method, route, query string, body []byte, sess int, okStatus int) (int, []byte, string) {
	u := canopyURL + route
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, "request(" + err.Error() + ")"
	}
	who := c.who
	if sess > 0 {
		hex, err := c.session(sess)
		if err != nil {
			return 0, nil, "session(" + err.Error() + ")"
		}
		req.Header.Set("Canopy-Session", hex)
		c.mu.Lock()
		who = c.owners[sess]
		c.mu.Unlock()
	}
	authorize(req, who)
	resp, err := c.client(who).Do(req)
	if err != nil {
		if canopyProc != nil && canopyProc.Dead() {
			return 0, nil, "transport(canopy has exited: see its log below)"
		}
		return 0, nil, "transport(" + err.Error() + ")"
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Canopy-Zxid") == "" {
		c.note(fmt.Sprintf("%s %s: response without Canopy-Zxid header (status %d)", method, u, resp.StatusCode))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if resp.StatusCode != okStatus {
			return resp.StatusCode, rb, fmt.Sprintf("ok/HTTP%d(want %d)", resp.StatusCode, okStatus)
		}
		return resp.StatusCode, rb, ""
	}
	var eb struct {
		Error *cErr `json:"error"`
	}
	if err := json.Unmarshal(rb, &eb); err != nil || eb.Error == nil || eb.Error.Code == "" {
		return resp.StatusCode, rb, fmt.Sprintf("HTTP%d(body %.120q)", resp.StatusCode, rb)
	}
	code := eb.Error.Code
	if want, ok := httpStatusOf[code]; ok && want != resp.StatusCode {
		code += fmt.Sprintf("/HTTP%d", resp.StatusCode)
	}
	return resp.StatusCode, rb, code
}

func (c *canopySystem) note(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.failures) < 5 {
		c.failures = append(c.failures, s)
	}
}

func (c *canopySystem) session(sess int) (string, error) {
	c.mu.Lock()
	hex, ok := c.sessHex[sess]
	c.mu.Unlock()
	if ok {
		return hex, nil
	}
	req, err := http.NewRequest("POST", canopyURL+"/v1/sessions", strings.NewReader(`{"timeout_ms":10000}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	authorize(req, c.who)
	resp, err := c.client(c.who).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 {
		return "", fmt.Errorf("POST /v1/sessions: %d %s", resp.StatusCode, rb)
	}
	var s struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(rb, &s); err != nil {
		return "", fmt.Errorf("POST /v1/sessions: %v in %s", err, rb)
	}
	id, err := parseHexID(s.ID)
	if err != nil {
		return "", fmt.Errorf("POST /v1/sessions: %v", err)
	}
	c.mu.Lock()
	c.sessHex[sess] = s.ID
	c.owners[sess] = c.who
	c.ids[id] = sess
	c.mu.Unlock()
	return s.ID, nil
}

func nodeRoute(p string) string {
	if p == "/" {
		return "/v1/nodes/"
	}
	return "/v1/nodes" + escapePath(p)
}

func (c *canopySystem) create(path string, data []byte, k kind, ttlMs int64, sess int) (string, string) {
	return c.createACL(path, data, k, ttlMs, sess, nil)
}

// cACL is an ACL entry on Canopy's wire. Perms go as zkCli's letters, or
// as a number when there are none (an empty string is not a valid perms)
// or bits the letters cannot show.
type cACL struct {
	Scheme string          `json:"scheme"`
	ID     string          `json:"id"`
	Perms  json.RawMessage `json:"perms"`
}

func toCACL(acl []aclEntry) []cACL {
	out := make([]cACL, len(acl))
	for i, a := range acl {
		perms := js(permLetters(a.Perms))
		if a.Perms == 0 || a.Perms&^31 != 0 {
			perms = strconv.Itoa(int(a.Perms))
		}
		out[i] = cACL{Scheme: a.Scheme, ID: a.ID, Perms: json.RawMessage(perms)}
	}
	return out
}

func fromCACL(list []cACL) ([]aclEntry, error) {
	out := make([]aclEntry, len(list))
	for i, a := range list {
		var n int32
		var letters string
		switch {
		case json.Unmarshal(a.Perms, &n) == nil:
		case json.Unmarshal(a.Perms, &letters) == nil:
			p, err := parsePerms(letters)
			if err != nil {
				return nil, err
			}
			n = p
		default:
			return nil, fmt.Errorf("perms %s", a.Perms)
		}
		out[i] = aclEntry{Scheme: a.Scheme, ID: a.ID, Perms: n}
	}
	return out, nil
}

func (c *canopySystem) createACL(path string, data []byte, k kind, ttlMs int64, sess int, acl []aclEntry) (string, string) {
	var q []string
	if acl != nil && len(acl) == 0 {
		q = append(q, "acl=") // an empty list: the query has no other way to say it
	}
	for _, a := range acl {
		q = append(q, "acl="+url.QueryEscape(a.String()))
	}
	if k.isEphemeral() {
		q = append(q, "ephemeral")
	}
	if k.isSequential() {
		q = append(q, "sequential")
	}
	if k == container {
		q = append(q, "container")
	}
	if k.isTTL() {
		q = append(q, "ttl_ms="+strconv.FormatInt(ttlMs, 10))
	}
	if !k.isEphemeral() {
		sess = 0
	}
	_, rb, code := c.call("POST", nodeRoute(path), strings.Join(q, "&"), data, sess, 201)
	if code != "" {
		return "", code
	}
	var r struct {
		Path string `json:"path"`
	}
	if err := json.Unmarshal(rb, &r); err != nil {
		return "", "badjson(" + err.Error() + ")"
	}
	return r.Path, ""
}

func (c *canopySystem) get(path string) ([]byte, *nstat, string) {
	_, rb, code := c.call("GET", nodeRoute(path), "", nil, 0, 200)
	if code != "" {
		return nil, nil, code
	}
	var r struct {
		Data     string `json:"data"`
		Encoding string `json:"encoding"`
		Stat     *cStat `json:"stat"`
	}
	if err := json.Unmarshal(rb, &r); err != nil {
		return nil, nil, "badjson(" + err.Error() + ")"
	}
	switch r.Encoding {
	case "utf8":
		return []byte(r.Data), r.Stat.toN(), ""
	case "base64":
		d, err := base64.StdEncoding.DecodeString(r.Data)
		if err != nil {
			return nil, nil, "badbase64(" + err.Error() + ")"
		}
		return d, r.Stat.toN(), ""
	}
	return nil, nil, fmt.Sprintf("badencoding(%q)", r.Encoding)
}

func (c *canopySystem) exists(path string) (*nstat, string) {
	_, rb, code := c.call("GET", "/v1/stat"+escapePath(path), "", nil, 0, 200)
	if code != "" {
		return nil, code
	}
	var r struct {
		Stat *cStat `json:"stat"`
	}
	if err := json.Unmarshal(rb, &r); err != nil {
		return nil, "badjson(" + err.Error() + ")"
	}
	return r.Stat.toN(), ""
}

func (c *canopySystem) children(path string) ([]string, *nstat, string) {
	route := "/v1/children" + escapePath(path)
	if path == "/" {
		route = "/v1/children/"
	}
	_, rb, code := c.call("GET", route, "", nil, 0, 200)
	if code != "" {
		return nil, nil, code
	}
	var r struct {
		Children []string `json:"children"`
		Stat     *cStat   `json:"stat"`
	}
	if err := json.Unmarshal(rb, &r); err != nil {
		return nil, nil, "badjson(" + err.Error() + ")"
	}
	return r.Children, r.Stat.toN(), ""
}

func (c *canopySystem) set(path string, data []byte, version int32, anyVersion bool) (*nstat, string) {
	q := ""
	if !anyVersion {
		q = "version=" + strconv.Itoa(int(version))
	}
	_, rb, code := c.call("PUT", nodeRoute(path), q, data, 0, 200)
	if code != "" {
		return nil, code
	}
	var r struct {
		Stat *cStat `json:"stat"`
	}
	if err := json.Unmarshal(rb, &r); err != nil {
		return nil, "badjson(" + err.Error() + ")"
	}
	return r.Stat.toN(), ""
}

func (c *canopySystem) del(path string, version int32, anyVersion bool) string {
	q := ""
	if !anyVersion {
		q = "version=" + strconv.Itoa(int(version))
	}
	_, _, code := c.call("DELETE", nodeRoute(path), q, nil, 0, 204)
	return code
}

func aclRoute(p string) string {
	if p == "/" {
		return "/v1/acl/"
	}
	return "/v1/acl" + escapePath(p)
}

// aclResult reads an api.ACLResult.
func aclResult(rb []byte) ([]aclEntry, *nstat, string) {
	var r struct {
		Path string `json:"path"`
		ACL  []cACL `json:"acl"`
		Stat *cStat `json:"stat"`
	}
	if err := json.Unmarshal(rb, &r); err != nil {
		return nil, nil, "badjson(" + err.Error() + ")"
	}
	list, err := fromCACL(r.ACL)
	if err != nil {
		return nil, nil, "badacl(" + err.Error() + ")"
	}
	if r.ACL == nil {
		list = nil
	}
	return list, r.Stat.toN(), ""
}

func (c *canopySystem) getACL(path string) ([]aclEntry, *nstat, string) {
	_, rb, code := c.call("GET", aclRoute(path), "", nil, 0, 200)
	if code != "" {
		return nil, nil, code
	}
	return aclResult(rb)
}

func (c *canopySystem) setACL(path string, acl []aclEntry, aversion int32) (*nstat, string) {
	body, _ := json.Marshal(struct {
		ACL []cACL `json:"acl"`
	}{toCACL(acl)})
	_, rb, code := c.call("PUT", aclRoute(path), "aversion="+strconv.Itoa(int(aversion)), body, 0, 200)
	if code != "" {
		return nil, code
	}
	_, st, code := aclResult(rb)
	return st, code
}

type cMultiOp struct {
	Op         string  `json:"op"`
	Path       string  `json:"path"`
	Data       string  `json:"data,omitempty"`
	Encoding   string  `json:"encoding,omitempty"`
	Version    *int64  `json:"version,omitempty"`
	Ephemeral  bool    `json:"ephemeral,omitempty"`
	Sequential bool    `json:"sequential,omitempty"`
	ACL        *[]cACL `json:"acl,omitempty"` // nil: none given; empty: []
}

func (c *canopySystem) multi(sess int, ops []mop) ([]mres, int, string) {
	req := struct {
		Ops []cMultiOp `json:"ops"`
	}{Ops: []cMultiOp{}}
	for _, o := range ops {
		v := int64(o.version)
		co := cMultiOp{Op: o.op, Path: o.path}
		if o.op == "create" || o.op == "set" {
			co.Data = base64.StdEncoding.EncodeToString([]byte(o.data))
			co.Encoding = "base64"
		}
		if o.op != "create" {
			co.Version = &v
		}
		co.Ephemeral = o.kind.isEphemeral()
		co.Sequential = o.kind.isSequential()
		if o.acl != nil {
			l := toCACL(o.acl)
			co.ACL = &l
		}
		req.Ops = append(req.Ops, co)
	}
	body, _ := json.Marshal(req)
	status, rb, code := c.call("POST", "/v1/multi", "", body, sess, 200)
	var r struct {
		Results []struct {
			Op    string `json:"op"`
			Path  string `json:"path"`
			Stat  *cStat `json:"stat"`
			Error *cErr  `json:"error"`
		} `json:"results"`
		Error *cErr `json:"error"`
	}
	if err := json.Unmarshal(rb, &r); err != nil {
		return nil, -1, fmt.Sprintf("%s badjson(%v, status %d)", code, err, status)
	}
	out := make([]mres, len(r.Results))
	for i, x := range r.Results {
		if x.Error != nil {
			out[i].code = x.Error.Code
			continue
		}
		if i < len(ops) && ops[i].op == "create" {
			out[i].path = x.Path
		}
		if i < len(ops) && ops[i].op == "set" {
			out[i].stat = x.Stat.toN()
		}
	}
	failed := -1
	if r.Error != nil {
		failed = -2 // an error without index shows as a difference
		if r.Error.Index != nil {
			failed = *r.Error.Index
		}
	}
	return out, failed, code
}

func (c *canopySystem) closeSession(sess int) error {
	c.mu.Lock()
	hex, ok := c.sessHex[sess]
	owner := c.owners[sess]
	delete(c.sessHex, sess)
	delete(c.owners, sess)
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("session %d is not open", sess)
	}
	// The session's owner closes it, as a ZooKeeper client closes its own.
	oc := &canopySystem{cpShared: c.cpShared, who: owner}
	status, rb, code := oc.call("DELETE", "/v1/sessions/"+hex, "", nil, 0, 204)
	if code != "" {
		return fmt.Errorf("DELETE /v1/sessions/%s: %d %s", hex, status, rb)
	}
	return nil
}

func (c *canopySystem) sessions() map[uint64]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[uint64]int, len(c.ids))
	for k, v := range c.ids {
		m[k] = v
	}
	return m
}

func (c *canopySystem) shutdown() {
	c.mu.Lock()
	open := make([]int, 0, len(c.sessHex))
	for s := range c.sessHex {
		open = append(open, s)
	}
	c.mu.Unlock()
	for _, s := range open {
		_ = c.closeSession(s)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, hc := range c.clients {
		hc.CloseIdleConnections()
	}
}

// checkFailures reports transport-level notes gathered by a canopySystem.
func (c *canopySystem) checkFailures(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.failures {
		t.Errorf("canopy: %s", f)
	}
}
