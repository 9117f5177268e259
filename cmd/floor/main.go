//go:build floor

// Command floor imports every package outside this module that the
// program's own packages import, and does nothing: its compile time is the
// floor the program's own code adds to. Built only by
// scripts/compile-bench.sh (-tags floor); TestFloorMatchesTheProgram keeps
// the list current.
package main

import (
	_ "filippo.io/age"
	_ "github.com/aws/aws-sdk-go-v2/aws"
	_ "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	_ "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	_ "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	_ "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	_ "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	_ "github.com/aws/aws-sdk-go-v2/service/sts"
	_ "github.com/blang/semver/v4"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/servicequotas"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	_ "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	_ "github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	_ "github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	_ "github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	_ "github.com/pulumiverse/pulumi-talos/sdk/go/talos/client"
	_ "github.com/pulumiverse/pulumi-talos/sdk/go/talos/cluster"
	_ "github.com/pulumiverse/pulumi-talos/sdk/go/talos/machine"
	_ "github.com/siderolabs/crypto/x509"
	_ "github.com/siderolabs/talos/pkg/machinery/api/machine"
	_ "github.com/siderolabs/talos/pkg/machinery/client/config"
	_ "github.com/siderolabs/talos/pkg/machinery/compatibility"
	_ "github.com/siderolabs/talos/pkg/machinery/compatibility/talos112"
	_ "github.com/siderolabs/talos/pkg/machinery/compatibility/talos113"
	_ "github.com/siderolabs/talos/pkg/machinery/config"
	_ "github.com/siderolabs/talos/pkg/machinery/config/bundle"
	_ "github.com/siderolabs/talos/pkg/machinery/config/configloader"
	_ "github.com/siderolabs/talos/pkg/machinery/config/configpatcher"
	_ "github.com/siderolabs/talos/pkg/machinery/config/encoder"
	_ "github.com/siderolabs/talos/pkg/machinery/config/generate"
	_ "github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	_ "github.com/siderolabs/talos/pkg/machinery/config/machine"
	_ "github.com/siderolabs/talos/pkg/machinery/constants"
	_ "github.com/siderolabs/talos/pkg/machinery/gendata"
	_ "github.com/siderolabs/talos/pkg/machinery/resources/network"
	_ "go.yaml.in/yaml/v4"
	_ "gopkg.in/yaml.v3"
	_ "sigs.k8s.io/yaml"
)

func main() {}
