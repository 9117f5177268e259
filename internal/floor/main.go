//go:build floor

// Command floor imports the same SDK packages as the program and does
// nothing: its compile time is the floor the program's own code adds to.
// Built only by scripts/compile-bench.sh (-tags floor).
package main

import (
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	_ "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	_ "github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	_ "github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	_ "github.com/pulumiverse/pulumi-talos/sdk/go/talos/client"
	_ "github.com/pulumiverse/pulumi-talos/sdk/go/talos/cluster"
	_ "github.com/pulumiverse/pulumi-talos/sdk/go/talos/machine"
	_ "github.com/siderolabs/talos/pkg/machinery/compatibility"
	_ "github.com/siderolabs/talos/pkg/machinery/config/bundle"
	_ "github.com/siderolabs/talos/pkg/machinery/config/configloader"
	_ "github.com/siderolabs/talos/pkg/machinery/config/configpatcher"
	_ "github.com/siderolabs/talos/pkg/machinery/config/generate"
	_ "github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	_ "sigs.k8s.io/yaml"
)

func main() {}
