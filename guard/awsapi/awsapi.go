// Package awsapi implements the guard's AWS side with aws-sdk-go-v2: the
// control-plane ASG (guard.ASGAPI), the suspects parameter
// (guard.SuspectStore), CloudWatch metrics (guard.MetricsSink), the admin
// talosconfig from Secrets Manager, and the control-plane rollout wait that
// `pulumi up` runs before it rolls worker pools.
package awsapi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/talos-aws/talos-aws/guard"
)

// Namespace and metric names the guard publishes; the stack's alarm and the
// rollout wait read the same names.
const (
	Namespace        = "TalosAWS/EtcdGuard"
	DimensionCluster = "ClusterName"
	MetricVoting     = "EtcdVotingMembers"
	MetricHealthy    = "EtcdHealthyMembers"
	MetricLearners   = "EtcdLearnerMembers"
	MetricStale      = "EtcdStaleMembers"
	MetricDegraded   = "EtcdDegradedMembers"
	noSuspectsMarker = "-" // an SSM String parameter cannot be empty
)

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
	// found is the name of the group the last Instances call read.
	found string
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
	a.found = aws.ToString(g.AutoScalingGroupName)
	var ids []string
	var ins []guard.Instance
	for _, i := range g.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
		ins = append(ins, guard.Instance{
			ID:      aws.ToString(i.InstanceId),
			State:   guard.Lifecycle(i.LifecycleState),
			Healthy: aws.ToString(i.HealthStatus) == "Healthy",
		})
	}
	if len(ids) == 0 {
		return nil, nil
	}
	ips, err := a.EC2.PrivateIPs(ctx, ids)
	if err != nil {
		return nil, err
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

// Datums renders a run's metrics (all of them only when the member list was
// read; otherwise only EtcdHealthyMembers = 0).
func Datums(cluster string, m guard.Metrics, now time.Time) []cwtypes.MetricDatum {
	dims := []cwtypes.Dimension{{Name: aws.String(DimensionCluster), Value: aws.String(cluster)}}
	d := func(name string, v int) cwtypes.MetricDatum {
		return cwtypes.MetricDatum{MetricName: aws.String(name), Dimensions: dims, Timestamp: aws.Time(now),
			Value: aws.Float64(float64(v)), Unit: cwtypes.StandardUnitCount}
	}
	if !m.Known {
		return []cwtypes.MetricDatum{d(MetricHealthy, 0)}
	}
	return []cwtypes.MetricDatum{
		d(MetricVoting, m.VotingMembers), d(MetricHealthy, m.HealthyMembers), d(MetricLearners, m.LearnerMembers),
		d(MetricStale, m.StaleMembers), d(MetricDegraded, m.DegradedMembers),
	}
}

// Publish implements guard.MetricsSink.
func (c *Metrics) Publish(ctx context.Context, m guard.Metrics) error {
	_, err := c.CloudWatch.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace: aws.String(Namespace), MetricData: Datums(c.ClusterName, m, time.Now()),
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

// Rollout reads what guard.RolloutState needs.
type Rollout struct {
	AutoScaling *autoscaling.Client
	CloudWatch  *cloudwatch.Client
	ASGName     string
	ClusterName string
}

// NewRollout reads the group with the SDK's default credential chain.
func NewRollout(ctx context.Context, region, asgName, cluster string) (*Rollout, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("AWS credentials for the control-plane rollout wait: %w", err)
	}
	return &Rollout{AutoScaling: autoscaling.NewFromConfig(cfg), CloudWatch: cloudwatch.NewFromConfig(cfg), ASGName: asgName, ClusterName: cluster}, nil
}

// Refreshes lists the group's recent instance refreshes.
func (r *Rollout) Refreshes(ctx context.Context) ([]guard.Refresh, error) {
	out, err := r.AutoScaling.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
		AutoScalingGroupName: aws.String(r.ASGName), MaxRecords: aws.Int32(20),
	})
	if err != nil {
		return nil, err
	}
	return refreshes(out.InstanceRefreshes), nil
}

func refreshes(in []astypes.InstanceRefresh) []guard.Refresh {
	out := make([]guard.Refresh, 0, len(in))
	for _, r := range in {
		out = append(out, guard.Refresh{
			ID: aws.ToString(r.InstanceRefreshId), Status: string(r.Status), StatusReason: aws.ToString(r.StatusReason),
			Start: aws.ToTime(r.StartTime), End: aws.ToTime(r.EndTime),
		})
	}
	return out
}

// Sample reads the guard's latest metrics of the last hour.
func (r *Rollout) Sample(ctx context.Context, now time.Time) (guard.Sample, error) {
	q := func(id, metric, stat string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(true), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String(Namespace), MetricName: aws.String(metric),
				Dimensions: []cwtypes.Dimension{{Name: aws.String(DimensionCluster), Value: aws.String(r.ClusterName)}}},
			Period: aws.Int32(60), Stat: aws.String(stat),
		}}
	}
	out, err := r.CloudWatch.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now), ScanBy: cwtypes.ScanByTimestampDescending,
		MetricDataQueries: []cwtypes.MetricDataQuery{
			q("voting", MetricVoting, "Maximum"), q("healthy", MetricHealthy, "Minimum"), q("stale", MetricStale, "Maximum"),
		},
	})
	if err != nil {
		return guard.Sample{}, err
	}
	return sample(out.MetricDataResults), nil
}

// sample takes each metric's newest point; the sample's time is the oldest
// of those, so every value is at least that fresh.
func sample(results []cwtypes.MetricDataResult) guard.Sample {
	var s guard.Sample
	for _, res := range results {
		if len(res.Values) == 0 || len(res.Timestamps) == 0 {
			continue
		}
		newest := 0
		for i, ts := range res.Timestamps {
			if ts.After(res.Timestamps[newest]) {
				newest = i
			}
		}
		v, ts := int(res.Values[newest]), res.Timestamps[newest]
		if s.Time.IsZero() || ts.Before(s.Time) {
			s.Time = ts
		}
		switch aws.ToString(res.Id) {
		case "voting":
			s.Voting, s.HasVoting = v, true
		case "healthy":
			s.Healthy, s.HasHealthy = v, true
		case "stale":
			s.Stale, s.HasStale = v, true
		}
	}
	return s
}

// WaitControlPlane blocks until the control plane has rolled (see
// guard.RolloutState), polling every `every`, for at most `timeout`. It
// calls AWS only: the runner needs no route to the cluster.
func (r *Rollout) WaitControlPlane(ctx context.Context, since time.Time, desired int, every, timeout time.Duration, logf func(string, ...any)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		refs, err := r.Refreshes(ctx)
		if err != nil {
			return fmt.Errorf("describe instance refreshes of %s: %w", r.ASGName, err)
		}
		var s guard.Sample
		if len(refs) > 0 {
			if s, err = r.Sample(ctx, time.Now()); err != nil {
				return fmt.Errorf("read etcd guard metrics: %w", err)
			}
		}
		res, err := guard.RolloutState(refs, since, desired, s)
		if err != nil || res.Done {
			return err
		}
		if res.Wait != last && logf != nil {
			logf("%s", res.Wait)
			last = res.Wait
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("control plane did not finish rolling within %s: %s", timeout, strings.TrimSpace(res.Wait))
		case <-time.After(every):
		}
	}
}

var (
	_ guard.ASGAPI       = (*ASG)(nil)
	_ guard.SuspectStore = (*Suspects)(nil)
	_ guard.MetricsSink  = (*Metrics)(nil)
)
