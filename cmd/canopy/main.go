// Command canopy is Canopy's server (canopy serve) and its command-line
// client: ZooKeeper's zkCli verbs (ls, get, create, set, delete, watch...),
// the recipes' (lock, elect, queue, barrier, group) and the operator's
// (cluster, snapshot, export, import), over the client package. Run
// 'canopy help' for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/canopy-coord/canopy/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// SIGINT and SIGTERM end the verbs that wait (watch, session open,
	// create -e, lock...) cleanly: their sessions are closed on the way
	// out, and the commands they run get SIGTERM.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if os.Getenv("GOGC") == "" && len(os.Args) > 1 && os.Args[1] == "serve" {
		// Until the node is open (a snapshot restored), the tree's size is
		// unknown: collect at 1.5x the live heap; serve then tunes it.
		debug.SetGCPercent(50)
	}
	code := runMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain runs a command line and reports its error on stderr; it returns
// the exit code.
func runMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := runIO(ctx, args, stdin, stdout, stderr)
	if err == nil {
		return exitOK
	}
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		if ue.verb != nil {
			fmt.Fprintf(stderr, "canopy %s: %s\n", ue.verb.name, ue.msg)
		} else {
			fmt.Fprintf(stderr, "canopy: %s\n", ue.msg)
		}
		printShortUsage(stderr, ue)
		return exitUsage
	case errors.As(err, new(*shutdownError)):
		// A node stopped by a signal that could not close cleanly: say why.
		fmt.Fprintln(stderr, "canopy:", err)
		return exitError
	case ctx.Err() != nil:
		// Whatever failed after an interruption failed because of it.
		fmt.Fprintln(stderr, "canopy: interrupted")
		return exitInterrupted
	}
	var ce *commandError
	if errors.As(err, &ce) && ce.ran {
		// The command run under a lock failed and has said why: its exit
		// status is canopy's, as with flock(1), and nothing is added.
		return ce.code
	}
	fmt.Fprintln(stderr, "canopy:", err)
	return exitCode(err)
}

// run runs a command line with the process's stdin.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runIO(ctx, args, os.Stdin, stdout, stderr)
}

func runIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	args = globalsAfterVerb(args)
	if len(args) == 0 {
		return &usageError{msg: "no command given"}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "-h", "--help":
		args = []string{"help"}
	case "--version":
		args = []string{"version"}
	}
	v, rest, err := findVerb(args)
	if err != nil {
		return err
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	defer e.close()
	return runVerb(ctx, e, v, rest)
}

// globalsAfterVerb moves global flags written before the verb to just
// after it: "canopy --server X get /a" is "canopy get --server X /a".
func globalsAfterVerb(args []string) []string {
	var lead []string
	for len(args) > 0 {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		if !strings.HasPrefix(args[0], "-") || !globalFlags[name] {
			break
		}
		n := 2 // the flag and its value
		if hasValue || len(args) < 2 {
			n = 1
		}
		lead, args = append(lead, args[:n]...), args[n:]
	}
	if len(lead) == 0 || len(args) == 0 {
		return append(lead, args...)
	}
	words := 1 // the verb's, two for a group's: "session open"
	if isGroup(args[0]) && len(args) > 1 {
		words = 2
	}
	out := append([]string{}, args[:words]...)
	out = append(out, lead...)
	return append(out, args[words:]...)
}

// globalFlags are the flags addGlobals declares, by name.
var globalFlags = map[string]bool{"server": true, "o": true, "output": true, "timeout": true,
	"user": true, "cacert": true, "cert": true, "key": true}

func isGroup(word string) bool {
	for _, v := range verbs() {
		if v.group() == word {
			return true
		}
	}
	return false
}

// serve runs a node until SIGINT or SIGTERM, then shuts down gracefully;
// SIGHUP reloads its TLS certificate and reopens its audit log.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	m := server.New(stderr)
	m.Version = version
	if err := m.ParseFlags(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP re-reads the API's certificate and key, as web servers do: a
	// renewed certificate without a restart. It is caught from the start,
	// so that one sent early does not end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	if os.Getenv("GOGC") == "" {
		server.TuneGC(ctx) // pace the GC by the tree's size from now on
	}
wait:
	for {
		select {
		case <-hup:
			_ = m.ReloadTLS()   // a failure is logged, and the old certificate stays
			_ = m.ReopenAudit() // for log rotation; a failure is logged
		case <-ctx.Done():
			m.Log().Info().Msg("shutting down")
			break wait
		case <-m.Halted():
			// The node stopped itself, with the reason logged; the process
			// ends non-zero so that a service manager does not restart it
			// into the same entry unnoticed.
			m.Close()
			return m.HaltErr()
		}
	}
	if err := m.Close(); err != nil {
		return &shutdownError{err}
	}
	return nil
}

// shutdownError is a node's failure to shut down cleanly after a signal.
type shutdownError struct{ err error }

func (e *shutdownError) Error() string { return "shutting down: " + e.err.Error() }
func (e *shutdownError) Unwrap() error { return e.err }
