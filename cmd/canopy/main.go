// Command canopy is Canopy's server (canopy serve) and, in later releases,
// its command-line client.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/canopy-coord/canopy/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// defaultGCPercent replaces Go's default of 100 unless GOGC is set. Nearly
// all of a node's heap is the long-lived tree and its allocation rate is low,
// so collecting at 1.5x the live heap instead of 2x costs little CPU and
// keeps a large tree's RSS well down (1M nodes: 650 MB to under 500 MB).
const defaultGCPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "canopy:", err)
		os.Exit(1)
	}
}

const usage = `canopy: a coordination service with ZooKeeper's data model over HTTP/JSON.

Usage:
  canopy serve [flags]                     run a node (a single-node cluster with no flags)
  canopy cluster status|add|remove ...     show or change the cluster's members
  canopy snapshot save|restore FILE        back up the tree, or restore a backup into a fresh cluster
  canopy version                           print the version
  canopy lock PATH -- COMMAND [ARGS...]    run COMMAND holding the lock at PATH (env CANOPY_FENCING_TOKEN)
  canopy elect PATH NAME -- COMMAND...     run COMMAND while NAME leads the election at PATH
  canopy elect PATH                        print the election's leader
  canopy queue put PATH [DATA] | take PATH | len PATH
  canopy barrier set|remove|wait PATH
  canopy group join PATH NAME [DATA] [-- COMMAND...] | ls PATH

Run 'canopy serve -h' for the server's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "cluster":
		return clusterCmd(args[1:], stdout, stderr)
	case "snapshot":
		return snapshotCmd(args[1:], stdout, stderr)
	case "lock":
		return lockCmd(ctx, args[1:], stdout, stderr)
	case "elect":
		return electCmd(ctx, args[1:], stdout, stderr)
	case "queue":
		return queueCmd(ctx, args[1:], os.Stdin, stdout, stderr)
	case "barrier":
		return barrierCmd(ctx, args[1:], stdout, stderr)
	case "group":
		return groupCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "canopy", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// serve runs a node until SIGINT or SIGTERM, then shuts down gracefully.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	m := server.New(stderr)
	m.Version = version
	if err := m.ParseFlags(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	<-ctx.Done()
	m.Log().Info().Msg("shutting down")
	return m.Close()
}
