package program

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/talos-aws/talos-aws/testkit"
)

// The guard's alarms (degraded, held termination, function errors) and
// the backup freshness alarm notify a topic
// on ALARM and on OK: the stack's own, or the one alarmTopicArn names; and
// a guard that reports nothing counts as degraded.
func TestAlarmsNotify(t *testing.T) {
	actions := func(t *testing.T, m *testkit.Mocks, name, want string) {
		t.Helper()
		a := one(t, m, "aws:cloudwatch/metricAlarm:MetricAlarm", name)
		for _, k := range []string{"alarmActions", "okActions"} {
			if got := testkit.Strings(a.Inputs[resource.PropertyKey(k)]); len(got) != 1 || got[0] != want {
				t.Errorf("%s %s = %v, want [%s]", name, k, got, want)
			}
		}
	}
	m := &testkit.Mocks{}
	outs := evaluate(t, m, haConfig(t))
	topic := one(t, m, "aws:sns/topic:Topic", "compute-cp-alarms")
	if str(topic, "name") != "prod-alarms" {
		t.Errorf("topic name %q", str(topic, "name"))
	}
	arn := "arn:aws:sns:ap-southeast-1:123456789012:prod-alarms"
	for _, a := range []string{"compute-cp-etcd-degraded", "backups-freshness", "etcd-guard-held", "etcd-guard-errors"} {
		actions(t, m, a, arn)
	}
	if outs["alarmTopicArn"].Value != arn {
		t.Errorf("alarmTopicArn output %v", outs["alarmTopicArn"].Value)
	}
	if a := one(t, m, "aws:cloudwatch/metricAlarm:MetricAlarm", "compute-cp-etcd-degraded"); str(a, "treatMissingData") != "breaching" {
		t.Errorf("degraded alarm treats missing data as %q: a guard that reports nothing must stop a refresh", str(a, "treatMissingData"))
	}

	own := "arn:aws:sns:ap-southeast-1:123456789012:ops-pager"
	cfg := haConfig(t)
	cfg["alarmTopicArn"] = own
	m = &testkit.Mocks{}
	evaluate(t, m, cfg)
	if n := len(m.ByType("aws:sns/topic:Topic")); n != 0 {
		t.Errorf("%d topics made with alarmTopicArn set", n)
	}
	for _, a := range []string{"compute-cp-etcd-degraded", "backups-freshness", "etcd-guard-held", "etcd-guard-errors"} {
		actions(t, m, a, own)
	}
}
