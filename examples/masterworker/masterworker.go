package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/client/recipe"
)

// Layout is where the application keeps its state, under a root:
//
//	root/master          the masters' election (recipe.Election)
//	root/workers/W       live workers (recipe.Group; ephemeral)
//	root/tasks/task-N    submitted tasks not yet assigned (persistent sequential)
//	root/assign/W/task-N tasks assigned to worker W
//	root/status/task-N   results of finished tasks
//
// A task lives in exactly one of tasks/, assign/W/ and status/ at any
// time: every move is one Multi that creates it in its new place and
// deletes it from the old one.
type Layout struct{ Root string }

func (l Layout) Election() string         { return l.Root + "/master" }
func (l Layout) Workers() string          { return l.Root + "/workers" }
func (l Layout) Tasks() string            { return l.Root + "/tasks" }
func (l Layout) Assign() string           { return l.Root + "/assign" }
func (l Layout) AssignOf(w string) string { return l.Root + "/assign/" + w }
func (l Layout) Status() string           { return l.Root + "/status" }

// Setup creates the layout's persistent directories.
func (l Layout) Setup(ctx context.Context, c *client.Client) error {
	for _, dir := range []string{l.Tasks(), l.Assign(), l.Status()} {
		if _, _, err := c.Create(ctx, dir, nil, &client.CreateOptions{Parents: true}); err != nil && !errors.Is(err, client.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	return nil
}

// Submit adds a task and returns its name.
func Submit(ctx context.Context, c *client.Client, l Layout, payload []byte) (string, error) {
	path, _, err := c.Create(ctx, l.Tasks()+"/task-", payload, &client.CreateOptions{Sequential: true})
	if err != nil {
		return "", err
	}
	return path[strings.LastIndexByte(path, '/')+1:], nil
}

// Master is one candidate master. While it leads, it assigns each
// submitted task to the live worker with the fewest tasks, and gives the
// tasks of workers that died back to the pool. Every move it makes is
// fenced by its election node (a CheckOp in the same Multi), so a master
// that lost leadership without knowing yet cannot move anything.
type Master struct {
	Client         *client.Client
	Layout         Layout
	Name           string
	SessionTimeout time.Duration
	Log            *slog.Logger
}

// Run campaigns, leads while elected, and campaigns again after losing
// leadership, until ctx ends.
func (m *Master) Run(ctx context.Context) error {
	if err := m.Layout.Setup(ctx, m.Client); err != nil {
		return err
	}
	for ctx.Err() == nil {
		s, err := m.Client.NewSession(ctx, m.SessionTimeout)
		if err != nil {
			m.Log.Warn("no session", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		err = m.term(ctx, s)
		closeSession(s)
		if err != nil && ctx.Err() == nil {
			m.Log.Warn("leadership ended", "err", err)
		}
	}
	return nil
}

// term is one candidacy: campaign, then lead until leadership is lost.
func (m *Master) term(ctx context.Context, s *client.Session) error {
	e := recipe.NewElection(s, m.Layout.Election(), m.Name)
	if err := e.Campaign(ctx); err != nil {
		return err
	}
	m.Log.Info("leading", "epoch", e.Token())
	defer e.Resign(context.Background())
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	l := &leader{Master: m, fence: e.Node()}
	members, err := recipe.NewGroup(m.Client, m.Layout.Workers()).Watch(lctx)
	if err != nil {
		return err
	}
	var tasks <-chan client.Event
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		if tasks == nil {
			if _, _, tasks, err = m.Client.ChildrenW(lctx, m.Layout.Tasks()); err != nil {
				tasks = nil
				retry.Reset(100 * time.Millisecond)
			}
		}
		if err := l.reconcile(lctx); err != nil {
			if errors.Is(err, errDeposed) {
				return err
			}
			m.Log.Warn("reconcile", "err", err)
			retry.Reset(100 * time.Millisecond)
		}
		select {
		case ms, ok := <-members:
			if !ok {
				return ctx.Err()
			}
			l.live = l.live[:0]
			for _, w := range ms {
				l.live = append(l.live, w.Name)
			}
		case <-tasks:
			tasks = nil
		case <-retry.C:
		case <-e.Lost():
			return fmt.Errorf("%w: %v", errDeposed, e.Err())
		case <-ctx.Done():
			return nil
		}
	}
}

var errDeposed = errors.New("no longer the leader")

// leader is the state of one term.
type leader struct {
	*Master
	fence string   // the election node: the moves' precondition
	live  []string // live workers
}

// reconcile brings assignments in line with the live workers: tasks of
// dead workers back to the pool, then pool tasks to live workers.
func (l *leader) reconcile(ctx context.Context) error {
	c, lay := l.Client, l.Layout
	assigned, _, err := c.Children(ctx, lay.Assign())
	if err != nil {
		return err
	}
	load := map[string]int{}
	for _, w := range assigned {
		tasks, _, err := c.Children(ctx, lay.AssignOf(w))
		if errors.Is(err, client.ErrNoNode) {
			continue
		}
		if err != nil {
			return err
		}
		if slices.Contains(l.live, w) {
			load[w] = len(tasks)
			continue
		}
		for _, t := range tasks {
			if err := l.move(ctx, lay.AssignOf(w)+"/"+t, lay.Tasks()+"/"+t); err != nil {
				return err
			}
			l.Log.Info("reassigning", "task", t, "dead worker", w)
		}
		if err := c.Delete(ctx, lay.AssignOf(w), client.AnyVersion); err != nil && !errors.Is(err, client.ErrNoNode) && !errors.Is(err, client.ErrNotEmpty) {
			return err
		}
	}
	if len(l.live) == 0 {
		return nil
	}
	pool, _, err := c.Children(ctx, lay.Tasks())
	if err != nil {
		return err
	}
	slices.Sort(pool) // oldest first: names carry the sequence number
	for _, t := range pool {
		w := l.live[0]
		for _, cand := range l.live {
			if load[cand] < load[w] {
				w = cand
			}
		}
		if _, _, err := c.Create(ctx, lay.AssignOf(w), nil, nil); err != nil && !errors.Is(err, client.ErrNodeExists) {
			return err
		}
		if err := l.move(ctx, lay.Tasks()+"/"+t, lay.AssignOf(w)+"/"+t); err != nil {
			return err
		}
		load[w]++
	}
	return nil
}

// move moves a task node from one place to another in one Multi fenced by
// the leader's election node. A task already gone from its old place was
// moved by someone else (a worker finishing it): not an error.
func (l *leader) move(ctx context.Context, from, to string) error {
	nd, err := l.Client.Get(ctx, from)
	if errors.Is(err, client.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = l.Client.Multi(ctx,
		client.CheckOp(l.fence, client.AnyVersion),
		client.CreateOp(to, nd.Data, nil),
		client.DeleteOp(from, client.AnyVersion))
	switch {
	case err == nil:
		return nil
	case isMultiFailure(err, 0):
		return fmt.Errorf("%w: the election node %s is gone", errDeposed, l.fence)
	case isMultiFailure(err, 2) && errors.Is(err, client.ErrNoNode):
		return nil // finished or moved meanwhile
	}
	return fmt.Errorf("move %s to %s: %w", from, to, err)
}

// isMultiFailure reports whether a Multi failed at op index i.
func isMultiFailure(err error, i int) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Index != nil && *ae.Index == i
}

// Worker is one worker: it joins the group of live workers, then does the
// tasks assigned to it, oldest first, committing each result with the
// removal of its assignment in one Multi. If the master has meanwhile
// given the task to another worker (it took this one for dead), the
// assignment is gone and the commit fails: a task completes exactly once,
// though a worker taken for dead may have done the work in vain.
type Worker struct {
	Client         *client.Client
	Layout         Layout
	Name           string
	SessionTimeout time.Duration
	Log            *slog.Logger
	// Do does a task and returns its result.
	Do func(ctx context.Context, task string, payload []byte) ([]byte, error)
	// Committed, if set, is called after each task completed by this
	// worker (tests count completions with it).
	Committed func(task string)
}

// Run works until ctx ends or the worker's session is lost.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Layout.Setup(ctx, w.Client); err != nil {
		return err
	}
	s, err := w.Client.NewSession(ctx, w.SessionTimeout)
	if err != nil {
		return err
	}
	defer closeSession(s)
	return w.RunIn(ctx, s)
}

// RunIn works within s until ctx ends or s does.
func (w *Worker) RunIn(ctx context.Context, s *client.Session) error {
	g := recipe.NewGroup(w.Client, w.Layout.Workers())
	for {
		_, err := g.Join(ctx, s, w.Name, nil)
		if err == nil {
			break
		}
		// A previous process of this name may still be in the group until
		// its session expires.
		if !errors.Is(err, client.ErrNodeExists) || !sleep(ctx, 500*time.Millisecond) {
			return err
		}
	}
	w.Log.Info("joined")
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-s.Done():
			stop()
		case <-ctx.Done():
		}
	}()
	dir := w.Layout.AssignOf(w.Name)
	for ctx.Err() == nil {
		tasks, _, ch, err := w.Client.ChildrenW(ctx, dir)
		if errors.Is(err, client.ErrNoNode) {
			var exists bool
			if _, exists, ch, err = w.Client.ExistsW(ctx, dir); err == nil && exists {
				continue
			}
		}
		if err != nil {
			if !sleep(ctx, 100*time.Millisecond) {
				break
			}
			continue
		}
		slices.Sort(tasks)
		for _, t := range tasks {
			if ctx.Err() != nil {
				break
			}
			if err := w.do(ctx, dir+"/"+t, t); err != nil {
				w.Log.Warn("task", "task", t, "err", err)
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
	if err := s.Err(); err != nil {
		return err
	}
	return nil
}

// do does one assigned task and commits its result.
func (w *Worker) do(ctx context.Context, assignment, task string) error {
	nd, err := w.Client.Get(ctx, assignment)
	if errors.Is(err, client.ErrNoNode) {
		return nil // taken back by the master
	}
	if err != nil {
		return err
	}
	result, err := w.Do(ctx, task, nd.Data)
	if err != nil {
		return err
	}
	_, err = w.Client.Multi(ctx,
		client.CreateOp(w.Layout.Status()+"/"+task, fmt.Appendf(nil, "%s: %s", w.Name, result), nil),
		client.DeleteOp(assignment, client.AnyVersion))
	switch {
	case err == nil:
		if w.Committed != nil {
			w.Committed(task)
		}
		w.Log.Info("done", "task", task)
		return nil
	case isMultiFailure(err, 1) && errors.Is(err, client.ErrNoNode):
		w.Log.Info("task was reassigned before it was done here", "task", task)
		return nil
	}
	return fmt.Errorf("commit %s: %w", task, err)
}

// Statuses returns the finished tasks' results by task name.
func Statuses(ctx context.Context, c *client.Client, l Layout) (map[string]string, error) {
	names, _, err := c.Children(ctx, l.Status())
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, n := range names {
		nd, err := c.Get(ctx, l.Status()+"/"+n)
		if err != nil {
			return nil, err
		}
		out[n] = string(nd.Data)
	}
	return out, nil
}

func closeSession(s *client.Session) {
	if s.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.Close(ctx)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
