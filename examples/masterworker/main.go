// Command masterworker is the master/worker application of the ZooKeeper
// book, on Canopy's recipes: masters elect one of them (recipe.Election),
// workers register (recipe.Group), clients submit tasks as sequential
// nodes, the elected master assigns them to live workers and gives the
// tasks of dead workers to others. Every task completes exactly once.
// See README.md for a walk-through against 'make run'.
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/canopy-coord/canopy/client"
)

func main() {
	role := flag.String("role", "", "master, worker, submit or status")
	name := flag.String("name", defaultName(), "this master's or worker's name")
	root := flag.String("root", "/masterworker", "where the application keeps its nodes")
	servers := flag.String("server", strings.Join(client.ServersFromEnv(), ","), "the cluster's nodes, comma-separated (env CANOPY_SERVERS)")
	sessionTimeout := flag.Duration("session-timeout", 5*time.Second, "how soon a dead master or worker is noticed")
	work := flag.Duration("work", time.Second, "worker: how long each task takes")
	n := flag.Int("n", 10, "submit: how many tasks")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := client.New(client.Config{Servers: strings.Split(*servers, ",")})
	if err != nil {
		fatal(err)
	}
	defer c.Close()
	lay := Layout{Root: *root}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("role", *role, "name", *name)

	switch *role {
	case "master":
		m := &Master{Client: c, Layout: lay, Name: *name, SessionTimeout: *sessionTimeout, Log: log}
		err = m.Run(ctx)
	case "worker":
		w := &Worker{Client: c, Layout: lay, Name: *name, SessionTimeout: *sessionTimeout, Log: log,
			Do: func(ctx context.Context, task string, payload []byte) ([]byte, error) {
				select {
				case <-time.After(*work):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return fmt.Appendf(nil, "sha256 %x", sha256.Sum256(payload)), nil
			}}
		err = w.Run(ctx)
	case "submit":
		if err = lay.Setup(ctx, c); err != nil {
			break
		}
		for i := range *n {
			task, serr := Submit(ctx, c, lay, fmt.Appendf(nil, "payload %d of %s", i, time.Now().Format(time.RFC3339)))
			if serr != nil {
				err = serr
				break
			}
			fmt.Println("submitted", task)
		}
	case "status":
		var st map[string]string
		if st, err = Statuses(ctx, c, lay); err == nil {
			tasks := make([]string, 0, len(st))
			for t := range st {
				tasks = append(tasks, t)
			}
			slices.Sort(tasks)
			for _, t := range tasks {
				fmt.Printf("%s\t%s\n", t, st[t])
			}
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil && ctx.Err() == nil {
		fatal(err)
	}
}

func defaultName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "masterworker:", err)
	os.Exit(1)
}
