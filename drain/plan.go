package drain

import (
	"encoding/json"
	"sort"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
)

// Time budget of a drain.
const (
	// HookHeartbeatSeconds is how long a worker's termination waits for NTH
	// to drain it and complete the lifecycle action; then the hook's
	// default result (CONTINUE) terminates it anyway, so a PodDisruptionBudget
	// that never allows an eviction delays a termination by at most this.
	HookHeartbeatSeconds = 600
	// DrainTimeoutSeconds bounds one drain attempt (NTH's
	// nodeTerminationGracePeriod). It ends before the hook does, so a
	// stuck drain leaves time for the termination to be completed cleanly.
	DrainTimeoutSeconds = 540
	// SpotWarningSeconds is what EC2 gives a spot instance between the
	// interruption warning and the reclaim; no hook can extend it.
	SpotWarningSeconds = 120
	// HookName is the worker groups' termination hook.
	HookName = "nth-drain"
	// QueueRetentionSeconds: an event older than the longest drain is
	// stale (NTH's own example uses 300 s).
	QueueRetentionSeconds = 300
)

// drainStates are the instance states NTH drains on
// (ec2-state-change-event.go instanceStatesToDrain); other state changes
// would only be dropped after a read.
var drainStates = []string{"stopping", "stopped", "shutting-down", "terminated"}

// Rule is one EventBridge rule feeding the queue.
type Rule struct {
	Key         string
	Description string
	Pattern     map[string]any
}

// PatternJSON renders the rule's event pattern.
func (r Rule) PatternJSON() string {
	b, _ := json.Marshal(r.Pattern) // maps of strings and string lists: cannot fail
	return string(b)
}

// Rules are the events NTH acts on. The lifecycle rule matches only the
// given worker groups, so NTH never sees (and never completes) the
// control-plane group's hooks, which belong to the etcd guard. EC2 events
// carry no group name; NTH drops those for instances without the worker
// pool tag (tagkeys.Pool), which control-plane instances never carry.
func Rules(workerASGNames []string) []Rule {
	names := append([]string(nil), workerASGNames...)
	sort.Strings(names)
	return []Rule{
		{"asg-terminate", "Worker Auto Scaling Groups' termination lifecycle actions", map[string]any{
			"source":      []string{"aws.autoscaling"},
			"detail-type": []string{"EC2 Instance-terminate Lifecycle Action"},
			"detail":      map[string]any{"AutoScalingGroupName": names},
		}},
		{"spot-interruption", "Spot interruption warnings (two minutes' notice)", map[string]any{
			"source":      []string{"aws.ec2"},
			"detail-type": []string{"EC2 Spot Instance Interruption Warning"},
		}},
		{"rebalance", "Spot rebalance recommendations", map[string]any{
			"source":      []string{"aws.ec2"},
			"detail-type": []string{"EC2 Instance Rebalance Recommendation"},
		}},
		{"state-change", "Instances stopping or terminating outside a lifecycle hook", map[string]any{
			"source":      []string{"aws.ec2"},
			"detail-type": []string{"EC2 Instance State-change Notification"},
			"detail":      map[string]any{"state": drainStates},
		}},
	}
}

// NTHTag is the aws-node-termination-handler the chart deploys
// (config.NTHChartVersion 0.27.6 is app v1.25.6): the version every grant
// below was read at.
const NTHTag = "v1.25.6"

func nth(fn string) string {
	return "aws/aws-node-termination-handler pkg/monitor/sqsevent/sqs-monitor.go " + fn + " @" + NTHTag
}

