// Package etcdguard is the etcd guard's stack side: the component that
// deploys the guard Lambda (its network, talosconfig secret, role, function
// and pre-change snapshot), attaches it to the control-plane group's
// lifecycle hooks and schedules, builds the Lambda from etcdguard/lambda
// (build.go), and the rollout wait `pulumi up` runs before the worker pools
// roll (rollout.go). It shares only package contract with the Lambda.
package etcdguard

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumiverse/pulumi-talos/sdk/go/talos/machine"
	clientconfig "github.com/siderolabs/talos/pkg/machinery/client/config"

	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/etcdguard/contract"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/internal/ports"
	"github.com/talos-aws/talos-aws/internal/s3bucket"
	"github.com/talos-aws/talos-aws/internal/ssmparam"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
	"github.com/talos-aws/talos-aws/internal/tags"
)

// The guard's timings.
const (
	// Hook timeouts: a join (boot, install, learner, promotion) takes a few
	// minutes; a leave is seconds, but Talos retries it for up to five. Both
	// outlast the Lambda's timeout, so no hook expires within one run even
	// before the run's own heartbeats; a held hook lasts at most 100
	// timeouts (AWS LifecycleHook GlobalTimeout: 25 h).
	LaunchHookTimeout    = 900
	TerminateHookTimeout = 900
	// AuditSchedule is the guard's audit rate.
	AuditSchedule = "rate(5 minutes)"
	// Timeout is the Lambda's timeout: a leave may retry for five
	// minutes (talos v1.12.0 internal/pkg/etcd/etcd.go LeaveCluster).
	Timeout = 600
)

// FunctionName is the Lambda's name (fixed, so its log group can be
// created with a retention before the first run).
func FunctionName(cluster string) string { return cluster + "-etcd-guard" }

// SuspectsParameterName is the SSM parameter the audit keeps suspects in.
func SuspectsParameterName(cluster string) string {
	return "/talos-aws/" + cluster + "/etcd-guard/suspects"
}

// LifecycleEventPattern matches the EventBridge events of this group's
// lifecycle actions, and no other group's.
func LifecycleEventPattern(asgName string) string {
	b, _ := json.Marshal(map[string]any{ //nolint:errchkjson // strings only
		"source":      []string{"aws.autoscaling"},
		"detail-type": []string{"EC2 Instance-launch Lifecycle Action", "EC2 Instance-terminate Lifecycle Action"},
		"detail":      map[string]any{"AutoScalingGroupName": []string{asgName}},
	})
	return string(b)
}

// ARNs are the resources the guard may act on.
type ARNs struct {
	Region, Secret, Key, Parameter, LogGroup string
}

// guardCall names the guard's own caller of an action: a function of
// etcdguard/lambda/awsapi (this repository, the code the stack deploys).
func guardCall(file, fn string) string { return "etcdguard/lambda/awsapi/" + file + " " + fn }

// Policy is the guard's inline policy. It may read only this secret
// (decrypting through Secrets Manager with this key), write only its
// parameter and log group, and publish only to its metric namespace.
// Describe calls have no resource-level permissions in IAM, so they take
// "*"; so do the network-interface calls Lambda itself makes with the
// function's role for a function in a VPC (as AWS's managed
// AWSLambdaVPCAccessExecutionRole grants them: copied, not attached,
// because that policy also writes every log group of the account).
// Lifecycle actions are a second policy (LifecyclePolicy): the function
// exists before the control-plane group does.
func Policy(a ARNs) iampolicy.Document {
	p := &iampolicy.Policy{}
	p.Allow(iampolicy.Unconditional("Describe"),
		iampolicy.Grant{Action: "autoscaling:DescribeAutoScalingGroups", Caller: guardCall("awsapi.go", "ASG.Instances")},
		iampolicy.Grant{Action: "autoscaling:DescribeInstanceRefreshes", Caller: guardCall("awsapi.go", "ASG.Capacity")},
		iampolicy.Grant{Action: "ec2:DescribeInstances", Caller: guardCall("ec2query.go", "EC2.PrivateIPs")})
	p.Allow(iampolicy.Scope{Sid: "Talosconfig", Resource: a.Secret},
		iampolicy.Grant{Action: "secretsmanager:GetSecretValue", Caller: guardCall("awsapi.go", "Talosconfig")})
	p.Allow(iampolicy.Scope{Sid: "TalosconfigKey", Resource: a.Key,
		Condition: map[string]map[string]any{"StringEquals": {"kms:ViaService": "secretsmanager." + a.Region + ".amazonaws.com"}}},
		iampolicy.Grant{Action: "kms:Decrypt", Caller: "Secrets Manager, for " + guardCall("awsapi.go", "Talosconfig")})
	p.Allow(iampolicy.Scope{Sid: "Suspects", Resource: a.Parameter},
		iampolicy.Grant{Action: "ssm:GetParameter", Caller: guardCall("awsapi.go", "Suspects.Load")},
		iampolicy.Grant{Action: "ssm:PutParameter", Caller: guardCall("awsapi.go", "Suspects.Save")})
	p.Allow(iampolicy.Scope{Sid: "Metrics", Resource: "*",
		Condition: map[string]map[string]any{"StringEquals": {"cloudwatch:namespace": contract.Namespace}}},
		iampolicy.Grant{Action: "cloudwatch:PutMetricData", Caller: guardCall("awsapi.go", "Metrics.Publish")})
	p.Allow(iampolicy.Scope{Sid: "Logs", Resource: a.LogGroup + ":*"},
		iampolicy.Grant{Action: "logs:CreateLogStream", Caller: "AWS Lambda (function logs; AWS managed AWSLambdaBasicExecutionRole, this log group only)"},
		iampolicy.Grant{Action: "logs:PutLogEvents", Caller: "AWS Lambda (function logs; AWS managed AWSLambdaBasicExecutionRole, this log group only)"})
	const vpc = "AWS Lambda (function in a VPC; AWS managed AWSLambdaVPCAccessExecutionRole)"
	p.Allow(iampolicy.Scope{Sid: "VPC", Resource: "*"},
		iampolicy.Grant{Action: "ec2:CreateNetworkInterface", Caller: vpc},
		iampolicy.Grant{Action: "ec2:DescribeNetworkInterfaces", Caller: vpc},
		iampolicy.Grant{Action: "ec2:DeleteNetworkInterface", Caller: vpc},
		iampolicy.Grant{Action: "ec2:AssignPrivateIpAddresses", Caller: vpc},
		iampolicy.Grant{Action: "ec2:UnassignPrivateIpAddresses", Caller: vpc})
	return p.Document()
}

