package main

// The recipes' verbs, over package client/recipe: lock, elect, queue
// put|take|len, barrier set|remove|wait|enter, group join|ls. They are verbs of
// the table like the others (global flags, -o json, exit codes, help and
// completion); their own flags are --session-timeout for the session a
// hold lives in, --wait for how long to wait for the lock, leadership, an
// item or the barrier (the global --timeout bounds each call, not the
// wait), and --kill-after.
//
// The verbs that hold something while a command runs (lock, elect, group
// join ... -- COMMAND) signal the command with SIGTERM when the hold is
// lost, and exit 7: the command must not go on believing it holds a lock
// or leads. Otherwise they exit with the command's own status, as
// flock(1) and timeout(1) do.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/client/recipe"
)

// The recipe verbs' own flags.

func sessionTimeoutFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("session-timeout", 10*time.Second, "how soon a hold goes after canopy dies: the session's timeout `D` (the server clamps it to 2s..60s)")
}

func waitFlag(fs *flag.FlagSet, what string) *time.Duration {
	return fs.Duration("wait", 0, "give up waiting for "+what+" after `D` (exit 8); 0: wait as long as it takes")
}

func killAfterFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("kill-after", 10*time.Second, "SIGKILL the command if it has not exited `D` after its SIGTERM")
}

// checkDurations refuses the flags' values that make no sense; a zero
// duration is not given.
func (e *env) checkDurations(sessionTimeout, wait, killAfter *time.Duration) error {
	switch {
	case sessionTimeout != nil && *sessionTimeout <= 0:
		return e.usage("--session-timeout must be positive")
	case wait != nil && *wait < 0:
		return e.usage("--wait must be positive, or 0 to wait as long as it takes")
	case killAfter != nil && *killAfter <= 0:
		return e.usage("--kill-after must be positive")
	}
	return nil
}

// needCommand checks the command after "--" of a holding verb (op):
// given, and one that can be run, before anything is acquired for it.
func (e *env) needCommand(op string) error {
	if len(e.command) == 0 {
		return e.usage("give the command to run after --")
	}
	if _, err := exec.LookPath(e.command[0]); err != nil {
		return e.fail(op, cannotRun(e.command[0], err))
	}
	return nil
}

// waitContext bounds a wait by --wait (0: no bound). Each call of the
// wait is bounded by --timeout, through the client.
func waitContext(ctx context.Context, wait time.Duration) (context.Context, context.CancelFunc) {
	if wait > 0 {
		return context.WithTimeout(ctx, wait)
	}
	return context.WithCancel(ctx)
}

// waited is err of a wait bounded by wctx, told as a waitError when
// --wait cut it short.
func waited(ctx, wctx context.Context, what string, wait time.Duration, err error) error {
	if err != nil && wait > 0 && ctx.Err() == nil && errors.Is(wctx.Err(), context.DeadlineExceeded) {
		return &waitError{what: what, wait: wait}
	}
	return err
}

// await runs f, a wait bounded by --wait, and makes its error op's: a
// waitError when --wait ran out.
func (e *env) await(ctx context.Context, op, what string, wait time.Duration, f func(ctx context.Context) error) error {
	wctx, cancel := waitContext(ctx, wait)
	err := f(wctx)
	cancel()
	return e.fail(op, waited(ctx, wctx, what, wait, err))
}

