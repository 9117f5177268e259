package program

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	talosconfig "github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/testkit"
)

// userData decodes a launch template's (secret, base64) user data.
func userData(t *testing.T, lt testkit.Resource) []byte {
	t.Helper()
	ud := lt.Inputs["userData"]
	if ud.IsSecret() {
		ud = ud.SecretValue().Element
	}
	raw, err := base64.StdEncoding.DecodeString(ud.StringValue())
	if err != nil {
		t.Fatalf("%s: %v", lt.Name, err)
	}
	return raw
}

// machineConfig loads a launch template's user data as Talos does.
func machineConfig(t *testing.T, lt testkit.Resource) talosconfig.Provider {
	t.Helper()
	p, err := configloader.NewFromBytes(userData(t, lt))
	if err != nil {
		t.Fatalf("%s: %v", lt.Name, err)
	}
	return p
}

// machineType returns the Talos machine type a launch template boots.
func machineType(t *testing.T, lt testkit.Resource) string {
	t.Helper()
	return machineConfig(t, lt).Machine().Type().String()
}

// A pool whose name looks like the control plane's never changes what the
// control plane boots with, and no two resources share a type and name.
func TestPoolNamesLikeTheControlPlane(t *testing.T) {
	for _, name := range []string{"control", "controlplanes", "cp1", "master", "ctrl-plane", "worker2"} {
		t.Run(name, func(t *testing.T) {
			m := &testkit.Mocks{}
			cfg := map[string]string{"adminCidrs": admin,
				"workerPools": `[{"name":"` + name + `","instanceTypes":["m7i.large"]},{"name":"general","instanceTypes":["m7i.large"]}]`}
			if _, err := testkit.Run(t, m, cfg, program); err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, r := range m.Resources {
				if seen[r.Type+" "+r.Name] {
					t.Errorf("two %s named %s", r.Type, r.Name)
				}
				seen[r.Type+" "+r.Name] = true
			}
			cp := one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", "compute-cp")
			if got := machineType(t, cp); got != "controlplane" {
				t.Errorf("control-plane launch template boots a %s config", got)
			}
			for _, pool := range []string{name, "general"} {
				lt := one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", "compute-"+pool)
				if got := machineType(t, lt); got != "worker" {
					t.Errorf("pool %s boots a %s config", pool, got)
				}
			}
		})
	}
}

// Structural guarantee: every compute resource that is not a pool's is
// named compute-<x> for an x that config refuses as a pool name, so no pool
// name, present or future, can produce it.
func TestNoPoolNameReachesAnotherResourceName(t *testing.T) {
	m := &testkit.Mocks{}
	cfg := map[string]string{"adminCidrs": admin, "addons": `{"cilium":{"hubble":true}}`,
		"workerPools": `[{"name":"p","instanceTypes":["m7i.large"]}]`}
	if _, err := testkit.Run(t, m, cfg, program); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, r := range m.Resources {
		x, ok := strings.CutPrefix(r.Name, "compute-")
		if !ok || x == "p" {
			continue
		}
		checked++
		raw := map[string]string{"adminCidrs": admin, "workerPools": `[{"name":"` + x + `","instanceTypes":["m7i.large"]}]`}
		if _, _, err := config.Parse(config.MapSource(raw)); err == nil {
			t.Errorf("%s %s: a pool named %q would be accepted and could collide with it", r.Type, r.Name, x)
		}
	}
	if checked < 10 {
		t.Fatalf("only %d compute resources checked", checked)
	}
}

// Worker taints reach the kubelet's registration, both effects of one key.
func TestPoolTaintsRegisterWithTheNode(t *testing.T) {
	m := &testkit.Mocks{}
	cfg := map[string]string{"adminCidrs": admin, "workerPools": `[{"name":"gpu","instanceTypes":["g5.xlarge"],
		"image":{"extensions":["siderolabs/nvidia-open-gpu-kernel-modules-lts","siderolabs/nvidia-container-toolkit-lts"]},
		"labels":{"example.com/accelerator":"a10g"},
		"taints":[{"key":"nvidia.com/gpu","value":"present","effect":"NoSchedule"},{"key":"nvidia.com/gpu","value":"present","effect":"NoExecute"}]},
		{"name":"general","instanceTypes":["m7i.large"]}]`}
	if _, err := testkit.Run(t, m, cfg, program); err != nil {
		t.Fatal(err)
	}
	p := machineConfig(t, one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", "compute-gpu"))
	if taints := p.Machine().NodeTaints(); len(taints) != 0 {
		t.Errorf("nodeTaints set (NodeRestriction refuses them on workers): %v", taints)
	}
	got, _ := p.Machine().Kubelet().ExtraConfig()["registerWithTaints"].([]any)
	if len(got) != 2 {
		t.Fatalf("registerWithTaints = %v", got)
	}
	for i, effect := range []string{"NoSchedule", "NoExecute"} {
		tm, _ := got[i].(map[string]any)
		if tm["key"] != "nvidia.com/gpu" || tm["value"] != "present" || tm["effect"] != effect {
			t.Errorf("registerWithTaints[%d] = %v", i, tm)
		}
	}
	if l := p.Machine().NodeLabels(); l["example.com/accelerator"] != "a10g" || l[config.PoolLabel] != "gpu" {
		t.Errorf("nodeLabels = %v", l)
	}
}

// Unknown top-level keys are read from the Pulumi configuration the program
// receives and answered with the nearest valid key.
func TestUnknownKeysFromPulumiConfig(t *testing.T) {
	var keys []string
	_, err := testkit.Run(t, &testkit.Mocks{}, map[string]string{"adminCidrs": admin, "workerPool": "[]", "podCIDR": "10.1.0.0/16"},
		func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
			keys = projectKeys(ctx, ctx.Project())
			return nil, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(config.UnknownKeys(keys).Strings(), "\n")
	for _, want := range []string{`workerPool: Invalid value: unknown key; did you mean "workerPools"?`, `podCIDR: Invalid value: unknown key; did you mean "podCidr"?`} {
		if !strings.Contains(w, want) {
			t.Errorf("missing %q in:\n%s", want, w)
		}
	}
	if strings.Contains(w, "adminCidrs") {
		t.Errorf("a valid key warned:\n%s", w)
	}
}
