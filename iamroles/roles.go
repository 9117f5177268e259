// Package iamroles renders every IAM role and resource policy the stack
// makes, for one example cluster, with the functions the stages call: the
// per-role golden files in testdata (a permission change is a small,
// readable diff there) and the evaluator test, which runs the calls each
// component makes, and those it must not, through a real IAM policy
// evaluator (docs/security.md#the-evaluator-test).
package iamroles

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/talos-aws/talos-aws/backups"
	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/drain"
	"github.com/talos-aws/talos-aws/etcdguard"
	"github.com/talos-aws/talos-aws/identity"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/network"
)

// The example cluster every document is rendered for.
const (
	Account = "123456789012"
	Region  = "ap-southeast-1"
	Cluster = "prod"
)

// ARNs of the example cluster's resources the documents name.
var (
	BreakGlassRole     = "arn:aws:iam::" + Account + ":role/break-glass"
	GuardRole          = "arn:aws:iam::" + Account + ":role/prod-etcd-guard-role"
	BackupBucket       = "arn:aws:s3:::prod-etcd-backups-20260101"
	BackupKey          = "arn:aws:kms:" + Region + ":" + Account + ":key/0a1b2c3d-0000-4000-8000-00000000ba55"
	GuardSecret        = "arn:aws:secretsmanager:" + Region + ":" + Account + ":secret:prod-etcd-guard-talosconfig-20260101-AbCdEf"
	GuardKey           = "arn:aws:kms:" + Region + ":" + Account + ":key/0a1b2c3d-0000-4000-8000-0000000a5e1f"
	SuspectsParameter  = "arn:aws:ssm:" + Region + ":" + Account + ":parameter/talos-aws/prod/etcd-guard/suspects"
	GuardLogGroup      = "arn:aws:logs:" + Region + ":" + Account + ":log-group:/aws/lambda/prod-etcd-guard"
	ControlPlaneASG    = "arn:aws:autoscaling:" + Region + ":" + Account + ":autoScalingGroup:11111111-2222-4333-8444-555555555555:autoScalingGroupName/prod-control-plane"
	WorkerASG          = "arn:aws:autoscaling:" + Region + ":" + Account + ":autoScalingGroup:66666666-7777-4888-8999-000000000000:autoScalingGroupName/prod-general"
	NTHQueue           = "arn:aws:sqs:" + Region + ":" + Account + ":prod-nth"
	NTHRules           = []string{"arn:aws:events:" + Region + ":" + Account + ":rule/prod-nth-asg-terminate", "arn:aws:events:" + Region + ":" + Account + ":rule/prod-nth-spot-interruption"}
	OIDCProvider       = "arn:aws:iam::" + Account + ":oidc-provider/d111111abcdef8.cloudfront.net"
	OIDCIssuer         = "https://d111111abcdef8.cloudfront.net"
	BreakGlassReaders  = []string{BreakGlassRole}
	controlPlaneRole   = "arn:aws:iam::" + Account + ":role/compute-cp"
	jumpHostRole       = "arn:aws:iam::" + Account + ":role/network-jump"
	workerRole         = "arn:aws:iam::" + Account + ":role/compute-worker"
	irsaRole           = func(slug string) string { return "arn:aws:iam::" + Account + ":role/prod-" + slug }
	accountRoot        = "arn:aws:iam::" + Account + ":root"
	defaultBackupsKey  = defaultKeyPolicy(accountRoot)
	drainHandlerPolicy = drain.HandlerPolicy(NTHQueue, []string{WorkerASG})
)

// Role is one IAM role: its trust policy and its policies, by the name of
// the stack resource that attaches each (its URN's name).
type Role struct {
	// Name names the golden file, testdata/<Name>.json: the role of a
	// stack on the default Kubernetes version, or <role>-<Minor> where a
	// stack on another minor gets other policies (its add-ons' releases
	// call other APIs).
	Name string
	// Minor is the Kubernetes minor of the stack rendered ("1.36"); it
	// decides the cloud controller manager's and the cluster autoscaler's
	// releases (config.AddonsFor).
	Minor string
	// ARN is the role's; calls are made by a session of it.
	ARN      string
	Trust    iampolicy.Document
	Policies map[string]iampolicy.Document
}

// ResourcePolicy is a policy on a resource rather than a role.
type ResourcePolicy struct {
	// Name names the golden file, testdata/resource/<Name>.json.
	Name     string
	Document iampolicy.Document
}

// Roles are every role of the stack, in both workload-identity modes, on
// the default Kubernetes version (a new stack's; what program's
// TestPoliciesAreTheIAMGoldens runs), then, for every other minor the
// stack offers, each role whose policies differ there, named
// <role>-<minor>.
func Roles() []Role {
	base := rolesAt(config.DefaultKubernetesVersion)
	all := slices.Clone(base)
	for _, m := range config.OfferedMinors() {
		for i, r := range rolesAt(m + ".0") {
			if !reflect.DeepEqual(r.Policies, base[i].Policies) {
				r.Name += "-" + m
				all = append(all, r)
			}
		}
	}
	return all
}

// Minor is the minor of a Kubernetes version ("1.30.14" is "1.30").
func Minor(kubernetesVersion string) string {
	parts := strings.SplitN(kubernetesVersion, ".", 3)
	return parts[0] + "." + parts[1]
}