// AddNTHPermissions adds what NTH calls at NTHTag in queue mode: read and
// delete its own queue's messages, complete the lifecycle actions of the
// worker groups only, and look up the instance an event names (node name,
// and the managed tag checkTagBeforeDraining reads). No heartbeat
// (RecordLifecycleActionHeartbeat, DescribeLifecycleHooks): NTH sends none
// unless heartbeatInterval is set, and it is not. Not granted, though its
// README lists them: autoscaling:DescribeAutoScalingInstances and
// autoscaling:DescribeTags (no caller at NTHTag).
func AddNTHPermissions(p *iampolicy.Policy, queueARN string, workerASGARNs []string) {
	arns := append([]string(nil), workerASGARNs...)
	sort.Strings(arns)
	p.Allow(iampolicy.Scope{Sid: "NTHQueue", Resource: queueARN},
		iampolicy.Grant{Action: "sqs:DeleteMessage", Caller: nth("deleteMessages")},
		iampolicy.Grant{Action: "sqs:ReceiveMessage", Caller: nth("receiveQueueMessages")})
	p.Allow(iampolicy.Scope{Sid: "NTHCompleteWorkerLifecycle", Resource: arns},
		iampolicy.Grant{Action: "autoscaling:CompleteLifecycleAction", Caller: nth("completeLifecycleAction")})
	p.Allow(iampolicy.Unconditional("NTHDescribe"),
		iampolicy.Grant{Action: "ec2:DescribeInstances", Caller: nth("getNodeInfo")})
}

// HandlerPolicy is NTH's policy: on its own role with workload identity,
// on the control-plane role without.
func HandlerPolicy(queueARN string, workerASGARNs []string) iampolicy.Document {
	p := &iampolicy.Policy{}
	AddNTHPermissions(p, queueARN, workerASGARNs)
	return p.Document()
}

// QueuePolicy lets only this stack's rules send to the queue
// (events.amazonaws.com, checked by rule ARN), and refuses any access
// without TLS. sqs.amazonaws.com, which NTH's README also lists, is only
// for Auto Scaling sending lifecycle notices straight to SQS; this stack
// routes them through EventBridge.
func QueuePolicy(queueARN string, ruleARNs []string) string {
	arns := append([]string(nil), ruleARNs...)
	sort.Strings(arns)
	// Sorted keys: the bytes existing stacks hold.
	// Keys sorted: the bytes existing stacks hold.
	return iampolicy.New(
		iampolicy.Statement{Sid: "EventBridgeRules", Effect: "Allow", Principal: map[string]string{"Service": "events.amazonaws.com"}, Action: "sqs:SendMessage", Resource: queueARN,
			Condition: map[string]map[string]any{"ArnEquals": {"aws:SourceArn": arns}}},
		iampolicy.Statement{Sid: "TLSOnly", Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: queueARN,
			Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": "false"}}},
	).SortedJSON()
}

// Values is a Helm values tree.
type Values = map[string]any

const controlPlaneLabel = "node-role.kubernetes.io/control-plane"

// NTHValues configures the handler in queue mode, on control-plane nodes.
// With workload identity it takes its own role through its service account
// (the component adds the annotation); queue mode never reads IMDS: the
// region is awsRegion (aws-node-termination-handler v1.25.6). Without, it
// takes the control-plane role's credentials from IMDS, through the
// control-plane hop limit of 2. The queue URL is added by the component.
func NTHValues(c *config.Config) Values {
	replicas := 1
	if c.ControlPlane.Count > 1 {
		replicas = 2
	}
	v := Values{
		"enableSqsTerminationDraining": true,
		"awsRegion":                    c.Region,
		"checkTagBeforeDraining":       true,
		"managedTag":                   tagkeys.Pool,
		"deleteSqsMsgIfNodeNotFound":   true,
		"taintNode":                    true,
		"emitKubernetesEvents":         true,
		"nodeTerminationGracePeriod":   DrainTimeoutSeconds,
		"replicas":                     replicas,
		"nodeSelector":                 Values{controlPlaneLabel: ""},
		"tolerations": []any{
			Values{"key": controlPlaneLabel, "operator": "Exists", "effect": "NoSchedule"},
		},
		"affinity": Values{"podAntiAffinity": Values{"preferredDuringSchedulingIgnoredDuringExecution": []any{Values{
			"weight": 100,
			"podAffinityTerm": Values{
				"topologyKey":   "kubernetes.io/hostname",
				"labelSelector": Values{"matchLabels": Values{"app.kubernetes.io/name": "aws-node-termination-handler"}},
			},
		}}}},
	}
	if replicas > 1 {
		v["podDisruptionBudget"] = Values{"maxUnavailable": 1}
	}
	return v
}
