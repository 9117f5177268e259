package compute

import (
	"context"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/etcdguard/contract"
)

// How the control-plane group rolls: launch first, one node at a time,
// stopped by the etcd guard's degraded alarm, and worker pools held until
// it is done. The guard itself (package etcdguard) gates each step on its
// lifecycle hooks.

// EtcdAlarmName is the name of the alarm on the guard's degraded-members
// metric; a control-plane instance refresh stops (fails) when it fires.
func EtcdAlarmName(cluster string) string { return cluster + "-etcd-degraded" }

// ControlPlaneASGName is the control-plane group's Name tag.
func ControlPlaneASGName(cluster string) string { return cluster + "-control-plane" }

// RefreshMaxHealthyPercentage lets an instance refresh run exactly one
// instance above the desired count (launch one new node before removing an
// old one): 100 + ceil(100/count), since AWS rounds the instance count down.
func RefreshMaxHealthyPercentage(count int) int {
	return 100 + (100+count-1)/count
}

// etcdAlarm fires when a voting member is unhealthy or stale for two
// audits in a row. It is created before the control-plane ASG, whose
// instance refresh it stops (no rollback: see controlPlaneRefresh).
func etcdAlarm(ctx *pulumi.Context, name string, cfg *config.Config, topic pulumi.StringInput, tagged pulumi.StringMap, parent pulumi.ResourceOption) (*cloudwatch.MetricAlarm, error) {
	// "cp-" keeps the resource name out of reach of pool names (reserved).
	return cloudwatch.NewMetricAlarm(ctx, name+"-cp-etcd-degraded", &cloudwatch.MetricAlarmArgs{
		Name:               pulumi.String(EtcdAlarmName(cfg.ClusterName)),
		AlarmDescription:   pulumi.String("etcd has an unhealthy or stale voting member, or the etcd guard cannot see the members or publishes nothing; stops a control-plane instance refresh"),
		Namespace:          pulumi.String(contract.Namespace),
		MetricName:         pulumi.String(contract.MetricDegraded),
		Dimensions:         pulumi.StringMap{contract.DimensionCluster: pulumi.String(cfg.ClusterName)},
		Statistic:          pulumi.String("Maximum"),
		Period:             pulumi.Int(300),
		EvaluationPeriods:  pulumi.Int(2),
		Threshold:          pulumi.Float64(1),
		ComparisonOperator: pulumi.String("GreaterThanOrEqualToThreshold"),
		// No data is degraded too: a guard that cannot run or reach
		// CloudWatch (no NAT in its AZ, throttled, failing before it
		// publishes) sees nothing, and a refresh must not go on blind. A
		// paused guard still publishes. Before the guard's first audit the
		// alarm is in ALARM: no refresh runs then (the group is new).
		TreatMissingData: pulumi.String("breaching"),
		// Someone hears of it, and of its end.
		AlarmActions: pulumi.Array{topic},
		OkActions:    pulumi.Array{topic},
		Tags:         tagged,
	}, parent)
}

// controlPlaneRefresh is the control-plane ASG's instance refresh: one new
// node launched before one old node goes (min 100 %, max one over), nodes
// already on the current launch template skipped, scale-in-protected
// nodes refreshed too, and the refresh stopped (status Failed, not rolled
// back) when the etcd alarm fires.
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
