// Command lambda is the etcd guard: the Lambda that owns the etcd membership of the control-plane
// Auto Scaling Group (see package guard) and takes its etcd backups.
// EventBridge invokes it for the group's lifecycle actions and on a
// schedule; every such invocation runs the same stateless reconcile, so the
// event's content only goes to the log. An event {"action":"backup"} (the
// backup schedule's constant input, or `pulumi up`'s pre-change invocation
// with "reason":"pre-change") takes an etcd snapshot instead.
//
// Environment (set by the stack):
//
//	GUARD_CLUSTER_NAME     metric dimension, snapshot key prefix
//	GUARD_ASG_TAGS         JSON tag map that finds the control-plane ASG
//	GUARD_LAUNCH_HOOK, GUARD_TERMINATE_HOOK
//	GUARD_SECRET_ID        Secrets Manager secret holding the admin talosconfig
//	GUARD_SUSPECTS_PARAM   SSM parameter for the audit's suspects
//	GUARD_PAUSED           "true": observe, publish metrics and hold terminations; change nothing
//	GUARD_BACKUP_BUCKET    backup bucket; empty: backups are off
//	GUARD_BACKUP_KMS_KEY   the bucket's KMS key ARN
//	GUARD_BACKUP_AGE_RECIPIENT  optional age recipient (public key)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/talos-aws/talos-aws/etcdguard/contract"
	"github.com/talos-aws/talos-aws/etcdguard/lambda/awsapi"
	"github.com/talos-aws/talos-aws/etcdguard/lambda/guard"
	"github.com/talos-aws/talos-aws/etcdguard/lambda/talosclient"
)

// Result is what an invocation returns (and logs).
type Result struct {
	Trigger     string   `json:"trigger"`
	Changes     []string `json:"changes,omitempty"`
	Completions []string `json:"completions,omitempty"`
	Waits       []string `json:"waits,omitempty"`
	Metrics     guard.Metrics
	Paused      bool                `json:"paused,omitempty"`
	Backup      *guard.BackupReport `json:"backup,omitempty"`
}

