package drain

import (
	"strings"

	"github.com/siderolabs/talos/pkg/machinery/resources/network"
)

// TalosNodeName is the Kubernetes node name Talos v1.12 gives a node whose
// platform hostname (on AWS: IMDS "hostname", the instance's private DNS
// name; platform/aws/aws.go ParseMetadata) is imdsHostname. The hostname is
// split into host and domain (HostnameSpecSpec.ParseFQDN); with
// machine.kubelet.registerWithFQDN the node name is the FQDN, otherwise the
// short host (controllers/k8s/nodename.go), lowercased with anything but
// [a-z0-9.-] dropped (controllers/k8s/internal/nodename, mirrored here:
// the package is internal).
func TalosNodeName(imdsHostname string, registerWithFQDN bool) (string, error) {
	var spec network.HostnameSpecSpec
	if err := spec.ParseFQDN(imdsHostname); err != nil {
		return "", err
	}
	status := network.HostnameStatusSpec{Hostname: spec.Hostname, Domainname: spec.Domainname}
	name := status.Hostname
	if registerWithFQDN {
		name = status.FQDN()
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		case r == '_':
			return '-'
		default:
			return -1
		}
	}, name)
	return strings.Trim(name, "-."), nil
}
