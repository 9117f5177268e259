package talosclient

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/api/machine"
)

func TestMembers(t *testing.T) {
	resp := &machine.EtcdMemberListResponse{Messages: []*machine.EtcdMembers{{Members: []*machine.EtcdMember{
		{Id: 7, Hostname: "ip-10-0-1-23", PeerUrls: []string{"https://10.0.1.23:2380"}},
		{Id: 9, Hostname: "", PeerUrls: []string{"https://10.0.2.5:2380"}, IsLearner: true},
	}}}}
	ms := Members(resp)
	if len(ms) != 2 || ms[0].ID != 7 || ms[0].IP() != "10.0.1.23" || ms[0].Learner || !ms[1].Learner || ms[1].IP() != "10.0.2.5" {
		t.Fatalf("members = %+v", ms)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New([]byte("context: x\ncontexts: {}\n")); err == nil {
		t.Fatal("a talosconfig without its current context must be rejected")
	}
	c, err := New([]byte("context: a\ncontexts:\n  a:\n    endpoints: [1.2.3.4]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EtcdStatus(t.Context(), "not-an-ip"); err == nil {
		t.Fatal("nodes are addressed by IP")
	}
}

// podStatus is a static pod's status in the form Talos stores it: the
// kubelet's v1.PodStatus as JSON fields.
func podStatus(t *testing.T, ready string, waiting string) map[string]any {
	t.Helper()
	state := `{"running":{"startedAt":"2026-12-03T10:00:00Z"}}`
	if waiting != "" {
		state = `{"waiting":{"reason":"` + waiting + `","message":"back-off 40s restarting failed container"}}`
	}
	raw := `{"phase":"Running","conditions":[
		{"type":"PodReadyToStartContainers","status":"True"},
		{"type":"Initialized","status":"True"},
		{"type":"Ready","status":"` + ready + `"},
		{"type":"ContainersReady","status":"` + ready + `"},
		{"type":"PodScheduled","status":"True"}],
		"hostIP":"10.0.1.23","podIP":"10.0.1.23",
		"containerStatuses":[{"name":"c","ready":` + strconv.FormatBool(ready == "True") + `,"restartCount":3,"state":` + state + `}]}`
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStaticPodsReady(t *testing.T) {
	all := func() map[string]map[string]any {
		return map[string]map[string]any{
			"kube-system/kube-apiserver-ip-10-0-1-23":          podStatus(t, "True", ""),
			"kube-system/kube-controller-manager-ip-10-0-1-23": podStatus(t, "True", ""),
			"kube-system/kube-scheduler-ip-10-0-1-23":          podStatus(t, "True", ""),
		}
	}
	if got := StaticPodsReady(all()); got != "" {
		t.Fatalf("all ready: %q", got)
	}
	broken := all()
	broken["kube-system/kube-apiserver-ip-10-0-1-23"] = podStatus(t, "False", "CrashLoopBackOff")
	if got, want := StaticPodsReady(broken), "kube-apiserver: Ready is False (CrashLoopBackOff)"; got != want {
		t.Fatalf("broken API server: %q, want %q", got, want)
	}
	missing := all()
	delete(missing, "kube-system/kube-scheduler-ip-10-0-1-23")
	if got, want := StaticPodsReady(missing), "kube-scheduler: no static pod status yet"; got != want {
		t.Fatalf("no scheduler yet: %q, want %q", got, want)
	}
	if got := StaticPodsReady(nil); strings.Count(got, "no static pod status yet") != 3 {
		t.Fatalf("a node with no pods yet: %q", got)
	}
}
