package program

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
)

// The tests' Deps, one variable each, so a test swaps just the one it
// plays (and restores it); every evaluation reads them afresh. Their
// defaults are set in init functions beside the tests that need them:
// no AWS credentials, no Lambda build, no cluster to dial.
var (
	publicAddress      func(context.Context) (netip.Addr, error)
	controlPlaneWaiter = Real(time.Time{}).ControlPlaneWaiter
	guardCode          = Real(time.Time{}).GuardCode
	waiterFor          = Real(time.Time{}).Waiter
	guardSecret        = Real(time.Time{}).GuardSecret
	// clock is fixed: the issuer record's time is part of the outputs.
	clock = func() time.Time { return testNow }
	// probes answer at once and record what `up` probed.
	probesFor = func(*pulumi.Context, *config.Config) Probes { return lastProbes }
	// amiBuilder finds and builds AMIs in memory (images_test.go).
	amiBuilder = func(*pulumi.Context, *config.Config) (AMIBuilder, error) { return fakeAMIs, nil }
)

// fakeProbes records the probes of `up`; failReach makes Reachable fail.
type fakeProbes struct {
	mu        sync.Mutex
	issuers   []string
	reached   []string
	failReach error
}

func (f *fakeProbes) IssuerServed(_ context.Context, url string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issuers = append(f.issuers, url)
	return nil
}

func (f *fakeProbes) Reachable(_ context.Context, host string, ports []int, howTo string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reached = append(f.reached, fmt.Sprintf("%s %v", host, ports))
	if f.failReach != nil {
		return fmt.Errorf("%w. %s", f.failReach, howTo)
	}
	return nil
}

// lastProbes is what every evaluation probes with; tests that look at it
// replace it first.
var lastProbes = &fakeProbes{}

// testNow is the tests' present.
var testNow = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func deps() Deps {
	return Deps{PublicAddress: publicAddress, ControlPlaneWaiter: controlPlaneWaiter, GuardCode: guardCode, Waiter: waiterFor, GuardSecret: guardSecret, Now: clock, Probes: probesFor,
		AMIBuilder: amiBuilder}
}

// program is Program with the tests' Deps, in testkit.Run's shape.
func program(ctx *pulumi.Context) (map[string]pulumi.Output, error) { return Program(ctx, deps()) }

// run is what Pulumi runs, with the tests' Deps.
func run(ctx *pulumi.Context) error { return Run(deps())(ctx) }
