package program

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/preflight"
	"github.com/talos-aws/talos-aws/testkit"
)

// registeredOnlyProviders fails when anything but a provider (or the read
// of the stack's own last outputs) was registered.
func registeredOnlyProviders(t *testing.T, m *testkit.Mocks) {
	t.Helper()
	for _, r := range m.Resources {
		if !strings.HasPrefix(r.Type, "pulumi:providers:") && r.Type != testkit.StackReference {
			t.Errorf("registered %s %s before the preflight failed", r.Type, r.Name)
		}
	}
}

func mustFail(t *testing.T, m *testkit.Mocks, cfg map[string]string, wants ...string) {
	t.Helper()
	_, err := testkit.Run(t, m, cfg, program)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	registeredOnlyProviders(t, m)
}

func mustConfig(t *testing.T, raw map[string]string) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse(config.MapSource(raw))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func logsWith(m *testkit.Mocks, prefix, substr string) []string {
	var out []string
	for _, l := range m.Logs {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

func TestPreflightCredentialsMissing(t *testing.T) {
	m := &testkit.Mocks{CredentialsMissing: true}
	mustFail(t, m, devConfig(t), "AWS credentials did not resolve for region ap-southeast-1",
		"no valid credential sources", "`aws configure`", "AWS_PROFILE", "`aws sso login --profile <profile>`", "aws sts get-caller-identity")
}

func TestPreflightOptInRegion(t *testing.T) {
	m := &testkit.Mocks{NotOptedInRegions: []string{"ap-east-2"}}
	cfg := devConfig(t)
	cfg["region"] = "ap-east-2"
	mustFail(t, m, cfg, "region ap-east-2 is an opt-in region that this AWS account has not enabled (config key region)",
		"aws account enable-region --region-name ap-east-2")
	// The question went to a provider in the partition's home region.
	if r, ok := m.ByName("aws-preflight"); !ok || r.Inputs["region"].StringValue() != "us-east-1" {
		t.Errorf("no us-east-1 provider asked about the region: %+v", r)
	}
}

// Credentials that work nowhere are not mistaken for an opt-in region.
func TestPreflightCredentialsMissingInOtherRegion(t *testing.T) {
	m := &testkit.Mocks{CredentialsMissing: true}
	cfg := devConfig(t)
	cfg["region"] = "eu-west-1"
	mustFail(t, m, cfg, "AWS credentials did not resolve for region eu-west-1")
}

func TestPreflightQuotaShortfall(t *testing.T) {
	m := &testkit.Mocks{Quotas: map[string]float64{"L-1216C47A": 16, "L-0263D0A3": 2, "L-34B43A08": 6}}
	mustFail(t, m, haConfig(t),
		`quota "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances" (ec2 L-1216C47A) in ap-southeast-1 is 16 vCPUs; this stack needs 20 vCPUs`,
		"https://ap-southeast-1.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-1216C47A",
		`quota "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests" (ec2 L-34B43A08) in ap-southeast-1 is 6 vCPUs; this stack needs 8 vCPUs`,
		`quota "EC2-VPC Elastic IPs" (ec2 L-0263D0A3) in ap-southeast-1 is 2; this stack needs 3`,
		"not subtracted")
}

// Quotas that cannot be read are skipped with a warning each: the stack
// is still planned in full.
func TestPreflightQuotasUnreadable(t *testing.T) {
	m := &testkit.Mocks{QuotaErrors: map[string]string{}}
	for _, code := range []string{"L-1216C47A", "L-34B43A08", "L-0263D0A3", "L-F678F1CE", "L-A4707A72", "L-FE5A380F", "L-69A177A2"} {
		m.QuotaErrors[code] = "AccessDeniedException: User is not authorized to perform: servicequotas:GetServiceQuota"
	}
	evaluate(t, m, devConfig(t))
	if len(m.ByType("aws:autoscaling/group:Group")) != 2 {
		t.Error("the stack must still be planned")
	}
	if got := logsWith(m, "warning: preflight: quota", "could not be read, so it is not checked"); len(got) != 7 {
		t.Errorf("%d unreadable-quota warnings, want 7:\n%s", len(got), strings.Join(m.Logs, "\n"))
	}
}

// The preview prints the quota summary and the cost estimate, one line each.
func TestPreflightReport(t *testing.T) {
	m := &testkit.Mocks{Preview: true}
	evaluate(t, m, devConfig(t))
	want := preflight.EstimateCost(mustConfig(t, devConfig(t)), 1, preflight.Prices).LogLine("ap-southeast-1", preflight.Prices)
	if got := logsWith(m, "info: preflight: estimated cost", ""); len(got) != 1 || got[0] != "info: preflight: "+want {
		t.Errorf("cost lines %q, want %q", got, want)
	}
	if got := logsWith(m, "info: preflight: quotas in ap-southeast-1", "on-demand standard vCPUs 4/1152, spot standard vCPUs 4/1152, Elastic IPs 1/5"); len(got) != 1 {
		t.Errorf("quota summary missing:\n%s", strings.Join(m.Logs, "\n"))
	}
	if got := logsWith(m, "warning: preflight", ""); len(got) != 0 {
		t.Errorf("warnings on a roomy account: %q", got)
	}
}

func TestPreflightAdminCIDRs(t *testing.T) {
	calls := 0
	lookup := func(addr string, err error) func(context.Context) (netip.Addr, error) {
		return func(context.Context) (netip.Addr, error) {
			calls++
			if err != nil {
				return netip.Addr{}, err
			}
			return netip.MustParseAddr(addr), nil
		}
	}
	t.Cleanup(func() { publicAddress = nil })

	publicAddress = lookup("198.51.100.7", nil)
	m := &testkit.Mocks{}
	evaluate(t, m, devConfig(t)) // adminCidrs: 203.0.113.10/32
	if got := logsWith(m, "warning: preflight: adminCidrs", "198.51.100.7"); len(got) != 1 || !strings.Contains(got[0], "will time out") {
		t.Errorf("no adminCidrs warning:\n%s", strings.Join(m.Logs, "\n"))
	}

	publicAddress = lookup("203.0.113.10", nil)
	m = &testkit.Mocks{}
	evaluate(t, m, devConfig(t))
	if got := logsWith(m, "warning: preflight: adminCidrs", ""); len(got) != 0 {
		t.Errorf("warned although adminCidrs contains the address: %q", got)
	}

	// A failed lookup is skipped with a debug note only.
	publicAddress = lookup("", errors.New("dial tcp: i/o timeout"))
	m = &testkit.Mocks{}
	evaluate(t, m, devConfig(t))
	if len(logsWith(m, "warning: preflight: adminCidrs", "")) != 0 || len(logsWith(m, "debug: preflight: public address unknown", "i/o timeout")) != 1 {
		t.Errorf("failed lookup:\n%s", strings.Join(m.Logs, "\n"))
	}
	if calls != 3 {
		t.Errorf("%d lookups, want 3", calls)
	}

	// With a private API the public address says nothing: not looked up.
	publicAddress = lookup("198.51.100.7", nil)
	m = &testkit.Mocks{}
	private := devConfig(t)
	private["apiAccess"] = "private"
	evaluate(t, m, private)
	if calls != 3 || len(logsWith(m, "warning: preflight: adminCidrs", "")) != 0 {
		t.Errorf("private API: %d lookups, warnings %q", calls, logsWith(m, "warning: preflight: adminCidrs", ""))
	}
}

// The surge the preflight plans for is the worker ASGs' instance refresh.
func TestPreflightSurgeMatchesRefresh(t *testing.T) {
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	for _, name := range []string{"compute-general", "compute-arm-spot"} {
		prefs := one(t, m, "aws:autoscaling/group:Group", name).Inputs["instanceRefresh"].ObjectValue()["preferences"].ObjectValue()
		if minH, maxH := prefs["minHealthyPercentage"].NumberValue(), prefs["maxHealthyPercentage"].NumberValue(); minH != preflight.WorkerRefreshMinHealthyPercentage || maxH != preflight.WorkerRefreshMaxHealthyPercentage {
			t.Errorf("%s refresh %v/%v%%, preflight plans %d/%d%%", name, minH, maxH, preflight.WorkerRefreshMinHealthyPercentage, preflight.WorkerRefreshMaxHealthyPercentage)
		}
	}
}

// TestPreflightOutput prints what `pulumi preview` logs for the dev and HA
// shapes, on a roomy account and on one with 16 on-demand and 8 Spot
// standard vCPUs (go test -run TestPreflightOutput -v .).
func TestPreflightOutput(t *testing.T) {
	tight := map[string]float64{"L-1216C47A": 16, "L-34B43A08": 8}
	for _, s := range []struct {
		name   string
		cfg    map[string]string
		quotas map[string]float64
	}{{"dev", devConfig(t), nil}, {"ha", haConfig(t), nil}, {"dev, tight", devConfig(t), tight}, {"ha, tight", haConfig(t), tight}} {
		m := &testkit.Mocks{Preview: true, Quotas: s.quotas}
		m.ControlPlaneInstances = cpInstances()
		_, err := testkit.Run(t, m, s.cfg, program)
		for _, l := range logsWith(m, "", "preflight:") {
			t.Logf("[%s] %s", s.name, l)
		}
		if err != nil {
			t.Logf("[%s] error: %v", s.name, err)
		}
		if (err != nil) != (s.name == "ha, tight") {
			t.Errorf("[%s] error %v", s.name, err)
		}
	}
}
