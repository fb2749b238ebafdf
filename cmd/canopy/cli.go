package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/client"
)

// A verb is one command of the CLI ("get", "session open"). Its setup
// declares its flags on a FlagSet and returns the function that runs it
// with the flags' values bound: help and completion call setup alone to
// learn the flags.
type verb struct {
	name    string // "get", or "group sub" such as "session open"
	args    string // synopsis after the name: "[-s] [-w] PATH"
	summary string // one line for the verb list
	details string // paragraphs for 'canopy help VERB'
	// min and max bound the positional arguments; max < 0: no bound.
	min, max int
	// command: the verb runs a command given after "--" ("lock PATH --
	// COMMAND [ARGS...]"); runVerb puts it in env.command, and "--" does
	// not end the flags for it.
	command bool
	// timeout replaces the default --timeout for verbs whose calls are
	// long by nature (backups).
	timeout time.Duration
	setup   func(fs *flag.FlagSet) runFunc
}

type runFunc func(ctx context.Context, e *env, args []string) error

// group is the first word of a two-word verb ("session"), or "".
func (v *verb) group() string {
	if g, _, ok := strings.Cut(v.name, " "); ok {
		return g
	}
	return ""
}

// verbs lists every verb, in the order help shows them. A function, not a
// variable: help and completion read the table, and the table holds them.
func verbs() []*verb {
	return []*verb{
		lsVerb(), getVerb(), statVerb(), createVerb(), setVerb(), deleteVerb(), deleteAllVerb(),
		watchVerb(), syncVerb(), multiVerb(),
		getACLVerb(), setACLVerb(), whoamiVerb(), digestVerb(),
		sessionOpenVerb(), sessionLsVerb(), sessionGetVerb(), sessionCloseVerb(),
		lockVerb(), electVerb(), queuePutVerb(), queueTakeVerb(), queueLenVerb(),
		barrierSetVerb(), barrierRemoveVerb(), barrierWaitVerb(), barrierEnterVerb(), groupJoinVerb(), groupLsVerb(),
		exportVerb(), importVerb(),
		clusterStatusVerb(), clusterAddVerb(), clusterRemoveVerb(),
		snapshotSaveVerb(), snapshotRestoreVerb(),
		completionVerb(), versionVerb(), helpVerb(),
	}
}

// findVerb resolves the first words of args to a verb and returns the
// arguments after it. A group word alone ("session") or followed by an
// unknown word gives a usage error naming the group's verbs.
func findVerb(args []string) (*verb, []string, error) {
	all := verbs()
	for _, v := range all {
		if v.group() == "" && v.name == args[0] {
			return v, args[1:], nil
		}
	}
	var subs []string
	for _, v := range all {
		if v.group() != args[0] {
			continue
		}
		_, sub, _ := strings.Cut(v.name, " ")
		if len(args) > 1 && args[1] == sub {
			return v, args[2:], nil
		}
		subs = append(subs, sub)
	}
	if len(subs) > 0 {
		if len(args) == 1 {
			return nil, nil, &usageError{msg: fmt.Sprintf("%s needs one of: %s", args[0], strings.Join(subs, ", ")), group: args[0]}
		}
		return nil, nil, &usageError{msg: fmt.Sprintf("unknown command %q; %s takes: %s", args[0]+" "+args[1], args[0], strings.Join(subs, ", ")), group: args[0]}
	}
	return nil, nil, &usageError{msg: fmt.Sprintf("unknown command %q", args[0])}
}

// env is what a running verb works with: its streams, the global flags'
// values, and the client (made on first use).
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	verb           *verb
	// command is what follows "--" for a verb that runs a command; nil
	// when there is no "--".
	command []string

	servers []string
	json    bool
	timeout time.Duration
	auth    authFlags

	cl *client.Client
}

// Defaults of the global flags.
const defaultTimeout = 10 * time.Second

// globals are the flags every verb takes.
type globals struct {
	servers serverList
	output  string
	timeout time.Duration
	auth    authFlags
}

func addGlobals(fs *flag.FlagSet, v *verb) *globals {
	g := &globals{}
	def := defaultTimeout
	if v.timeout > 0 {
		def = v.timeout
	}
	fs.Var(&g.servers, "server", "a node's `URL`; repeat or comma-separate for several (default: $CANOPY_SERVERS, else "+client.DefaultServer+")")
	fs.StringVar(&g.output, "o", "text", "`output`: text or json")
	fs.StringVar(&g.output, "output", "text", "`output`: text or json")
	g.auth.add(fs)
	// A verb may own --timeout for itself (session open: the session's).
	if fs.Lookup("timeout") == nil {
		fs.DurationVar(&g.timeout, "timeout", def, "how long each call to the cluster may take")
	} else {
		g.timeout = def
	}
	return g
}

// serverList is --server: repeatable, each value comma-separated.
type serverList []string

func (s *serverList) String() string { return strings.Join(*s, ",") }
func (s *serverList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*s = append(*s, part)
		}
	}
	return nil
}

