// Package ports names every well-known port the stack opens, forwards or
// configures, in one place: the load balancers, the node security groups,
// the machine configurations and the add-ons' values all read them here.
package ports

// Load balancer listeners and targets. The internal NLB also carries
// trustd, so workers can obtain their certificates through the cluster
// endpoint even when the Talos discovery service is unreachable and
// Kubernetes is not up. IngressHTTPS is the Cilium ingress controller's
// NodePort (addons), which the public NLB's 443 listener forwards to and
// the worker security group admits (compute).
const (
	KubeAPI      = 6443
	TalosAPI     = 50000 // apid
	Trustd       = 50001
	HTTPS        = 443
	IngressHTTPS = 30443
	IngressHTTP  = 30080
)

// Node-to-node ports (Talos "network connectivity", Kubernetes, Cilium).
const (
	EtcdClient   = 2379
	EtcdPeer     = 2380
	Kubelet      = 10250
	VXLAN        = 8472
	CiliumHealth = 4240
	Hubble       = 4244
	// KubePrism is Talos' node-local API server load balancer, which
	// Cilium's kube-proxy replacement talks to (localhost only).
	KubePrism = 7445
)
