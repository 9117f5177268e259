package config

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

// Unset versions: a new stack gets the defaults; an existing one keeps what
// its nodes run (recorded, or the defaults of the release that deployed
// it) and is told how to upgrade; a set version is the user's.
func TestUnsetVersionsKeepWhatRuns(t *testing.T) {
	base := map[string]string{"adminCidrs": `["203.0.113.10/32"]`}
	legacy := Deployed{Exists: true}
	recorded := Deployed{Exists: true, TalosVersion: "v1.13.9", KubernetesVersion: "1.35.7"}
	for _, tc := range []struct {
		name         string
		set          map[string]string
		d            Deployed
		talos, k8s   string
		warnContains []string
	}{
		{"new stack", nil, Deployed{}, DefaultTalosVersion, DefaultKubernetesVersion, nil},
		{"deployed before the record", nil, legacy, LegacyTalosVersion, LegacyKubernetesVersion,
			[]string{"talosVersion: not set: this existing stack keeps v1.12.11 (the default of the talos-aws release that deployed it); new stacks get " + DefaultTalosVersion,
				"kubernetesVersion: not set: this existing stack keeps 1.35.10"}},
		{"recorded", nil, recorded, "v1.13.9", "1.35.7", []string{"talosVersion: not set: this existing stack keeps v1.13.9 (recorded by its last `up`)"}},
		{"set", map[string]string{"talosVersion": "v1.13.13", "kubernetesVersion": "1.36.3"}, legacy, "v1.13.13", "1.36.3", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv := map[string]string{}
			for k, v := range base {
				kv[k] = v
			}
			for k, v := range tc.set {
				kv[k] = v
			}
			cfg, w, err := ParseDeployed(MapSource(kv), tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.TalosVersion != tc.talos || cfg.KubernetesVersion != tc.k8s {
				t.Errorf("versions %s/%s, want %s/%s", cfg.TalosVersion, cfg.KubernetesVersion, tc.talos, tc.k8s)
			}
			all := strings.Join(w, "\n")
			for _, want := range tc.warnContains {
				if !strings.Contains(all, want) {
					t.Errorf("warnings lack %q:\n%s", want, all)
				}
			}
			if len(tc.warnContains) == 0 && strings.Contains(all, "Version: not set:") {
				t.Errorf("warned: %s", all)
			}
			// The CCM follows the resolved Kubernetes minor.
			if got, want := cfg.Addons.CloudControllerManager.ImageTag, AddonsFor(tc.k8s).CCMImage; got != want || got == "" {
				t.Errorf("CCM image %q, want %q", got, want)
			}
		})
	}
}

