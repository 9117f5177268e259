// Package talosclient implements guard.MachineAPI with the Talos machinery
// client (github.com/siderolabs/talos/pkg/machinery v1.12.0, client/) over
// mTLS with an os:admin talosconfig.
package talosclient

import (
	"context"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"

	"github.com/cosi-project/runtime/pkg/safe"
	"github.com/siderolabs/talos/pkg/machinery/api/machine"
	"github.com/siderolabs/talos/pkg/machinery/client"
	clientconfig "github.com/siderolabs/talos/pkg/machinery/client/config"
	"github.com/siderolabs/talos/pkg/machinery/resources/k8s"
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
		return guard.Status{MemberID: s.GetMemberId(), Leader: s.GetLeader(), Learner: s.GetIsLearner(), Errors: s.GetErrors(),
			RaftTerm: s.GetRaftTerm(), RaftIndex: s.GetRaftIndex(), RaftAppliedIndex: s.GetRaftAppliedIndex()}, nil
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

// ControlPlaneStatus implements guard.MachineAPI from the node's
// StaticPodStatus resources (namespace k8s): Talos copies each static pod's
// status from the kubelet into one, with the ID "kube-system/<pod name>"
// (machined KubeletStaticPodController, refreshPodStatus). It needs no
// Kubernetes credentials and works while the API server is down.
func (c *Client) ControlPlaneStatus(ctx context.Context, node string) (string, error) {
	cl, err := c.conn(ctx, node)
	if err != nil {
		return "", err
	}
	list, err := safe.StateListAll[*k8s.StaticPodStatus](ctx, cl.COSI)
	if err != nil {
		return "", err
	}
	pods := map[string]map[string]any{}
	for r := range list.All() {
		pods[r.Metadata().ID()] = r.TypedSpec().PodStatus
	}
	return StaticPodsReady(pods), nil
}

// ControlPlaneComponents are the static pods a control-plane node must run
// ready before its launch completes.
var ControlPlaneComponents = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// StaticPodsReady says which of ControlPlaneComponents is not ready in
// statuses (ID "kube-system/<component>-<node>" to a Kubernetes PodStatus
// as JSON fields), or "" when all are: a pod is ready when its condition
// Ready is "True".
func StaticPodsReady(statuses map[string]map[string]any) string {
	ids := make([]string, 0, len(statuses))
	for id := range statuses {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var not []string
	for _, comp := range ControlPlaneComponents {
		found := false
		for _, id := range ids {
			if !strings.HasPrefix(id, "kube-system/"+comp+"-") {
				continue
			}
			found = true
			if why := podNotReady(statuses[id]); why != "" {
				not = append(not, comp+": "+why)
			}
			break
		}
		if !found {
			not = append(not, comp+": no static pod status yet")
		}
	}
	return strings.Join(not, "; ")
}

func podNotReady(st map[string]any) string {
	ready := "missing"
	conds, _ := st["conditions"].([]any)
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			ready, _ = m["status"].(string)
		}
	}
	if ready == "True" {
		return ""
	}
	why := "Ready is " + ready
	css, _ := st["containerStatuses"].([]any)
	for _, c := range css {
		m, _ := c.(map[string]any)
		state, _ := m["state"].(map[string]any)
		for _, k := range []string{"waiting", "terminated"} {
			if w, ok := state[k].(map[string]any); ok {
				if r, _ := w["reason"].(string); r != "" {
					why += " (" + r + ")"
				}
			}
		}
	}
	return why
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
