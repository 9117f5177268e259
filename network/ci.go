package network

import (
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/internal/ports"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
)

// CIAccessPorts are the ports a CI runner opens for itself: the Kubernetes
// API (readiness waits, Helm) and the Talos API (bootstrap, kubeconfig).
var CIAccessPorts = []int{ports.KubeAPI, ports.TalosAPI}

// CIAccessPolicy is the IAM policy for the role CI assumes to open and close
// its runner's access: it can list security groups and add or remove ingress
// rules only on a group tagged tagkeys.CIAccess=clusterName. No other group,
// and nothing else, can be changed with it.
func CIAccessPolicy(clusterName string) string {
	return iampolicy.New(
		iampolicy.Statement{Sid: "FindTheGroup", Effect: "Allow", Action: []string{"ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules"}, Resource: "*"},
		iampolicy.Statement{
			Sid:    "RunnerRuleOnThisClustersCIGroupOnly",
			Effect: "Allow",
			Action: []string{"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"},
			// Both actions authorize on the security group (required) and
			// may name the rule; the tag condition applies to the group.
			Resource:  "arn:aws:ec2:*:*:security-group/*",
			Condition: map[string]map[string]any{"StringEquals": {"aws:ResourceTag/" + tagkeys.CIAccess: clusterName}},
		},
	).IndentedJSON()
}
