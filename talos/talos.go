// Package talos creates the cluster's machine secrets, the machine
// configurations delivered as EC2 user data, the one-time etcd bootstrap and
// the talosconfig/kubeconfig clients.
package talos

import (
	"context"
	"fmt"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumiverse/pulumi-talos/sdk/go/talos/client"
	"github.com/pulumiverse/pulumi-talos/sdk/go/talos/cluster"
	"github.com/pulumiverse/pulumi-talos/sdk/go/talos/machine"
	mconfig "github.com/siderolabs/talos/pkg/machinery/config/machine"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/internal/secret"
)

// Args configure the Talos stage.
type Args struct {
	Config *config.Config
	// InternalLBDNSName and PublicLBDNSName name the cluster in the machine
	// configurations of a stack without the stable endpoint (with it, the
	// configurations name no load balancer: StableSANs).
	InternalLBDNSName pulumi.StringOutput
	PublicLBDNSName   pulumi.StringOutput
	// APIHost is where clients outside the nodes reach the APIs: the
	// bootstrap, the kubeconfig's server and the talosconfig's endpoint.
	APIHost pulumi.StringOutput
	// IssuerURL and JWKSURI (workload identity; nil without) configure the
	// API servers' service-account issuer.
	IssuerURL pulumi.StringInput
	JWKSURI   pulumi.StringInput
	// Issuers and Audiences are what the last `up` recorded the API
	// servers accept (zero for a new stack); Now is the time the plans
	// judge them at.
	Issuers, Audiences Accepted
	Now                time.Time
	// Log says, in preview and up, what moves with the issuers.
	Log func(string)
}

// Talos is the Talos stage's component resource. New creates the secrets
// and machine configurations; Bootstrap, once the control-plane ASG exists,
// bootstraps etcd and produces the client configurations.
type Talos struct {
	pulumi.ResourceState

	args    Args
	secrets *machine.Secrets

	// UserData holds each role's raw machine configuration (secret), by
	// config.ControlPlaneKey and pool name.
	UserData        map[string]pulumi.StringOutput
	ClusterEndpoint pulumi.StringOutput
	PublicEndpoint  pulumi.StringOutput

	// ClientConfiguration is the admin client certificate (secret).
	ClientConfiguration machine.ClientConfigurationOutput
	// ClusterID is the Talos cluster id from the machine secrets (secret):
	// the same for the cluster's whole life, new only with new secrets.
	ClusterID pulumi.StringOutput
	// ServiceAccountKey is the key the API servers sign service-account
	// tokens with, base64 PEM (secret): workload identity publishes its
	// public half.
	ServiceAccountKey pulumi.StringOutput
	// AcceptedIssuers and AcceptedAudiences are the API servers'
	// --service-account-issuer and --api-audiences of this `up`
	// (PlanIssuers, PlanAudiences), the primary first.
	AcceptedIssuers, AcceptedAudiences pulumi.StringArrayOutput
	BootstrapNode                      pulumi.StringOutput
	BootstrapResource                  *machine.Bootstrap
	Kubeconfig                         pulumi.StringOutput
	Talosconfig                        pulumi.StringOutput
}