// Upgrades one `up` cannot make are refused at the key, naming what runs
// and the way through.
func TestUpgradePaths(t *testing.T) {
	for _, tc := range []struct {
		name       string
		from       Deployed
		talos, k8s string
		want       []string // "" entries: no error
	}{
		{"patch", Deployed{Exists: true, TalosVersion: "v1.12.11", KubernetesVersion: "1.35.10"}, "v1.12.12", "1.35.11", nil},
		{"Talos 1.12 to 1.13 with a Kubernetes minor", Deployed{Exists: true, TalosVersion: "v1.12.11", KubernetesVersion: "1.35.10"}, "v1.13.13", "1.36.3", nil},
		{"a skipped minor", Deployed{Exists: true, TalosVersion: "v1.13.13", KubernetesVersion: "1.34.5"}, "v1.13.13", "1.36.3",
			[]string{"kubernetesVersion: Invalid value: \"1.36.3\": the cluster runs Kubernetes 1.34.5: one `up` moves one minor", "set 1.35.x first"}},
		{"a minor back", Deployed{Exists: true, TalosVersion: "v1.13.13", KubernetesVersion: "1.36.3"}, "v1.13.13", "1.35.10",
			[]string{"kubernetesVersion: Invalid value: \"1.35.10\": the cluster runs Kubernetes 1.36.3: Kubernetes does not support going back a minor", "allowed: 1.36.x or newer"}},
		{"a Talos jump its upgrade path refuses", Deployed{Exists: true, TalosVersion: "v1.10.7", KubernetesVersion: "1.33.4"}, "v1.13.13", "1.34.5",
			[]string{"talosVersion: Invalid value: \"v1.13.13\": the cluster runs Talos v1.10.7: host version 1.10.7 is too old to upgrade to Talos 1.13.13 (Talos' upgrade path)"}},
		{"Talos 1.13 back to 1.12", Deployed{Exists: true, TalosVersion: "v1.13.13", KubernetesVersion: "1.35.10"}, "v1.12.11", "1.35.10", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseDeployed(MapSource(map[string]string{"adminCidrs": `["203.0.113.10/32"]`,
				"talosVersion": tc.talos, "kubernetesVersion": tc.k8s}), tc.from)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// Which instance types can boot a UEFI-only AMI (EC2 User Guide).
func TestNoUEFI(t *testing.T) {
	for it, boots := range map[string]bool{
		"m7i.large": true, "m5.large": true, "c7g.large": true, "m7g.metal": true, "t3.medium": true, "p3dn.24xlarge": true, "g5.xlarge": true,
		"t2.large": false, "m4.large": false, "c4.xlarge": false, "r4.large": false, "i3.large": false, "p3.2xlarge": false, "x1e.xlarge": false,
		"m5.metal": false, "m7i.metal-24xl": false, "i3.metal": false, "g4ad.xlarge": false, "p4d.24xlarge": false, "dl1.24xlarge": false,
		"vt1.3xlarge": false, "u-6tb1.112xlarge": false,
	} {
		if got := noUEFI(it) == ""; got != boots {
			t.Errorf("%s boots UEFI: %v, want %v (%s)", it, got, boots, noUEFI(it))
		}
	}
	if UEFIOnly("v1.12.11") || !UEFIOnly("v1.13.13") {
		t.Error("UEFI only from Talos 1.13")
	}
}

// Every Kubernetes minor a supported Talos line accepts has its add-on
// releases; none outside them.
func TestEveryOfferedMinorHasAddons(t *testing.T) {
	offered := map[string]bool{}
	for _, l := range talosLines {
		for m := l.min.Minor; m <= l.max.Minor; m++ {
			offered[fmt.Sprintf("1.%d", m)] = true
		}
	}
	for m := range offered {
		a := addonsByMinor[m]
		if !imageTagRe.MatchString(a.CCMImage) || !strings.HasPrefix(a.CCMImage, "v"+m+".") {
			t.Errorf("Kubernetes %s: CCM image %q is not a release of its minor", m, a.CCMImage)
		}
		if a.AutoscalerImage != "" && !strings.HasPrefix(a.AutoscalerImage, "v"+m+".") {
			t.Errorf("Kubernetes %s: autoscaler image %q is not a release of its minor", m, a.AutoscalerImage)
		}
		if !strings.Contains(SupportedVersionsMarkdown(), "| "+m+" |") {
			t.Errorf("Kubernetes %s missing from the supported versions table", m)
		}
	}
	for m := range addonsByMinor {
		if !offered[m] {
			t.Errorf("add-ons for Kubernetes %s, which no supported Talos takes", m)
		}
	}
	// 1.35 keeps what every stack ran before the table: nothing restarts.
	if a := addonsByMinor["1.35"]; a.CCMImage != "v1.35.0" || a.AutoscalerImage != "" {
		t.Errorf("1.35: %+v", a)
	}
	// The autoscaler that runs, which its IAM grants follow: the chart's
	// own where no image is set.
	if got := AddonsFor("1.35.10").Autoscaler(); got != "v1.35.0" {
		t.Errorf("1.35 runs autoscaler %s, want the chart's v1.35.0", got)
	}
	if got := AddonsFor("1.30.14").Autoscaler(); got != "v1.30.7" {
		t.Errorf("1.30 runs autoscaler %s, want v1.30.7", got)
	}
	if got := OfferedMinors(); len(got) != len(offered) || got[0] != "1.30" || got[len(got)-1] != "1.36" {
		t.Errorf("OfferedMinors() = %v, want every offered minor, oldest first", got)
	}
}

// A running cluster with no break-glass role is told, in its preview, that
// only the guard can read its snapshots and admin talosconfig; a new stack
// (the defaults) is not warned.
func TestEmptyBreakGlassWarnsRunningClusters(t *testing.T) {
	kv := map[string]string{"adminCidrs": `["203.0.113.10/32"]`}
	_, w, err := ParseDeployed(MapSource(kv), Deployed{Exists: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(w, "\n"), "etcdGuardSecretReaders: empty: only the etcd guard may read the etcd guard's admin talosconfig and the etcd snapshots") {
		t.Errorf("warnings %v", w)
	}
	_, w, _ = ParseDeployed(MapSource(kv), Deployed{})
	if strings.Contains(strings.Join(w, "\n"), "etcdGuardSecretReaders") {
		t.Errorf("a new stack warned: %v", w)
	}
}

// The boot mode follows the AMI a role launches: on Talos 1.12 a Xen
// type is fine on the official AMI (uefi-preferred) and refused where the
// role runs an image, whose AMI `up` registers UEFI only; an explicit AMI
// is the user's to judge.
func TestBootModeFollowsTheAMI(t *testing.T) {
	base := map[string]string{"talosVersion": "v1.12.11", "kubernetesVersion": "1.35.10",
		"workerPools": `[{"name":"a","instanceTypes":["m4.large"]}]`}
	if _, _, err := Parse(src(base)); err != nil {
		t.Errorf("a Xen pool on Talos 1.12's official AMI: %v", err)
	}
	withImage := maps.Clone(base)
	withImage["image"] = `{"extensions":["siderolabs/iscsi-tools"]}`
	if _, _, err := Parse(src(withImage)); err == nil || !strings.Contains(err.Error(), "workerPools[0].instanceTypes[0]") {
		t.Errorf("a Xen pool running the cluster's image on Talos 1.12: %v", err)
	}
	withImage["amiIdAmd64"] = "ami-0123456789abcdef0"
	if _, _, err := Parse(src(withImage)); err != nil && strings.Contains(err.Error(), "boots UEFI only") {
		t.Errorf("an explicit AMI is judged: %v", err)
	}
}
