package config

import (
	"strings"
	"testing"
)

func TestExpectedNodes(t *testing.T) {
	c, _, err := Parse(src(map[string]string{
		"controlPlane": `{"count":3}`,
		"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"minSize":2,"desiredCapacity":4,"maxSize":6},
			{"name":"b","instanceTypes":["m7i.large"],"minSize":1,"desiredCapacity":5,"maxSize":9,"autoscaled":true},
			{"name":"c","instanceTypes":["m7i.large"],"minSize":0,"desiredCapacity":0,"maxSize":3}]`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	// 3 control plane + a's desired 4 + b's minimum 1 (autoscaled) + c's 0.
	if got := ExpectedNodes(c); got != 8 {
		t.Errorf("ExpectedNodes = %d, want 8", got)
	}
}

func TestAddonsNeedSomewhereToRun(t *testing.T) {
	tainted := `[{"name":"gpu","instanceTypes":["g5.xlarge"],"taints":[{"key":"nvidia.com/gpu","effect":"NoSchedule"}],"image":` + gpuImage + `},
		{"name":"batch","instanceTypes":["m7i.large"],"minSize":0,"desiredCapacity":0,"maxSize":4}]`
	for name, tc := range map[string]struct {
		kv   map[string]string
		want string // "" = accepted
	}{
		"only tainted or empty pools": {map[string]string{"workerPools": tainted},
			"workerPools: Forbidden: no pool can run ordinary pods"},
		"names both add-ons": {map[string]string{"workerPools": tainted}, "addons.metricsServer.enabled and addons.argocd.enabled"},
		"add-ons off": {map[string]string{"workerPools": tainted,
			"addons": `{"metricsServer":{"enabled":false},"argocd":{"enabled":false}}`}, ""},
		"PreferNoSchedule still schedules": {map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"taints":[{"key":"k","effect":"PreferNoSchedule"}]}]`}, ""},
		"autoscaled pool at minimum zero": {map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"minSize":0,"desiredCapacity":2,"maxSize":4,"autoscaled":true}]`},
			"no pool can run ordinary pods"},
		"timeout too short": {map[string]string{"readinessTimeoutMinutes": "2"}, "readinessTimeoutMinutes: Invalid value: 2: must be between 5 and 120 minutes"},
		"timeout too long":  {map[string]string{"readinessTimeoutMinutes": "600"}, "readinessTimeoutMinutes"},
		"timeout default":   {map[string]string{}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Parse(src(tc.kv))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func TestReadinessTimeoutDefault(t *testing.T) {
	c, _, err := Parse(src(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ReadinessTimeoutMinutes != DefaultReadinessTimeoutMinutes || DefaultReadinessTimeoutMinutes != 20 {
		t.Errorf("readinessTimeoutMinutes default %d", c.ReadinessTimeoutMinutes)
	}
}