// LifecyclePolicy lets the guard complete and heartbeat the lifecycle
// actions of this cluster's control-plane group only, and set the scale-in
// protection of its instances (it lifts it from the one node a scale-in
// may take: Decide, Unprotect).
func LifecyclePolicy(asgARN string) iampolicy.Document {
	p := &iampolicy.Policy{}
	p.Allow(iampolicy.Scope{Sid: "LifecycleActions", Resource: asgARN},
		iampolicy.Grant{Action: "autoscaling:CompleteLifecycleAction", Caller: guardCall("awsapi.go", "ASG.CompleteLifecycleAction")},
		iampolicy.Grant{Action: "autoscaling:RecordLifecycleActionHeartbeat", Caller: guardCall("awsapi.go", "ASG.RecordHeartbeat")},
		iampolicy.Grant{Action: "autoscaling:SetInstanceProtection", Caller: guardCall("awsapi.go", "ASG.SetProtection")})
	return p.Document()
}

// ControlPlaneASGTags are the tags that find the control-plane group (the
// guard's GUARD_ASG_TAGS): its Name tag and the cluster tag, both set by
// New on the group.
func ControlPlaneASGTags(cfg *config.Config) map[string]string {
	return map[string]string{"Name": compute.ControlPlaneASGName(cfg.ClusterName), tagkeys.ClusterPrefix + cfg.ClusterName: "owned"}
}

// BackupSchedule is the backup rule's schedule.
func BackupSchedule(intervalMinutes int) string {
	return fmt.Sprintf("rate(%d minutes)", intervalMinutes)
}

// AssumeRoleLambda lets Lambda assume the guard's role.
func AssumeRoleLambda() iampolicy.Document {
	return iampolicy.Document{Version: iampolicy.Version, Statement: []iampolicy.Statement{{
		Effect: "Allow", Principal: map[string]string{"Service": "lambda.amazonaws.com"}, Action: []string{"sts:AssumeRole"},
	}}}
}

// Talosconfig renders the guard's talosconfig from the admin client
// certificate: one context, no endpoints (the guard names every node it
// calls). ca, crt and key are base64 PEM, the form talosconfig files hold.
func Talosconfig(cluster, ca, crt, key string) (string, error) {
	for k, v := range map[string]string{"caCertificate": ca, "clientCertificate": crt, "clientKey": key} {
		if _, err := base64.StdEncoding.DecodeString(v); err != nil || v == "" {
			return "", fmt.Errorf("compute: the admin client configuration's %s is not base64 PEM", k)
		}
	}
	c := &clientconfig.Config{Context: cluster, Contexts: map[string]*clientconfig.Context{
		cluster: {Endpoints: []string{}, CA: ca, Crt: crt, Key: key},
	}}
	b, err := c.Bytes()
	return string(b), err
}

// talosconfigOutput builds it from a resource output: unknown in a first
// preview (never a secret wrapping an unknown), secret once known.
func talosconfigOutput(cluster string, cc machine.ClientConfigurationOutput) pulumi.StringOutput {
	return pulumi.All(cc.CaCertificate(), cc.ClientCertificate(), cc.ClientKey()).ApplyT(func(v []any) (string, error) {
		var s [3]string
		for i := range s {
			str, ok := v[i].(string)
			if !ok {
				return "", fmt.Errorf("compute: client configuration field %d is %T", i, v[i])
			}
			s[i] = str
		}
		return Talosconfig(cluster, s[0], s[1], s[2])
	}).(pulumi.StringOutput)
}

