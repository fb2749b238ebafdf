package main

// The recipes' verbs: lock, elect, queue, barrier, group. Each parses its
// own flags (--server, --session-timeout, --timeout) and works through
// package client/recipe. The verbs that hold something while a command
// runs (lock, elect, group join --) signal the command with SIGTERM when
// the hold is lost, and fail: the command must not go on believing it
// holds a lock or leads.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/client/recipe"
)

// recipeFlags are the flags every recipe verb takes.
type recipeFlags struct {
	fs             *flag.FlagSet
	servers        string
	sessionTimeout time.Duration
	timeout        time.Duration
	killAfter      time.Duration
}

func newRecipeFlags(name, synopsis string, stderr io.Writer) *recipeFlags {
	f := &recipeFlags{fs: flag.NewFlagSet("canopy "+name, flag.ContinueOnError)}
	f.fs.SetOutput(stderr)
	f.fs.StringVar(&f.servers, "server", strings.Join(client.ServersFromEnv(), ","), "the cluster's nodes, comma-separated (env CANOPY_SERVERS)")
	f.fs.DurationVar(&f.sessionTimeout, "session-timeout", 10*time.Second, "session timeout: how soon a crashed holder's hold goes (2s to 60s)")
	f.fs.DurationVar(&f.timeout, "timeout", 0, "give up waiting (for the lock, leadership, an item, the barrier) after this long; 0: wait forever")
	f.fs.DurationVar(&f.killAfter, "kill-after", 10*time.Second, "after SIGTERM, SIGKILL the command if it has not exited by then")
	f.fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: canopy %s %s\n", name, synopsis)
		f.fs.PrintDefaults()
	}
	return f
}

// parse reads flags anywhere before "--", and returns the positional
// arguments and the command after "--" (nil when there is no "--").
func (f *recipeFlags) parse(args []string) (pos, command []string, err error) {
	for i, a := range args {
		if a == "--" {
			args, command = args[:i], args[i+1:]
			if command == nil {
				command = []string{}
			}
			break
		}
	}
	for {
		if err := f.fs.Parse(args); err != nil {
			return nil, nil, err
		}
		args = f.fs.Args()
		if len(args) == 0 {
			return pos, command, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

func (f *recipeFlags) usageError(msg string) error {
	f.fs.Usage()
	return errors.New(msg)
}

// connect returns a client of the flags' servers.
func (f *recipeFlags) connect() (*client.Client, error) {
	return client.New(client.Config{Servers: strings.Split(f.servers, ",")})
}

// waitContext bounds a wait by --timeout.
func (f *recipeFlags) waitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if f.timeout > 0 {
		return context.WithTimeout(ctx, f.timeout)
	}
	return context.WithCancel(ctx)
}

// session opens a session; close it with closeRecipeSession.
func (f *recipeFlags) session(ctx context.Context, c *client.Client) (*client.Session, error) {
	s, err := c.NewSession(ctx, f.sessionTimeout)
	if err != nil {
		return nil, fmt.Errorf("open a session: %w", err)
	}
	return s, nil
}

// closeRecipeSession closes s unless it has already ended (then there is
// nothing to close, and the cluster may be unreachable).
func closeRecipeSession(s *client.Session) {
	if s.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.Close(ctx)
}

// interruptible ends ctx on SIGINT or SIGTERM.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// runHolding runs command while a hold lasts: when lost is closed before
// the command exits, or ctx ends (canopy interrupted), the command gets
// SIGTERM, and SIGKILL killAfter later. lostErr is called after a loss.
func runHolding(ctx context.Context, command []string, env []string, lost <-chan struct{}, lostErr func() error, killAfter time.Duration, stdout, stderr io.Writer) error {
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	cmd := exec.CommandContext(runCtx, command[0], command[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = killAfter
	if err := cmd.Start(); err != nil {
		return err
	}
	wasLost := make(chan struct{})
	go func() {
		select {
		case <-lost:
			close(wasLost)
			stop()
		case <-runCtx.Done():
		}
	}()
	err := cmd.Wait()
	select {
	case <-wasLost:
		return fmt.Errorf("lost while %s ran (sent it SIGTERM): %w", command[0], lostErr())
	default:
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted (sent %s SIGTERM): %w", command[0], ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("%s: %w", command[0], err)
	}
	return nil
}

// lockCmd: canopy lock PATH -- COMMAND [ARGS...].
func lockCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newRecipeFlags("lock", "[flags] PATH -- COMMAND [ARGS...]", stderr)
	pos, command, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || len(command) == 0 {
		return f.usageError("lock needs a PATH, then -- and a command")
	}
	ctx, stop := interruptible(ctx)
	defer stop()
	c, err := f.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := f.session(ctx, c)
	if err != nil {
		return err
	}
	defer closeRecipeSession(s)
	l := recipe.NewLock(s, pos[0])
	wctx, cancel := f.waitContext(ctx)
	token, err := l.Acquire(wctx)
	cancel()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "canopy lock: holding %s (fencing token %d)\n", pos[0], token)
	env := []string{"CANOPY_FENCING_TOKEN=" + strconv.FormatInt(token, 10), "CANOPY_LOCK_NODE=" + l.Node()}
	runErr := runHolding(ctx, command, env, l.Lost(), l.Err, f.killAfter, stdout, stderr)
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if err := l.Release(rctx); err != nil && runErr == nil {
		return err
	}
	return runErr
}

// electCmd: canopy elect PATH NAME -- COMMAND [ARGS...], or canopy elect
// PATH to print the leader.
func electCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newRecipeFlags("elect", "[flags] PATH NAME -- COMMAND [ARGS...]  |  canopy elect PATH", stderr)
	pos, command, err := f.parse(args)
	if err != nil {
		return err
	}
	c, err := f.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	if len(pos) == 1 && command == nil {
		leader, err := recipe.Leader(ctx, c, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, leader.Name)
		return nil
	}
	if len(pos) != 2 || len(command) == 0 {
		return f.usageError("elect needs a PATH and a NAME, then -- and a command (or a PATH alone to print the leader)")
	}
	ctx, stop := interruptible(ctx)
	defer stop()
	s, err := f.session(ctx, c)
	if err != nil {
		return err
	}
	defer closeRecipeSession(s)
	e := recipe.NewElection(s, pos[0], pos[1])
	wctx, cancel := f.waitContext(ctx)
	err = e.Campaign(wctx)
	cancel()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "canopy elect: %s leads %s (epoch %d)\n", pos[1], pos[0], e.Token())
	env := []string{"CANOPY_FENCING_TOKEN=" + strconv.FormatInt(e.Token(), 10), "CANOPY_ELECTION_NODE=" + e.Node()}
	runErr := runHolding(ctx, command, env, e.Lost(), e.Err, f.killAfter, stdout, stderr)
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if err := e.Resign(rctx); err != nil && runErr == nil {
		return err
	}
	return runErr
}

