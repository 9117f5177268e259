// Package addons installs the cluster's Helm releases in the order a Talos
// cluster with CNI "none" and an external cloud provider needs them.
package addons

import (
	"context"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/images"
	"github.com/talos-aws/talos-aws/internal/helmrelease"
	"github.com/talos-aws/talos-aws/internal/kubeobject"
)

// releaseTimeout bounds each release's wait for its resources (seconds).
const releaseTimeout = 600

// Waiter is what `up` waits on before it talks to a new cluster
// (readiness.Gate). Both waits dial the kubeconfig's server.
type Waiter interface {
	// APIReady returns once the API server answers /readyz.
	APIReady(ctx context.Context, kubeconfig string) error
	// NodesReady returns once want nodes are Ready (and, with
	// requireInitialized, initialised by the cloud controller manager).
	NodesReady(ctx context.Context, kubeconfig string, want int, requireInitialized bool) error
}

// Args configure the add-ons stage.
type Args struct {
	Config *config.Config
	// Kubeconfig is the admin kubeconfig pointing at the public NLB: the
	// only address of the API server the machine running Pulumi can reach.
	Kubeconfig pulumi.StringOutput
	// ClusterID identifies the cluster for the Kubernetes provider: it
	// changes only when the cluster's PKI (and so the cluster) is new.
	ClusterID pulumi.StringOutput
	// Wait runs the readiness waits, in `up` only.
	Wait Waiter
	// Identity is set with workload identity.
	Identity *Identity
	// AfterControlPlaneRolled orders the pod identity webhook, and so
	// every release that takes a role, after the control plane has rolled:
	// when a live cluster moves to the issuer, old and new API servers sign
	// tokens of two issuers until the roll ends, and a token of the old one
	// is refused by STS.
	AfterControlPlaneRolled pulumi.ResourceOption
}

// Identity is what the add-ons need from workload identity: the webhook's
// serving certificate and key (secret), and the add-ons' roles.
type Identity struct {
	WebhookCert, WebhookKey pulumi.StringInput
	EBSCSIRoleARN           pulumi.StringInput
	// AutoscalerRoleARN is set when a pool is autoscaled.
	AutoscalerRoleARN pulumi.StringInput
}

// Addons is the add-ons stage's component resource.
type Addons struct {
	pulumi.ResourceState

	Releases map[string]*helmrelease.Release
	// Provider is the cluster's Kubernetes provider, for other stages'
	// Kubernetes resources.
	Provider *kubernetes.Provider
	// AfterNodesReady orders a resource after the node gate (every expected
	// node Ready), without adding anything to its inputs.
	AfterNodesReady pulumi.ResourceOption
	// BeforeCredentials orders a release that takes an IAM role through
	// its service account: after the pod identity webhook (with workload
	// identity), else AfterNodesReady.
	BeforeCredentials pulumi.ResourceOption
}

