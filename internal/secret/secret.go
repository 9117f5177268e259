// Package secret marks values as Pulumi secrets.
package secret

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// String returns o as a secret. It marks the value once it is known: an
// unknown value (a first preview) carries no data, and a secret wrapping an
// unknown is rejected by Pulumi's mock monitor, which the test suite runs
// the whole program under.
func String(o pulumi.StringOutput) pulumi.StringOutput {
	return o.ApplyT(func(v string) pulumi.StringOutput {
		return pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput)
	}).(pulumi.StringOutput)
}