// New creates the machine secrets and every role's machine configuration.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Talos, error) {
	cfg := args.Config
	t := &Talos{args: args, UserData: map[string]pulumi.StringOutput{}}
	if err := ctx.RegisterComponentResource("talos-aws:talos:Talos", name, t, opts...); err != nil {
		return nil, err
	}
	var err error
	t.secrets, err = machine.NewSecrets(ctx, name+"-secrets", &machine.SecretsArgs{
		TalosVersion: pulumi.String(cfg.TalosVersion),
	}, pulumi.Parent(t), pulumi.AdditionalSecretOutputs([]string{"machineSecrets", "clientConfiguration"}),
		// The cluster's PKI is made once, under the contract of the Talos
		// version the cluster was created with. Upgrading Talos must never
		// regenerate it: that would lock every node out.
		pulumi.IgnoreChanges([]string{"talosVersion"}))
	if err != nil {
		return nil, err
	}

	t.ClusterID = t.secrets.MachineSecrets.Cluster().Id()
	t.ServiceAccountKey = t.secrets.MachineSecrets.Certs().K8sServiceaccount().Key()
	// Known before the nodes: the etcd guard, deployed before the
	// control-plane group, stores it.
	t.ClientConfiguration = t.secrets.ClientConfiguration
	// The cluster endpoint's host and the certificates' names: with the
	// stable endpoint known now, before any load balancer exists, so the
	// nodes launch while the load balancers provision.
	host := args.InternalLBDNSName
	sans := pulumi.All(args.InternalLBDNSName, args.PublicLBDNSName).ApplyT(func(v []any) ([]string, error) {
		internal, ok1 := v[0].(string)
		public, ok2 := v[1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("talos: load balancer names are %T, %T", v[0], v[1])
		}
		return []string{internal, public}, nil
	}).(pulumi.StringArrayOutput)
	if cfg.StableEndpoint() {
		host = pulumi.String(config.StableHost(cfg.ClusterName)).ToStringOutput()
		sans = pulumi.ToStringArray(StableSANs(cfg)).ToStringArrayOutput()
	}
	t.ClusterEndpoint = host.ApplyT(ClusterEndpoint).(pulumi.StringOutput)
	t.PublicEndpoint = args.APIHost.ApplyT(ClusterEndpoint).(pulumi.StringOutput)
	var issuer, jwks pulumi.StringInput = pulumi.String(""), pulumi.String("")
	if args.IssuerURL != nil {
		issuer, jwks = args.IssuerURL, args.JWKSURI
	}
	// The patch input, once the names and the issuer are known: the
	// issuers and audiences the API servers accept are planned here, from
	// the endpoint Talos defaults both to and what the last `up` recorded.
	input := pulumi.All(host, sans, issuer, jwks).ApplyT(func(v []any) (PatchInput, error) {
		h, ok1 := v[0].(string)
		names, ok2 := v[1].([]string)
		iss, ok3 := v[2].(string)
		jw, ok4 := v[3].(string)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return PatchInput{}, fmt.Errorf("talos: patch inputs are %T, %T, %T, %T", v[0], v[1], v[2], v[3])
		}
		in := PatchInputFor(cfg, names)
		endpoint := ClusterEndpoint(h)
		multi := MultipleIssuers(cfg.TalosVersion)
		want := endpoint
		switch {
		case iss != "":
			want, in.ServiceAccountJWKSURI = iss, jw
		case !multi && len(args.Issuers.Accepted) > 0:
			// Without workload identity the issuer is only a string the
			// tokens carry: on a Talos that takes one, a new endpoint
			// keeps the old one rather than refuse every token.
			want = args.Issuers.Accepted[0]
		}
		issuers := PlanIssuers(args.Issuers, want, multi, args.Now)
		audiences := PlanAudiences(args.Audiences, endpoint, args.Now)
		for _, note := range []string{issuers.Note, audiences.Note} {
			if note != "" && args.Log != nil {
				args.Log(note)
			}
		}
		in.ServiceAccountIssuers = defaultArgs(issuers.Accepted, endpoint)
		in.APIAudiences = defaultArgs(audiences.Accepted, endpoint)
		in.issuers, in.audiences = issuers.Accepted, audiences.Accepted
		return in, nil
	})
	field := func(get func(PatchInput) []string) pulumi.StringArrayOutput {
		return input.ApplyT(func(v any) ([]string, error) {
			in, ok := v.(PatchInput)
			if !ok {
				return nil, fmt.Errorf("talos: patch input is %T", v)
			}
			return get(in), nil
		}).(pulumi.StringArrayOutput)
	}
	t.AcceptedIssuers = field(func(in PatchInput) []string { return in.issuers })
	t.AcceptedAudiences = field(func(in PatchInput) []string { return in.audiences })
	cpImage := ControlPlaneImage(cfg)
	cp := func(in PatchInput) ([]string, error) { return ControlPlaneRolePatches(in, cpImage) }
	t.UserData[config.ControlPlaneKey] = t.machineConfig(controlPlaneKey, mconfig.TypeControlPlane, input, cp, cpImage)
	for i, pool := range cfg.WorkerPools {
		img := PoolImage(cfg, pool)
		build := func(in PatchInput) ([]string, error) { return WorkerPatches(in, pool, img) }
		t.UserData[pool.Name] = t.machineConfig(poolKey(i), mconfig.TypeWorker, input, build, img)
	}
	return t, nil
}

