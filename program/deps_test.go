package program

import (
	"context"
	"net/netip"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
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
)

// testNow is the tests' present.
var testNow = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func deps() Deps {
	return Deps{PublicAddress: publicAddress, ControlPlaneWaiter: controlPlaneWaiter, GuardCode: guardCode, Waiter: waiterFor, GuardSecret: guardSecret, Now: clock}
}

// program is Program with the tests' Deps, in testkit.Run's shape.
func program(ctx *pulumi.Context) (map[string]pulumi.Output, error) { return Program(ctx, deps()) }

// run is what Pulumi runs, with the tests' Deps.
func run(ctx *pulumi.Context) error { return Run(deps())(ctx) }
