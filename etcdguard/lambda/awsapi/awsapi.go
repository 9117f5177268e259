// Package awsapi implements the guard's AWS side with aws-sdk-go-v2: the
// control-plane ASG (guard.ASGAPI), the suspects parameter
// (guard.SuspectStore), CloudWatch metrics (guard.MetricsSink) and the
// admin talosconfig from Secrets Manager.
package awsapi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/talos-aws/talos-aws/etcdguard/contract"
	"github.com/talos-aws/talos-aws/etcdguard/lambda/guard"
)

// noSuspectsMarker stands for no suspects: an SSM String parameter cannot be empty.
const noSuspectsMarker = "-"

// ASG is the control-plane group, named, or found by its tags: the guard
// is deployed before the group exists (it snapshots etcd before every
// control-plane change), so the stack cannot hand it the generated name.
type ASG struct {
	AutoScaling *autoscaling.Client
	EC2         *EC2
	// Name, when set, names the group; otherwise Tags find it on every
	// call (every tag must match), so a replaced group is found again.
	Name          string
	Tags          map[string]string
	LaunchHook    string
	TerminateHook string
	// found is the name of the group the last Instances call read, and
	// desired its desired capacity.
	found   string
	desired int
}

// DescribeInput asks for the group by name, or by its tags.
func (a *ASG) DescribeInput() *autoscaling.DescribeAutoScalingGroupsInput {
	if a.Name != "" {
		return &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{a.Name}}
	}
	keys := make([]string, 0, len(a.Tags))
	for k := range a.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	in := &autoscaling.DescribeAutoScalingGroupsInput{}
	for _, k := range keys {
		in.Filters = append(in.Filters, astypes.Filter{Name: aws.String("tag:" + k), Values: []string{a.Tags[k]}})
	}
	return in
}

// pick is the one group the answer may hold: none is guard.ErrNoGroup (not
// created yet), two are an error (two stacks tag their groups alike).
func (a *ASG) pick(groups []astypes.AutoScalingGroup) (astypes.AutoScalingGroup, error) {
	switch len(groups) {
	case 0:
		if a.Name != "" {
			return astypes.AutoScalingGroup{}, fmt.Errorf("auto scaling group %s: %w", a.Name, guard.ErrNoGroup)
		}
		return astypes.AutoScalingGroup{}, fmt.Errorf("no auto scaling group tagged %v: %w", a.Tags, guard.ErrNoGroup)
	case 1:
		return groups[0], nil
	}
	names := make([]string, 0, len(groups))
	for _, g := range groups {
		names = append(names, aws.ToString(g.AutoScalingGroupName))
	}
	return astypes.AutoScalingGroup{}, fmt.Errorf("%d auto scaling groups tagged %v (%s): expected one", len(groups), a.Tags, strings.Join(names, ", "))
}

// Instances implements guard.ASGAPI: the group's instances, with private
// addresses from EC2 (the ASG API does not report them).
func (a *ASG) Instances(ctx context.Context) ([]guard.Instance, error) {
	out, err := a.AutoScaling.DescribeAutoScalingGroups(ctx, a.DescribeInput())
	if err != nil {
		return nil, err
	}
	g, err := a.pick(out.AutoScalingGroups)
	if err != nil {
		return nil, err
	}
	a.found, a.desired = aws.ToString(g.AutoScalingGroupName), int(aws.ToInt32(g.DesiredCapacity))
	var ids []string
	var ins []guard.Instance
	for _, i := range g.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
		ins = append(ins, guard.Instance{
			ID:        aws.ToString(i.InstanceId),
			State:     guard.Lifecycle(i.LifecycleState),
			Healthy:   aws.ToString(i.HealthStatus) == "Healthy",
			AZ:        aws.ToString(i.AvailabilityZone),
			Protected: aws.ToBool(i.ProtectedFromScaleIn),
		})
	}
	if len(ids) == 0 {
		return nil, nil
	}
	ips, err := a.EC2.PrivateIPs(ctx, ids)
	if err != nil {
		// The instances without their addresses: a run can still hold
		// their hooks (guard.ErrAddresses).
		return ins, fmt.Errorf("%w: describe instances: %w", guard.ErrAddresses, err)
	}
	for k := range ins {
		ins[k].PrivateIP = ips[ins[k].ID]
	}
	return ins, nil
}

func (a *ASG) hook(in guard.Instance) (string, error) {
	switch in.State {
	case guard.PendingWait:
		return a.LaunchHook, nil
	case guard.TerminatingWait:
		return a.TerminateHook, nil
	}
	return "", fmt.Errorf("%s is %s: no lifecycle action waits", in.ID, in.State)
}

func (a *ASG) name() (string, error) {
	switch {
	case a.Name != "":
		return a.Name, nil
	case a.found != "":
		return a.found, nil
	}
	return "", errors.New("the control-plane group is not known yet: list its instances first")
}

// lifecycleTarget is the group and the hook an instance's pending action
// belongs to.
func (a *ASG) lifecycleTarget(in guard.Instance) (name, hook string, err error) {
	if hook, err = a.hook(in); err != nil {
		return "", "", err
	}
	name, err = a.name()
	return name, hook, err
}

// CompleteLifecycleAction implements guard.ASGAPI.
func (a *ASG) CompleteLifecycleAction(ctx context.Context, in guard.Instance, result string) error {
	name, hook, err := a.lifecycleTarget(in)
	if err != nil {
		return err
	}
	_, err = a.AutoScaling.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String(name), LifecycleHookName: aws.String(hook),
		InstanceId: aws.String(in.ID), LifecycleActionResult: aws.String(result),
	})
	return err
}

