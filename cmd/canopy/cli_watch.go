package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/canopy-coord/canopy/client"
)

func watchVerb() *verb {
	return &verb{name: "watch", args: "[-r] [--since ZXID] PATH", summary: "print a node's changes as they happen", min: 1, max: 1,
		details: `Sets a persistent watch on PATH (with -r, on PATH and everything below it)
and prints one line per event until interrupted (Ctrl-C, SIGTERM), which
ends it with exit code 0. Text lines read
  NodeDataChanged /app/config zxid=42
  NodeChildrenChanged /app added worker-1 zxid=43
In JSON, one API event object per line. The watch survives a lost
connection or server: it resumes on another from the last event printed,
losing or repeating none. With --since, it starts with the events after
that zxid from the server's history (an error when the history no longer
holds them).`,
		setup: func(fs *flag.FlagSet) runFunc {
			recursive := fs.Bool("r", false, "watch the whole subtree")
			since := fs.Int64("since", 0, "replay the events after `ZXID` first")
			return func(ctx context.Context, e *env, args []string) error {
				if *since < 0 {
					return e.usage("--since must be a zxid (0 or more)")
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				p, op := args[0], "watch "+args[0]
				w, stop, err := e.startWatch(ctx, c, p, &client.WatchOptions{Recursive: *recursive, SinceZxid: *since})
				if err != nil {
					return e.fail(op, err)
				}
				defer stop()
				// Live: from now on no change is missed. Scripts and tests can
				// wait for this line.
				fmt.Fprintf(e.stderr, "watching %s; Ctrl-C stops\n", p)
				for ev := range w.Events() {
					if err := e.printEvent(ev); err != nil {
						return err // stdout is gone (a closed pipe)
					}
				}
				if err := w.Err(); err != nil {
					return e.fail(op, err)
				}
				return nil // interrupted: the normal end
			}
		}}
}

// startWatch starts a persistent watch that lives until ctx ends or
// stop is called, giving up if it is not live within --timeout. (The
// client's Watch takes one context for both its start and its life.)
func (e *env) startWatch(ctx context.Context, c *client.Client, p string, opts *client.WatchOptions) (w *client.Watcher, stop func(), err error) {
	wctx, cancel := context.WithCancel(ctx)
	var once sync.Once
	var gaveUp error
	giveUp := func(err error) {
		once.Do(func() { gaveUp = err; cancel() })
	}
	timer := time.AfterFunc(e.timeout, func() {
		giveUp(fmt.Errorf("the watch was not live within %v: %w", e.timeout, context.DeadlineExceeded))
	})
	w, err = c.Watch(wctx, p, opts)
	timer.Stop()
	once.Do(func() {}) // no giving up from now on
	switch {
	case gaveUp != nil:
		if w != nil {
			w.Close()
		}
		return nil, nil, gaveUp
	case ctx.Err() != nil:
		cancel()
		return nil, nil, ctx.Err()
	case err != nil:
		cancel()
		return nil, nil, err
	}
	return w, func() { w.Close(); cancel() }, nil
}
