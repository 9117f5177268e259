package compute

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/pulumiverse/pulumi-talos/sdk/go/talos/machine"
	clientconfig "github.com/siderolabs/talos/pkg/machinery/client/config"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/guard/awsapi"
	"github.com/talos-aws/talos-aws/guard/build"
	"github.com/talos-aws/talos-aws/internal/secret"
	"github.com/talos-aws/talos-aws/internal/tags"
)

// Names of the etcd guard's hooks and alarm; the Lambda and the README use
// the same.
const (
	LaunchHookName    = "etcd-guard-launch"
	TerminateHookName = "etcd-guard-terminate"
	// Hook timeouts: a join (boot, install, learner, promotion) takes a few
	// minutes; a leave is seconds, but Talos retries it for up to five.
	LaunchHookTimeout    = 900
	TerminateHookTimeout = 600
	// AuditSchedule is the guard's audit rate.
	AuditSchedule = "rate(5 minutes)"
	// GuardTimeout is the Lambda's timeout: a leave may retry for five
	// minutes (talos v1.12.0 internal/pkg/etcd/etcd.go LeaveCluster).
	GuardTimeout = 600
)

// EtcdAlarmName is the name of the alarm on the guard's degraded-members
// metric; the control-plane instance refresh rolls back when it fires.
func EtcdAlarmName(cluster string) string { return cluster + "-etcd-degraded" }

// GuardFunctionName is the Lambda's name (fixed, so its log group can be
// created with a retention before the first run).
func GuardFunctionName(cluster string) string { return cluster + "-etcd-guard" }

// SuspectsParameterName is the SSM parameter the audit keeps suspects in.
func SuspectsParameterName(cluster string) string {
	return "/talos-aws/" + cluster + "/etcd-guard/suspects"
}

