package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/talos-aws/talos-aws/internal/tagkeys"
)

// SelectAZs picks the zones to use from those the region offers this
// account: the explicit list when set (each must be offered), otherwise the
// first azCount offered zones in name order.
func SelectAZs(c *Config, available []string) ([]string, error) {
	avail := append([]string(nil), available...)
	sort.Strings(avail)
	var errs ErrorList
	if len(c.AvailabilityZones) > 0 {
		for i, az := range c.AvailabilityZones {
			if !contains(avail, az) {
				errs.NotSupported(fmt.Sprintf("availabilityZones[%d]", i), az, avail)
			}
		}
		return c.AvailabilityZones, errs.Err()
	}
	if c.AZCount > len(avail) {
		errs.Invalid("azCount", c.AZCount, fmt.Sprintf("%s offers %d zones to this account: %s", c.Region, len(avail), strings.Join(avail, ", ")))
		return nil, errs.Err()
	}
	return avail[:c.AZCount], nil
}

// ClusterTags are the tags every AWS resource of the stack carries: the
// user's extra tags, then the cluster tag the AWS cloud controller manager
// uses to find the cluster's resources.
func (c *Config) ClusterTags() map[string]string {
	t := map[string]string{}
	for k, v := range c.Tags {
		t[k] = v
	}
	t[tagkeys.Cluster(c.ClusterName)] = "owned"
	return t
}

// ControlPlaneKey is the UserData key of the control plane; worker pools
// are keyed by their names. A pool name starts with a letter, so no pool
// (not even one named "controlplane") can take the control plane's key.
const ControlPlaneKey = "@controlplane"
