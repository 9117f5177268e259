package compute

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
)

// AlarmTopic is where the stack's alarms (etcd degraded, backup freshness)
// notify: the user's topic (alarmTopicArn), or <cluster>-alarms, which the
// stack creates and the user subscribes to. It is not encrypted:
// CloudWatch cannot publish to a topic under the AWS-managed SNS key, and
// an alarm's message holds its name, state and reason, no secret. Its
// default policy lets this account's services publish (CloudWatch alarm
// actions of the same account).
func AlarmTopic(ctx *pulumi.Context, name string, cfg *config.Config, tagged pulumi.StringMap, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	if cfg.AlarmTopicARN != "" {
		return pulumi.String(cfg.AlarmTopicARN).ToStringOutput(), nil
	}
	// "cp-": out of reach of pool names, like the degraded alarm.
	t, err := sns.NewTopic(ctx, name+"-cp-alarms", &sns.TopicArgs{
		Name:        pulumi.String(cfg.ClusterName + "-alarms"),
		DisplayName: pulumi.String(cfg.ClusterName + " alarms"),
		Tags:        tagged,
	}, parent)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return t.Arn, nil
}
