package network

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// newDNS gives the cluster its names: with a stable endpoint, a Route 53
// private hosted zone on the VPC whose "api" record aliases the internal
// load balancer (nodes resolve it through the VPC's resolver, so the name,
// and with it every machine configuration, is known before the load
// balancer exists and outlives its replacement); with a public name, its
// record in the user's public zone, aliasing the public load balancer.
func newDNS(ctx *pulumi.Context, name string, args Args, vpcID pulumi.IDOutput, lbs *loadBalancers, tag tagger, parent pulumi.ResourceOption) error {
	if args.StableZone != "" {
		zone, err := route53.NewZone(ctx, name+"-endpoint", &route53.ZoneArgs{
			Name:    pulumi.String(args.StableZone),
			Comment: pulumi.String("talos-aws " + args.ClusterName + ": the cluster endpoint"),
			Vpcs:    route53.ZoneVpcArray{&route53.ZoneVpcArgs{VpcId: vpcID}},
			// Only the stack writes in it; a destroy takes its records too.
			ForceDestroy: pulumi.Bool(true),
			Tags:         tag("endpoint", nil),
		}, parent)
		if err != nil {
			return err
		}
		if _, err := route53.NewRecord(ctx, name+"-endpoint-api", &route53.RecordArgs{
			ZoneId: zone.ZoneId,
			Name:   pulumi.String("api." + args.StableZone),
			Type:   pulumi.String("A"),
			// Off: every node behind it is unhealthy before bootstrap and
			// the CNI, and an alias that answers nothing then helps no one.
			Aliases: route53.RecordAliasArray{&route53.RecordAliasArgs{
				Name: lbs.internal.DnsName, ZoneId: lbs.internal.ZoneId, EvaluateTargetHealth: pulumi.Bool(false),
			}},
		}, parent); err != nil {
			return err
		}
	}
	if args.PublicName != "" && lbs.public != nil {
		if _, err := route53.NewRecord(ctx, name+"-public-api", &route53.RecordArgs{
			ZoneId: pulumi.String(args.PublicZoneID),
			Name:   pulumi.String(args.PublicName),
			Type:   pulumi.String("A"),
			Aliases: route53.RecordAliasArray{&route53.RecordAliasArgs{
				Name: lbs.public.DnsName, ZoneId: lbs.public.ZoneId, EvaluateTargetHealth: pulumi.Bool(false),
			}},
		}, parent); err != nil {
			return err
		}
	}
	return nil
}
