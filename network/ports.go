package network

// Ports the load balancers expose. IngressHTTPSNodePort is shared with the
// Cilium ingress controller's NodePort service (addons) and the worker
// security group (compute): the public NLB's 443 listener forwards to it.
const (
	KubeAPIPort          = 6443
	TalosAPIPort         = 50000
	HTTPSPort            = 443
	IngressHTTPSNodePort = 30443
)
