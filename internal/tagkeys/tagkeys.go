// Package tagkeys names every AWS tag key the stack sets or looks resources
// up by, in one place.
package tagkeys

// ClusterPrefix prefixes the cluster tag, kubernetes.io/cluster/<name>,
// which the cloud controller manager and the EBS CSI driver find the
// cluster's resources by (value "owned").
const ClusterPrefix = "kubernetes.io/cluster/"

// Cluster is the cluster tag's key.
func Cluster(name string) string { return ClusterPrefix + name }

// Role ("control-plane" or "worker") is on every node's instance, volume
// and network interface.
const Role = "talos-aws/role"

// Pool names a worker's pool. Only worker launch templates set it, so the
// termination handler takes it as its "managed" tag: it drains instances
// that carry it and drops events for any other (control-plane nodes
// included).
const Pool = "talos-aws/pool"

// CIAccess tags the CI access security group with the cluster name, so
// workflows find it (even during the first `up`, before any stack output
// exists) and an IAM policy can allow changes to that group alone.
const CIAccess = "talos-aws-ci-access"

// Guarded ("true") marks every security group the stack makes but the
// workers': the control plane's and the etcd guard's (the guard's path to
// the nodes), both load balancers' and the CI access group. The
// control-plane role, whose cloud controller manager changes this
// cluster's groups, is denied every change to them and to their tags; no
// role of the stack may tag an existing group, so none can lift it. No
// "/": it is also kept off instance tags, where metadata tags forbid it.
const Guarded = "talos-aws-guarded"

// AddedTags is, on each subnet of an existing VPC, the keys of the tags
// this cluster's stack added there, space-separated. It is created before
// them, so what a failed `up` added is known to the next run, which that
// run's stack outputs (written only at the end) are not.
func AddedTags(cluster string) string { return "talos-aws/" + cluster + "/added-tags" }
