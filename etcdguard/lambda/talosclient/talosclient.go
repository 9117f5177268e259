// Package talosclient implements guard.MachineAPI with the Talos machinery
// client (github.com/siderolabs/talos/pkg/machinery v1.12.0, client/) over
// mTLS with an os:admin talosconfig.
package talosclient

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/siderolabs/talos/pkg/machinery/api/machine"
	"github.com/siderolabs/talos/pkg/machinery/client"
	clientconfig "github.com/siderolabs/talos/pkg/machinery/client/config"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/talos-aws/talos-aws/etcdguard/lambda/guard"
	"github.com/talos-aws/talos-aws/etcdguard/lambda/snapshot"
)

// Client dials each node directly (its own apid on :50000) rather than
// proxying through another node, so an unreachable node fails its own call
// and nothing else.
type Client struct {
	cfg *clientconfig.Config

	mu    sync.Mutex
	conns map[string]*client.Client
}

// New reads a talosconfig (YAML, as `talosctl config` writes it). Its
// endpoints are ignored: every call names its node.
func New(talosconfig []byte) (*Client, error) {
	cfg, err := clientconfig.FromBytes(talosconfig)
	if err != nil {
		return nil, fmt.Errorf("talosconfig: %w", err)
	}
	if cfg.Context == "" || cfg.Contexts[cfg.Context] == nil {
		return nil, fmt.Errorf("talosconfig: no current context")
	}
	return &Client{cfg: cfg, conns: map[string]*client.Client{}}, nil
}

func (c *Client) conn(ctx context.Context, node string) (*client.Client, error) {
	if net.ParseIP(node) == nil {
		return nil, fmt.Errorf("node %q is not an IP address", node)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.conns[node]; ok {
		return cl, nil
	}
	cl, err := client.New(ctx, client.WithConfig(c.cfg), client.WithEndpoints(node))
	if err != nil {
		return nil, fmt.Errorf("talos client for %s: %w", node, err)
	}
	c.conns[node] = cl
	return cl, nil
}

// Close closes every connection.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, cl := range c.conns {
		_ = cl.Close() //nolint:errcheck // closing; nothing to do on error
		delete(c.conns, k)
	}
}

// EtcdMemberList implements guard.MachineAPI.
func (c *Client) EtcdMemberList(ctx context.Context, node string) ([]guard.Member, error) {
	cl, err := c.conn(ctx, node)
	if err != nil {
		return nil, err
	}
	resp, err := cl.EtcdMemberList(ctx, &machine.EtcdMemberListRequest{})
	if err != nil {
		return nil, err
	}
	return Members(resp), nil
}

// Members converts an EtcdMemberList response.
func Members(resp *machine.EtcdMemberListResponse) []guard.Member {
	// One node answered (the client dials one endpoint, no proxying).
	msgs := resp.GetMessages()
	if len(msgs) == 0 {
		return nil
	}
	out := make([]guard.Member, 0, len(msgs[0].GetMembers()))
	for _, m := range msgs[0].GetMembers() {
		out = append(out, guard.Member{ID: m.GetId(), Name: m.GetHostname(), PeerURLs: m.GetPeerUrls(), Learner: m.GetIsLearner()})
	}
	return out
}

// EtcdStatus implements guard.MachineAPI.
func (c *Client) EtcdStatus(ctx context.Context, node string) (guard.Status, error) {
	cl, err := c.conn(ctx, node)
	if err != nil {
		return guard.Status{}, err
	}
	resp, err := cl.EtcdStatus(ctx)
	if err != nil {
		return guard.Status{}, err
	}
	for _, msg := range resp.GetMessages() {
		s := msg.GetMemberStatus()
		return guard.Status{MemberID: s.GetMemberId(), Leader: s.GetLeader(), Learner: s.GetIsLearner(), Errors: s.GetErrors()}, nil
	}
	return guard.Status{}, fmt.Errorf("%s: empty etcd status", node)
}

// EtcdForfeitLeadership implements guard.MachineAPI.
func (c *Client) EtcdForfeitLeadership(ctx context.Context, node string) (string, error) {
	cl, err := c.conn(ctx, node)
	if err != nil {
		return "", err
	}
	resp, err := cl.EtcdForfeitLeadership(ctx, &machine.EtcdForfeitLeadershipRequest{})
	if err != nil {
		return "", err
	}
	for _, msg := range resp.GetMessages() {
		return msg.GetMember(), nil
	}
	return "", nil
}

// EtcdLeaveCluster implements guard.MachineAPI.
func (c *Client) EtcdLeaveCluster(ctx context.Context, node string) error {
	cl, err := c.conn(ctx, node)
	if err != nil {
		return err
	}
	return cl.EtcdLeaveCluster(ctx, &machine.EtcdLeaveClusterRequest{})
}

// EtcdRemoveMemberByID implements guard.MachineAPI. Talos answers NotFound
// for a member that is already gone (v1alpha1_server.go
// EtcdRemoveMemberByID, v1.12.0).
func (c *Client) EtcdRemoveMemberByID(ctx context.Context, node string, id uint64) error {
	cl, err := c.conn(ctx, node)
	if err != nil {
		return err
	}
	err = cl.EtcdRemoveMemberByID(ctx, &machine.EtcdRemoveMemberByIDRequest{MemberId: id})
	if status.Code(err) == codes.NotFound {
		return guard.ErrMemberNotFound
	}
	return err
}

// EtcdSnapshot implements snapshot.Snapshotter: the node's etcd snapshot,
// streamed (machinery v1.12.0 client.go EtcdSnapshot, one node, no
// multiplexing: the connection has that node as its only endpoint).
// The guard's os:admin certificate may call it.
func (c *Client) EtcdSnapshot(ctx context.Context, node string) (io.ReadCloser, error) {
	cl, err := c.conn(ctx, node)
	if err != nil {
		return nil, err
	}
	return cl.EtcdSnapshot(ctx, &machine.EtcdSnapshotRequest{})
}

var (
	_ guard.MachineAPI     = (*Client)(nil)
	_ snapshot.Snapshotter = (*Client)(nil)
)
