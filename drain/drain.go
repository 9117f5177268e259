// Package drain makes AWS take worker nodes away gracefully: the
// aws-node-termination-handler (NTH) in queue mode, its SQS queue, the
// EventBridge rules that feed it, a termination lifecycle hook on every
// worker Auto Scaling Group, and the control-plane role's permission to
// act on them. The control-plane group is left to the etcd guard: no hook
// here, no lifecycle rule that matches it, and its instances do not carry
// the tag NTH drains.
//
// Behaviour cited from aws/aws-node-termination-handler at v1.25.6 (chart
// 0.27.6): pkg/monitor/sqsevent/sqs-monitor.go (getNodeInfo: the node is the
// instance's PrivateDnsName; an instance without the managed tag is dropped),
// pkg/interruptionevent/draincordon/handler.go (the lifecycle action is
// completed only after a successful drain, or when the node does not exist
// and deleteSqsMsgIfNodeNotFound is on), pkg/node/node.go (the drain's
// timeout is nodeTerminationGracePeriod), ec2-state-change-event.go
// (states it drains on).
package drain

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/addons"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/internal/helmrelease"
	"github.com/talos-aws/talos-aws/internal/tags"
)

// Args configure the drain stage.
type Args struct {
	Config *config.Config
	Tags   map[string]string
	// RoleName is the role NTH's pods run under: with workload identity its
	// own (RoleARN, on its service account), else the control-plane
	// role, from IMDS (see NTHValues).
	RoleName pulumi.StringInput
	RoleARN  pulumi.StringInput
	// WorkerASGs are the worker pools' groups by pool name.
	WorkerASGs map[string]*autoscaling.Group
	// Provider and AfterNodesReady come from the add-ons stage: the
	// cluster's Kubernetes provider, and the order after every node is Ready.
	Provider        *kubernetes.Provider
	AfterNodesReady pulumi.ResourceOption
}

// Drain is the drain stage's component resource.
type Drain struct {
	pulumi.ResourceState

	QueueURL pulumi.StringOutput
	Release  *helmrelease.Release
}

// Enabled reports whether the stack runs the handler: it is on, and there
// are workers for it to drain.
func Enabled(c *config.Config) bool {
	return c.Addons.NodeTerminationHandler.Enabled && len(c.WorkerPools) > 0
}