// New installs the add-ons: Cilium first (Talos reboots a node that has no
// CNI after about ten minutes, so nothing but the API server's readiness
// waits in front of it), then the cloud controller manager and the CSR
// approver, then a wait for every expected node to be Ready, then Metrics
// Server, Argo CD, the EBS CSI driver and, for GPU pools, NVIDIA's add-ons
// in parallel.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Addons, error) {
	cfg := args.Config
	a := &Addons{Releases: map[string]*helmrelease.Release{}}
	if err := ctx.RegisterComponentResource("talos-aws:addons:Addons", name, a, opts...); err != nil {
		return nil, err
	}
	// The kubeconfig the Kubernetes provider gets: unknown in previews, and
	// in `up` only once the API server is ready.
	providerKubeconfig := gatedKubeconfig(ctx, args)
	// pulumi-kubernetes v4.32.0 provider.go: Configure dials the cluster
	// once (server version, then API discovery) whenever the kubeconfig is
	// known, and on failure marks it unreachable for the whole run; Create
	// of a Helm release then fails "can't create Helm Release with
	// unreachable cluster" (helm_release.go). Hence the kubeconfig reaches
	// the provider only after /readyz answers, and never in a preview.
	//
	// clusterIdentifier: with an unknown kubeconfig, DiffConfig plans a
	// replacement of the provider, and with it of every release
	// (provider.go DiffConfig, "We can't tell for sure if a computed value
	// has changed"), unless clusterIdentifier is set and unchanged, which
	// turns that into an update. The Talos cluster id is exactly "same
	// cluster": it changes only with new machine secrets.
	//
	// deleteUnreachable stays off: with it, a refresh from outside
	// adminCidrs drops every release from state (provider.go Read), and
	// Helm releases ignore it on delete anyway (provider.go Delete). The
	// docs/operations.md#destroy has the dead-cluster path.
	k8s, err := kubernetes.NewProvider(ctx, name+"-k8s", &kubernetes.ProviderArgs{
		Kubeconfig:        providerKubeconfig,
		ClusterIdentifier: args.ClusterID,
	}, pulumi.Parent(a))
	if err != nil {
		return nil, err
	}
	charts := Charts(cfg.Addons)
	release := func(key string, values Values, deps ...pulumi.ResourceOption) (*helmrelease.Release, error) {
		ch := charts[key]
		ra := helmrelease.Args{
			Name:            pulumi.String(ch.Release),
			Chart:           pulumi.String(ch.Chart),
			Version:         pulumi.String(ch.Version),
			Namespace:       pulumi.String(ch.Namespace),
			CreateNamespace: pulumi.Bool(ch.Namespace != "kube-system"),
			Values:          pulumi.ToMap(values),
			Timeout:         pulumi.Int(releaseTimeout),
			Atomic:          pulumi.Bool(false),
			Repo:            ch.Repo,
		}
		opts := append([]pulumi.ResourceOption{pulumi.Parent(a), pulumi.Provider(k8s)}, deps...)
		r, err := helmrelease.New(ctx, name+"-"+key, ra, opts...)
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

	// The node gate: every expected node registered and Ready (and
	// initialised, when the cloud controller manager runs) after the early
	// releases. Later releases wait for it through DependsOnInputs, which
	// orders them without putting anything into their inputs (no diffs).
	// In a preview the kubeconfig is unknown, so the wait never runs.
	want := config.ExpectedNodes(cfg)
	requireInit := cfg.Addons.CloudControllerManager.Enabled
	waitOn := []any{providerKubeconfig}
	for _, r := range early {
		waitOn = append(waitOn, r.(*helmrelease.Release).Status)
	}
	nodes := pulumi.All(waitOn...).ApplyTWithContext(ctx.Context(), func(c context.Context, v []any) ([]pulumi.Resource, error) {
		if err := args.Wait.NodesReady(c, v[0].(string), want, requireInit); err != nil {
			return nil, err
		}
		return early, nil
	}).(pulumi.ResourceArrayOutput)
	gate := pulumi.DependsOnInputs(nodes)
	a.Provider, a.AfterNodesReady, a.BeforeCredentials = k8s, gate, gate

	// The webhook first: a pod created before it answers gets no
	// credentials (failurePolicy Ignore), and keeps none until it restarts.
	var ebsRole any
	if id := args.Identity; id != nil {
		whOpts := []pulumi.ResourceOption{gate}
		if args.AfterControlPlaneRolled != nil {
			whOpts = append(whOpts, args.AfterControlPlaneRolled)
		}
		wh, err := release("pod-identity-webhook", PodIdentityWebhookValues(cfg, id.WebhookCert, id.WebhookKey), whOpts...)
		if err != nil {
			return nil, err
		}
		a.BeforeCredentials = pulumi.DependsOn([]pulumi.Resource{wh})
		if cfg.Addons.EBSCSI.Enabled {
			ebsRole = id.EBSCSIRoleARN
		}
		if id.AutoscalerRoleARN != nil {
			if _, err := release("cluster-autoscaler", ClusterAutoscalerValues(cfg, id.AutoscalerRoleARN), a.BeforeCredentials); err != nil {
				return nil, err
			}
		}
	}

	if err := a.nvidia(ctx, name, cfg, k8s, gate); err != nil {
		return nil, err
	}
	if cfg.Addons.MetricsServer.Enabled {
		if _, err := release("metrics", MetricsServerValues(cfg), gate); err != nil {
			return nil, err
		}
	}
	if cfg.Addons.EBSCSI.Enabled {
		if _, err := release("ebs-csi", EBSCSIValues(cfg, ebsRole), a.BeforeCredentials); err != nil {
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
		outputs[key] = r.StatusVersion()
	}
	if err := ctx.RegisterResourceOutputs(a, outputs); err != nil {
		return nil, err
	}
	return a, nil
}

// nvidia installs, once the nodes are Ready, what the Talos version's
// NVIDIA guide installs in the cluster for the GPU pools
// (images.NVIDIAAddonsFor): on 1.13 the GPU operator in its namespace,
// labelled for privileged pods; on 1.12 the nvidia RuntimeClass and the
// device plugin running in it. Nothing without GPU pools.
func (a *Addons) nvidia(ctx *pulumi.Context, name string, cfg *config.Config, k8s *kubernetes.Provider, gate pulumi.ResourceOption) error {
	pools := cfg.NVIDIAPools()
	if len(pools) == 0 {
		return nil
	}
	nv, err := images.NVIDIAAddonsFor(cfg.TalosVersion, config.PoolLabel, pools)
	if err != nil {
		return err
	}
	ch := nv.Chart
	opts := []pulumi.ResourceOption{pulumi.Parent(a), pulumi.Provider(k8s), gate}
	var before []pulumi.Resource
	if nv.NamespaceLabels != nil {
		ns, err := kubeobject.Namespace(ctx, name+"-"+ch.Namespace+"-namespace", ch.Namespace, nv.NamespaceLabels, opts...)
		if err != nil {
			return err
		}
		before = append(before, ns)
	}
	if rc := nv.RuntimeClass; rc != nil {
		// Retained when removed: a move to Talos 1.13 hands the class to
		// the GPU operator, which creates and owns "nvidia" itself; a
		// delete after its install would take the operator's class away.
		r, err := kubeobject.RuntimeClass(ctx, name+"-"+rc.Name+"-runtimeclass", rc.Name, rc.Handler, append(opts, pulumi.RetainOnDelete(true))...)
		if err != nil {
			return err
		}
		before = append(before, r)
	}
	if len(before) > 0 {
		opts = append(opts, pulumi.DependsOn(before))
	}
	r, err := helmrelease.New(ctx, name+"-"+ch.Release, helmrelease.Args{
		Name:            pulumi.String(ch.Release),
		Chart:           pulumi.String(ch.Chart),
		Version:         pulumi.String(ch.Version),
		Namespace:       pulumi.String(ch.Namespace),
		CreateNamespace: pulumi.Bool(false), // kube-system, or the labelled one above
		Values:          pulumi.ToMap(ch.Values),
		Timeout:         pulumi.Int(releaseTimeout),
		Atomic:          pulumi.Bool(false),
		Repo:            ch.Repo,
	}, opts...)
	if err != nil {
		return err
	}
	a.Releases[ch.Release] = r
	return nil
}

// gatedKubeconfig is the kubeconfig the Kubernetes provider is configured
// with. In a preview it is withheld (unknown): the provider then does not
// configure, so neither it nor any release dials the cluster, and releases
// are diffed on their inputs (Pulumi sdk v3.274.1 provider_plugin.go:
// "If any are unknown, do not configure the underlying plugin"; Diff then
// answers DiffUnavailable). In `up` it resolves only once the API server
// answers /readyz through the public endpoint, so a first `up` never
// configures the provider against an API server that is still starting.
func gatedKubeconfig(ctx *pulumi.Context, args Args) pulumi.StringOutput {
	if ctx.DryRun() {
		return pulumi.UnsafeUnknownOutput(nil).ApplyT(func(any) string { return "" }).(pulumi.StringOutput)
	}
	return args.Kubeconfig.ApplyTWithContext(ctx.Context(), func(c context.Context, kc string) (string, error) {
		if err := args.Wait.APIReady(c, kc); err != nil {
			return "", err
		}
		return kc, nil
	}).(pulumi.StringOutput)
}