// RefreshMaxHealthyPercentage lets an instance refresh run exactly one
// instance above the desired count (launch one new node before removing an
// old one): 100 + ceil(100/count), since AWS rounds the instance count down.
func RefreshMaxHealthyPercentage(count int) int {
	return 100 + (100+count-1)/count
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

// GuardARNs are the resources the guard may act on.
type GuardARNs struct {
	Region, ASG, Secret, Key, Parameter, LogGroup string
}

// GuardPolicy is the guard's inline policy. It may change only this
// cluster's control-plane ASG (complete and heartbeat its lifecycle
// actions), read only this secret (decrypting through Secrets Manager with
// this key), write only its parameter and log group, and publish only to
// its metric namespace. Describe calls and the VPC network-interface calls
// Lambda makes for a function in a VPC have no resource-level permissions in
// IAM, so they take "*".
func GuardPolicy(a GuardARNs) PolicyDocument {
	return PolicyDocument{Version: "2012-10-17", Statement: []Statement{
		{Sid: "LifecycleActions", Effect: "Allow", Resource: a.ASG,
			Action: []string{"autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"}},
		{Sid: "Describe", Effect: "Allow", Resource: "*",
			Action: []string{"autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances"}},
		{Sid: "Talosconfig", Effect: "Allow", Resource: a.Secret, Action: []string{"secretsmanager:GetSecretValue"}},
		{Sid: "TalosconfigKey", Effect: "Allow", Resource: a.Key, Action: []string{"kms:Decrypt"},
			Condition: map[string]map[string]string{"StringEquals": {"kms:ViaService": "secretsmanager." + a.Region + ".amazonaws.com"}}},
		{Sid: "Suspects", Effect: "Allow", Resource: a.Parameter, Action: []string{"ssm:GetParameter", "ssm:PutParameter"}},
		{Sid: "Metrics", Effect: "Allow", Resource: "*", Action: []string{"cloudwatch:PutMetricData"},
			Condition: map[string]map[string]string{"StringEquals": {"cloudwatch:namespace": awsapi.Namespace}}},
		{Sid: "Logs", Effect: "Allow", Resource: a.LogGroup + ":*", Action: []string{"logs:CreateLogStream", "logs:PutLogEvents"}},
		{Sid: "VPC", Effect: "Allow", Resource: "*", Action: []string{
			"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
			"ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
		}},
	}}
}

// AssumeRoleLambda lets Lambda assume the guard's role.
func AssumeRoleLambda() PolicyDocument {
	return PolicyDocument{Version: "2012-10-17", Statement: []Statement{{
		Effect: "Allow", Principal: map[string]string{"Service": "lambda.amazonaws.com"}, Action: []string{"sts:AssumeRole"},
	}}}
}

// etcdAlarm fires when a voting member is unhealthy or stale for two
// audits in a row. It is created before the control-plane ASG, which names
// it as its instance refresh's rollback condition.
func etcdAlarm(ctx *pulumi.Context, name string, cfg *config.Config, tagged pulumi.StringMap, parent pulumi.ResourceOption) (*cloudwatch.MetricAlarm, error) {
	// "cp-" keeps the resource name out of reach of pool names (reserved).
	return cloudwatch.NewMetricAlarm(ctx, name+"-cp-etcd-degraded", &cloudwatch.MetricAlarmArgs{
		Name:               pulumi.String(EtcdAlarmName(cfg.ClusterName)),
		AlarmDescription:   pulumi.String("etcd has an unhealthy or stale voting member (published by the etcd guard); rolls back a control-plane instance refresh"),
		Namespace:          pulumi.String(awsapi.Namespace),
		MetricName:         pulumi.String(awsapi.MetricDegraded),
		Dimensions:         pulumi.StringMap{awsapi.DimensionCluster: pulumi.String(cfg.ClusterName)},
		Statistic:          pulumi.String("Maximum"),
		Period:             pulumi.Int(300),
		EvaluationPeriods:  pulumi.Int(2),
		Threshold:          pulumi.Float64(1),
		ComparisonOperator: pulumi.String("GreaterThanOrEqualToThreshold"),
		// No data (guard not deployed yet, or paused) neither fires nor
		// clears the alarm.
		TreatMissingData: pulumi.String("missing"),
		Tags:             tagged,
	}, parent)
}

// controlPlaneRefresh is the control-plane ASG's instance refresh: one new
// node launched before one old node goes (min 100 %, max one over), nodes
// already on the current launch template skipped, scale-in-protected
// nodes refreshed too, and an automatic rollback when the etcd alarm fires.
// The guard's hooks gate each step: a launch goes InService only as a
// healthy voter, a termination continues only after its member left.
func controlPlaneRefresh(count int, alarm pulumi.StringInput) *autoscaling.GroupInstanceRefreshArgs {
	return &autoscaling.GroupInstanceRefreshArgs{
		Strategy: pulumi.String("Rolling"),
		Preferences: &autoscaling.GroupInstanceRefreshPreferencesArgs{
			MinHealthyPercentage:      pulumi.Int(100),
			MaxHealthyPercentage:      pulumi.Int(RefreshMaxHealthyPercentage(count)),
			SkipMatching:              pulumi.Bool(true),
			ScaleInProtectedInstances: pulumi.String("Refresh"),
			StandbyInstances:          pulumi.String("Wait"),
			InstanceWarmup:            pulumi.String("60"),
			// The alarm stops the refresh (status Failed) rather than rolling
			// it back: the provider moves the group to the new launch template
			// version before it starts the refresh, so AWS's rollback would
			// relaunch the same new version (terraform-provider-aws #34189).
			// The rollout wait then fails the `up` before any worker rolls.
			AutoRollback: pulumi.Bool(false),
			AlarmSpecification: &autoscaling.GroupInstanceRefreshPreferencesAlarmSpecificationArgs{
				Alarms: pulumi.StringArray{alarm},
			},
		},
	}
}

// ControlPlaneWaiter waits, in `pulumi up` only, until the control plane has
// rolled; worker pools depend on it. nil: no wait.
type ControlPlaneWaiter func(ctx context.Context, asgName string) error

// AWSControlPlaneWaiter polls DescribeInstanceRefreshes and the guard's
// metrics (guard.RolloutState) with the AWS SDK's default credentials, as
// the AWS provider finds them. Refreshes started before `since` (the
// program's start) are ignored.
func AWSControlPlaneWaiter(cfg *config.Config, since time.Time, logf func(string, ...any)) ControlPlaneWaiter {
	return func(ctx context.Context, asgName string) error {
		r, err := awsapi.NewRollout(ctx, cfg.Region, asgName, cfg.ClusterName)
		if err != nil {
			return err
		}
		// One node takes a few minutes to boot, join and be promoted; allow
		// 20 minutes per node.
		timeout := time.Duration(cfg.ControlPlane.Count)*20*time.Minute + 10*time.Minute
		return r.WaitControlPlane(ctx, since, cfg.ControlPlane.Count, 30*time.Second, timeout, logf)
	}
}

// gateOnControlPlane returns the subnets for worker pools, resolved only
// after the control plane has rolled. In preview it returns them at once:
// a preview never waits.
func gateOnControlPlane(ctx *pulumi.Context, asg *autoscaling.Group, subnets pulumi.StringArrayInput, wait ControlPlaneWaiter) pulumi.StringArrayInput {
	if wait == nil || ctx.DryRun() {
		return subnets
	}
	return pulumi.All(asg.Name, subnets.ToStringArrayOutput()).ApplyT(func(v []any) ([]string, error) {
		name, ok := v[0].(string)
		ids, ok2 := v[1].([]string)
		if !ok || !ok2 {
			return nil, fmt.Errorf("compute: unexpected control-plane ASG outputs %T, %T", v[0], v[1])
		}
		if err := wait(ctx.Context(), name); err != nil {
			return nil, fmt.Errorf("worker pools wait for the control plane to roll first: %w", err)
		}
		return ids, nil
	}).(pulumi.StringArrayOutput)
}

// GuardTalosconfig renders the guard's talosconfig from the admin client
// certificate: one context, no endpoints (the guard names every node it
// calls). ca, crt and key are base64 PEM, the form talosconfig files hold.
func GuardTalosconfig(cluster, ca, crt, key string) (string, error) {
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

// guardTalosconfig builds it from a resource output: unknown in a first
// preview (never a secret wrapping an unknown), secret once known.
func guardTalosconfig(cluster string, cc machine.ClientConfigurationOutput) pulumi.StringOutput {
	return pulumi.All(cc.CaCertificate(), cc.ClientCertificate(), cc.ClientKey()).ApplyT(func(v []any) (string, error) {
		var s [3]string
		for i := range s {
			str, ok := v[i].(string)
			if !ok {
				return "", fmt.Errorf("compute: client configuration field %d is %T", i, v[i])
			}
			s[i] = str
		}
		return GuardTalosconfig(cluster, s[0], s[1], s[2])
	}).(pulumi.StringOutput)
}

// GuardArgs configure the etcd guard.
type GuardArgs struct {
	Config           *config.Config
	Tags             map[string]string
	VpcID            pulumi.StringInput
	PrivateSubnetIDs pulumi.StringArrayInput
	ControlPlaneSGID pulumi.StringInput
	ControlPlaneASG  *autoscaling.Group
	// ClientConfiguration is the admin client certificate of the machine
	// secrets (os:admin; base64 PEM, as the Talos provider returns it).
	ClientConfiguration machine.ClientConfigurationOutput
	// Bootstrap is the etcd bootstrap: the launch hook is created after it,
	// so the first nodes are not held before there is a cluster to join.
	Bootstrap pulumi.Resource
	// Artifact is the built Lambda zip (build.Lambda).
	Artifact build.Artifact
	// Paused sets GUARD_PAUSED: the guard observes and publishes metrics
	// but changes nothing.
	Paused bool
}

// Guard is the etcd guard's component resource.
type Guard struct {
	pulumi.ResourceState

	FunctionName    pulumi.StringOutput
	SecurityGroupID pulumi.StringOutput
	SecretARN       pulumi.StringOutput
}

// NewGuard creates the etcd guard: a Lambda in the private subnets that
// reaches the control-plane nodes' Talos API (tcp/50000) from its own
// security group, with the admin talosconfig in Secrets Manager under a
// customer-managed KMS key, triggered by the control-plane ASG's lifecycle
// hooks through EventBridge and by a schedule.
func NewGuard(ctx *pulumi.Context, name string, args GuardArgs, opts ...pulumi.ResourceOption) (*Guard, error) {
	cfg := args.Config
	g := &Guard{}
	if err := ctx.RegisterComponentResource("talos-aws:compute:EtcdGuard", name, g, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(g)
	tagged := tags.For(args.Tags, cfg.ClusterName+"-etcd-guard", nil)
	fnName := GuardFunctionName(cfg.ClusterName)

	// Network: the guard's own group; it talks to nodes on 50000 and to AWS
	// APIs on 443, nothing else, and nothing talks to it.
	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		VpcId: args.VpcID, Description: pulumi.String("talos-aws etcd guard"), Tags: tagged,
	}, parent)
	if err != nil {
		return nil, err
	}
	g.SecurityGroupID = sg.ID().ToStringOutput()
	if _, err := ec2.NewSecurityGroupRule(ctx, name+"-egress-talos", &ec2.SecurityGroupRuleArgs{
		SecurityGroupId: sg.ID(), Type: pulumi.String("egress"), Protocol: pulumi.String("tcp"),
		FromPort: pulumi.Int(apidPort), ToPort: pulumi.Int(apidPort), SourceSecurityGroupId: args.ControlPlaneSGID,
		Description: pulumi.String("Talos API on control-plane nodes"),
	}, parent); err != nil {
		return nil, err
	}
	if _, err := ec2.NewSecurityGroupRule(ctx, name+"-egress-aws", &ec2.SecurityGroupRuleArgs{
		SecurityGroupId: sg.ID(), Type: pulumi.String("egress"), Protocol: pulumi.String("tcp"),
		FromPort: pulumi.Int(443), ToPort: pulumi.Int(443), CidrBlocks: pulumi.StringArray{pulumi.String("0.0.0.0/0")},
		Description: pulumi.String("AWS APIs (Auto Scaling, EC2, Secrets Manager, SSM, CloudWatch) through the NAT"),
	}, parent); err != nil {
		return nil, err
	}
	if _, err := ec2.NewSecurityGroupRule(ctx, name+"-cp-from-guard", &ec2.SecurityGroupRuleArgs{
		SecurityGroupId: args.ControlPlaneSGID, Type: pulumi.String("ingress"), Protocol: pulumi.String("tcp"),
		FromPort: pulumi.Int(apidPort), ToPort: pulumi.Int(apidPort), SourceSecurityGroupId: sg.ID(),
		Description: pulumi.String("Talos API from the etcd guard only"),
	}, parent); err != nil {
		return nil, err
	}

	// The admin talosconfig, encrypted with a key of its own.
	key, err := kms.NewKey(ctx, name+"-key", &kms.KeyArgs{
		Description: pulumi.String(cfg.ClusterName + " etcd guard talosconfig"), EnableKeyRotation: pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(7), Tags: tagged,
	}, parent)
	if err != nil {
		return nil, err
	}
	sm, err := secretsmanager.NewSecret(ctx, name+"-talosconfig", &secretsmanager.SecretArgs{
		NamePrefix: pulumi.String(cfg.ClusterName + "-etcd-guard-talosconfig-"), KmsKeyId: key.Arn,
		Description: pulumi.String("admin talosconfig of " + cfg.ClusterName + " for the etcd guard"), Tags: tagged,
	}, parent)
	if err != nil {
		return nil, err
	}
	g.SecretARN = sm.Arn
	talosconfig := guardTalosconfig(cfg.ClusterName, args.ClientConfiguration)
	var secretString pulumi.StringPtrInput = secret.String(talosconfig)
	// The SDK marks secretString secret itself; in the first preview of a
	// new stack the value is unknown, and a secret wrapping an unknown is
	// rejected by Pulumi's mock monitor (the test suite's), so that preview
	// shows the version without its (hidden anyway) value. Any later preview
	// knows the machine secrets and registers the value as `up` does.
	if ctx.DryRun() {
		if r, err := internals.UnsafeAwaitOutput(ctx.Context(), talosconfig); err == nil && !r.Known {
			secretString = nil
		}
	}
	if _, err := secretsmanager.NewSecretVersion(ctx, name+"-talosconfig", &secretsmanager.SecretVersionArgs{
		SecretId: sm.ID(), SecretString: secretString,
	}, parent); err != nil {
		return nil, err
	}
	// The audit owns the value after creation.
	param, err := ssm.NewParameter(ctx, name+"-suspects", &ssm.ParameterArgs{
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

	role, err := iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(AssumeRoleLambda().JSON()), Tags: tagged,
	}, parent)
	if err != nil {
		return nil, err
	}
	policy := pulumi.All(args.ControlPlaneASG.Arn, sm.Arn, key.Arn, param.Arn, logs.Arn).ApplyT(func(v []any) (string, error) {
		s := make([]string, len(v))
		for i := range v {
			str, ok := v[i].(string)
			if !ok {
				return "", fmt.Errorf("compute: guard policy input %d is %T", i, v[i])
			}
			s[i] = str
		}
		return GuardPolicy(GuardARNs{Region: cfg.Region, ASG: s[0], Secret: s[1], Key: s[2], Parameter: s[3], LogGroup: s[4]}).JSON(), nil
	}).(pulumi.StringOutput)
	rolePolicy, err := iam.NewRolePolicy(ctx, name+"-role", &iam.RolePolicyArgs{Role: role.Name, Policy: policy}, parent)
	if err != nil {
		return nil, err
	}

	paused := "false"
	if args.Paused {
		paused = "true"
	}
	fn, err := lambda.NewFunction(ctx, name, &lambda.FunctionArgs{
		Name:           pulumi.String(fnName),
		Description:    pulumi.String("etcd membership guard of the " + cfg.ClusterName + " control-plane ASG"),
		Runtime:        pulumi.String("provided.al2023"),
		Handler:        pulumi.String("bootstrap"),
		Architectures:  pulumi.StringArray{pulumi.String("arm64")},
		Code:           pulumi.NewFileArchive(args.Artifact.Path),
		SourceCodeHash: pulumi.String(args.Artifact.SHA256),
		Role:           role.Arn,
		MemorySize:     pulumi.Int(256),
		Timeout:        pulumi.Int(GuardTimeout),
		// One run at a time: two runs never change the membership at once.
		ReservedConcurrentExecutions: pulumi.Int(1),
		VpcConfig: &lambda.FunctionVpcConfigArgs{
			SubnetIds: args.PrivateSubnetIDs, SecurityGroupIds: pulumi.StringArray{sg.ID()},
		},
		Environment: &lambda.FunctionEnvironmentArgs{Variables: pulumi.StringMap{
			"GUARD_CLUSTER_NAME":   pulumi.String(cfg.ClusterName),
			"GUARD_ASG_NAME":       args.ControlPlaneASG.Name,
			"GUARD_LAUNCH_HOOK":    pulumi.String(LaunchHookName),
			"GUARD_TERMINATE_HOOK": pulumi.String(TerminateHookName),
			"GUARD_SECRET_ID":      sm.Arn,
			"GUARD_SUSPECTS_PARAM": param.Name,
			"GUARD_PAUSED":         pulumi.String(paused),
		}},
		Tags: tagged,
	}, parent, pulumi.DependsOn([]pulumi.Resource{logs, rolePolicy}))
	if err != nil {
		return nil, err
	}
	g.FunctionName = fn.Name

	// Triggers: this group's lifecycle actions, and the audit schedule.
	lifecycle, err := cloudwatch.NewEventRule(ctx, name+"-lifecycle", &cloudwatch.EventRuleArgs{
		Description:  pulumi.String("lifecycle actions of the " + cfg.ClusterName + " control-plane ASG"),
		EventPattern: args.ControlPlaneASG.Name.ApplyT(LifecycleEventPattern).(pulumi.StringOutput),
		Tags:         tagged,
	}, parent)
	if err != nil {
		return nil, err
	}
	audit, err := cloudwatch.NewEventRule(ctx, name+"-audit", &cloudwatch.EventRuleArgs{
		Description:        pulumi.String("etcd membership audit of " + cfg.ClusterName),
		ScheduleExpression: pulumi.String(AuditSchedule),
		Tags:               tagged,
	}, parent)
	if err != nil {
		return nil, err
	}
	for _, r := range []struct {
		n    string
		rule *cloudwatch.EventRule
	}{{"lifecycle", lifecycle}, {"audit", audit}} {
		if _, err := cloudwatch.NewEventTarget(ctx, name+"-"+r.n, &cloudwatch.EventTargetArgs{
			Rule: r.rule.Name, Arn: fn.Arn,
		}, parent); err != nil {
			return nil, err
		}
		if _, err := lambda.NewPermission(ctx, name+"-"+r.n, &lambda.PermissionArgs{
			Action: pulumi.String("lambda:InvokeFunction"), Function: fn.Name,
			Principal: pulumi.String("events.amazonaws.com"), SourceArn: r.rule.Arn,
		}, parent); err != nil {
			return nil, err
		}
	}

	// Hooks as separate resources (not the group's initialLifecycleHooks,
	// which the provider applies only when it creates a group): they reach
	// existing groups too. The launch hook waits for the bootstrap.
	if _, err := autoscaling.NewLifecycleHook(ctx, name+"-terminate", &autoscaling.LifecycleHookArgs{
		Name: pulumi.String(TerminateHookName), AutoscalingGroupName: args.ControlPlaneASG.Name,
		LifecycleTransition: pulumi.String("autoscaling:EC2_INSTANCE_TERMINATING"),
		// A hook cannot stop a termination; when the guard cannot act in
		// time, the termination goes on and the audit cleans up.
		DefaultResult: pulumi.String("CONTINUE"), HeartbeatTimeout: pulumi.Int(TerminateHookTimeout),
	}, parent, pulumi.DependsOn([]pulumi.Resource{fn})); err != nil {
		return nil, err
	}
	hookDeps := []pulumi.Resource{fn}
	if args.Bootstrap != nil {
		hookDeps = append(hookDeps, args.Bootstrap)
	}
	if _, err := autoscaling.NewLifecycleHook(ctx, name+"-launch", &autoscaling.LifecycleHookArgs{
		Name: pulumi.String(LaunchHookName), AutoscalingGroupName: args.ControlPlaneASG.Name,
		LifecycleTransition: pulumi.String("autoscaling:EC2_INSTANCE_LAUNCHING"),
		// A node that never becomes a healthy voter is terminated; the
		// refresh then fails and rolls back.
		DefaultResult: pulumi.String("ABANDON"), HeartbeatTimeout: pulumi.Int(LaunchHookTimeout),
	}, parent, pulumi.DependsOn(hookDeps)); err != nil {
		return nil, err
	}

	if err := ctx.RegisterResourceOutputs(g, pulumi.Map{
		"functionName": g.FunctionName, "securityGroupId": g.SecurityGroupID, "secretArn": g.SecretARN,
	}); err != nil {
		return nil, err
	}
	return g, nil
}
