package iampolicy

import (
	"reflect"
	"testing"
)

func TestPolicyBuckets(t *testing.T) {
	p := &Policy{}
	owned := map[string]string{"kubernetes.io/cluster/prod": "owned"}
	p.Allow(Unconditional("NoResourceLevelPermissions"), Grant{"ec2:DescribeVolumes", "b"}, Grant{"ec2:DescribeInstances", "a"})
	p.Allow(Tagged("OnlyThisClusters", "arn:aws:ec2:*:*:volume/*", owned, "kubernetes.io/service-name"), Grant{"ec2:DeleteVolume", "c"})
	p.Allow(CreatedWithTags("CreateTagged", "*", owned), Grant{"ec2:CreateVolume", "d"})
	// A second component in the same scope shares its statement.
	p.Allow(Unconditional("NoResourceLevelPermissions"), Grant{"ec2:DescribeInstances", "e"})
	p.Deny(Scope{Sid: "Never", Resource: "*"}, Grant{"ec2:CreateTags", "f"})

	d := p.Document()
	want := []Statement{
		{Sid: "NoResourceLevelPermissions", Effect: "Allow", Action: []string{"ec2:DescribeVolumes", "ec2:DescribeInstances"}, Resource: "*"},
		{Sid: "OnlyThisClusters", Effect: "Allow", Action: []string{"ec2:DeleteVolume"}, Resource: "arn:aws:ec2:*:*:volume/*", Condition: map[string]map[string]any{
			"StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/prod": "owned"},
			"Null":         {"aws:ResourceTag/kubernetes.io/service-name": "false"},
		}},
		{Sid: "CreateTagged", Effect: "Allow", Action: []string{"ec2:CreateVolume"}, Resource: "*", Condition: map[string]map[string]any{
			"StringEquals": {"aws:RequestTag/kubernetes.io/cluster/prod": "owned"},
		}},
		{Sid: "Never", Effect: "Deny", Action: []string{"ec2:CreateTags"}, Resource: "*"},
	}
	if !reflect.DeepEqual(d.Statement, want) {
		t.Errorf("statements\n%s\nwant\n%s", d.IndentedJSON(), New(want...).IndentedJSON())
	}
	var callers []string
	for _, g := range p.Grants() {
		if g.Action == "ec2:DescribeInstances" {
			callers = append(callers, g.Caller)
		}
	}
	if !reflect.DeepEqual(callers, []string{"a", "e"}) {
		t.Errorf("DescribeInstances callers %v, want both components'", callers)
	}
}

func TestPolicyRefusesAmbiguity(t *testing.T) {
	for name, f := range map[string]func(p *Policy){
		"no caller": func(p *Policy) { p.Allow(Unconditional("X"), Grant{Action: "ec2:DescribeInstances"}) },
		"one Sid, two scopes": func(p *Policy) {
			p.Allow(Unconditional("X"), Grant{"ec2:DescribeInstances", "a"})
			p.Allow(Scope{Sid: "X", Resource: "arn:aws:s3:::b"}, Grant{"s3:GetObject", "b"})
		},
		"one Sid, two effects": func(p *Policy) {
			p.Allow(Unconditional("X"), Grant{"ec2:DescribeInstances", "a"})
			p.Deny(Unconditional("X"), Grant{"ec2:DescribeInstances", "a"})
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: built", name)
				}
			}()
			f(&Policy{})
		}()
	}
}

func TestPartition(t *testing.T) {
	for region, want := range map[string]string{"ap-southeast-1": "aws", "cn-northwest-1": "aws-cn", "us-gov-west-1": "aws-us-gov"} {
		if got := Partition(region); got != want {
			t.Errorf("Partition(%s) = %s, want %s", region, got, want)
		}
	}
	if got := ARNs("aws-cn", "ec2", "volume"); got != "arn:aws-cn:ec2:*:*:volume/*" {
		t.Errorf("ARNs = %s", got)
	}
}
