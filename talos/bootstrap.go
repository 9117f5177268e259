package talos

import (
	"fmt"
	"sort"

	"sigs.k8s.io/yaml"
)

// Instance is a running control-plane instance.
type Instance struct {
	ID        string
	PrivateIP string
}

// ZipInstances pairs the parallel id/IP lists of an EC2 instances lookup.
func ZipInstances(ids, ips []string) []Instance {
	n := min(len(ids), len(ips))
	out := make([]Instance, n)
	for i := range n {
		out[i] = Instance{ID: ids[i], PrivateIP: ips[i]} //nolint:gosec // i < min(len(ids), len(ips))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// PickBootstrapNode chooses the node etcd is bootstrapped on: the running
// control-plane instance with the lowest instance id, so every evaluation
// of the same set picks the same node. With no instance it returns "" and
// never indexes: bootstrap ignores later changes to its node, and a run while
// every control-plane node is being replaced must still be able to proceed.
func PickBootstrapNode(instances []Instance) string {
	if len(instances) == 0 {
		return ""
	}
	return instances[0].PrivateIP
}

// NodeIPs lists the private IPs in instance-id order.
func NodeIPs(instances []Instance) []string {
	out := make([]string, len(instances))
	for i, in := range instances {
		out[i] = in.PrivateIP
	}
	return out
}

// RewriteKubeconfigServer points every cluster of a kubeconfig at server.
// The provider returns the cluster endpoint (the internal NLB), which is not
// reachable from users' machines; the public NLB carries the same SANs.
func RewriteKubeconfigServer(raw, server string) (string, error) {
	var kc map[string]any
	if err := yaml.Unmarshal([]byte(raw), &kc); err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	clusters, _ := kc["clusters"].([]any)
	if len(clusters) == 0 {
		return "", fmt.Errorf("kubeconfig: no clusters")
	}
	for _, c := range clusters {
		entry, ok := c.(map[string]any)
		if !ok {
			return "", fmt.Errorf("kubeconfig: malformed cluster entry")
		}
		cluster, ok := entry["cluster"].(map[string]any)
		if !ok {
			return "", fmt.Errorf("kubeconfig: cluster entry without cluster")
		}
		cluster["server"] = server
	}
	out, err := yaml.Marshal(kc)
	if err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	return string(out), nil
}
