package network

import "encoding/json"

// CIAccessTagKey tags the CI access security group with the cluster name, so
// workflows find it (even during the first `up`, before any stack output
// exists) and an IAM policy can allow changes to that group alone.
const CIAccessTagKey = "talos-aws-ci-access"

// CIAccessPorts are the ports a CI runner opens for itself: the Kubernetes
// API (readiness waits, Helm) and the Talos API (bootstrap, kubeconfig).
var CIAccessPorts = []int{KubeAPIPort, TalosAPIPort}

// CIAccessPolicy is the IAM policy for the role CI assumes to open and close
// its runner's access: it can list security groups and add or remove ingress
// rules only on a group tagged CIAccessTagKey=clusterName. No other group,
// and nothing else, can be changed with it.
func CIAccessPolicy(clusterName string) string {
	type statement struct {
		Sid       string         `json:"Sid"`
		Effect    string         `json:"Effect"`
		Action    []string       `json:"Action"`
		Resource  any            `json:"Resource"`
		Condition map[string]any `json:"Condition,omitempty"`
	}
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{
		Version: "2012-10-17",
		Statement: []statement{
			{Sid: "FindTheGroup", Effect: "Allow", Action: []string{"ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules"}, Resource: "*"},
			{
				Sid:    "RunnerRuleOnThisClustersCIGroupOnly",
				Effect: "Allow",
				Action: []string{"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"},
				// Both actions authorize on the security group (required) and
				// may name the rule; the tag condition applies to the group.
				Resource:  "arn:aws:ec2:*:*:security-group/*",
				Condition: map[string]any{"StringEquals": map[string]string{"aws:ResourceTag/" + CIAccessTagKey: clusterName}},
			},
		},
	}
	b, _ := json.MarshalIndent(doc, "", "  ") //nolint:errchkjson // plain structs of strings always marshal
	return string(b)
}