// Args configure the etcd guard.
type Args struct {
	Config                      *config.Config
	Tags                        map[string]string
	VPCID                       pulumi.StringInput
	PrivateSubnetIDs            pulumi.StringArrayInput
	ControlPlaneSecurityGroupID pulumi.StringInput
	// ClientConfiguration is the admin client certificate of the machine
	// secrets (os:admin; base64 PEM, as the Talos provider returns it).
	ClientConfiguration machine.ClientConfigurationOutput
	// Code is the function's code object (SourceCode): its key is known
	// without a build; Deploy uploads it in `up`.
	Code Code
	// Paused sets GUARD_PAUSED: the guard observes, publishes metrics and
	// holds the terminations that may hold a member, but changes and
	// completes nothing.
	Paused bool
	// SecretWriter stores the talosconfig in its secret, in `up` (nil:
	// nothing is written; tests).
	SecretWriter SecretWriter
}

// Guard is the etcd guard's component resource. It is built in three
// steps around the control-plane group: New (network, secret, role),
// Deploy (the function, and the pre-change snapshot the group waits for),
// Attach (hooks and triggers, once the group and the bootstrap exist).
type Guard struct {
	pulumi.ResourceState

	FunctionName    pulumi.StringOutput
	SecurityGroupID pulumi.StringOutput
	SecretARN       pulumi.StringOutput
	RoleARN         pulumi.StringOutput
	RoleName        pulumi.StringOutput
	// Function and PreChange (nil with backups off) exist after Deploy.
	Function  *lambda.Function
	PreChange *lambda.Invocation

	args   Args
	name   string
	parent pulumi.ResourceOption
	tagged pulumi.StringMap
	// deps are what the function and the pre-change invocation need in
	// place: the role's policy, the 50000 rules; written resolves once the
	// talosconfig is in the secret.
	deps    []pulumi.Resource
	written pulumi.ResourceArrayOutput
	// backup is set by Deploy when backups are on.
	backup *Backup
}

