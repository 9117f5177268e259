package etcdguard

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/etcdguard/contract"
)

// Rollout reads what RolloutState needs.
type Rollout struct {
	AutoScaling *autoscaling.Client
	CloudWatch  *cloudwatch.Client
	ASGName     string
	ClusterName string
	// identity says which credentials and region the calls use.
	identity string
}

// NewRollout reads the group as the stack's AWS provider does: in its
// region, with its credential settings (ProviderConfig).
func NewRollout(ctx context.Context, region string, creds config.AWS, asgName, cluster string) (*Rollout, error) {
	cfg, err := ProviderConfig(ctx, region, creds)
	who := fmt.Sprintf("as %s in %s", creds.Describe(), region)
	if err != nil {
		return nil, fmt.Errorf("AWS credentials for the control-plane rollout wait (%s): %w", who, err)
	}
	return &Rollout{AutoScaling: autoscaling.NewFromConfig(cfg), CloudWatch: cloudwatch.NewFromConfig(cfg), ASGName: asgName, ClusterName: cluster, identity: who}, nil
}

// ProviderConfig is the AWS SDK configuration that acts as the stack's AWS
// provider does with the same settings, in the order terraform-provider-aws
// (which pulumi-aws v6.83.4 bridges) documents for them: settings of the
// provider itself first (static keys from aws:accessKey/secretKey before
// aws:profile), then the environment, then the shared files (those
// aws:shared*Files name, else the default ones), container and instance
// roles; aws:assumeRole on top of whichever of those applies. Nothing is
// called here: credentials resolve on the first request.
func ProviderConfig(ctx context.Context, region string, a config.AWS) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	if a.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(a.Profile))
	}
	if len(a.SharedCredentialsFiles) > 0 {
		opts = append(opts, awsconfig.WithSharedCredentialsFiles(a.SharedCredentialsFiles))
	}
	if len(a.SharedConfigFiles) > 0 {
		opts = append(opts, awsconfig.WithSharedConfigFiles(a.SharedConfigFiles))
	}
	if a.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(a.AccessKey, a.SecretKey, a.Token)))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, err
	}
	if r := a.AssumeRole; r != nil {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), r.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			if r.SessionName != "" {
				o.RoleSessionName = r.SessionName
			}
			if r.ExternalID != "" {
				o.ExternalID = aws.String(r.ExternalID)
			}
			if d, err := time.ParseDuration(r.Duration); err == nil {
				o.Duration = d // validated by config.ParseAWS
			}
		}))
	}
	return cfg, nil
}

// Refreshes lists the group's recent instance refreshes.
func (r *Rollout) Refreshes(ctx context.Context) ([]Refresh, error) {
	out, err := r.AutoScaling.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
		AutoScalingGroupName: aws.String(r.ASGName), MaxRecords: aws.Int32(20),
	})
	if err != nil {
		return nil, err
	}
	return refreshes(out.InstanceRefreshes), nil
}

func refreshes(in []astypes.InstanceRefresh) []Refresh {
	out := make([]Refresh, 0, len(in))
	for _, r := range in {
		out = append(out, Refresh{
			ID: aws.ToString(r.InstanceRefreshId), Status: string(r.Status), StatusReason: aws.ToString(r.StatusReason),
			Start: aws.ToTime(r.StartTime), End: aws.ToTime(r.EndTime),
		})
	}
	return out
}

// Sample reads the guard's latest metrics of the last hour.
func (r *Rollout) Sample(ctx context.Context, now time.Time) (Sample, error) {
	q := func(id, metric, stat string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(true), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String(contract.Namespace), MetricName: aws.String(metric),
				Dimensions: []cwtypes.Dimension{{Name: aws.String(contract.DimensionCluster), Value: aws.String(r.ClusterName)}}},
			Period: aws.Int32(60), Stat: aws.String(stat),
		}}
	}
	out, err := r.CloudWatch.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now), ScanBy: cwtypes.ScanByTimestampDescending,
		MetricDataQueries: []cwtypes.MetricDataQuery{
			q("voting", contract.MetricVoting, "Maximum"), q("healthy", contract.MetricHealthy, "Minimum"), q("stale", contract.MetricStale, "Maximum"),
		},
	})
	if err != nil {
		return Sample{}, err
	}
	return sample(out.MetricDataResults), nil
}

// sample takes each metric's newest point; the sample's time is the oldest
// of those, so every value is at least that fresh.
func sample(results []cwtypes.MetricDataResult) Sample {
	var s Sample
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
// RolloutState), polling every `every`, for at most `timeout`. It
// calls AWS only: the runner needs no route to the cluster.
func (r *Rollout) WaitControlPlane(ctx context.Context, since time.Time, desired int, scales bool, every, timeout time.Duration, logf func(string, ...any)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		refs, err := r.Refreshes(ctx)
		if err != nil {
			return fmt.Errorf("describe instance refreshes of %s (%s): %w", r.ASGName, r.identity, err)
		}
		// Always: with no refresh, a changed count still converges
		// through the guard (RolloutState).
		s, err := r.Sample(ctx, time.Now())
		if err != nil {
			return fmt.Errorf("read etcd guard metrics (%s): %w", r.identity, err)
		}
		res, err := RolloutState(refs, since, desired, s, scales)
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
