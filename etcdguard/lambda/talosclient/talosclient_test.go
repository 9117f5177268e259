package talosclient

import (
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
