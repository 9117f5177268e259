package talos

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	yamlv3 "gopkg.in/yaml.v3"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/config/configtest"
)

// leaves lists every leaf (scalar or list) of a decoded YAML document with
// its path.
func leaves(prefix []string, v any, out map[string][]string, values map[string]any) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		key := strings.Join(prefix, "\x00")
		out[key] = prefix
		values[key] = v
		return
	}
	for k, child := range m {
		leaves(append(append([]string(nil), prefix...), k), child, out, values)
	}
}

// nest builds the patch that sets only path to value.
func nest(path []string, value any) string {
	v := value
	for i := len(path) - 1; i >= 0; i-- {
		v = map[string]any{path[i]: v}
	}
	b, err := yamlv3.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// refusal parses a stack whose second pool, with a label and a taint,
// carries patch, and returns the errors about that patch.
func refusal(t *testing.T, patch string) string {
	t.Helper()
	raw, err := json.Marshal(patch)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = config.Parse(config.MapSource(map[string]string{"adminCidrs": configtest.AdminCIDRs, "workerPools": `[
		{"name":"general","instanceTypes":["m7i.large"]},
		{"name":"gpu","instanceTypes":["g5.xlarge"],"image":{"extensions":["siderolabs/nvidia-open-gpu-kernel-modules-lts","siderolabs/nvidia-container-toolkit-lts"]},"labels":{"team":"ml"},"taints":[{"key":"gpu","effect":"NoSchedule"}],
		 "configPatches":[` + string(raw) + `]}]`}))
	if err == nil {
		return ""
	}
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if strings.Contains(line, "workerPools[1].configPatches[0]") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// The stack's own patches, replayed one field at a time as a pool's
// configPatches (with the very values the stack sets), are each refused
// by config's ownership table, except the lists Talos appends a patch to
// and what the control plane alone gets: the table is what the stack sets.
func TestUserPatchesCannotSetWhatTheStackSets(t *testing.T) {
	cfg := configtest.Parse(t, map[string]string{"workerPools": `[{"name":"general","instanceTypes":["m7i.large"]},
		{"name":"gpu","instanceTypes":["g5.xlarge"],"image":{"extensions":["siderolabs/nvidia-open-gpu-kernel-modules-lts","siderolabs/nvidia-container-toolkit-lts"]},"labels":{"team":"ml"},"taints":[{"key":"gpu","effect":"NoSchedule"}]}]`})
	in := PatchInputFor(cfg, []string{intDNS, pubDNS})
	cp, err := ControlPlanePatches(in)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := PoolPatches(cfg.WorkerPools[1])
	if err != nil {
		t.Fatal(err)
	}
	appended := map[string]bool{"machine.certSANs": true, "cluster.apiServer.certSANs": true, "machine.time.servers": true}
	paths, values := map[string][]string{}, map[string]any{}
	for _, p := range append(cp, pool...) {
		var doc map[string]any
		if err := yamlv3.Unmarshal([]byte(p), &doc); err != nil {
			t.Fatal(err)
		}
		leaves(nil, doc, paths, values)
	}
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) < 15 {
		t.Fatalf("only %d fields in the stack's patches: %q", len(keys), keys)
	}
	for _, k := range keys {
		path := paths[k]
		name := strings.Join(path, ".")
		t.Run(name, func(t *testing.T) {
			got := refusal(t, nest(path, values[k]))
			switch {
			case appended[name] || strings.HasPrefix(name, "machine.features.kubernetesTalosAPIAccess."):
				if got != "" {
					t.Errorf("refused, though Talos appends it or only the control plane has it:\n%s", got)
				}
			case !strings.Contains(got, "Forbidden: sets "):
				t.Errorf("not refused:\n%s\n%s", nest(path, values[k]), got)
			}
		})
	}
}

// The generator's own fields (role, cluster identity, endpoint, secrets,
// versions, install), taken from real rendered configurations, are refused
// in a pool's patch too.
func TestUserPatchesCannotSetWhatTheGeneratorSets(t *testing.T) {
	cfg := configtest.Parse(t, nil)
	secrets, err := NewSecretsBundle(cfg.TalosVersion)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[machine.Type]map[string]any{}
	for _, typ := range []machine.Type{machine.TypeWorker, machine.TypeControlPlane} {
		b, err := Render(RenderInput{ClusterName: cfg.ClusterName, Endpoint: ClusterEndpoint(intDNS), KubernetesVersion: cfg.KubernetesVersion,
			TalosVersion: cfg.TalosVersion, Type: typ, Secrets: secrets})
		if err != nil {
			t.Fatal(err)
		}
		docs[typ] = v1alpha1(t, b)
	}
	for _, path := range []string{
		"machine.type", "machine.token", "machine.ca", "machine.kubelet.image", "machine.install.disk", "machine.install.image",
		"cluster.id", "cluster.secret", "cluster.token", "cluster.ca", "cluster.clusterName", "cluster.controlPlane.endpoint",
		"cluster.aggregatorCA", "cluster.serviceAccount", "cluster.etcd.ca", "cluster.secretboxEncryptionSecret",
		"cluster.apiServer.image", "cluster.controllerManager.image", "cluster.scheduler.image",
	} {
		t.Run(path, func(t *testing.T) {
			value := lookup(docs[machine.TypeWorker], path)
			if value == nil {
				value = lookup(docs[machine.TypeControlPlane], path)
			}
			if value == nil {
				t.Fatalf("%s is in neither rendered configuration", path)
			}
			if got := refusal(t, nest(strings.Split(path, "."), value)); !strings.Contains(got, "Forbidden: sets "+path+", which the stack owns") {
				t.Errorf("not refused:\n%s", got)
			}
		})
	}
}

func lookup(doc map[string]any, path string) any {
	var cur any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}
