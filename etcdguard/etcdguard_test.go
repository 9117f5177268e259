package etcdguard

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestLifecycleEventPattern(t *testing.T) {
	var p struct {
		Source     []string `json:"source"`
		DetailType []string `json:"detail-type"`
		Detail     struct {
			ASG []string `json:"AutoScalingGroupName"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(LifecycleEventPattern("cp-asg")), &p); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Source, []string{"aws.autoscaling"}) || !slices.Equal(p.Detail.ASG, []string{"cp-asg"}) ||
		!slices.Equal(p.DetailType, []string{"EC2 Instance-launch Lifecycle Action", "EC2 Instance-terminate Lifecycle Action"}) {
		t.Fatalf("pattern = %+v", p)
	}
}

func TestGuardPolicyScope(t *testing.T) {
	a := ARNs{Region: "ap-southeast-1", Secret: "arn:secret", Key: "arn:key", Parameter: "arn:param", LogGroup: "arn:logs"}
	d := Policy(a)
	d.Statement = append(d.Statement, LifecyclePolicy("arn:asg").Statement...)
	// Every action that changes or reads something of value is bound to
	// this cluster's resource; "*" only where IAM has no resource level.
	scoped := map[string]string{
		"autoscaling:CompleteLifecycleAction":        "arn:asg",
		"autoscaling:RecordLifecycleActionHeartbeat": "arn:asg",
		"autoscaling:SetInstanceProtection":          "arn:asg",
		"secretsmanager:GetSecretValue":              a.Secret,
		"kms:Decrypt":                                a.Key,
		"ssm:GetParameter":                           a.Parameter,
		"ssm:PutParameter":                           a.Parameter,
		"logs:PutLogEvents":                          a.LogGroup + ":*",
	}
	wildcardOK := map[string]bool{
		"autoscaling:DescribeAutoScalingGroups": true, "autoscaling:DescribeInstanceRefreshes": true, "ec2:DescribeInstances": true, "cloudwatch:PutMetricData": true,
		"ec2:CreateNetworkInterface": true, "ec2:DescribeNetworkInterfaces": true, "ec2:DeleteNetworkInterface": true,
		"ec2:AssignPrivateIpAddresses": true, "ec2:UnassignPrivateIpAddresses": true,
	}
	for _, s := range d.Statement {
		for _, act := range s.Actions() {
			if want, ok := scoped[act]; ok && s.Resource != want {
				t.Errorf("%s on %v, want %s", act, s.Resource, want)
			}
			if s.Resource == "*" && !wildcardOK[act] {
				t.Errorf("%s on *", act)
			}
			if strings.HasSuffix(act, "*") {
				t.Errorf("wildcard action %s", act)
			}
		}
		if s.Sid == "Metrics" && s.Condition["StringEquals"]["cloudwatch:namespace"] == "" {
			t.Error("PutMetricData not limited to the guard's namespace")
		}
		if s.Sid == "TalosconfigKey" && s.Condition["StringEquals"]["kms:ViaService"] != "secretsmanager.ap-southeast-1.amazonaws.com" {
			t.Error("kms:Decrypt not limited to Secrets Manager")
		}
	}
	for act := range scoped {
		if !slices.Contains(d.Actions(), act) {
			t.Errorf("policy lacks %s", act)
		}
	}
}

func TestGuardTalosconfig(t *testing.T) {
	got, err := Talosconfig("demo", "Y2E=", "Y3J0", "a2V5")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"context: demo", "ca: Y2E=", "crt: Y3J0", "key: a2V5"} {
		if !strings.Contains(got, want) {
			t.Errorf("talosconfig lacks %q:\n%s", want, got)
		}
	}
	if _, err := Talosconfig("demo", "not base64!", "Y3J0", "a2V5"); err == nil || !strings.Contains(err.Error(), "caCertificate") {
		t.Errorf("bad CA: %v", err)
	}
}
