package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/api"
)

// adminFlags are the flags every admin verb takes.
func adminFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("canopy "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr("CANOPY_SERVER", "http://127.0.0.1:8900"), "a node's API URL (env CANOPY_SERVER)")
	return fs, server
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

var adminClient = &http.Client{Timeout: 10 * time.Minute}

// apiCall sends one request and decodes a JSON answer into out (if not nil).
func apiCall(method, url string, body io.Reader, out any) error {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return err
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e api.ErrorBody
		b, _ := io.ReadAll(resp.Body)
		if json.Unmarshal(b, &e) == nil && e.Error != nil {
			return fmt.Errorf("%s: %s", e.Error.Code, e.Error.Message)
		}
		return fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// snapshotCmd: canopy snapshot save FILE | canopy snapshot restore FILE.
func snapshotCmd(args []string, stdout, stderr io.Writer) error {
	fs, server := adminFlags("snapshot", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: canopy snapshot save FILE | canopy snapshot restore FILE  [--server URL]")
		fs.PrintDefaults()
	}
	if len(args) < 2 {
		fs.Usage()
		return errors.New("snapshot needs save or restore, and a file")
	}
	verb, file := args[0], args[1]
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	base := strings.TrimSuffix(*server, "/")
	switch verb {
	case "save":
		return saveBackup(base, file, stdout)
	case "restore":
		return restoreBackup(base, file, stdout)
	}
	fs.Usage()
	return fmt.Errorf("unknown snapshot verb %q", verb)
}

// saveBackup downloads a consistent backup, writing the file atomically.
func saveBackup(base, file string, stdout io.Writer) error {
	resp, err := adminClient.Get(base + "/v1/snapshot")
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /v1/snapshot: %s", resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".canopy-snapshot-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, resp.Body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved %s: %d bytes at zxid %s\n", file, n, resp.Header.Get("Canopy-Zxid"))
	return nil
}

// restoreBackup uploads a backup to the cluster's leader.
func restoreBackup(base, file string, stdout io.Writer) error {
	var c api.Cluster
	if err := apiCall(http.MethodGet, base+"/v1/cluster", nil, &c); err != nil {
		return err
	}
	if c.Leader == nil || c.Leader.HTTP == "" {
		return errors.New("the cluster has no leader right now; try again")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := apiCall(http.MethodPost, "http://"+c.Leader.HTTP+"/v1/snapshot", bytes.NewReader(data), nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into the cluster (leader %s)\n", file, c.Leader.ID)
	return nil
}

// clusterCmd: canopy cluster status | add ID RAFT HTTP [--nonvoter] | remove ID.
func clusterCmd(args []string, stdout, stderr io.Writer) error {
	fs, server := adminFlags("cluster", stderr)
	nonvoter := fs.Bool("nonvoter", false, "add: a member that replicates but does not vote")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: canopy cluster status | add ID RAFTADDR HTTPADDR [--nonvoter] | remove ID  [--server URL]")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return errors.New("cluster needs status, add or remove")
	}
	verb, rest := args[0], args[1:]
	var pos []string
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		pos, rest = append(pos, rest[0]), rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	base := strings.TrimSuffix(*server, "/")
	switch {
	case verb == "status" && len(pos) == 0:
		var c api.Cluster
		if err := apiCall(http.MethodGet, base+"/v1/cluster", nil, &c); err != nil {
			return err
		}
		leader := "(none: election in progress)"
		if c.Leader != nil {
			leader = c.Leader.ID
		}
		fmt.Fprintf(stdout, "self %s, leader %s, term %d, commit %d, applied %d\n", c.Self, leader, c.Term, c.CommitIndex, c.AppliedIndex)
		for _, m := range c.Members {
			role := "voter"
			if !m.Voter {
				role = "nonvoter"
			}
			fmt.Fprintf(stdout, "  %-10s %-8s raft %-21s http %s\n", m.ID, role, m.Raft, m.HTTP)
		}
		return nil
	case verb == "add" && len(pos) == 3:
		body, _ := json.Marshal(api.MemberRequest{ID: pos[0], Raft: pos[1], HTTP: pos[2], Voter: !*nonvoter})
		if err := apiCall(http.MethodPost, base+"/v1/cluster/members", bytes.NewReader(body), nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s\n", pos[0])
		return nil
	case verb == "remove" && len(pos) == 1:
		if err := apiCall(http.MethodDelete, base+"/v1/cluster/members/"+pos[0], nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s\n", pos[0])
		return nil
	}
	fs.Usage()
	return fmt.Errorf("bad cluster command %q", strings.Join(args, " "))
}