// serversFromEnv: CANOPY_SERVERS, then the older CANOPY_SERVER, then the
// default server.
func serversFromEnv() []string {
	for _, key := range []string{"CANOPY_SERVERS", "CANOPY_SERVER"} {
		var s serverList
		s.Set(os.Getenv(key))
		if len(s) > 0 {
			return s
		}
	}
	return []string{client.DefaultServer}
}

// runVerb parses args for v and runs it.
func runVerb(ctx context.Context, e *env, v *verb, args []string) error {
	e.verb = v
	fs := flag.NewFlagSet("canopy "+v.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	run := v.setup(fs)
	g := addGlobals(fs, v)
	if v.command {
		args, e.command = cutCommand(args)
	}
	flags, pos := splitArgs(fs, args)
	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printVerbHelp(e.stdout, v)
			return nil
		}
		return e.usage("%v", err)
	}
	switch {
	case len(pos) < v.min:
		return e.usage("missing arguments")
	case v.max >= 0 && len(pos) > v.max:
		return e.usage("unexpected argument %q", pos[v.max])
	}
	switch g.output {
	case "text":
	case "json":
		e.json = true
	default:
		return e.usage("-o must be text or json, not %q", g.output)
	}
	if g.timeout <= 0 {
		return e.usage("--timeout must be positive")
	}
	e.timeout = g.timeout
	e.auth = g.auth
	e.auth.fromEnv()
	e.servers = g.servers
	if len(e.servers) == 0 {
		e.servers = serversFromEnv()
	}
	return run(ctx, e, pos)
}

// cutCommand splits args at the first "--": the verb's arguments before
// it, the command after it (non-nil, maybe empty, when "--" is there).
func cutCommand(args []string) (before, command []string) {
	for i, a := range args {
		if a == "--" {
			return args[:i], append([]string{}, args[i+1:]...)
		}
	}
	return args, nil
}

// splitArgs separates flags (with their values) from positional
// arguments, so that flags may come before or after them: "get /a -s" is
// "get -s /a". "--" ends the flags; "-" alone is an argument (stdin).
// Bool flags of one letter may be combined: "-es" is "-e -s".
func splitArgs(fs *flag.FlagSet, args []string) (flags, pos []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(pos, args[i+1:]...)
		}
		if a == "-" || !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			flags = append(flags, a)
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			if short := expandShort(fs, a); short != nil {
				flags = append(flags, short...)
			} else {
				flags = append(flags, a) // Parse reports it
			}
			continue
		}
		flags = append(flags, a)
		if !isBoolFlag(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, pos
}

// expandShort turns "-es" into "-e", "-s" when each letter is a bool flag.
func expandShort(fs *flag.FlagSet, a string) []string {
	if strings.HasPrefix(a, "--") || len(a) < 3 {
		return nil
	}
	var out []string
	for _, r := range a[1:] {
		f := fs.Lookup(string(r))
		if f == nil || !isBoolFlag(f) {
			return nil
		}
		out = append(out, "-"+string(r))
	}
	return out
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// client returns the client for the servers of the global flags.
func (e *env) client() (*client.Client, error) {
	if e.cl == nil {
		// A person who forgot to start the server hears so at once.
		cfg := client.Config{Servers: e.servers, RequestTimeout: e.timeout, FailFast: true, User: e.auth.user}
		tlsCfg, err := e.auth.tlsConfig()
		if err != nil {
			return nil, e.usage("%v", err)
		}
		cfg.TLS = tlsCfg
		if cfg.User != "" {
			if cfg.Password, err = e.password(cfg.User); err != nil {
				return nil, err
			}
		}
		c, err := client.New(cfg)
		if err != nil {
			return nil, &usageError{verb: e.verb, msg: err.Error()}
		}
		e.cl = c
	}
	return e.cl, nil
}

// close releases the client, if one was made.
func (e *env) close() {
	if e.cl != nil {
		e.cl.Close()
	}
}

// call bounds one call to the cluster by --timeout.
func (e *env) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.timeout)
}

// oneCall is how most verbs reach the cluster: f makes one call with the
// client, bounded as call bounds it, and its error is op's failure (nil
// stays nil). A client that cannot be made is the usage error it is, not
// op's failure. f returns its results through the variables it closes
// over.
func (e *env) oneCall(ctx context.Context, op string, f func(ctx context.Context, c *client.Client) error) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	cctx, cancel := e.call(ctx)
	defer cancel()
	return e.fail(op, f(cctx, c))
}

// usage is a usage error of the running verb.
func (e *env) usage(format string, args ...any) error {
	return &usageError{verb: e.verb, msg: fmt.Sprintf(format, args...)}
}

// fail is the error of an operation (op: "get /a"), described for a
// person, with its exit code kept for main.
func (e *env) fail(op string, err error) error {
	_, path, _ := strings.Cut(op, " ")
	return e.failAt(op, path, err)
}

// failAt is fail for an op on path whose name does not end with it.
func (e *env) failAt(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &opError{op: op, path: path, err: err, servers: e.servers, timeout: e.timeout}
}

// terminal reports whether w is a terminal (a character device).
func terminal(w io.Writer) bool { return isTerminal(w) }