// RecordHeartbeat implements guard.ASGAPI.
func (a *ASG) RecordHeartbeat(ctx context.Context, in guard.Instance) error {
	name, hook, err := a.lifecycleTarget(in)
	if err != nil {
		return err
	}
	_, err = a.AutoScaling.RecordLifecycleActionHeartbeat(ctx, &autoscaling.RecordLifecycleActionHeartbeatInput{
		AutoScalingGroupName: aws.String(name), LifecycleHookName: aws.String(hook), InstanceId: aws.String(in.ID),
	})
	return err
}

// Capacity implements guard.CapacityAPI: the desired capacity the last
// Instances call read, and whether a refresh is active (the newest
// refreshes come first in DescribeInstanceRefreshes).
func (a *ASG) Capacity(ctx context.Context) (int, bool, error) {
	name, err := a.name()
	if err != nil {
		return 0, false, err
	}
	out, err := a.AutoScaling.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
		AutoScalingGroupName: aws.String(name), MaxRecords: aws.Int32(5),
	})
	if err != nil {
		return 0, false, err
	}
	for _, r := range out.InstanceRefreshes {
		if contract.RefreshActive(string(r.Status)) {
			return a.desired, true, nil
		}
	}
	return a.desired, false, nil
}

// SetProtection implements guard.CapacityAPI.
func (a *ASG) SetProtection(ctx context.Context, in guard.Instance, protected bool) error {
	name, err := a.name()
	if err != nil {
		return err
	}
	_, err = a.AutoScaling.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
		AutoScalingGroupName: aws.String(name), InstanceIds: []string{in.ID}, ProtectedFromScaleIn: aws.Bool(protected),
	})
	return err
}

// Suspects keeps the suspects in an SSM String parameter the stack creates.
type Suspects struct {
	SSM  *ssm.Client
	Name string
}

// Load implements guard.SuspectStore.
func (s *Suspects) Load(ctx context.Context) (map[uint64]time.Time, error) {
	out, err := s.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.Name)})
	if err != nil {
		return nil, err
	}
	return guard.ParseSuspects(aws.ToString(out.Parameter.Value)), nil
}

// Save implements guard.SuspectStore.
func (s *Suspects) Save(ctx context.Context, m map[uint64]time.Time) error {
	v := guard.FormatSuspects(m)
	if v == "" {
		v = noSuspectsMarker
	}
	_, err := s.SSM.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(s.Name), Value: aws.String(v), Overwrite: aws.Bool(true)})
	return err
}

// Metrics publishes to CloudWatch, by cluster name (not the ASG's
// generated name: the alarm exists before the ASG, which refers to it).
type Metrics struct {
	CloudWatch  *cloudwatch.Client
	ClusterName string
}

// Datums renders a run's metrics: all of them when the member list was
// read. A blind run (no member list: an expired admin certificate, an
// unreadable secret, a revoked rule) invents no voting or stale figure,
// but counts as degraded: EtcdDegradedMembers 1 fires the alarm that stops
// a refresh, and EtcdGuardBlind 1 says why. Healthy is 0: none is known.
// EtcdHeldTerminations is published either way.
func Datums(cluster string, m guard.Metrics, now time.Time) []cwtypes.MetricDatum {
	dims := []cwtypes.Dimension{{Name: aws.String(contract.DimensionCluster), Value: aws.String(cluster)}}
	d := func(name string, v int) cwtypes.MetricDatum {
		return cwtypes.MetricDatum{MetricName: aws.String(name), Dimensions: dims, Timestamp: aws.Time(now),
			Value: aws.Float64(float64(v)), Unit: cwtypes.StandardUnitCount}
	}
	if !m.Known {
		return []cwtypes.MetricDatum{d(contract.MetricHealthy, 0), d(contract.MetricDegraded, 1), d(contract.MetricBlind, 1), d(contract.MetricHeld, m.HeldTerminations)}
	}
	return []cwtypes.MetricDatum{
		d(contract.MetricVoting, m.VotingMembers), d(contract.MetricHealthy, m.HealthyMembers), d(contract.MetricLearners, m.LearnerMembers),
		d(contract.MetricStale, m.StaleMembers), d(contract.MetricDegraded, m.DegradedMembers), d(contract.MetricBlind, 0),
		d(contract.MetricHeld, m.HeldTerminations),
	}
}

// Publish implements guard.MetricsSink.
func (c *Metrics) Publish(ctx context.Context, m guard.Metrics) error {
	_, err := c.CloudWatch.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace: aws.String(contract.Namespace), MetricData: Datums(c.ClusterName, m, time.Now()),
	})
	return err
}

// Talosconfig reads the admin talosconfig the stack stored.
func Talosconfig(ctx context.Context, sm *secretsmanager.Client, secretID string) ([]byte, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
	if err != nil {
		return nil, err
	}
	if out.SecretString == nil {
		return nil, errors.New("talosconfig secret has no string value")
	}
	return []byte(*out.SecretString), nil
}

var (
	_ guard.ASGAPI       = (*ASG)(nil)
	_ guard.CapacityAPI  = (*ASG)(nil)
	_ guard.SuspectStore = (*Suspects)(nil)
	_ guard.MetricsSink  = (*Metrics)(nil)
)