// New creates the queue, rules, hooks and permission, then installs NTH.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Drain, error) {
	cfg := args.Config
	d := &Drain{}
	if err := ctx.RegisterComponentResource("talos-aws:drain:Drain", name, d, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(d)
	tagged := func(n string) pulumi.StringMap { return tags.For(args.Tags, cfg.ClusterName+"-"+n, nil) }

	// SSE-SQS: EventBridge can publish to it with no key policy to manage
	// (NTH README, "caveats when using server side encryption with SQS").
	queue, err := sqs.NewQueue(ctx, name, &sqs.QueueArgs{
		Name:                    pulumi.String(cfg.ClusterName + "-nth"),
		MessageRetentionSeconds: pulumi.Int(QueueRetentionSeconds),
		SqsManagedSseEnabled:    pulumi.Bool(true),
		Tags:                    tagged("nth"),
	}, parent)
	if err != nil {
		return nil, err
	}
	d.QueueURL = queue.Url

	pools := make([]string, 0, len(args.WorkerASGs))
	for p := range args.WorkerASGs {
		pools = append(pools, p)
	}
	sort.Strings(pools)
	var asgNames, asgARNs pulumi.StringArray
	for _, p := range pools {
		asgNames = append(asgNames, args.WorkerASGs[p].Name)
		asgARNs = append(asgARNs, args.WorkerASGs[p].Arn)
	}

	var ruleARNs pulumi.StringArray
	var rules []pulumi.Resource
	for i, r := range Rules(nil) {
		// Patterns naming the groups wait for their names; the others are
		// constants. ApplyT only renders text here.
		pattern := asgNames.ToStringArrayOutput().ApplyT(func(names []string) string {
			return Rules(names)[i].PatternJSON()
		}).(pulumi.StringOutput)
		rule, err := cloudwatch.NewEventRule(ctx, name+"-"+r.Key, &cloudwatch.EventRuleArgs{
			Name:         pulumi.String(cfg.ClusterName + "-nth-" + r.Key),
			Description:  pulumi.String(r.Description + " (" + cfg.ClusterName + ", aws-node-termination-handler)"),
			EventPattern: pattern,
			Tags:         tagged("nth-" + r.Key),
		}, parent)
		if err != nil {
			return nil, err
		}
		if _, err := cloudwatch.NewEventTarget(ctx, name+"-"+r.Key, &cloudwatch.EventTargetArgs{
			Rule: rule.Name,
			Arn:  queue.Arn,
		}, parent); err != nil {
			return nil, err
		}
		ruleARNs = append(ruleARNs, rule.Arn)
		rules = append(rules, rule)
	}
	policy := pulumi.All(queue.Arn, ruleARNs.ToStringArrayOutput()).ApplyT(func(v []any) string {
		return QueuePolicy(v[0].(string), v[1].([]string))
	}).(pulumi.StringOutput)
	if _, err := sqs.NewQueuePolicy(ctx, name, &sqs.QueuePolicyArgs{QueueUrl: queue.Url, Policy: policy}, parent); err != nil {
		return nil, err
	}

	// A termination hook on every worker group, none on the control plane.
	// Without a consumer it would only delay terminations, so it exists
	// exactly when NTH does.
	for _, p := range pools {
		if _, err := autoscaling.NewLifecycleHook(ctx, fmt.Sprintf("%s-%s", name, p), &autoscaling.LifecycleHookArgs{
			Name:                 pulumi.String(HookName),
			AutoscalingGroupName: args.WorkerASGs[p].Name,
			LifecycleTransition:  pulumi.String("autoscaling:EC2_INSTANCE_TERMINATING"),
			HeartbeatTimeout:     pulumi.Int(HookHeartbeatSeconds),
			DefaultResult:        pulumi.String("CONTINUE"),
		}, parent); err != nil {
			return nil, err
		}
	}

	handlerPolicy := pulumi.All(queue.Arn, asgARNs.ToStringArrayOutput()).ApplyT(func(v []any) string {
		return HandlerPolicy(v[0].(string), v[1].([]string)).JSON()
	}).(pulumi.StringOutput)
	perm, err := iam.NewRolePolicy(ctx, name+"-nth", &iam.RolePolicyArgs{
		Role:   args.RoleName,
		Policy: handlerPolicy,
	}, parent)
	if err != nil {
		return nil, err
	}

	ch := addons.Charts(cfg.Addons)["nth"]
	values := pulumi.ToMap(NTHValues(cfg))
	values["queueURL"] = queue.Url
	if args.RoleARN != nil {
		values["serviceAccount"] = pulumi.Map{"annotations": pulumi.Map{addons.IRSAAnnotation: args.RoleARN}}
		// On the pods too: the webhook mutates pods only when they are
		// created, so a new role must roll them (addons.RoleAnnotation).
		values["podAnnotations"] = pulumi.Map{addons.RoleAnnotation: args.RoleARN}
	}
	d.Release, err = helmrelease.New(ctx, name+"-nth", helmrelease.Args{
		Name:      pulumi.String(ch.Release),
		Chart:     pulumi.String(ch.Chart),
		Version:   pulumi.String(ch.Version),
		Namespace: pulumi.String(ch.Namespace),
		Values:    values,
		Timeout:   pulumi.Int(600),
		Atomic:    pulumi.Bool(false),
	}, parent, pulumi.Provider(args.Provider), args.AfterNodesReady,
		// Permission and rules first: a handler that starts before it may
		// read its queue only logs errors until it can.
		pulumi.DependsOn(append(rules, perm)))
	if err != nil {
		return nil, err
	}

	if err := ctx.RegisterResourceOutputs(d, pulumi.Map{"queueUrl": queue.Url}); err != nil {
		return nil, err
	}
	return d, nil
}