// New registers the etcd guard and creates what its function needs: a
// security group that reaches the control-plane nodes' Talos API
// (tcp/50000), the admin talosconfig in Secrets Manager under a
// customer-managed KMS key, the suspects parameter, the log group and the
// role. Nothing here depends on the control-plane group.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Guard, error) {
	cfg := args.Config
	g := &Guard{args: args, name: name}
	if err := ctx.RegisterComponentResource("talos-aws:compute:EtcdGuard", name, g, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(g)
	g.parent = parent
	tagged := tags.For(args.Tags, cfg.ClusterName+"-etcd-guard", nil)
	g.tagged = tagged
	fnName := FunctionName(cfg.ClusterName)

	// Network: the guard's own group; it talks to nodes on 50000 and to AWS
	// APIs on 443, nothing else, and nothing talks to it.
	// Guarded: no node role may change it (compute.ControlPlanePolicy).
	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		VpcId: args.VPCID, Description: pulumi.String("talos-aws etcd guard"),
		Tags: tags.For(args.Tags, cfg.ClusterName+"-etcd-guard", map[string]string{tagkeys.Guarded: "true"}),
	}, parent)
	if err != nil {
		return nil, err
	}
	g.SecurityGroupID = sg.ID().ToStringOutput()
	egressTalos, err := ec2.NewSecurityGroupRule(ctx, name+"-egress-talos", &ec2.SecurityGroupRuleArgs{
		SecurityGroupId: sg.ID(), Type: pulumi.String("egress"), Protocol: pulumi.String("tcp"),
		FromPort: pulumi.Int(ports.TalosAPI), ToPort: pulumi.Int(ports.TalosAPI), SourceSecurityGroupId: args.ControlPlaneSecurityGroupID,
		Description: pulumi.String("Talos API on control-plane nodes"),
	}, parent)
	if err != nil {
		return nil, err
	}
	egressAWS, err := ec2.NewSecurityGroupRule(ctx, name+"-egress-aws", &ec2.SecurityGroupRuleArgs{
		SecurityGroupId: sg.ID(), Type: pulumi.String("egress"), Protocol: pulumi.String("tcp"),
		FromPort: pulumi.Int(443), ToPort: pulumi.Int(443), CidrBlocks: pulumi.StringArray{pulumi.String("0.0.0.0/0")},
		Description: pulumi.String("AWS APIs (Auto Scaling, EC2, Secrets Manager, SSM, CloudWatch, S3) through the NAT"),
	}, parent)
	if err != nil {
		return nil, err
	}
	ingressCP, err := ec2.NewSecurityGroupRule(ctx, name+"-cp-from-guard", &ec2.SecurityGroupRuleArgs{
		SecurityGroupId: args.ControlPlaneSecurityGroupID, Type: pulumi.String("ingress"), Protocol: pulumi.String("tcp"),
		FromPort: pulumi.Int(ports.TalosAPI), ToPort: pulumi.Int(ports.TalosAPI), SourceSecurityGroupId: sg.ID(),
		Description: pulumi.String("Talos API from the etcd guard only"),
	}, parent)
	if err != nil {
		return nil, err
	}

	role, err := iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(AssumeRoleLambda().JSON()), Tags: tagged,
	}, parent)
	if err != nil {
		return nil, err
	}
	g.RoleARN, g.RoleName = role.Arn, role.Name

	// The admin talosconfig, encrypted with a key of its own that decrypts
	// only through Secrets Manager (KeyPolicy), in a secret only the guard
	// and the break-glass roles may read (SecretPolicy). `up` writes its
	// value (SecretWriter); nothing in the stack reads it back.
	keyPolicy := role.Arn.ApplyT(func(arn string) (string, error) {
		root, err := AccountRoot(arn)
		if err != nil {
			return "", err
		}
		return KeyPolicy(root, cfg.Region).JSON(), nil
	}).(pulumi.StringOutput)
	key, err := kms.NewKey(ctx, name+"-key", &kms.KeyArgs{
		Description: pulumi.String(cfg.ClusterName + " etcd guard talosconfig"), EnableKeyRotation: pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(7), Policy: keyPolicy, Tags: tagged,
	}, parent)
	if err != nil {
		return nil, err
	}
	sm, err := secretsmanager.NewSecret(ctx, name+"-admin-talosconfig", &secretsmanager.SecretArgs{
		NamePrefix: pulumi.String(cfg.ClusterName + "-etcd-guard-talosconfig-"), KmsKeyId: key.Arn,
		Description: pulumi.String("admin talosconfig of " + cfg.ClusterName + " for the etcd guard; readable by the guard and etcdGuardSecretReaders only"), Tags: tagged,
	}, parent)
	if err != nil {
		return nil, err
	}
	g.SecretARN = sm.Arn
	readers := cfg.EtcdGuardSecretReaders
	// Kept on delete: only the break-glass roles may remove it, and the
	// secret's own deletion takes it along.
	smPolicy, err := secretsmanager.NewSecretPolicy(ctx, name+"-admin-talosconfig", &secretsmanager.SecretPolicyArgs{
		SecretArn: sm.Arn, BlockPublicPolicy: pulumi.Bool(true),
		Policy: role.Arn.ApplyT(func(arn string) string { return SecretPolicy(arn, readers).JSON() }).(pulumi.StringOutput),
	}, parent, pulumi.RetainOnDelete(true))
	if err != nil {
		return nil, err
	}
	talosconfig := talosconfigOutput(cfg.ClusterName, args.ClientConfiguration)
	write := args.SecretWriter
	// Written once the policy is in place, in `up` only; what depends on
	// the value (the function, its first invocation) waits for g.written.
	g.written = pulumi.All(sm.Arn, talosconfig, smPolicy.ID()).ApplyT(func(v []any) ([]pulumi.Resource, error) {
		arn, ok1 := v[0].(string)
		value, ok2 := v[1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("etcdguard: talosconfig secret inputs are %T, %T", v[0], v[1])
		}
		if !ctx.DryRun() && write != nil {
			if err := write(ctx.Context(), arn, value); err != nil {
				return nil, err
			}
		}
		return []pulumi.Resource{smPolicy}, nil
	}).(pulumi.ResourceArrayOutput)
	// The audit owns the value after creation.
	param, err := ssmparam.New(ctx, name+"-suspects", ssmparam.Args{
		Name: pulumi.String(SuspectsParameterName(cfg.ClusterName)), Type: pulumi.String("String"), Value: pulumi.String("-"),
		Description: pulumi.String("etcd members the guard's last audit found without an instance"), Tags: tagged,
	}, parent, pulumi.IgnoreChanges([]string{"value"}))
	if err != nil {
		return nil, err
	}
	logs, err := cloudwatch.NewLogGroup(ctx, name+"-logs", &cloudwatch.LogGroupArgs{
		Name: pulumi.String("/aws/lambda/" + fnName), RetentionInDays: pulumi.Int(30), Tags: tagged,
	}, parent)
	if err != nil {
		return nil, err
	}

	policy := pulumi.All(sm.Arn, key.Arn, param.Arn, logs.Arn).ApplyT(func(v []any) (string, error) {
		s, err := strs(v)
		if err != nil {
			return "", err
		}
		return Policy(ARNs{Region: cfg.Region, Secret: s[0], Key: s[1], Parameter: s[2], LogGroup: s[3]}).JSON(), nil
	}).(pulumi.StringOutput)
	rolePolicy, err := iam.NewRolePolicy(ctx, name+"-role", &iam.RolePolicyArgs{Role: role.Name, Policy: policy}, parent)
	if err != nil {
		return nil, err
	}
	g.deps = []pulumi.Resource{logs, rolePolicy, smPolicy, param, egressTalos, egressAWS, ingressCP}
	return g, nil
}

