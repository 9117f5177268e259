package config

import (
	"fmt"
	"regexp"
	"strings"
)

var iamRoleARNRe = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,576}$`)

// validateSecretReaders: IAM role ARNs (the secret policy matches sessions
// by their role), each once.
func validateSecretReaders(c *Config, errs *ErrorList, w *Warnings) {
	if len(c.EtcdGuardSecretReaders) == 0 && c.deployed.Exists {
		// Before the allow-lists, account administrators could read both; a
		// running cluster learns it here rather than during a restore.
		what := "the etcd guard's admin talosconfig"
		if BackupsOn(c) {
			what += " and the etcd snapshots"
		}
		w.Add("etcdGuardSecretReaders", "empty: only the etcd guard may read %s, whatever IAM grants (the resource policies allow no one else); "+
			"list the IAM role you would restore with (docs/security.md#allow-lists-not-deny-lists), and run `pulumi up` as one of them to change the list later", what)
	}
	seen := map[string]bool{}
	for i, arn := range c.EtcdGuardSecretReaders {
		key := fmt.Sprintf("etcdGuardSecretReaders[%d]", i)
		switch {
		case !iamRoleARNRe.MatchString(arn):
			errs.Invalid(key, arn, "must be an IAM role ARN: arn:aws:iam::<12-digit account id>:role/<name> (users and assumed-role session ARNs are not matched)")
		case seen[arn]:
			errs.Invalid(key, arn, "is listed twice")
		}
		seen[arn] = true
	}
}

var snsTopicARNRe = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):sns:([a-z0-9-]+):[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$`)

// validateAlarmTopic: an SNS topic ARN in the stack's region (CloudWatch
// alarm actions notify topics of their own region only) and not FIFO
// (alarms cannot publish to FIFO topics).
func validateAlarmTopic(c *Config, errs *ErrorList) {
	arn := c.AlarmTopicARN
	if arn == "" {
		return
	}
	m := snsTopicARNRe.FindStringSubmatch(arn)
	switch {
	case m == nil:
		errs.Invalid("alarmTopicArn", arn, "must be an SNS topic ARN: arn:aws:sns:<region>:<12-digit account id>:<topic name>")
	case strings.HasSuffix(arn, ".fifo"):
		errs.Invalid("alarmTopicArn", arn, "CloudWatch alarms cannot notify a FIFO topic: name a standard topic")
	case c.Region != "" && m[2] != c.Region:
		errs.Invalid("alarmTopicArn", arn, "must be in the stack's region "+c.Region+": alarms notify topics of their own region only")
	}
}