// Event is what the function is invoked with: an EventBridge event
// (lifecycle action, audit schedule) or a constant backup input.
type Event struct {
	Action     string          `json:"action"`
	Reason     string          `json:"reason"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
}

type env struct {
	cluster, launchHook, terminateHook, secretID, suspects string
	asgTags                                                map[string]string
	paused                                                 bool
	bucket, kmsKey, recipient                              string
}

func readEnv(get func(string) string) (env, error) {
	e := env{
		cluster: get(contract.EnvClusterName), launchHook: get(contract.EnvLaunchHook), terminateHook: get(contract.EnvTerminateHook),
		secretID: get(contract.EnvSecretID), suspects: get(contract.EnvSuspectsParam), paused: get(contract.EnvPaused) == "true",
		bucket: get(contract.EnvBackupBucket), kmsKey: get(contract.EnvBackupKMSKey), recipient: get(contract.EnvBackupAgeRecipient),
	}
	var missing []string
	for k, v := range map[string]string{contract.EnvClusterName: e.cluster, contract.EnvASGTags: get(contract.EnvASGTags), contract.EnvLaunchHook: e.launchHook,
		contract.EnvTerminateHook: e.terminateHook, contract.EnvSecretID: e.secretID, contract.EnvSuspectsParam: e.suspects} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if e.bucket != "" && e.kmsKey == "" {
		missing = append(missing, contract.EnvBackupKMSKey)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return e, fmt.Errorf("missing environment: %s", strings.Join(missing, ", "))
	}
	if err := json.Unmarshal([]byte(get(contract.EnvASGTags)), &e.asgTags); err != nil || len(e.asgTags) == 0 {
		return e, fmt.Errorf("%s must be a non-empty JSON object of tags: %q", contract.EnvASGTags, get(contract.EnvASGTags))
	}
	return e, nil
}

// app is the function's state; it survives warm invocations (the secret is
// read once).
type app struct {
	rec    *guard.Reconciler
	backup *guard.Backup // nil: backups are off
	paused bool
}

// The app is built on the first invocation that can build it. A failure is
// not kept: right after a first `up` the role's policy may still be
// propagating or the secret version not yet readable, and a cached error
// would fail every invocation of the warm sandbox for hours while the
// lifecycle hooks time out.
var (
	mu     sync.Mutex
	theApp *app
)

func appFor(ctx context.Context) (*app, error) {
	mu.Lock()
	defer mu.Unlock()
	if theApp != nil {
		return theApp, nil
	}
	a, err := setup(ctx)
	if err != nil {
		return nil, err
	}
	theApp = a
	return a, nil
}

func setup(ctx context.Context) (*app, error) {
	e, err := readEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	tc, err := awsapi.Talosconfig(ctx, secretsmanager.NewFromConfig(cfg), e.secretID)
	if err != nil {
		return nil, fmt.Errorf("read talosconfig secret: %w", err)
	}
	machine, err := talosclient.New(tc)
	if err != nil {
		return nil, err
	}
	asg := &awsapi.ASG{AutoScaling: autoscaling.NewFromConfig(cfg), EC2: awsapi.NewEC2(cfg), Tags: e.asgTags, LaunchHook: e.launchHook, TerminateHook: e.terminateHook}
	cw := cloudwatch.NewFromConfig(cfg)
	a := &app{paused: e.paused, rec: &guard.Reconciler{
		Machine: machine,
		ASG:     asg,
		Store:   &awsapi.Suspects{SSM: ssm.NewFromConfig(cfg), Name: e.suspects},
		Metrics: &awsapi.Metrics{CloudWatch: cw, ClusterName: e.cluster},
		Policy:  policy(e.paused),
		Logf:    log.Printf,
		// Talos retries a leave for up to 5 minutes; the function's timeout
		// (stack: 600 s) leaves room for it.
		SettleTimeout: 5 * time.Minute,
		CallTimeout:   10 * time.Second,
	}}
	if e.bucket != "" {
		var r age.Recipient
		if e.recipient != "" {
			if r, err = age.ParseX25519Recipient(e.recipient); err != nil {
				return nil, fmt.Errorf("%s: %w", contract.EnvBackupAgeRecipient, err)
			}
		}
		a.backup = &guard.Backup{
			ASG: asg, Snapshotter: machine, Machine: machine, Cluster: e.cluster, Recipient: r, TempDir: os.TempDir(), Logf: log.Printf,
			Store:     &awsapi.Snapshots{S3: s3.NewFromConfig(cfg), Bucket: e.bucket, KMSKeyARN: e.kmsKey},
			Freshness: &awsapi.Freshness{CloudWatch: cw, ClusterName: e.cluster},
		}
		// A one-node control plane hands over only after a snapshot.
		b := a.backup
		a.rec.Snapshot = func(ctx context.Context) error {
			_, err := b.Run(ctx, "before-handover")
			return err
		}
	}
	return a, nil
}

// policy is the guard's policy, paused or not.
func policy(paused bool) guard.Policy {
	p := guard.DefaultPolicy
	p.Paused = paused
	return p
}

func handle(ctx context.Context, raw json.RawMessage) (Result, error) {
	a, err := appFor(ctx)
	if err != nil {
		return Result{}, err
	}
	return a.handle(ctx, raw)
}

// handle dispatches one invocation.
func (a *app) handle(ctx context.Context, raw json.RawMessage) (Result, error) {
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return Result{}, fmt.Errorf("event is not a JSON object: %w", err)
	}
	if ev.Action == contract.ActionBackup {
		return a.runBackup(ctx, ev)
	}
	if ev.Action != "" {
		return Result{}, fmt.Errorf("unknown action %q (known: %q, or an EventBridge event)", ev.Action, contract.ActionBackup)
	}
	res := Result{Trigger: ev.DetailType, Paused: a.paused}
	if len(ev.Detail) > 0 {
		log.Printf("trigger %q: %s", ev.DetailType, ev.Detail)
	}
	// Paused (Policy.Paused), the run changes and completes nothing but
	// still holds the terminations that may hold a member.
	rep, err := a.rec.Run(ctx)
	for _, c := range rep.Changes {
		res.Changes = append(res.Changes, fmt.Sprintf("%s %s (%x) via %s: %s", c.Kind, c.Member, c.MemberID, c.Node, c.Reason))
	}
	for _, c := range rep.Completions {
		res.Completions = append(res.Completions, fmt.Sprintf("%s %s: %s", c.Result, c.Instance.ID, c.Reason))
	}
	res.Waits, res.Metrics = guard.Waits(rep.Waits), rep.Metrics
	b, _ := json.Marshal(res) //nolint:errchkjson // plain strings and ints
	log.Printf("result: %s", b)
	return res, err
}

// runBackup takes a snapshot; it runs when the guard is paused too (a
// snapshot changes nothing in the cluster).
func (a *app) runBackup(ctx context.Context, ev Event) (Result, error) {
	if a.backup == nil {
		return Result{}, errors.New("backups are off for this cluster (backups.enabled): no bucket to write to")
	}
	reason := ev.Reason
	if reason == "" {
		reason = "scheduled"
	}
	rep, err := a.backup.Run(ctx, reason)
	res := Result{Trigger: contract.ActionBackup, Paused: a.paused, Backup: &rep}
	b, _ := json.Marshal(res) //nolint:errchkjson // plain strings and numbers
	log.Printf("result: %s", b)
	return res, err
}

func main() {
	lambda.Start(handle)
}