// queueCmd: canopy queue put PATH [DATA] | take PATH | len PATH.
func queueCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f := newRecipeFlags("queue", "put PATH [DATA] | take PATH | len PATH  [flags]", stderr)
	pos, _, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return f.usageError("queue needs put, take or len, and a PATH")
	}
	c, err := f.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	q := recipe.NewQueue(c, pos[1])
	switch {
	case pos[0] == "put" && len(pos) <= 3:
		var data []byte
		if len(pos) == 3 {
			data = []byte(pos[2])
		} else if data, err = io.ReadAll(stdin); err != nil {
			return err
		}
		return q.Put(ctx, data)
	case pos[0] == "take" && len(pos) == 2:
		ctx, stop := interruptible(ctx)
		defer stop()
		wctx, cancel := f.waitContext(ctx)
		defer cancel()
		data, err := q.Take(wctx)
		if data != nil {
			stdout.Write(data)
			if len(data) > 0 && data[len(data)-1] != '\n' {
				fmt.Fprintln(stdout)
			}
		}
		return err
	case pos[0] == "len" && len(pos) == 2:
		n, err := q.Len(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, n)
		return nil
	}
	return f.usageError(fmt.Sprintf("bad queue command %q", strings.Join(pos, " ")))
}

// barrierCmd: canopy barrier set|remove|wait PATH.
func barrierCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newRecipeFlags("barrier", "set|remove|wait PATH  [flags]", stderr)
	pos, _, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return f.usageError("barrier needs set, remove or wait, and a PATH")
	}
	c, err := f.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	b := recipe.NewBarrier(c, pos[1])
	switch pos[0] {
	case "set":
		return b.Set(ctx)
	case "remove":
		return b.Remove(ctx)
	case "wait":
		ctx, stop := interruptible(ctx)
		defer stop()
		wctx, cancel := f.waitContext(ctx)
		defer cancel()
		return b.Wait(wctx)
	}
	return f.usageError(fmt.Sprintf("bad barrier command %q", pos[0]))
}

// groupCmd: canopy group join PATH NAME [DATA] [-- COMMAND...] | ls PATH.
func groupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newRecipeFlags("group", "join PATH NAME [DATA] [-- COMMAND [ARGS...]] | ls PATH  [flags]", stderr)
	pos, command, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return f.usageError("group needs join or ls, and a PATH")
	}
	c, err := f.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	g := recipe.NewGroup(c, pos[1])
	switch {
	case pos[0] == "ls" && len(pos) == 2:
		members, err := g.Members(ctx)
		if err != nil {
			return err
		}
		for _, m := range members {
			fmt.Fprintf(stdout, "%s\t%s\n", m.Name, m.Data)
		}
		return nil
	case pos[0] == "join" && (len(pos) == 3 || len(pos) == 4) && (command == nil || len(command) > 0):
		var data []byte
		if len(pos) == 4 {
			data = []byte(pos[3])
		}
		ctx, stop := interruptible(ctx)
		defer stop()
		s, err := f.session(ctx, c)
		if err != nil {
			return err
		}
		defer closeRecipeSession(s)
		m, err := g.Join(ctx, s, pos[2], data)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "canopy group: %s joined %s\n", pos[2], pos[1])
		if command == nil {
			select {
			case <-ctx.Done():
				return nil // interrupted: leave (closing the session)
			case <-s.Done():
				return fmt.Errorf("membership of %s lost: %w", m.Node(), s.Err())
			}
		}
		return runHolding(ctx, command, []string{"CANOPY_MEMBER_NODE=" + m.Node()}, s.Done(), s.Err, f.killAfter, stdout, stderr)
	}
	return f.usageError(fmt.Sprintf("bad group command %q", strings.Join(pos, " ")))
}
