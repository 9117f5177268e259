package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// ownedField is a field of the Talos v1alpha1 machine configuration that
// the stack sets and relies on: a pool's configPatches must not set it.
type ownedField struct {
	// path in the v1alpha1 document; poolLabels stands for each of the
	// pool's label keys.
	path []string
	// owner is the config key the field follows, poolKey standing for
	// workerPools[i]; "" when the stack sets it on its own.
	owner string
	// setBy: owner holds the value itself, so the message says to set it
	// there; otherwise owner is the add-on that relies on the field.
	setBy bool
	why   string
}

// Placeholders of ownedFields, expanded per pool by ownedFieldsFor.
const (
	poolKey    = "{pool}"
	poolLabels = "{labels}"
)

const secretsWhy = "the cluster's secrets, tokens and certificate authorities come from the stack's machine secrets (talos:machine:Secrets); a node with others cannot join the cluster or trust it" //nolint:gosec // G101: an explanation, no credential

func field(path string, owner, why string) ownedField {
	return ownedField{path: strings.Split(path, "."), owner: owner, why: why}
}

// setting is a field whose value a config key holds.
func setting(path string, owner, why string) ownedField {
	f := field(path, owner, why)
	f.setBy = true
	return f
}

// ownedFields is every field the stack sets in a machine configuration
// (talos.ClusterPatches and talos.PoolPatches, and the provider's
// generator options that talos.Render passes: cluster name,
// endpoint, machine type, secrets, Kubernetes version, install disk and
// image), with the config key it follows. Left out on purpose:
// machine.certSANs, cluster.apiServer.certSANs and machine.time.servers,
// lists Talos appends a patch's entries to, so the stack's entries stay
// (machinery v1.12.0 config/merge: slices concatenate unless tagged
// merge:"replace", as podSubnets and serviceSubnets are);
// cluster.discovery, which the generator turns on but nothing here relies
// on (workers join through trustd); cluster.network.dnsDomain, the
// generator's default, which the add-ons do not depend on (they use
// relative names such as kubernetes.default.svc); and
// machine.features.kubernetesTalosAPIAccess, set on the control plane
// only, while patches are a worker pool's.
var ownedFields = []ownedField{
	field("machine.type", "", "the stack renders each role's configuration and a pool's nodes are workers; a pool node turned control plane would join etcd outside the control-plane group"),
	setting("cluster.clusterName", "clusterName", "the cluster name is also every AWS name and the kubernetes.io/cluster tag the cloud controller manager finds the cluster's resources by"),
	field("cluster.controlPlane.endpoint", "", "nodes reach the API server through the internal load balancer the stack creates and names in every certificate"),
	field("cluster.network.cni", "addons.cilium", "Cilium is the CNI and Talos must install none; to run another CNI set addons.cilium.enabled to false and install it yourself"),
	setting("cluster.network.podSubnets", "podCidr", "the pod range is checked against the VPC, the service range and the node count (Kubernetes gives every node a /24 of it)"),
	setting("cluster.network.serviceSubnets", "serviceCidr", "the service range is checked against the VPC and the pod range and against the API server's limit of a /12"),
	field("cluster.proxy.disabled", "addons.cilium", "Cilium replaces kube-proxy; both together break Service routing"),
	field("cluster.externalCloudProvider.enabled", "addons.awsCloudControllerManager", "the AWS cloud controller manager initialises every node (provider ID, addresses, zone labels), so the kubelet must run with --cloud-provider=external"),
	field("machine.kubelet.registerWithFQDN", "addons.awsCloudControllerManager", "node names must be the EC2 private DNS names the AWS cloud controller manager looks instances up by"),
	{path: []string{"machine", "kubelet", "extraArgs", "rotate-server-certificates"}, owner: "addons.csrApprover",
		why: "kubelets request serving certificates that the CSR approver approves and metrics-server verifies"},
	field("machine.features.kubePrism", "addons.cilium", "Cilium reaches the API server through KubePrism on its fixed port"),
	field("machine.features.hostDNS.enabled", "", "the stack turns host DNS on without forwarding kube-dns to it"),
	field("machine.features.hostDNS.forwardKubeDNSToHost", "", "with Cilium's BPF masquerading, pods' DNS forwarded to the host resolver breaks (siderolabs/talos#9200)"),
	setting("machine.kubelet.image", "kubernetesVersion", "the kubelet's version follows kubernetesVersion, which is checked against talosVersion"),
	setting("cluster.apiServer.image", "kubernetesVersion", "the control plane's version follows kubernetesVersion, which is checked against talosVersion"),
	setting("cluster.controllerManager.image", "kubernetesVersion", "the control plane's version follows kubernetesVersion, which is checked against talosVersion"),
	setting("cluster.scheduler.image", "kubernetesVersion", "the control plane's version follows kubernetesVersion, which is checked against talosVersion"),
	setting("machine.install.image", "talosVersion", "nodes boot the Talos AMI of talosVersion and, from Talos 1.13, the installer image follows it (1.12 stacks keep the installer the Talos provider wrote, v1.12.0, so their nodes do not roll); with an image key, it is the Image Factory's installer of that image, so an upgrade keeps its extensions"),
	field("machine.install.disk", "", "nodes boot the Talos AMI from the EBS root volume the stack attaches"),
	field("machine.ca", "", secretsWhy),
	field("machine.token", "", secretsWhy),
	field("cluster.id", "", secretsWhy),
	field("cluster.secret", "", secretsWhy),
	field("cluster.token", "", secretsWhy),
	field("cluster.ca", "", secretsWhy),
	field("cluster.aggregatorCA", "", secretsWhy),
	field("cluster.serviceAccount", "", secretsWhy),
	field("cluster.etcd.ca", "", secretsWhy),
	field("cluster.secretboxEncryptionSecret", "", secretsWhy),
	field("cluster.aescbcEncryptionSecret", "", secretsWhy),
	{path: []string{"machine", "nodeLabels", PoolLabel}, owner: poolKey + ".name", setBy: true,
		why: "the pool label carries the pool's name, and the pool's Auto Scaling group tells the cluster autoscaler so"},
	{path: []string{"machine", "nodeLabels", poolLabels}, owner: poolKey + ".labels", setBy: true,
		why: "the pool's labels are checked against the NodeRestriction admission plugin and copied to the cluster autoscaler's node-template tags"},
	setting("machine.kubelet.extraConfig.registerWithTaints", poolKey+".taints",
		"the pool's taints are registered by the kubelet, copied to the cluster autoscaler's node-template tags and checked for a pool that can run the add-ons"),
	setting("machine.nodeTaints", poolKey+".taints",
		"Talos applies nodeTaints with the kubelet's credentials and the NodeRestriction admission plugin refuses that update, dropping the node labels with it; the stack registers taints through the kubelet instead"),
}