func strs(v []any) ([]string, error) {
	s := make([]string, len(v))
	for i := range v {
		str, ok := v[i].(string)
		if !ok {
			return nil, fmt.Errorf("compute: guard policy input %d is %T", i, v[i])
		}
		s[i] = str
	}
	return s, nil
}

// Backup turns on the guard's backups.
type Backup struct {
	Bucket pulumi.StringInput
	KeyARN pulumi.StringInput
	// WriterPolicy is the role's permission to write snapshots (package
	// backups): the function, and so its first invocation, wait for it.
	WriterPolicy pulumi.Resource
}

// DeployArgs configure the function and the pre-change snapshot.
type DeployArgs struct {
	// Backup is nil when backups are off: no backup environment, no
	// pre-change snapshot, no schedule.
	Backup *Backup
	// ControlPlaneLaunchTemplate's new versions, and a new control-plane
	// count, trigger the pre-change snapshot.
	ControlPlaneLaunchTemplate *ec2.LaunchTemplate
	// PrivateEgress are the private routes (NAT): the function reaches AWS
	// APIs through them.
	PrivateEgress []pulumi.Resource
}

// PreChangeTriggers are what re-runs the pre-change snapshot: a new launch
// template version (which every AMI, instance type or machine
// configuration change makes, Talos and Kubernetes upgrades included), the
// versions themselves, the control plane's image (its schematic ID; only
// when it has one, so a stack without keeps its triggers), and the node
// count. Any of them changing is an instance refresh or a membership
// change of the control plane.
func PreChangeTriggers(cfg *config.Config, launchTemplateVersion pulumi.StringInput) pulumi.StringMap {
	t := pulumi.StringMap{
		"launchTemplateVersion": launchTemplateVersion,
		"talosVersion":          pulumi.String(cfg.TalosVersion),
		"kubernetesVersion":     pulumi.String(cfg.KubernetesVersion),
		"controlPlaneCount":     pulumi.String(fmt.Sprint(cfg.ControlPlane.Count)),
	}
	if !cfg.Image.IsZero() {
		t["controlPlaneImage"] = pulumi.String(cfg.Image.Schematic().ID())
	}
	return t
}

// Deploy creates the function and, with backups on, the pre-change
// snapshot: a lambda.Invocation the control-plane group depends on.
//
// The Invocation (pulumi-aws v6.83.4 sdk/go/aws/lambda/invocation.go)
// invokes synchronously (RequestResponse) on create or replace only
// (lifecycleScope CREATE_ONLY, the default); a change of its triggers
// replaces it, so it runs in exactly the `up`s that change the control
// plane, before the group's update starts the instance refresh. A function
// error fails it, and `up` stops before touching the control plane. A
// preview plans it without invoking (the bridged provider's Create runs in
// `up` only).
func (g *Guard) Deploy(ctx *pulumi.Context, d DeployArgs) error {
	cfg := g.args.Config
	paused := "false"
	if g.args.Paused {
		paused = "true"
	}
	asgTags, err := json.Marshal(ControlPlaneASGTags(cfg))
	if err != nil {
		return err
	}
	env := pulumi.StringMap{
		contract.EnvClusterName:   pulumi.String(cfg.ClusterName),
		contract.EnvASGTags:       pulumi.String(string(asgTags)),
		contract.EnvLaunchHook:    pulumi.String(contract.LaunchHook),
		contract.EnvTerminateHook: pulumi.String(contract.TerminateHook),
		contract.EnvSecretID:      g.SecretARN,
		contract.EnvSuspectsParam: pulumi.String(SuspectsParameterName(cfg.ClusterName)),
		contract.EnvPaused:        pulumi.String(paused),
	}
	deps := append([]pulumi.Resource(nil), g.deps...)
	// Snapshots wait in /tmp, twice with age (plain and encrypted): room for
	// two of etcd's default 2 GiB quota, and some.
	ephemeral := 512
	if d.Backup != nil {
		env[contract.EnvBackupBucket] = d.Backup.Bucket
		env[contract.EnvBackupKMSKey] = d.Backup.KeyARN
		if cfg.Backups.AgeRecipient != "" {
			env[contract.EnvBackupAgeRecipient] = pulumi.String(cfg.Backups.AgeRecipient)
		}
		if d.Backup.WriterPolicy != nil {
			deps = append(deps, d.Backup.WriterPolicy)
		}
		ephemeral = BackupEphemeralMB
		g.backup = d.Backup
	}
	bucket, key, err := g.codeObject(ctx)
	if err != nil {
		return err
	}
	fn, err := lambda.NewFunction(ctx, g.name, &lambda.FunctionArgs{
		Name:          pulumi.String(FunctionName(cfg.ClusterName)),
		Description:   pulumi.String("etcd membership guard and backups of the " + cfg.ClusterName + " control plane"),
		Runtime:       pulumi.String("provided.al2023"),
		Handler:       pulumi.String("bootstrap"),
		Architectures: pulumi.StringArray{pulumi.String("arm64")},
		// From S3, not a local archive: a preview plans it from the key
		// and builds nothing (Code). No sourceCodeHash: the key, named by
		// the source hash, is what changes with the code, and a change of
		// s3Key is an in-place UpdateFunctionCode (terraform-provider-aws
		// internal/service/lambda/function.go, needsFunctionCodeUpdate).
		S3Bucket:   bucket,
		S3Key:      key,
		Role:       g.RoleARN,
		MemorySize: pulumi.Int(256),
		Timeout:    pulumi.Int(Timeout),
		// One run at a time: two runs never change the membership at once,
		// and a snapshot never overlaps a membership change.
		ReservedConcurrentExecutions: pulumi.Int(1),
		EphemeralStorage:             &lambda.FunctionEphemeralStorageArgs{Size: pulumi.Int(ephemeral)},
		VpcConfig: &lambda.FunctionVpcConfigArgs{
			SubnetIds: g.args.PrivateSubnetIDs, SecurityGroupIds: pulumi.StringArray{g.SecurityGroupID},
		},
		Environment: &lambda.FunctionEnvironmentArgs{Variables: env},
		Tags:        g.tagged,
	}, g.parent, pulumi.DependsOn(deps), pulumi.DependsOnInputs(g.written))
	if err != nil {
		return err
	}
	g.Function, g.FunctionName = fn, fn.Name
	if d.Backup == nil {
		return nil
	}
	version := d.ControlPlaneLaunchTemplate.LatestVersion.ApplyT(func(v int) string { return fmt.Sprint(v) }).(pulumi.StringOutput)
	g.PreChange, err = lambda.NewInvocation(ctx, g.name+"-pre-change", &lambda.InvocationArgs{
		FunctionName: fn.Name,
		Input:        pulumi.String(contract.BackupInput("pre-change")),
		Triggers:     PreChangeTriggers(cfg, version),
	}, g.parent, pulumi.DependsOn(append(append([]pulumi.Resource{fn}, deps...), d.PrivateEgress...)), pulumi.DependsOnInputs(g.written))
	return err
}

