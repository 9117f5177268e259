// etcd-guard is the Lambda that owns the etcd membership of the control-plane
// Auto Scaling Group (see package guard). EventBridge invokes it for the
// group's lifecycle actions and on a schedule; every invocation runs the same
// stateless reconcile, so the event's content only goes to the log.
//
// Environment (set by the stack):
//
//	GUARD_CLUSTER_NAME     metric dimension
//	GUARD_ASG_NAME, GUARD_LAUNCH_HOOK, GUARD_TERMINATE_HOOK
//	GUARD_SECRET_ID        Secrets Manager secret holding the admin talosconfig
//	GUARD_SUSPECTS_PARAM   SSM parameter for the audit's suspects
//	GUARD_PAUSED           "true": observe and publish metrics, change nothing
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/talos-aws/talos-aws/guard"
	"github.com/talos-aws/talos-aws/guard/awsapi"
	"github.com/talos-aws/talos-aws/guard/talosclient"
)

// Result is what an invocation returns (and logs).
type Result struct {
	Trigger     string   `json:"trigger"`
	Changes     []string `json:"changes,omitempty"`
	Completions []string `json:"completions,omitempty"`
	Waits       []string `json:"waits,omitempty"`
	Metrics     guard.Metrics
	Paused      bool `json:"paused,omitempty"`
}

type env struct {
	cluster, asg, launchHook, terminateHook, secretID, suspects string
	paused                                                      bool
}

func readEnv() (env, error) {
	e := env{
		cluster: os.Getenv("GUARD_CLUSTER_NAME"), asg: os.Getenv("GUARD_ASG_NAME"), launchHook: os.Getenv("GUARD_LAUNCH_HOOK"), terminateHook: os.Getenv("GUARD_TERMINATE_HOOK"),
		secretID: os.Getenv("GUARD_SECRET_ID"), suspects: os.Getenv("GUARD_SUSPECTS_PARAM"), paused: os.Getenv("GUARD_PAUSED") == "true",
	}
	var missing []string

	for k, v := range map[string]string{"GUARD_CLUSTER_NAME": e.cluster, "GUARD_ASG_NAME": e.asg, "GUARD_LAUNCH_HOOK": e.launchHook, "GUARD_TERMINATE_HOOK": e.terminateHook,
		"GUARD_SECRET_ID": e.secretID, "GUARD_SUSPECTS_PARAM": e.suspects} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return e, fmt.Errorf("missing environment: %s", strings.Join(missing, ", "))
	}
	return e, nil
}

// The Talos client survives warm invocations: the secret is read once.
var (
	once      sync.Once
	rec       *guard.Reconciler
	paused    bool
	initError error
)

func setup(ctx context.Context) {
	e, err := readEnv()
	if err != nil {
		initError = err
		return
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		initError = err
		return
	}
	tc, err := awsapi.Talosconfig(ctx, secretsmanager.NewFromConfig(cfg), e.secretID)
	if err != nil {
		initError = fmt.Errorf("read talosconfig secret: %w", err)
		return
	}
	machine, err := talosclient.New(tc)
	if err != nil {
		initError = err
		return
	}
	asg := autoscaling.NewFromConfig(cfg)
	rec = &guard.Reconciler{
		Machine: machine,
		ASG:     &awsapi.ASG{AutoScaling: asg, EC2: awsapi.NewEC2(cfg), Name: e.asg, LaunchHook: e.launchHook, TerminateHook: e.terminateHook},
		Store:   &awsapi.Suspects{SSM: ssm.NewFromConfig(cfg), Name: e.suspects},
		Metrics: &awsapi.Metrics{CloudWatch: cloudwatch.NewFromConfig(cfg), ClusterName: e.cluster},
		Policy:  guard.DefaultPolicy,
		Logf:    log.Printf,
		// Talos retries a leave for up to 5 minutes; the function's timeout
		// (stack: 600 s) leaves room for it.
		SettleTimeout: 5 * time.Minute,
		CallTimeout:   10 * time.Second,
	}
	paused = e.paused
}

func handle(ctx context.Context, ev events.CloudWatchEvent) (Result, error) {
	once.Do(func() { setup(ctx) })
	if initError != nil {
		return Result{}, initError
	}
	res := Result{Trigger: ev.DetailType, Paused: paused}
	if len(ev.Detail) > 0 {
		log.Printf("trigger %q: %s", ev.DetailType, ev.Detail)
	}
	if paused {
		// Observe and publish only: an operator is acting by hand.
		obs, err := rec.Observe(ctx)
		if err != nil {
			return res, err
		}
		plan := guard.Decide(obs, rec.Policy)
		res.Metrics, res.Waits = plan.Metrics, append([]string{"paused (GUARD_PAUSED=true): nothing changed"}, plan.Waits...)
		return res, rec.Metrics.Publish(ctx, plan.Metrics)
	}
	rep, err := rec.Run(ctx)
	for _, c := range rep.Changes {
		res.Changes = append(res.Changes, fmt.Sprintf("%s %s (%x) via %s: %s", c.Kind, c.Member, c.MemberID, c.Node, c.Reason))
	}
	for _, c := range rep.Completions {
		res.Completions = append(res.Completions, fmt.Sprintf("%s %s: %s", c.Result, c.Instance.ID, c.Reason))
	}
	res.Waits, res.Metrics = rep.Waits, rep.Metrics
	b, _ := json.Marshal(res) //nolint:errchkjson // plain strings and ints
	log.Printf("result: %s", b)
	return res, err
}

func main() {
	lambda.Start(handle)
}
