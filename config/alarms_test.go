package config

import (
	"strings"
	"testing"
)

func TestAlarmTopic(t *testing.T) {
	for arn, want := range map[string]string{
		"": "",
		"arn:aws:sns:ap-southeast-1:123456789012:ops-pager":      "",
		"arn:aws:sns:us-east-1:123456789012:ops-pager":           "must be in the stack's region ap-southeast-1",
		"arn:aws:sns:ap-southeast-1:123456789012:ops-pager.fifo": "FIFO",
		"arn:aws:sqs:ap-southeast-1:123456789012:q":              "must be an SNS topic ARN",
	} {
		_, _, err := Parse(src(map[string]string{"alarmTopicArn": arn}))
		switch {
		case want == "" && err != nil:
			t.Errorf("%q rejected: %v", arn, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), "alarmTopicArn") || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: error %v, want one at alarmTopicArn saying %q", arn, err, want)
		}
	}
}

func TestSecretReaders(t *testing.T) {
	for list, want := range map[string]string{
		`[]`: "",
		`["arn:aws:iam::123456789012:role/break-glass", "arn:aws:iam::123456789012:role/ops/oncall"]`: "",
		`["arn:aws:iam::123456789012:user/alice"]`:                                                    "etcdGuardSecretReaders[0]",
		`["arn:aws:sts::123456789012:assumed-role/break-glass/me"]`:                                   "must be an IAM role ARN",
		`["arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/a"]`:                    "etcdGuardSecretReaders[1]",
	} {
		c, _, err := Parse(src(map[string]string{"etcdGuardSecretReaders": list}))
		switch {
		case want == "" && err != nil:
			t.Errorf("%s rejected: %v", list, err)
		case want == "" && len(c.EtcdGuardSecretReaders) != strings.Count(list, "arn:"):
			t.Errorf("%s parsed as %v", list, c.EtcdGuardSecretReaders)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: error %v, want %q", list, err, want)
		}
	}
}
