package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/ctxtime"
)

// Cluster describes the cluster as the answering server sees it.
func (c *Client) Cluster(ctx context.Context) (api.Cluster, error) {
	var out api.Cluster
	err := c.call(ctx, &request{method: http.MethodGet, route: "/v1/cluster", idempotent: true}, &out)
	return out, err
}

// AddMember adds a node to the cluster (as a voter or not).
func (c *Client) AddMember(ctx context.Context, m api.MemberRequest) error {
	body, _ := json.Marshal(m)
	return c.call(ctx, &request{method: http.MethodPost, route: "/v1/cluster/members", body: body}, nil)
}

// RemoveMember removes a node from the cluster, the leader included.
func (c *Client) RemoveMember(ctx context.Context, id string) error {
	return c.call(ctx, &request{method: http.MethodDelete, route: "/v1/cluster/members/" + id}, nil)
}

// Status is the answering server's GET /v1/status (ZooKeeper's mntr).
func (c *Client) Status(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	err := c.call(ctx, &request{method: http.MethodGet, route: "/v1/status", idempotent: true}, &out)
	return out, err
}

// Backup streams a consistent backup of the tree into w and returns the
// zxid it reflects.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := c.do(ctx, &request{method: http.MethodGet, route: "/v1/snapshot", idempotent: true})
	if err != nil {
		return 0, err
	}
	if _, err := w.Write(resp.body); err != nil {
		return 0, fmt.Errorf("canopy: writing the backup: %w", err)
	}
	return resp.zxid, nil
}

// Restore replaces the whole tree (and its sessions) with a backup made by
// Backup, through the cluster's leader. Meant for a fresh cluster: what
// it held before is gone.
func (c *Client) Restore(ctx context.Context, backup []byte) error {
	ctx, cancel := c.bounded(ctx)
	defer cancel()
	for {
		info, err := c.Cluster(ctx)
		if err != nil {
			return err
		}
		if info.Leader != nil && info.Leader.HTTP != "" {
			scheme := "http://"
			if strings.HasPrefix(c.Server(), "https://") {
				scheme = "https://"
			}
			_, _, err = c.try(ctx, scheme+info.Leader.HTTP, &request{method: http.MethodPost, route: "/v1/snapshot", body: backup})
			return err
		}
		// An election, or a leader whose address is not replicated yet.
		if !ctxtime.Sleep(ctx, 50*time.Millisecond) {
			return &api.Error{Code: api.CodeUnavailable, Message: "the cluster has no leader; try again"}
		}
	}
}