// machineConfig renders one role's configuration in the program (Render:
// Talos' generator pinned in go.mod, docs and examples off, contract and
// Kubernetes version pinned) from the machine secrets the provider keeps,
// and checks it as a node would before any launch template takes it:
// Talos' validation, and EC2's user-data size.
func (t *Talos) machineConfig(path string, typ mconfig.Type, input pulumi.Output, patches func(PatchInput) ([]string, error), img Image) pulumi.StringOutput {
	cfg := t.args.Config
	rendered := pulumi.All(t.secrets.MachineSecrets, t.ClusterEndpoint, input).ApplyT(func(v []any) (string, error) {
		ms, ok1 := v[0].(machine.MachineSecrets)
		endpoint, ok2 := v[1].(string)
		in, ok3 := v[2].(PatchInput)
		if !ok1 || !ok2 || !ok3 {
			return "", fmt.Errorf("%s: render inputs are %T, %T, %T", path, v[0], v[1], v[2])
		}
		bundle, err := BundleFromMachineSecrets(ms)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		list, err := patches(in)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		b, err := Render(RenderInput{ClusterName: cfg.ClusterName, Endpoint: endpoint, KubernetesVersion: cfg.KubernetesVersion,
			TalosVersion: cfg.TalosVersion, Type: typ, Patches: list, Secrets: bundle, InstallImage: img.Installer})
		if err != nil {
			return "", fmt.Errorf("%s: Talos cannot render the machine configuration: %s", path, userTerms(err))
		}
		if _, err := ValidateMachineConfig(b); err != nil {
			return "", fmt.Errorf("%s: Talos rejects the machine configuration: %s", path, userTerms(err))
		}
		if len(b) > MaxUserDataBytes {
			return "", fmt.Errorf("%s: the machine configuration is %d bytes; EC2 user data is limited to %d", path, len(b), MaxUserDataBytes)
		}
		return string(b), nil
	}).(pulumi.StringOutput)
	return secret.String(rendered)
}

// BootstrapTimeout bounds the bootstrap call's retries on create.
const BootstrapTimeout = "20m"

// BootstrapArgs are what bootstrap needs from the compute stage.
type BootstrapArgs struct {
	ControlPlaneASG *autoscaling.Group
	// Reachable, in `up` with a private API (nil otherwise), fails fast
	// when this machine has no route to host, before the bootstrap
	// retries; its advice names the stack's jump host, when there is one.
	Reachable func(ctx context.Context, host, jumpHost string) error
	// JumpHostID is the stack's SSM jump host (jumpHost), else unset.
	JumpHostID pulumi.StringOutput
}