// rolesAt are the roles of a stack on one Kubernetes version.
func rolesAt(kubernetes string) []Role {
	addons := config.AddonsFor(kubernetes)
	minor := Minor(kubernetes)
	irsa := func(name, slug, sa string, policies map[string]iampolicy.Document) Role {
		return Role{Name: name, Minor: minor, ARN: irsaRole(slug), Trust: identity.TrustPolicy(OIDCProvider, OIDCIssuer, "kube-system", sa), Policies: policies}
	}
	return []Role{
		// Workload identity on (the default): the node role keeps the
		// cloud controller manager only.
		{Name: "control-plane", Minor: minor, ARN: controlPlaneRole, Trust: compute.AssumeRoleEC2(), Policies: map[string]iampolicy.Document{
			"compute-cp": compute.ControlPlanePolicy(Cluster, Region, addons.CCMImage, false, false),
		}},
		// workloadIdentity false: the EBS CSI controller and the
		// termination handler take the control-plane role from IMDS.
		{Name: "control-plane-noidentity", Minor: minor, ARN: controlPlaneRole, Trust: compute.AssumeRoleEC2(), Policies: map[string]iampolicy.Document{
			"compute-cp": compute.ControlPlanePolicy(Cluster, Region, addons.CCMImage, true, false),
			"drain-nth":  drainHandlerPolicy,
		}},
		{Name: "worker", Minor: minor, ARN: workerRole, Trust: compute.AssumeRoleEC2(), Policies: map[string]iampolicy.Document{
			"compute-worker": compute.WorkerPolicy(Region, false),
		}},
		// Nodes running the ECR credential provider extension (the image
		// key): the control plane's (the cluster's image) and the
		// workers' (any pool's) roles pull from ECR.
		{Name: "control-plane-ecr", Minor: minor, ARN: controlPlaneRole, Trust: compute.AssumeRoleEC2(), Policies: map[string]iampolicy.Document{
			"compute-cp": compute.ControlPlanePolicy(Cluster, Region, addons.CCMImage, false, true),
		}},
		{Name: "worker-ecr", Minor: minor, ARN: workerRole, Trust: compute.AssumeRoleEC2(), Policies: map[string]iampolicy.Document{
			"compute-worker": compute.WorkerPolicy(Region, true),
		}},
		irsa("ebs-csi", "ebs-csi", "ebs-csi-controller-sa", map[string]iampolicy.Document{
			"identity-kube-system-ebs-csi-controller-sa": compute.EBSCSIPolicy(Cluster, Region),
		}),
		irsa("node-termination-handler", "nth", "aws-node-termination-handler", map[string]iampolicy.Document{
			"drain-nth": drainHandlerPolicy,
		}),
		irsa("cluster-autoscaler", "autoscaler", "cluster-autoscaler", map[string]iampolicy.Document{
			"identity-kube-system-cluster-autoscaler": compute.AutoscalerPolicy(Cluster, addons.Autoscaler()),
		}),
		// jumpHost: the SSM jump host's instance role.
		{Name: "jump-host", Minor: minor, ARN: jumpHostRole, Trust: compute.AssumeRoleEC2(), Policies: map[string]iampolicy.Document{
			"network-jump": network.JumpHostPolicy(Region),
		}},
		{Name: "etcd-guard", Minor: minor, ARN: GuardRole, Trust: etcdguard.AssumeRoleLambda(), Policies: map[string]iampolicy.Document{
			"etcd-guard-role":      etcdguard.Policy(etcdguard.ARNs{Region: Region, Secret: GuardSecret, Key: GuardKey, Parameter: SuspectsParameter, LogGroup: GuardLogGroup}),
			"etcd-guard-lifecycle": etcdguard.LifecyclePolicy(ControlPlaneASG),
			"backups-writer":       backups.WriterPolicy(BackupBucket, BackupKey, Cluster),
		}},
	}
}

// ResourcePolicies are the policies on the stack's resources that decide
// who may read or change them.
func ResourcePolicies() []ResourcePolicy {
	return []ResourcePolicy{
		{Name: "etcd-backups-bucket", Document: mustParse(backups.BucketPolicy(BackupBucket, GuardRole, BreakGlassReaders))},
		{Name: "etcd-backups-key", Document: defaultBackupsKey},
		{Name: "etcd-guard-secret", Document: etcdguard.SecretPolicy(GuardRole, BreakGlassReaders)},
		{Name: "etcd-guard-key", Document: etcdguard.KeyPolicy(accountRoot, Region)},
		{Name: "nth-queue", Document: mustParse(drain.QueuePolicy(NTHQueue, NTHRules))},
	}
}

// defaultKeyPolicy is the policy KMS gives a key created without one, as
// the backups key is (backups.New): the account administers and uses it
// through IAM.
func defaultKeyPolicy(root string) iampolicy.Document {
	return iampolicy.New(iampolicy.Statement{Sid: "Enable IAM User Permissions", Effect: "Allow",
		Principal: map[string]string{"AWS": root}, Action: "kms:*", Resource: "*"})
}

func mustParse(s string) iampolicy.Document {
	var d iampolicy.Document
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		panic(fmt.Sprintf("iamroles: policy %s: %v", s, err))
	}
	return d
}
