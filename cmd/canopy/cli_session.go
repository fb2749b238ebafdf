package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
)

func sessionOpenVerb() *verb {
	return &verb{name: "session open", args: "[--timeout D]", summary: "open a session and keep it alive until interrupted", max: 0,
		details: `Opens a session, prints its id, and stays running to keep it alive. Other
commands use it with 'canopy create -e --session ID'; its ephemeral nodes
live until this command is interrupted (Ctrl-C, SIGTERM), which closes the
session and deletes them. If the session is lost (no keep-alive reached
the cluster within its timeout), the command fails with exit code 7.
Here --timeout is the session's timeout (the server clamps it to 2s..60s;
default 10s); each call to the cluster may take 10s. In JSON: the API's
{"id","timeout_ms"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			timeout := fs.Duration("timeout", 10*time.Second, "the session's timeout")
			return func(ctx context.Context, e *env, args []string) error {
				var s *client.Session
				err := e.oneCall(ctx, "session open", func(ctx context.Context, c *client.Client) (err error) {
					s, err = c.NewSession(ctx, *timeout)
					return err
				})
				if err != nil {
					return err
				}
				if e.json {
					e.printJSON(api.Session{ID: s.ID(), TimeoutMs: s.Timeout().Milliseconds()})
				} else {
					e.printf("%s\n", s.ID())
				}
				fmt.Fprintf(e.stderr, "session %s open (timeout %v); kept alive until this command ends (Ctrl-C), then closed\n", s.ID(), s.Timeout())
				return e.hold(ctx, s, "session "+s.ID().String())
			}
		}}
}

func sessionLsVerb() *verb {
	return &verb{name: "session ls", summary: "list the open sessions", max: 0,
		details: `Lists the open sessions: id, timeout, and the time left before expiry as
the leader sees it ("-" when the answering node does not hold the lease
clock). In JSON: the API's {"sessions":[...]}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				var list []api.Session
				err := e.oneCall(ctx, "session ls", func(ctx context.Context, c *client.Client) (err error) {
					list, err = c.Sessions(ctx)
					return err
				})
				if err != nil {
					return err
				}
				if e.json {
					if list == nil {
						list = []api.Session{}
					}
					return e.printJSON(api.SessionList{Sessions: list})
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTIMEOUT\tEXPIRES IN")
				for _, s := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", s.ID, durationMs(s.TimeoutMs), expiresIn(s))
				}
				return tw.Flush()
			}
		}}
}

func expiresIn(s api.Session) string {
	if s.ExpiresInMs == nil {
		return "-"
	}
	return durationMs(*s.ExpiresInMs)
}

// sessionID reads a session id argument.
func (e *env) sessionID(s string) (client.ID, error) {
	id, err := api.ParseID(s)
	if err != nil {
		return 0, e.usage("session %v", err)
	}
	return id, nil
}

func sessionGetVerb() *verb {
	return &verb{name: "session get", args: "ID", summary: "describe a session and its ephemeral nodes", min: 1, max: 1,
		details: `Prints a session's id, timeout, time left and ephemeral nodes (exit 7
when it is not open). In JSON: the API's session object.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				id, err := e.sessionID(args[0])
				if err != nil {
					return err
				}
				var s api.Session
				err = e.oneCall(ctx, "session get "+id.String(), func(ctx context.Context, c *client.Client) (err error) {
					s, err = c.SessionInfo(ctx, id)
					return err
				})
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(s)
				}
				e.printf("id = %s\ntimeout = %s\nexpiresIn = %s\nephemerals = %d\n", s.ID, durationMs(s.TimeoutMs), expiresIn(s), len(s.Ephemerals))
				for _, p := range s.Ephemerals {
					e.printf("  %s\n", p)
				}
				return nil
			}
		}}
}

func sessionCloseVerb() *verb {
	return &verb{name: "session close", args: "ID", summary: "close a session, deleting its ephemeral nodes", min: 1, max: 1,
		details: `Closes the session: its ephemeral nodes are deleted by the time the
command returns. Exit 7 when the session is not open. In JSON: {"id"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				id, err := e.sessionID(args[0])
				if err != nil {
					return err
				}
				// Wherever it was opened; one that is not open is
				// SessionExpired.
				err = e.oneCall(ctx, "session close "+id.String(), func(ctx context.Context, c *client.Client) error {
					return c.CloseSession(ctx, id)
				})
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(struct {
						ID client.ID `json:"id"`
					}{id})
				}
				e.printf("closed session %s\n", id)
				return nil
			}
		}}
}