// ownedFieldsFor is ownedFields for the pool at poolPath (workerPools[i]):
// its label keys and its key filled in.
func ownedFieldsFor(poolPath string, pool WorkerPool) []ownedField {
	var out []ownedField
	for _, f := range ownedFields {
		f.owner = strings.ReplaceAll(f.owner, poolKey, poolPath)
		if i := slices.Index(f.path, poolLabels); i >= 0 {
			for _, k := range sortedKeys(pool.Labels) {
				if k == PoolLabel {
					continue // its own row; refused in labels anyway
				}
				g := f
				g.path = slices.Clone(f.path)
				g.path[i] = k
				g.owner = fmt.Sprintf("%s.%s", f.owner, k)
				out = append(out, g)
			}
			continue
		}
		out = append(out, f)
	}
	return out
}

// ownedSet is one owned field a patch changes: how, and through which of
// the patch's paths (the field itself, below it, or an object holding it).
type ownedSet struct {
	field ownedField
	verb  string   // "sets" or "deletes"
	at    []string // the patch's path
}

// message is the error detail for s, e.g. "sets cluster.network.cni,
// which the stack owns (addons.cilium): ...".
func (s ownedSet) message() string {
	var b strings.Builder
	b.WriteString(s.verb + " " + showPath(s.at))
	if len(s.at) < len(s.field.path) {
		b.WriteString(" and with it " + showPath(s.field.path))
	}
	b.WriteString(", which the stack owns")
	if s.field.owner != "" {
		fmt.Fprintf(&b, " (%s)", s.field.owner)
	}
	b.WriteString(": " + s.field.why)
	if s.field.setBy {
		fmt.Fprintf(&b, "; set %s instead and remove it from the patch", s.field.owner)
	} else {
		b.WriteString("; remove it from the patch")
	}
	return b.String()
}