// openSession opens the session a hold lives in; close it with
// endSession.
func (e *env) openSession(ctx context.Context, op string, timeout time.Duration) (*client.Session, error) {
	var s *client.Session
	err := e.oneCall(ctx, op, func(ctx context.Context, c *client.Client) (err error) {
		if s, err = c.NewSession(ctx, timeout); err != nil {
			return fmt.Errorf("opening a session: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openHold is what lock and elect do before they wait: check their
// flags and the command to run, then open the session the hold lives in;
// close it with endSession.
func (e *env) openHold(ctx context.Context, op string, sessionTimeout, wait, killAfter *time.Duration) (*client.Session, error) {
	if err := e.checkDurations(sessionTimeout, wait, killAfter); err != nil {
		return nil, err
	}
	if err := e.needCommand(op); err != nil {
		return nil, err
	}
	return e.openSession(ctx, op, *sessionTimeout)
}

// endSession closes s unless it has ended already (lost: the cluster may
// well be unreachable, and the session expires by itself).
func (e *env) endSession(s *client.Session) {
	if s.Err() == nil {
		e.closeSession(s)
	}
}

// releaseAfter ends a hold once its command has run (runErr), within
// --timeout even when the command's context has ended (interrupted). The
// command's failure is op's; else the release's, if it failed.
func (e *env) releaseAfter(op string, runErr error, release func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	if err := release(ctx); err != nil && runErr == nil {
		return e.fail(op, err)
	}
	return e.fail(op, runErr)
}

// runCommand runs the command given after "--" while a hold lasts, with
// env added to its environment and canopy's streams as its own. When lost
// closes before the command exits, or ctx ends (canopy interrupted), the
// command gets SIGTERM, and SIGKILL killAfter later; a loss is a
// holdLostError (what: "the lock"), and lostErr says why. Otherwise the
// command's failure is a commandError carrying its exit status.
func (e *env) runCommand(ctx context.Context, env []string, what string, lost <-chan struct{}, lostErr func() error, killAfter time.Duration) error {
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	name := e.command[0]
	cmd := exec.CommandContext(runCtx, name, e.command[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = killAfter
	if err := cmd.Start(); err != nil {
		return cannotRun(name, err)
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
		return &holdLostError{what: what, command: name, err: lostErr()}
	default:
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted (sent %s SIGTERM): %w", name, ctx.Err())
	}
	return commandResult(name, cmd.ProcessState, err)
}

// commandResult is the outcome of a command that ran: nil when it
// succeeded, else a commandError with the exit code a shell would give.
func commandResult(name string, ps *os.ProcessState, err error) error {
	if ps == nil {
		if err == nil {
			return nil
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	if ps.Success() {
		return nil // even if its output stayed open past --kill-after
	}
	code := ps.ExitCode()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	if err == nil {
		err = errors.New(ps.String())
	}
	return &commandError{name: name, code: code, err: err, ran: true}
}

// cannotRun is the failure to start a command: 127 when it is not found,
// 126 when it is there but cannot be run, as shells and timeout(1) say.
func cannotRun(name string, err error) error {
	code := exitCannotRun
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		code = exitNotFound
	}
	return &commandError{name: name, code: code, err: err}
}

// The output of the recipe verbs in JSON.

// heldJSON is what lock, elect and group join print in JSON once they
// hold: the node that holds, its fencing token, and the session.
type heldJSON struct {
	Path    string    `json:"path"`
	Name    string    `json:"name,omitempty"`
	Node    string    `json:"node"`
	Token   int64     `json:"token,omitempty"`
	Session client.ID `json:"session"`
}

// dataJSON is an item or a member's data as the API writes node data:
// UTF-8 text, or base64 when it is not valid UTF-8.
func dataJSON(data []byte) (string, string) {
	nd := api.NewNodeData("", string(data), api.Stat{}, false)
	return nd.Data, nd.Encoding
}

func lockVerb() *verb {
	return &verb{name: "lock", args: "[--shared] [--wait D] [--session-timeout D] [--kill-after D] PATH -- COMMAND [ARGS...]",
		summary: "run a command while holding a lock", min: 1, max: 1, command: true,
		details: `Runs COMMAND while holding the lock at PATH (ZooKeeper's lock recipe: the
waiters are served in the order they came; the lock's nodes go under PATH,
created when missing). canopy opens a session, waits for the lock (--wait
bounds the wait: exit 8 when it runs out), says so on stderr, and runs
COMMAND with its stdin, stdout and stderr, and in its environment
  CANOPY_FENCING_TOKEN  the lock's fencing token, greater for every holder
  CANOPY_LOCK_NODE      the node that holds the lock
When COMMAND exits, canopy releases the lock and exits with COMMAND's exit
status, as flock(1) does (126 or 127 when it cannot be run).

With --shared, it takes the read side of the read-write lock at PATH
(recipe.RWLock): any number of --shared holders run together, and an
exclusive holder (lock without --shared) excludes them all; a shared
holder waits only for the nearest exclusive one ahead of it.

If the lock is lost while COMMAND runs (the session lost: no keep-alive
reached the cluster within --session-timeout; or the lock's node deleted),
COMMAND gets SIGTERM, SIGKILL --kill-after later, and canopy exits 7.
Ctrl-C or SIGTERM to canopy ends COMMAND the same way, releases the lock
and exits 130. The lock of a canopy that dies goes when its session times
out. In JSON: {"path","node","token","session"} on stdout once the lock is
held, before COMMAND's output.`,
		setup: func(fs *flag.FlagSet) runFunc {
			sessionTimeout := sessionTimeoutFlag(fs)
			wait := waitFlag(fs, "the lock")
			killAfter := killAfterFlag(fs)
			shared := fs.Bool("shared", false, "take the lock shared (a read lock): shared holders run together, an exclusive one excludes them")
			return func(ctx context.Context, e *env, args []string) error {
				p, op := args[0], "lock "+args[0]
				s, err := e.openHold(ctx, op, sessionTimeout, wait, killAfter)
				if err != nil {
					return err
				}
				defer e.endSession(s)
				l := recipe.NewLock(s, p)
				if *shared {
					l = recipe.NewRWLock(s, p).ReadLock()
				}
				var token int64
				err = e.await(ctx, op, "the lock", *wait, func(ctx context.Context) (err error) {
					token, err = l.Acquire(ctx)
					return err
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "canopy lock: holding %s (fencing token %d)\n", p, token)
				if e.json {
					e.printJSON(heldJSON{Path: p, Node: l.Node(), Token: token, Session: s.ID()})
				}
				env := []string{"CANOPY_FENCING_TOKEN=" + strconv.FormatInt(token, 10), "CANOPY_LOCK_NODE=" + l.Node()}
				runErr := e.runCommand(ctx, env, "the lock", l.Lost(), l.Err, *killAfter)
				return e.releaseAfter(op, runErr, l.Release)
			}
		}}
}

func electVerb() *verb {
	return &verb{name: "elect", args: "[--wait D] [--session-timeout D] [--kill-after D] PATH [NAME -- COMMAND [ARGS...]]",
		summary: "run a command while leading an election, or print the leader", min: 1, max: 2, command: true,
		details: `With a PATH alone, prints the name of the election's leader (exit 3 when
no candidate stands). In JSON: {"path","name","node","token","session"}.

With a NAME and a COMMAND, stands for election at PATH as NAME (Curator's
LeaderLatch: the candidates lead in the order they came), and runs COMMAND
once leading, with in its environment
  CANOPY_FENCING_TOKEN   the leader's epoch, greater for every leader
  CANOPY_ELECTION_NODE   the candidate's node
The rest is as for 'canopy lock': --wait bounds the wait to lead (exit 8);
when COMMAND exits, canopy resigns and exits with COMMAND's exit status; if
leadership is lost while COMMAND runs, COMMAND gets SIGTERM and canopy
exits 7; interrupted, it exits 130. In JSON, {"path","name","node","token",
"session"} on stdout once leading, before COMMAND's output.`,
		setup: func(fs *flag.FlagSet) runFunc {
			sessionTimeout := sessionTimeoutFlag(fs)
			wait := waitFlag(fs, "leadership")
			killAfter := killAfterFlag(fs)
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) == 1 {
					if e.command != nil {
						return e.usage("the NAME to stand as goes before --")
					}
					return e.printLeader(ctx, args[0])
				}
				p, name, op := args[0], args[1], "elect "+args[0]
				s, err := e.openHold(ctx, op, sessionTimeout, wait, killAfter)
				if err != nil {
					return err
				}
				defer e.endSession(s)
				el := recipe.NewElection(s, p, name)
				if err := e.await(ctx, op, "leadership", *wait, el.Campaign); err != nil {
					return err
				}
				token := el.Token()
				fmt.Fprintf(e.stderr, "canopy elect: %s leads %s (epoch %d)\n", name, p, token)
				if e.json {
					e.printJSON(heldJSON{Path: p, Name: name, Node: el.Node(), Token: token, Session: s.ID()})
				}
				env := []string{"CANOPY_FENCING_TOKEN=" + strconv.FormatInt(token, 10), "CANOPY_ELECTION_NODE=" + el.Node()}
				runErr := e.runCommand(ctx, env, "leadership", el.Lost(), el.Err, *killAfter)
				return e.releaseAfter(op, runErr, el.Resign)
			}
		}}
}

// printLeader prints the leader of the election at p.
func (e *env) printLeader(ctx context.Context, p string) error {
	var leader recipe.Candidate
	err := e.oneCall(ctx, "elect "+p, func(ctx context.Context, c *client.Client) (err error) {
		leader, err = recipe.Leader(ctx, c, p)
		return err
	})
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(heldJSON{Path: p, Name: leader.Name, Node: leader.Node, Token: leader.Token, Session: leader.Session})
	}
	e.printf("%s\n", leader.Name)
	return nil
}

func queuePutVerb() *verb {
	return &verb{name: "queue put", args: "[-f FILE] PATH [DATA | -]", summary: "append an item to a queue", min: 1, max: 2,
		details: `Appends an item to the FIFO queue at PATH (ZooKeeper's queue recipe: a
persistent sequential node under PATH, created when missing), holding DATA,
stdin's bytes ("-"), or a file's (-f); with none, the item is empty. After
an ambiguous answer the item is looked for before it is put again, so it is
put at least once. Prints nothing.`,
		setup: func(fs *flag.FlagSet) runFunc {
			file := fs.String("f", "", "read the item from this `FILE`")
			return func(ctx context.Context, e *env, args []string) error {
				data, err := e.readData(args[1:], *file)
				if err != nil {
					return err
				}
				return e.oneCall(ctx, "queue put "+args[0], func(ctx context.Context, c *client.Client) error {
					return recipe.NewQueue(c, args[0]).Put(ctx, data)
				})
			}
		}}
}

// queueItem is queue take's JSON.
type queueItem struct {
	Path     string `json:"path"`
	Data     string `json:"data"`
	Encoding string `json:"encoding"`
}

func queueTakeVerb() *verb {
	return &verb{name: "queue take", args: "[--wait D] PATH", summary: "take the first item of a queue, waiting for one", min: 1, max: 1,
		details: `Takes the first item of the queue at PATH and writes it to stdout as it
is, byte for byte (a newline is added only on a terminal, when the item
lacks one), as 'canopy get' writes data. When the queue is empty, waits for
an item: --wait bounds the wait (exit 8). Any number of consumers may take
at once: each item goes to one. If the claim of an item got no answer, the
item is written but may have gone to another consumer too: exit 6. In
JSON: {"path","data","encoding"}, data as UTF-8 text or base64.`,
		setup: func(fs *flag.FlagSet) runFunc {
			wait := waitFlag(fs, "an item")
			return func(ctx context.Context, e *env, args []string) error {
				if err := e.checkDurations(nil, wait, nil); err != nil {
					return err
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				p := args[0]
				var data []byte
				err = e.await(ctx, "queue take "+p, "an item", *wait, func(ctx context.Context) (err error) {
					data, err = recipe.NewQueue(c, p).Take(ctx)
					return err
				})
				if data != nil { // also with ErrTakeUncertain
					if e.json {
						d, enc := dataJSON(data)
						e.printJSON(queueItem{Path: p, Data: d, Encoding: enc})
					} else {
						e.stdout.Write(data)
						if terminal(e.stdout) {
							endLine(e.stdout, data)
						}
					}
				}
				return err
			}
		}}
}

func queueLenVerb() *verb {
	return &verb{name: "queue len", args: "PATH", summary: "count a queue's items", min: 1, max: 1,
		details: `Prints the number of items in the queue at PATH (0 when it does not
exist). In JSON: {"path","length"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				var n int
				err := e.oneCall(ctx, "queue len "+args[0], func(ctx context.Context, c *client.Client) (err error) {
					n, err = recipe.NewQueue(c, args[0]).Len(ctx)
					return err
				})
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(struct {
						Path   string `json:"path"`
						Length int    `json:"length"`
					}{args[0], n})
				}
				e.printf("%d\n", n)
				return nil
			}
		}}
}

func barrierSetVerb() *verb {
	return &verb{name: "barrier set", args: "PATH", summary: "raise a barrier", min: 1, max: 1,
		details: `Raises the barrier at PATH (ZooKeeper's barrier recipe: the barrier is up
while the persistent node PATH exists; missing parents are created).
Raising it twice is harmless. Prints nothing.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				return e.oneCall(ctx, "barrier set "+args[0], func(ctx context.Context, c *client.Client) error {
					return recipe.NewBarrier(c, args[0]).Set(ctx)
				})
			}
		}}
}

func barrierRemoveVerb() *verb {
	return &verb{name: "barrier remove", args: "PATH", summary: "lower a barrier, releasing its waiters", min: 1, max: 1,
		details: `Lowers the barrier at PATH (deletes the node), which lets every
'canopy barrier wait' go. Lowering it twice is harmless. Prints nothing.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				return e.oneCall(ctx, "barrier remove "+args[0], func(ctx context.Context, c *client.Client) error {
					return recipe.NewBarrier(c, args[0]).Remove(ctx)
				})
			}
		}}
}

func barrierWaitVerb() *verb {
	return &verb{name: "barrier wait", args: "[--wait D] PATH", summary: "wait until a barrier is down", min: 1, max: 1,
		details: `Returns once the barrier at PATH is down: at once when it is not up.
--wait bounds the wait (exit 8). Prints nothing.`,
		setup: func(fs *flag.FlagSet) runFunc {
			wait := waitFlag(fs, "the barrier")
			return func(ctx context.Context, e *env, args []string) error {
				if err := e.checkDurations(nil, wait, nil); err != nil {
					return err
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				return e.await(ctx, "barrier wait "+args[0], "the barrier", *wait, recipe.NewBarrier(c, args[0]).Wait)
			}
		}}
}

func barrierEnterVerb() *verb {
	return &verb{name: "barrier enter", args: "[--wait D] [--session-timeout D] [--kill-after D] PATH NAME COUNT -- COMMAND [ARGS...]",
		summary: "run a command in step with COUNT participants (a double barrier)", min: 3, max: 3, command: true,
		details: `ZooKeeper's double barrier (recipe.DoubleBarrier): joins the barrier at
PATH as NAME, waits until COUNT participants have joined, runs COMMAND, then
waits until every participant has left. So COUNT processes start together
and none goes on before all are done. --wait bounds each of the two waits
(exit 8). Exits with COMMAND's status; 7 if the session is lost meanwhile
(COMMAND gets SIGTERM, SIGKILL --kill-after later).`,
		setup: func(fs *flag.FlagSet) runFunc {
			sessionTimeout := sessionTimeoutFlag(fs)
			wait := waitFlag(fs, "the other participants")
			killAfter := killAfterFlag(fs)
			return func(ctx context.Context, e *env, args []string) error {
				p, name, op := args[0], args[1], "barrier enter "+args[0]
				n, err := strconv.Atoi(args[2])
				if err != nil || n < 1 {
					return e.usage("COUNT must be a whole number of participants, 1 or more; got %q", args[2])
				}
				s, err := e.openHold(ctx, op, sessionTimeout, wait, killAfter)
				if err != nil {
					return err
				}
				defer e.endSession(s)
				b := recipe.NewDoubleBarrier(s, p, name, n)
				if err := e.await(ctx, op, "the other participants", *wait, b.Enter); err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "canopy barrier: %s entered %s, %d participants\n", name, p, n)
				runErr := e.runCommand(ctx, []string{"CANOPY_BARRIER=" + p}, "the barrier's session", s.Done(), s.Err, *killAfter)
				if runErr != nil || ctx.Err() != nil {
					// Failed or interrupted: leave without waiting for the
					// others (closing the session removes this participant).
					return e.fail(op, runErr)
				}
				return e.await(ctx, op, "the other participants to leave", *wait, b.Leave)
			}
		}}
}

func groupJoinVerb() *verb {
	return &verb{name: "group join", args: "[--session-timeout D] [--kill-after D] [-f FILE] PATH NAME [DATA | -] [-- COMMAND [ARGS...]]",
		summary: "be a group's member while canopy (or a command) runs", min: 2, max: 3, command: true,
		details: `Joins the group at PATH as NAME (an ephemeral node PATH/NAME holding
DATA, stdin's bytes ("-"), or a file's (-f); with none, empty), and says so
on stderr. A NAME in use is exit 4, NodeExists, even when its member died
and its session has not timed out yet.

Without a COMMAND, stays a member until interrupted (Ctrl-C, SIGTERM),
which leaves the group and exits 0. With one, runs COMMAND with
CANOPY_MEMBER_NODE in its environment, leaves when it exits and exits with
its exit status. If the membership is lost (the session lost), canopy exits
7, after sending COMMAND SIGTERM (SIGKILL --kill-after later). In JSON:
{"path","name","node","session"} on stdout once a member.`,
		setup: func(fs *flag.FlagSet) runFunc {
			sessionTimeout := sessionTimeoutFlag(fs)
			killAfter := killAfterFlag(fs)
			file := fs.String("f", "", "read the member's data from this `FILE`")
			return func(ctx context.Context, e *env, args []string) error {
				if err := e.checkDurations(sessionTimeout, nil, killAfter); err != nil {
					return err
				}
				data, err := e.readData(args[2:], *file)
				if err != nil {
					return err
				}
				p, name, op := args[0], args[1], "group join "+args[0]
				if e.command != nil {
					if err := e.needCommand(op); err != nil {
						return err
					}
				}
				s, err := e.openSession(ctx, op, *sessionTimeout)
				if err != nil {
					return err
				}
				defer e.endSession(s)
				cctx, cancel := e.call(ctx)
				m, err := recipe.NewGroup(s.Client, p).Join(cctx, s, name, data)
				cancel()
				if err != nil {
					return e.fail(op, err)
				}
				fmt.Fprintf(e.stderr, "canopy group: %s joined %s\n", name, p)
				if e.json {
					e.printJSON(heldJSON{Path: p, Name: name, Node: m.Node(), Session: s.ID()})
				}
				if e.command != nil {
					return e.fail(op, e.runCommand(ctx, []string{"CANOPY_MEMBER_NODE=" + m.Node()}, "the membership", s.Done(), s.Err, *killAfter))
				}
				select {
				case <-ctx.Done():
					// Interrupted: the normal end. Leave by closing the session.
					if err := e.closeSession(s); err != nil {
						return e.fail(op, err)
					}
					fmt.Fprintf(e.stderr, "canopy group: %s left %s\n", name, p)
					return nil
				case <-s.Done():
					return e.fail(op, &holdLostError{what: "the membership", err: s.Err()})
				}
			}
		}}
}

// groupMember is one member in group ls's JSON.
type groupMember struct {
	Name     string    `json:"name"`
	Data     string    `json:"data"`
	Encoding string    `json:"encoding"`
	Session  client.ID `json:"session"`
}

func groupLsVerb() *verb {
	return &verb{name: "group ls", args: "PATH", summary: "list a group's members", min: 1, max: 1,
		details: `Lists the members of the group at PATH, sorted by name, one per line:
the name, a tab, and the member's data (nothing when the group does not
exist). In JSON: {"path","members":[{"name","data","encoding","session"}]},
data as UTF-8 text or base64.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				var members []recipe.Member
				err := e.oneCall(ctx, "group ls "+args[0], func(ctx context.Context, c *client.Client) (err error) {
					members, err = recipe.NewGroup(c, args[0]).Members(ctx)
					return err
				})
				if err != nil {
					return err
				}
				if e.json {
					out := struct {
						Path    string        `json:"path"`
						Members []groupMember `json:"members"`
					}{Path: args[0], Members: []groupMember{}}
					for _, m := range members {
						d, enc := dataJSON(m.Data)
						out.Members = append(out.Members, groupMember{Name: m.Name, Data: d, Encoding: enc, Session: m.Session})
					}
					return e.printJSON(out)
				}
				for _, m := range members {
					e.printf("%s\t%s\n", m.Name, m.Data)
				}
				return nil
			}
		}}
}
