package program

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/talos-aws/talos-aws/addons"
	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/drain"
	"github.com/talos-aws/talos-aws/identity"
	"github.com/talos-aws/talos-aws/internal/secret"
	"github.com/talos-aws/talos-aws/internal/servingcert"
	"github.com/talos-aws/talos-aws/talos"
)

// The add-ons' service accounts that hold roles, by "namespace/name".
var (
	ebsCSIAccount     = "kube-system/" + addons.EBSCSIServiceAccount
	nthAccount        = "kube-system/" + addons.NTHServiceAccount
	autoscalerAccount = "kube-system/" + addons.AutoscalerServiceAccount
)

// serviceAccountRoles are the roles workload identity makes: one per AWS
// add-on the stack runs (the termination handler's policy is attached by
// the drain stage, which owns its queue), then the user's own, in order.
func serviceAccountRoles(cfg *config.Config) []identity.Role {
	var roles []identity.Role
	if cfg.Addons.EBSCSI.Enabled {
		roles = append(roles, identity.Role{Namespace: "kube-system", ServiceAccount: addons.EBSCSIServiceAccount, Slug: "ebs-csi",
			Inline: pulumi.String(compute.EBSCSIPolicy(cfg.ClusterName, cfg.Region).JSON())})
	}
	if drain.Enabled(cfg) {
		roles = append(roles, identity.Role{Namespace: "kube-system", ServiceAccount: addons.NTHServiceAccount, Slug: "nth"})
	}
	if config.AnyAutoscaled(cfg) {
		roles = append(roles, identity.Role{Namespace: "kube-system", ServiceAccount: addons.AutoscalerServiceAccount, Slug: "autoscaler",
			// The grants of the autoscaler release the chart runs for this minor.
			Inline: pulumi.String(compute.AutoscalerPolicy(cfg.ClusterName, config.AddonsFor(cfg.KubernetesVersion).Autoscaler()).JSON())})
	}
	for _, r := range cfg.ServiceAccountRoles {
		// Named by the pair, not the position: removing an earlier entry
		// must not rename (replace) the later roles.
		sum := sha256.Sum256([]byte(r.Namespace + "/" + r.ServiceAccount))
		role := identity.Role{Namespace: r.Namespace, ServiceAccount: r.ServiceAccount, Slug: "sa-" + hex.EncodeToString(sum[:4]), ManagedARNs: r.PolicyARNs}
		if r.Policy != "" {
			role.Inline = pulumi.String(r.Policy)
		}
		roles = append(roles, role)
	}
	return roles
}

// webhookCert is the pod identity webhook's serving certificate and key
// (secret), derived from the service-account key: the same on every run,
// new only with new machine secrets (servingcert).
func webhookCert(saKey pulumi.StringOutput) (pulumi.StringOutput, pulumi.StringOutput) {
	pair := saKey.ApplyT(func(k string) ([]string, error) {
		seed, err := base64.StdEncoding.DecodeString(k)
		if err != nil {
			return nil, fmt.Errorf("webhook certificate: service-account key: %w", err)
		}
		svc := addons.WebhookService + ".kube-system.svc"
		c, key, err := servingcert.New(seed, "talos-aws pod-identity-webhook serving key", []string{svc, svc + ".cluster.local"})
		if err != nil {
			return nil, err
		}
		return []string{string(c), string(key)}, nil
	}).(pulumi.StringArrayOutput)
	// The certificate is public; the key stays secret.
	cert := pulumi.Unsecret(pair.Index(pulumi.Int(0))).(pulumi.StringOutput)
	return cert, secret.String(pair.Index(pulumi.Int(1)))
}

// warnIssuerMove logs issuerMoveWarning in a preview.
func warnIssuerMove(ctx *pulumi.Context, cfg *config.Config, tal *talos.Talos, id *identity.Identity) {
	if !ctx.DryRun() || id == nil {
		return
	}
	existing, err := internals.UnsafeAwaitOutput(ctx.Context(), tal.ClusterID)
	if err != nil {
		return
	}
	issuer, err := internals.UnsafeAwaitOutput(ctx.Context(), id.IssuerURL)
	if err != nil {
		return
	}
	if w := issuerMoveWarning(cfg, existing.Known, issuer.Known); w != "" {
		_ = ctx.Log.Warn(w, nil)
	}
}

// issuerMoveWarning is what a preview says when an existing cluster (its
// machine secrets are in the state: known) gets workload identity now (the
// issuer's distribution is not: unknown): what `up` will disrupt. Nothing
// for a new stack or one that has the issuer already.
func issuerMoveWarning(cfg *config.Config, clusterExists, issuerExists bool) string {
	// From Talos 1.13 the old issuer stays accepted (talos.PlanIssuers,
	// which says so itself).
	if !cfg.WorkloadIdentity || !clusterExists || issuerExists || talos.MultipleIssuers(cfg.TalosVersion) {
		return ""
	}
	return strings.Join([]string{
		"workloadIdentity: this existing cluster moves to a new service-account issuer (a CloudFront distribution this `up` creates).",
		fmt.Sprintf("The control-plane machine configuration changes (--service-account-issuer, --service-account-jwks-uri) and the control-plane hop limit drops to 1, so the control plane rolls: %d node(s), one at a time, launch first, through the etcd guard; workers do not roll.", cfg.ControlPlane.Count),
		"Talos 1.12 gives the API server one issuer: tokens pods hold now (old issuer) are refused by the new API servers, so restart workloads once the roll ends (kubectl rollout restart); from Talos 1.13 the old issuer stays accepted: move to talosVersion v1.13.x first to avoid this.",
		"The EBS CSI controller loses the control-plane role's volume permissions at once and gets its own role after the roll, with the webhook and the termination handler: volume attach and create wait until then.",
		"Set workloadIdentity: false to keep this stack on node-role credentials until you are ready (docs/security.md#workload-identity-irsa).",
	}, " ")
}