// Bootstrap bootstraps etcd once, then creates the kubeconfig and
// talosconfig, and registers the component's outputs.
func (t *Talos) Bootstrap(ctx *pulumi.Context, name string, args BootstrapArgs) error {
	cfg := t.args.Config
	parent := pulumi.Parent(t)
	// The lookup takes the ASG's name as input and depends on the ASG, so on
	// a first preview it is unknown rather than an empty list, and on create
	// it runs after the ASG reached its desired capacity.
	found := runningInstances(ctx, pulumi.StringArray{args.ControlPlaneASG.Name},
		parent, pulumi.DependsOn([]pulumi.Resource{args.ControlPlaneASG}))
	t.BootstrapNode = found.ApplyT(func(r ec2.GetInstancesResult) string {
		return PickBootstrapNode(ZipInstances(r.Ids, r.PrivateIps))
	}).(pulumi.StringOutput)
	nodeIPs := found.ApplyT(func(r ec2.GetInstancesResult) []string {
		return NodeIPs(ZipInstances(r.Ids, r.PrivateIps))
	}).(pulumi.StringArrayOutput)

	cc := t.ClientConfiguration
	var err error
	// Bootstrap runs once per cluster life. The node it ran on will be
	// replaced some day and the lookup will then pick another node: changes
	// to node and endpoint are ignored, and the resource is protected, so
	// nothing (not even a `pulumi destroy` or a replace) can bootstrap a
	// fresh control-plane node into a second, split-brain etcd.
	//
	// terraform-provider-talos v0.10.1 talos_machine_bootstrap_resource.go
	// Create retries every error but InvalidArgument until its create
	// timeout (default 10 minutes). The ASG reports capacity when the
	// instances run, and the public NLB needs a few more minutes to
	// register them and pass two health checks, so 20 minutes.
	// With a private API the bootstrap, the kubeconfig and the waits all go
	// through the internal load balancer: probe the route first.
	jump := args.JumpHostID
	if jump == (pulumi.StringOutput{}) {
		jump = pulumi.String("").ToStringOutput()
	}
	endpoint := pulumi.All(t.args.APIHost, jump).ApplyTWithContext(ctx.Context(), func(c context.Context, v []any) (string, error) {
		h := v[0].(string)
		if args.Reachable == nil {
			return h, nil
		}
		return h, args.Reachable(c, h, v[1].(string))
	}).(pulumi.StringOutput)
	t.BootstrapResource, err = machine.NewBootstrap(ctx, name+"-bootstrap", &machine.BootstrapArgs{
		Node:                t.BootstrapNode,
		Endpoint:            endpoint,
		ClientConfiguration: cc,
		Timeouts:            &machine.BootstrapTimeoutsArgs{Create: pulumi.String(BootstrapTimeout)},
	}, parent, pulumi.DependsOn([]pulumi.Resource{args.ControlPlaneASG}),
		pulumi.IgnoreChanges([]string{"node", "endpoint"}), pulumi.Protect(true))
	if err != nil {
		return err
	}

	// The kubeconfig follows the current bootstrap-node pick (no
	// ignoreChanges): talos_cluster_kubeconfig_resource.go (v0.10.1) Update
	// changes node in place and dials it only when the client certificate
	// is within certificate_renewal_duration of expiry (about 335 days in);
	// a node ignored since creation would by then be a terminated instance.
	kc, err := cluster.NewKubeconfig(ctx, name+"-kubeconfig", &cluster.KubeconfigArgs{
		Node:     t.BootstrapNode,
		Endpoint: t.args.APIHost,
		ClientConfiguration: cluster.KubeconfigClientConfigurationArgs{
			CaCertificate:     cc.CaCertificate(),
			ClientCertificate: cc.ClientCertificate(),
			ClientKey:         cc.ClientKey(),
		},
	}, parent, pulumi.DependsOn([]pulumi.Resource{t.BootstrapResource}),
		pulumi.AdditionalSecretOutputs([]string{"kubeconfigRaw", "kubernetesClientConfiguration"}))
	if err != nil {
		return err
	}
	server := t.PublicEndpoint
	kubeconfig := pulumi.All(kc.KubeconfigRaw, server).ApplyT(func(v []any) (string, error) {
		return RewriteKubeconfigServer(v[0].(string), v[1].(string))
	}).(pulumi.StringOutput)
	t.Kubeconfig = secret.String(kubeconfig)

	tc := client.GetConfigurationOutput(ctx, client.GetConfigurationOutputArgs{
		ClusterName: pulumi.String(cfg.ClusterName),
		ClientConfiguration: client.GetConfigurationClientConfigurationArgs{
			CaCertificate:     cc.CaCertificate(),
			ClientCertificate: cc.ClientCertificate(),
			ClientKey:         cc.ClientKey(),
		},
		Endpoints: pulumi.StringArray{t.args.APIHost},
		Nodes:     nodeIPs,
	}, parent)
	t.Talosconfig = secret.String(tc.TalosConfig())

	return ctx.RegisterResourceOutputs(t, pulumi.Map{
		"clusterEndpoint": t.ClusterEndpoint,
		"publicEndpoint":  t.PublicEndpoint,
		"bootstrapNode":   t.BootstrapNode,
		"kubeconfig":      t.Kubeconfig,
		"talosconfig":     t.Talosconfig,
	})
}

// runningInstances looks up the running instances of Auto Scaling Groups by
// the tag AWS puts on their instances. Callers pass the groups' names as
// outputs (and depend on the groups), so a first preview sees unknown, not
// an empty list.
func runningInstances(ctx *pulumi.Context, asgNames pulumi.StringArrayInput, opts ...pulumi.InvokeOption) ec2.GetInstancesResultOutput {
	return ec2.GetInstancesOutput(ctx, ec2.GetInstancesOutputArgs{
		Filters: ec2.GetInstancesFilterArray{&ec2.GetInstancesFilterArgs{
			Name:   pulumi.String("tag:aws:autoscaling:groupName"),
			Values: asgNames,
		}},
		InstanceStateNames: pulumi.ToStringArray([]string{"running"}),
	}, opts...)
}
