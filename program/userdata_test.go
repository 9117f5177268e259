package program

import (
	"bytes"
	"encoding/base64"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/testkit"
)

var updateUserData = flag.Bool("update-userdata", false, "rewrite testdata/userdata from the program as it is now")

// userDataShapes are the stacks whose every launch template's user data is
// frozen in testdata/userdata: the two example stacks with and without
// workload identity, and a shape of our own that sets everything a machine
// configuration carries (five control-plane nodes, other CIDRs and name, no
// CSR approver, pools with labels, several taints and their own patches).
// Each is pinned on the versions an existing stack runs today.
func userDataShapes(t *testing.T) map[string]map[string]string {
	t.Helper()
	pin := func(cfg map[string]string) map[string]string {
		cfg["talosVersion"] = "v1.12.11"
		cfg["kubernetesVersion"] = "1.35.10"
		return cfg
	}
	own := map[string]string{
		"adminCidrs":   admin,
		"clusterName":  "acme-prod",
		"azCount":      "3",
		"vpcCidr":      "10.40.0.0/16",
		"podCidr":      "10.128.0.0/14",
		"serviceCidr":  "172.20.0.0/16",
		"controlPlane": `{"count":5,"instanceType":"m7i.xlarge","arch":"amd64"}`,
		"addons":       `{"csrApprover":{"enabled":false},"metricsServer":{"enabled":false}}`,
		"workerPools": `[
			{"name":"gpu","instanceTypes":["g5.xlarge"],"minSize":0,"maxSize":2,"desiredCapacity":1,
			 "labels":{"accelerator":"nvidia","team":"ml"},
			 "taints":[{"key":"nvidia.com/gpu","effect":"NoSchedule"},{"key":"nvidia.com/gpu","value":"present","effect":"NoExecute"}]},
			{"name":"batch","arch":"arm64","instanceTypes":["c7g.2xlarge"],"spot":true,"minSize":1,"maxSize":20,"desiredCapacity":2,
			 "configPatches":["machine:\n  sysctls:\n    vm.max_map_count: \"262144\"\n  kubelet:\n    extraArgs:\n      max-pods: \"250\"\n"]}]`,
	}
	return map[string]map[string]string{
		"dev":            pin(devConfig(t)),
		"ha":             pin(haConfig(t)),
		"dev-noidentity": pin(noIdentity(devConfig(t))),
		"ha-noidentity":  pin(noIdentity(haConfig(t))),
		"own":            pin(own),
	}
}

// unpinned is a shape's configuration as most existing stacks hold it:
// without talosVersion and kubernetesVersion, which they took from the
// release that deployed them.
func unpinned(cfg map[string]string) map[string]string {
	delete(cfg, "talosVersion")
	delete(cfg, "kubernetesVersion")
	return cfg
}

// TestUserDataUnchanged renders every role's and pool's user data through
// the whole program, from fixed machine secrets, and compares it byte for
// byte with what was recorded while the Talos provider (pulumi-talos
// v0.7.1, Talos machinery v1.12.0) rendered it: a stack on Talos 1.12 that
// takes a new version of this project gets the same launch templates, so no
// node rolls.
//
// Each shape runs twice on a stack deployed by the release before this one
// (its last outputs record no versions, and its endpoint is the load
// balancer's): with the versions pinned in config, and unpinned, which
// must keep what it runs.
func TestUserDataUnchanged(t *testing.T) {
	type run struct {
		cfg  map[string]string
		last map[string]any
	}
	runs := map[string]run{}
	for shape, cfg := range userDataShapes(t) {
		runs[shape] = run{cfg: cfg, last: legacyLastUp(cfg)}
		existing := unpinned(maps.Clone(cfg))
		runs[shape+"/existing-unpinned"] = run{cfg: existing, last: legacyLastUp(existing)}
	}
	for name, r := range runs {
		shape, _, _ := strings.Cut(name, "/")
		cfg := r.cfg
		t.Run(name, func(t *testing.T) {
			if *updateUserData && shape != name {
				t.Skip("recorded from the pinned run")
			}
			m := &testkit.Mocks{ControlPlaneInstances: cpInstances(), LastUp: r.last}
			if _, err := testkit.Run(t, m, cfg, program); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join("testdata", "userdata", shape)
			got := map[string][]byte{}
			for _, lt := range m.ByType("aws:ec2/launchTemplate:LaunchTemplate") {
				raw, err := base64.StdEncoding.DecodeString(str(lt, "userData"))
				if err != nil || len(raw) == 0 {
					t.Fatalf("%s: user data %q: %v", lt.Name, str(lt, "userData"), err)
				}
				got[lt.Name+".yaml"] = raw
			}
			if *updateUserData {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(dir, 0o750); err != nil {
					t.Fatal(err)
				}
				for name, b := range got {
					if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			files, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var recorded []string
			for _, f := range files {
				recorded = append(recorded, f.Name())
				want, err := os.ReadFile(filepath.Join(dir, f.Name())) //nolint:gosec // this test's own golden file
				if err != nil {
					t.Fatal(err)
				}
				b, ok := got[f.Name()]
				if !ok {
					t.Errorf("%s: no launch template renders it any more", f.Name())
					continue
				}
				if !bytes.Equal(b, want) {
					t.Errorf("%s: user data changed (a launch template change: every node of it rolls):\n%s", f.Name(), lineDiff(string(want), string(b)))
				}
			}
			for name := range got {
				if !slices.Contains(recorded, name) {
					t.Errorf("%s: a launch template with no recorded user data", name)
				}
			}
		})
	}
}

// lineDiff lists the lines only one side has, "-" recorded and "+" now.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