// showPath writes a machine-configuration path as Talos' docs do
// (cluster.network.cni), quoting keys that hold dots or slashes
// (machine.nodeLabels["node.talos-aws.io/pool"]).
func showPath(path []string) string {
	var b strings.Builder
	for i, p := range path {
		switch {
		case strings.ContainsAny(p, "./"):
			fmt.Fprintf(&b, "[%q]", p)
		case i > 0:
			b.WriteString("." + p)
		default:
			b.WriteString(p)
		}
	}
	return b.String()
}

// ownedFieldsSetBy decodes a Talos patch into generic YAML and returns the
// fields of owned it sets, in table order. A strategic merge patch sets a
// field when it has a value at its path or below it, whatever the value (a
// null or the stack's own value too), or deletes it with "$patch: delete"
// on an object holding it; documents with a kind (HostnameConfig and the
// like) are not the v1alpha1 document and are skipped. A JSON6902 patch
// sets a field when an operation's path (or a move's from) is the field,
// below it or above it.
func ownedFieldsSetBy(patch string, owned []ownedField) ([]ownedSet, error) {
	dec := yaml.NewDecoder(bytes.NewReader([]byte(patch)))
	var out []ownedSet
	for {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch d := doc.(type) {
		case []any:
			out = append(out, json6902Sets(d, owned)...)
		case map[string]any:
			if _, ok := d["kind"]; ok {
				continue
			}
			for _, f := range owned {
				if s, ok := strategicSets(d, f); ok {
					out = append(out, s)
				}
			}
		}
	}
}

// strategicSets walks f's path down a strategic merge patch document.
func strategicSets(doc map[string]any, f ownedField) (ownedSet, bool) {
	m := doc
	for i, key := range f.path {
		if m["$patch"] == "delete" {
			return ownedSet{field: f, verb: "deletes", at: f.path[:i]}, i > 0
		}
		v, ok := m[key]
		if !ok {
			return ownedSet{}, false
		}
		if i == len(f.path)-1 {
			verb := "sets"
			if leaf, _ := v.(map[string]any); leaf["$patch"] == "delete" {
				verb = "deletes"
			}
			return ownedSet{field: f, verb: verb, at: f.path}, true
		}
		if m, ok = v.(map[string]any); !ok {
			// null changes nothing; anything else is not a Talos
			// configuration and LoadPatch has refused it.
			return ownedSet{}, false
		}
	}
	return ownedSet{}, false
}

// json6902Sets checks each operation of a JSON Patch against owned.
func json6902Sets(ops []any, owned []ownedField) []ownedSet {
	var out []ownedSet
	for _, f := range owned {
		for _, o := range ops {
			op, _ := o.(map[string]any)
			kind, _ := op["op"].(string)
			targets := map[string]string{}
			switch kind {
			case "add", "replace", "copy":
				targets["path"] = "sets"
			case "remove":
				targets["path"] = "deletes"
			case "move":
				targets["path"], targets["from"] = "sets", "deletes"
			}
			found := false
			for _, key := range []string{"path", "from"} {
				verb, ok := targets[key]
				ptr, _ := op[key].(string)
				if !ok || ptr == "" {
					continue
				}
				at := pointerPath(ptr)
				n := min(len(at), len(f.path))
				if slices.Equal(at[:n], f.path[:n]) {
					if len(at) > len(f.path) {
						at = f.path // below the field: the field is what it changes
					}
					out = append(out, ownedSet{field: f, verb: verb, at: at})
					found = true
					break
				}
			}
			if found {
				break // one error per field and patch
			}
		}
	}
	return out
}

// pointerPath splits a JSON pointer (RFC 6901) into keys.
func pointerPath(ptr string) []string {
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts
}

// validateOwnedFields refuses a patch, at path, for each field the stack
// owns that it sets.
func validateOwnedFields(path, patch string, owned []ownedField, errs *ErrorList) {
	sets, err := ownedFieldsSetBy(patch, owned)
	if err != nil {
		return // LoadPatch read it; a YAML the generic decoder cannot is not ours to judge
	}
	for _, s := range sets {
		errs.Forbidden(path, s.message())
	}
}
