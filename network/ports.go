package network

// Ports the load balancers expose. The internal NLB also carries trustd, so
// workers can obtain their certificates through the cluster endpoint even
// when the Talos discovery service is unreachable and Kubernetes is not up. IngressHTTPSNodePort is shared with the
// Cilium ingress controller's NodePort service (addons) and the worker
// security group (compute): the public NLB's 443 listener forwards to it.
const (
	KubeAPIPort          = 6443
	TalosAPIPort         = 50000
	TrustdPort           = 50001
	HTTPSPort            = 443
	IngressHTTPSNodePort = 30443
)