// CodeExpiryDays is how long the code bucket keeps a zip. Lambda keeps its
// own copy of the code, and `up` uploads the zip again whenever its object
// is gone, so expiry only bounds the bucket.
const CodeExpiryDays = 30

// codeObject creates the private bucket the function's code is deployed
// from and returns its name and the code's key. The key resolves, in `up`,
// once the zip is uploaded (Code.Upload), so the function is created or
// updated only after; in a preview it is the key, nothing built or sent.
// The bucket is the runner's and Lambda's only: no policy grants anyone
// else anything, and it takes TLS only. S3 encrypts every object (SSE-S3)
// without a setting; the code is no secret (it is this repository's).
func (g *Guard) codeObject(ctx *pulumi.Context) (pulumi.StringOutput, pulumi.StringOutput, error) {
	var none pulumi.StringOutput
	name := g.name + "-code"
	b, err := s3.NewBucketV2(ctx, name, &s3.BucketV2Args{
		BucketPrefix: pulumi.String(g.args.Config.ClusterName + "-etcd-guard-code-"),
		// Its objects are copies of builds: destroy takes them along.
		ForceDestroy: pulumi.Bool(true),
		Tags:         g.tagged,
	}, g.parent)
	if err != nil {
		return none, none, err
	}
	chain := s3bucket.NewChain(g.parent, b)
	if err := s3bucket.Private(ctx, name, b.ID(), chain); err != nil {
		return none, none, err
	}
	lifecycle, err := s3.NewBucketLifecycleConfigurationV2(ctx, name, &s3.BucketLifecycleConfigurationV2Args{
		Bucket: b.ID(),
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{&s3.BucketLifecycleConfigurationV2RuleArgs{
			Id: pulumi.String("expiry"), Status: pulumi.String("Enabled"),
			Filter:                         &s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String("etcd-guard/")},
			Expiration:                     &s3.BucketLifecycleConfigurationV2RuleExpirationArgs{Days: pulumi.Int(CodeExpiryDays)},
			AbortIncompleteMultipartUpload: &s3.BucketLifecycleConfigurationV2RuleAbortIncompleteMultipartUploadArgs{DaysAfterInitiation: pulumi.Int(1)},
		}},
	}, chain.Next()...)
	if err != nil {
		return none, none, err
	}
	chain.Then(lifecycle)
	policy := b.Arn.ApplyT(func(arn string) string { return CodeBucketPolicy(arn) }).(pulumi.StringOutput)
	last, err := s3.NewBucketPolicy(ctx, name, &s3.BucketPolicyArgs{Bucket: b.ID(), Policy: policy}, chain.Next()...)
	if err != nil {
		return none, none, err
	}
	code := g.args.Code
	key := pulumi.All(b.Bucket, last.ID()).ApplyT(func(v []any) (string, error) {
		b, ok := v[0].(string)
		if !ok {
			return "", fmt.Errorf("etcdguard: code bucket name is %T", v[0])
		}
		if !ctx.DryRun() && code.Upload != nil {
			if err := code.Upload(ctx.Context(), b); err != nil {
				return "", err
			}
		}
		return code.Key, nil
	}).(pulumi.StringOutput)
	return b.Bucket, key, nil
}

