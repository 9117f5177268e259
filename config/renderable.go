package config

import (
	"fmt"
	"slices"

	"github.com/talos-aws/talos-aws/images"
)

// Renderable returns a copy of c that Talos can render despite errs: every
// key with an error that the machine configurations depend on is replaced by
// its default, and a pool's bad name, labels, taints or patches are left
// out. Talos then reports its own problems with the other patches, so a
// configuration error does not hide them.
func (c *Config) Renderable(errs ErrorList) *Config {
	if len(errs) == 0 {
		return c
	}
	r := *c
	def := func(key string) string {
		switch key { // their declared default is empty: resolved in ParseDeployed
		case "talosVersion":
			return DefaultTalosVersion
		case "kubernetesVersion":
			return DefaultKubernetesVersion
		}
		s, _ := schemaDefault(key).(string)
		return s
	}
	for _, k := range []struct {
		key string
		dst *string
	}{
		{"clusterName", &r.ClusterName}, {"region", &r.Region}, {"podCidr", &r.PodCIDR}, {"serviceCidr", &r.ServiceCIDR},
		{"talosVersion", &r.TalosVersion}, {"kubernetesVersion", &r.KubernetesVersion},
	} {
		if errs.Has(k.key) {
			*k.dst = def(k.key)
		}
	}
	if errs.Has("addons") {
		r.Addons = DefaultAddons()
	}
	if errs.Has("controlPlane") {
		r.ControlPlane = DefaultControlPlane()
	}
	if errs.Has("image") {
		// An invalid image renders as none: its companion patches and
		// installer are the only parts of a configuration it decides.
		r.Image = images.Spec{}
	}
	r.WorkerPools = nil
	if errs.Has("workerPools") && c.Unreadable("workerPools") {
		return &r
	}
	for i, p := range c.WorkerPools {
		path := fmt.Sprintf("workerPools[%d]", i)
		if c.Unreadable(path) {
			r.WorkerPools = append(r.WorkerPools, p) // skipped by the renderer
			continue
		}
		if errs.Has(path + ".name") {
			p.Name = fmt.Sprintf("pool-%d", i)
		}
		if errs.Has(path + ".labels") {
			p.Labels = nil
		}
		if errs.Has(path + ".taints") {
			p.Taints = nil
		}
		if errs.Has(path + ".image") {
			p.Image = &images.Spec{}
		}
		var patches []string
		var indices []int
		for j, patch := range p.ConfigPatches {
			if !errs.Has(fmt.Sprintf("%s.configPatches[%d]", path, j)) {
				patches = append(patches, patch)
				indices = append(indices, j)
			}
		}
		p.ConfigPatches, p.PatchIndices = slices.Clip(patches), indices
		r.WorkerPools = append(r.WorkerPools, p)
	}
	return &r
}
