package iamroles

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata from the policies the stack renders now")

// goldenFiles are every golden file's path and content, as rendered now.
func goldenFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	put := func(path string, v any) {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		files[path] = append(b, '\n')
	}
	for _, r := range Roles() {
		put(filepath.Join("testdata", r.Name+".json"), map[string]any{"arn": r.ARN, "trust": r.Trust, "policies": r.Policies})
	}
	for _, p := range ResourcePolicies() {
		put(filepath.Join("testdata", "resource", p.Name+".json"), p.Document)
	}
	return files
}

// TestGoldens: each role's policies, and each resource policy, are the
// files in testdata, byte for byte. A change of a permission rewrites
// them (go test ./iamroles -run TestGoldens -update) and shows in review
// as a diff of that role alone.
func TestGoldens(t *testing.T) {
	files := goldenFiles(t)
	if *update {
		for path, b := range files {
			if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for path, want := range files {
		got, err := os.ReadFile(path) //nolint:gosec // this test's own golden files
		if err != nil {
			t.Errorf("%v (go test ./iamroles -run TestGoldens -update writes it)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the policies the stack renders (go test ./iamroles -run TestGoldens -update rewrites it)", path)
		}
	}
	// No golden file outlives its role.
	for _, dir := range []string{"testdata", filepath.Join("testdata", "resource")} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if p := filepath.Join(dir, e.Name()); strings.HasSuffix(e.Name(), ".json") && files[p] == nil {
				t.Errorf("%s renders from no role or resource policy: delete it", p)
			}
		}
	}
}

// noResourceLevel are the actions a role of the stack may take on "*"
// without a condition: IAM has no resource type for any of them (Service
// Authorization Reference; the evaluator test checks each against it).
// Anything else on "*" must be scoped by a condition.
var noResourceLevel = []string{
	"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeInstanceRefreshes", "autoscaling:DescribeScalingActivities",
	"ec2:DescribeAvailabilityZones", "ec2:DescribeInstanceTopology", "ec2:DescribeInstanceTypes", "ec2:DescribeInstances",
	"ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups", "ec2:DescribeSnapshots", "ec2:DescribeSubnets",
	"ec2:DescribeVolumeStatus", "ec2:DescribeVolumes", "ec2:DescribeVolumesModifications", "ecr:GetAuthorizationToken",
	"elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeLoadBalancerAttributes",
	"elasticloadbalancing:DescribeLoadBalancerPolicies", "elasticloadbalancing:DescribeLoadBalancers",
	"elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTargetGroups",
	"elasticloadbalancing:DescribeTargetHealth",
	"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
}

// lambdaVPC are the network-interface calls Lambda makes with the guard's
// role for a function in a VPC; AWS grants them on "*"
// (AWSLambdaVPCAccessExecutionRole) and documents no narrower form.
var lambdaVPC = map[string]bool{
	"ec2:CreateNetworkInterface": true, "ec2:DescribeNetworkInterfaces": true, "ec2:DeleteNetworkInterface": true,
	"ec2:AssignPrivateIpAddresses": true, "ec2:UnassignPrivateIpAddresses": true,
}

// unconditionalWildcards are a role's allowed actions on "*" without a
// condition.
func unconditionalWildcards(r Role) []string {
	var out []string
	for _, d := range r.Policies {
		for _, s := range d.Statement {
			if s.Effect == "Allow" && s.Resource == "*" && len(s.Condition) == 0 {
				out = append(out, s.Actions()...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestScopeRule extends the guard's old scope test to every role: an
// action on "*" without a condition is one with no resource-level
// permission (or Lambda's own VPC calls, on the guard); nothing grants a
// wildcard action; every write names a resource or a tag condition.
func TestScopeRule(t *testing.T) {
	for _, r := range Roles() {
		for _, a := range unconditionalWildcards(r) {
			lambdaOwn := r.Name == "etcd-guard" && lambdaVPC[a]
			if !slices.Contains(noResourceLevel, a) && !lambdaOwn {
				t.Errorf("%s: %s on \"*\" with no condition", r.Name, a)
			}
		}
		for name, d := range r.Policies {
			for _, s := range d.Statement {
				for _, a := range s.Actions() {
					if strings.Contains(a, "*") && s.Effect == "Allow" {
						t.Errorf("%s %s: wildcard action %s", r.Name, name, a)
					}
				}
				// NotAction only narrows a Deny (everything but the
				// listed actions is refused); in an Allow it would grant
				// every action but those.
				if s.Effect == "Allow" && (s.NotAction != nil || s.Resource == nil) {
					t.Errorf("%s %s %s: an Allow with NotAction or no Resource", r.Name, name, s.Sid)
				}
			}
		}
	}
}