// CodeBucketPolicy refuses every request to the code bucket without TLS.
func CodeBucketPolicy(bucketARN string) string {
	return iampolicy.New(iampolicy.Statement{
		Sid: "TLSOnly", Effect: "Deny", Principal: "*", Action: []string{"s3:*"}, Resource: []string{bucketARN, bucketARN + "/*"},
		Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": "false"}},
	}).JSON()
}

// BackupEphemeralMB is the function's /tmp with backups on.
const BackupEphemeralMB = 5120

// AttachArgs name the control-plane group and the bootstrap.
type AttachArgs struct {
	ControlPlaneASG *autoscaling.Group
	// Bootstrap is the etcd bootstrap: the launch hook is created after it,
	// so the first nodes are not held before there is a cluster to join.
	Bootstrap pulumi.Resource
	// AlarmTopicARN is where the guard's alarms notify.
	AlarmTopicARN pulumi.StringInput
}

// Attach gives the guard its triggers once the control-plane group exists:
// the group's lifecycle actions through EventBridge, the audit schedule,
// the backup schedule (backups on), the hooks, and the permission to
// complete lifecycle actions on that group only.
func (g *Guard) Attach(ctx *pulumi.Context, a AttachArgs) error {
	cfg, name, parent, tagged, fn := g.args.Config, g.name, g.parent, g.tagged, g.Function
	if fn == nil {
		return fmt.Errorf("compute: the etcd guard's Attach before Deploy")
	}
	lifecyclePolicy, err := iam.NewRolePolicy(ctx, name+"-lifecycle", &iam.RolePolicyArgs{
		Role: g.RoleName, Policy: a.ControlPlaneASG.Arn.ApplyT(func(arn string) string { return LifecyclePolicy(arn).JSON() }).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return err
	}

	lifecycle, err := cloudwatch.NewEventRule(ctx, name+"-lifecycle", &cloudwatch.EventRuleArgs{
		Description:  pulumi.String("lifecycle actions of the " + cfg.ClusterName + " control-plane ASG"),
		EventPattern: a.ControlPlaneASG.Name.ApplyT(LifecycleEventPattern).(pulumi.StringOutput),
		Tags:         tagged,
	}, parent)
	if err != nil {
		return err
	}
	audit, err := cloudwatch.NewEventRule(ctx, name+"-audit", &cloudwatch.EventRuleArgs{
		Description:        pulumi.String("etcd membership audit of " + cfg.ClusterName),
		ScheduleExpression: pulumi.String(AuditSchedule),
		Tags:               tagged,
	}, parent)
	if err != nil {
		return err
	}
	type trigger struct {
		n     string
		rule  *cloudwatch.EventRule
		input pulumi.StringPtrInput
	}
	triggers := []trigger{{"lifecycle", lifecycle, nil}, {"audit", audit, nil}}
	if g.backup != nil {
		bk, err := cloudwatch.NewEventRule(ctx, name+"-backup", &cloudwatch.EventRuleArgs{
			Description:        pulumi.String("etcd snapshot of " + cfg.ClusterName + " to S3"),
			ScheduleExpression: pulumi.String(BackupSchedule(cfg.Backups.IntervalMinutes)),
			Tags:               tagged,
		}, parent)
		if err != nil {
			return err
		}
		triggers = append(triggers, trigger{"backup", bk, pulumi.String(contract.BackupInput("scheduled"))})
	}
	for _, r := range triggers {
		if _, err := cloudwatch.NewEventTarget(ctx, name+"-"+r.n, &cloudwatch.EventTargetArgs{
			Rule: r.rule.Name, Arn: fn.Arn, Input: r.input,
		}, parent); err != nil {
			return err
		}
		if _, err := lambda.NewPermission(ctx, name+"-"+r.n, &lambda.PermissionArgs{
			Action: pulumi.String("lambda:InvokeFunction"), Function: fn.Name,
			Principal: pulumi.String("events.amazonaws.com"), SourceArn: r.rule.Arn,
		}, parent); err != nil {
			return err
		}
	}

	// Hooks as separate resources (not the group's initialLifecycleHooks,
	// which the provider applies only when it creates a group): they reach
	// existing groups too. The launch hook waits for the bootstrap.
	hookDeps := []pulumi.Resource{fn, lifecyclePolicy}
	if _, err := autoscaling.NewLifecycleHook(ctx, name+"-terminate", &autoscaling.LifecycleHookArgs{
		Name: pulumi.String(contract.TerminateHook), AutoscalingGroupName: a.ControlPlaneASG.Name,
		LifecycleTransition: pulumi.String("autoscaling:EC2_INSTANCE_TERMINATING"),
		// A hook cannot stop a termination for good: the guard holds one
		// with heartbeats while letting it go would cost quorum (and the
		// held alarm pages); when the guard cannot act at all, the
		// termination goes on and the audit cleans up.
		DefaultResult: pulumi.String("CONTINUE"), HeartbeatTimeout: pulumi.Int(TerminateHookTimeout),
	}, parent, pulumi.DependsOn(hookDeps)); err != nil {
		return err
	}
	if a.Bootstrap != nil {
		hookDeps = append(hookDeps, a.Bootstrap)
	}
	if _, err := autoscaling.NewLifecycleHook(ctx, name+"-launch", &autoscaling.LifecycleHookArgs{
		Name: pulumi.String(contract.LaunchHook), AutoscalingGroupName: a.ControlPlaneASG.Name,
		LifecycleTransition: pulumi.String("autoscaling:EC2_INSTANCE_LAUNCHING"),
		// CONTINUE: Talos joins a new node to etcd whatever the hook says,
		// so ABANDON would terminate a voter without removing its member
		// (and, when the control plane is lost, every replacement the
		// operator needs to restore onto). The guard holds a launch with
		// heartbeats until the node is a healthy voter with a ready
		// control plane, which is what stops a refresh at a bad node; the
		// default only applies when the guard has not answered for 15
		// minutes, and then the node stays, as it would without a guard.
		DefaultResult: pulumi.String("CONTINUE"), HeartbeatTimeout: pulumi.Int(LaunchHookTimeout),
	}, parent, pulumi.DependsOn(hookDeps)); err != nil {
		return err
	}

	if err := g.alarms(ctx, a.AlarmTopicARN); err != nil {
		return err
	}

	return ctx.RegisterResourceOutputs(g, pulumi.Map{
		"functionName": g.FunctionName, "securityGroupId": g.SecurityGroupID, "secretArn": g.SecretARN, "roleArn": g.RoleARN,
	})
}

// HeldAlarmName and ErrorsAlarmName are the guard's own alarms.
func HeldAlarmName(cluster string) string   { return cluster + "-etcd-guard-held" }
func ErrorsAlarmName(cluster string) string { return cluster + "-etcd-guard-errors" }

// alarms pages when a termination has been held for 15 minutes (removing
// its member would cost quorum, or the guard cannot see: the hook gives up
// after a day and the node goes, so someone must act before) and when the
// function fails three runs in a row (an audit runs every 5 minutes; a
// failing guard may not even publish the metrics the degraded alarm
// reads, which then fires too).
func (g *Guard) alarms(ctx *pulumi.Context, topic pulumi.StringInput) error {
	if topic == nil {
		return fmt.Errorf("etcdguard: Attach without an alarm topic")
	}
	cluster := g.args.Config.ClusterName
	if _, err := cloudwatch.NewMetricAlarm(ctx, g.name+"-held", &cloudwatch.MetricAlarmArgs{
		Name: pulumi.String(HeldAlarmName(cluster)),
		AlarmDescription: pulumi.String("the etcd guard has held a control-plane termination for 15 minutes: removing its member would cost quorum, " +
			"or the guard cannot read the member list; the hook lets the node go after 25 hours (README: The etcd guard)"),
		Namespace: pulumi.String(contract.Namespace), MetricName: pulumi.String(contract.MetricHeld),
		Dimensions: pulumi.StringMap{contract.DimensionCluster: pulumi.String(cluster)},
		Statistic:  pulumi.String("Minimum"), Period: pulumi.Int(300), EvaluationPeriods: pulumi.Int(3),
		Threshold: pulumi.Float64(1), ComparisonOperator: pulumi.String("GreaterThanOrEqualToThreshold"),
		// No data is the degraded alarm's to report.
		TreatMissingData: pulumi.String("notBreaching"),
		AlarmActions:     pulumi.Array{topic}, OkActions: pulumi.Array{topic}, Tags: g.tagged,
	}, g.parent); err != nil {
		return err
	}
	_, err := cloudwatch.NewMetricAlarm(ctx, g.name+"-errors", &cloudwatch.MetricAlarmArgs{
		Name:             pulumi.String(ErrorsAlarmName(cluster)),
		AlarmDescription: pulumi.String("the etcd guard's function failed in three consecutive 5-minute periods (its log group says why)"),
		Namespace:        pulumi.String("AWS/Lambda"), MetricName: pulumi.String("Errors"),
		Dimensions: pulumi.StringMap{"FunctionName": g.FunctionName},
		Statistic:  pulumi.String("Sum"), Period: pulumi.Int(300), EvaluationPeriods: pulumi.Int(3),
		Threshold: pulumi.Float64(1), ComparisonOperator: pulumi.String("GreaterThanOrEqualToThreshold"),
		TreatMissingData: pulumi.String("notBreaching"),
		AlarmActions:     pulumi.Array{topic}, OkActions: pulumi.Array{topic}, Tags: g.tagged,
	}, g.parent)
	return err
}
