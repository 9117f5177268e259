package addons

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumiverse/pulumi-talos/sdk/go/talos/cluster"
	"github.com/pulumiverse/pulumi-talos/sdk/go/talos/machine"

	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
)

// releaseTimeout bounds each release's wait for its resources (seconds).
const releaseTimeout = 600

// Args configure the add-ons stage.
type Args struct {
	Config              *config.Config
	Kubeconfig          pulumi.StringOutput
	ClientConfiguration machine.ClientConfigurationOutput
	// TalosEndpoint is the public NLB's DNS name; the health check goes
	// through it like talosctl does.
	TalosEndpoint     pulumi.StringOutput
	ControlPlaneNodes pulumi.StringArrayOutput
	WorkerASGNames    pulumi.StringArrayOutput
}

// Addons is the add-ons stage's component resource.
type Addons struct {
	pulumi.ResourceState

	Releases map[string]*helmv3.Release
}

// New installs the add-ons: Cilium first (Talos reboots a node that has no
// CNI after about ten minutes, so nothing waits in front of it), then the
// cloud controller manager and the CSR approver, then a cluster health gate,
// then Metrics Server, Argo CD and the EBS CSI driver in parallel.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Addons, error) {
	cfg := args.Config
	a := &Addons{Releases: map[string]*helmv3.Release{}}
	if err := ctx.RegisterComponentResource("talos-aws:addons:Addons", name, a, opts...); err != nil {
		return nil, err
	}
	// On a first preview the kubeconfig is unknown: the provider then plans
	// the releases without contacting a cluster. After the cluster is gone
	// (destroy, or a failed create), unreachable resources are dropped from
	// state instead of hanging on an API server that will never answer.
	k8s, err := kubernetes.NewProvider(ctx, name+"-k8s", &kubernetes.ProviderArgs{
		Kubeconfig:        args.Kubeconfig,
		DeleteUnreachable: pulumi.Bool(true),
	}, pulumi.Parent(a))
	if err != nil {
		return nil, err
	}
	charts := Charts(cfg.Addons)
	release := func(key string, values Values, deps ...pulumi.ResourceOption) (*helmv3.Release, error) {
		ch := charts[key]
		ra := &helmv3.ReleaseArgs{
			Name:            pulumi.String(ch.Release),
			Chart:           pulumi.String(ch.Chart),
			Version:         pulumi.String(ch.Version),
			Namespace:       pulumi.String(ch.Namespace),
			CreateNamespace: pulumi.Bool(ch.Namespace != "kube-system"),
			Values:          pulumi.ToMap(values),
			Timeout:         pulumi.Int(releaseTimeout),
			Atomic:          pulumi.Bool(false),
		}
		if ch.Repo != "" {
			ra.RepositoryOpts = &helmv3.RepositoryOptsArgs{Repo: pulumi.String(ch.Repo)}
		}
		opts := append([]pulumi.ResourceOption{pulumi.Parent(a), pulumi.Provider(k8s)}, deps...)
		r, err := helmv3.NewRelease(ctx, name+"-"+key, ra, opts...)
		if err == nil {
			a.Releases[key] = r
		}
		return r, err
	}

	var cni []pulumi.Resource
	if cfg.Addons.Cilium.Enabled {
		r, err := release("cilium", CiliumValues(cfg))
		if err != nil {
			return nil, err
		}
		cni = append(cni, r)
	}
	early := append([]pulumi.Resource(nil), cni...)
	afterCNI := pulumi.DependsOn(cni)
	if cfg.Addons.CloudControllerManager.Enabled {
		r, err := release("ccm", CCMValues(cfg), afterCNI)
		if err != nil {
			return nil, err
		}
		early = append(early, r)
	}
	if cfg.Addons.CSRApprover.Enabled {
		r, err := release("csr-approver", CSRApproverValues(cfg), afterCNI)
		if err != nil {
			return nil, err
		}
		early = append(early, r)
	}

	// The health gate: Talos' own cluster health check (etcd, nodes, and
	// Kubernetes: all nodes Ready, control-plane pods up) after the early
	// releases. Later releases wait for it through DependsOnInputs, which
	// orders them without putting anything into their inputs (no diffs).
	workers := compute.RunningInstances(ctx, args.WorkerASGNames, pulumi.Parent(a))
	cc := args.ClientConfiguration
	health := cluster.GetHealthOutput(ctx, cluster.GetHealthOutputArgs{
		ClientConfiguration: cluster.GetHealthClientConfigurationArgs{
			CaCertificate:     cc.CaCertificate(),
			ClientCertificate: cc.ClientCertificate(),
			ClientKey:         cc.ClientKey(),
		},
		ControlPlaneNodes:    args.ControlPlaneNodes,
		WorkerNodes:          workers.PrivateIps(),
		Endpoints:            pulumi.StringArray{args.TalosEndpoint},
		SkipKubernetesChecks: pulumi.Bool(false),
		Timeouts:             &cluster.GetHealthTimeoutsArgs{Read: pulumi.String("15m")},
	}, pulumi.Parent(a), pulumi.DependsOn(early))
	gate := pulumi.DependsOnInputs(health.ApplyT(func(cluster.GetHealthResult) []pulumi.Resource {
		return early
	}).(pulumi.ResourceArrayOutput))

	if cfg.Addons.MetricsServer.Enabled {
		if _, err := release("metrics", MetricsServerValues(cfg), gate); err != nil {
			return nil, err
		}
	}
	if cfg.Addons.EBSCSI.Enabled {
		if _, err := release("ebs-csi", EBSCSIValues(cfg), gate); err != nil {
			return nil, err
		}
	}
	if cfg.Addons.ArgoCD.Enabled {
		argo, err := release("argocd", ArgoCDValues(), gate)
		if err != nil {
			return nil, err
		}
		if values, ok := ArgoCDAppsValues(cfg); ok {
			if _, err := release("argocd-apps", values, pulumi.DependsOn([]pulumi.Resource{argo})); err != nil {
				return nil, err
			}
		}
	}

	outputs := pulumi.Map{}
	for key, r := range a.Releases {
		outputs[key] = r.Status.Version()
	}
	if err := ctx.RegisterResourceOutputs(a, outputs); err != nil {
		return nil, err
	}
	return a, nil
}
