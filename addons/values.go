package addons

import (
	"fmt"
	"strings"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/internal/ports"
)

// Chart is where a release comes from, pinned.
type Chart struct {
	Release   string // release (and resource) name
	Repo      string // Helm repository; empty for OCI charts
	Chart     string
	Version   string
	Namespace string
}

// Charts lists every add-on's source and namespace, for the component and docs/addons.md.
func Charts(a config.Addons) map[string]Chart {
	return map[string]Chart{
		"cilium":       {"cilium", "https://helm.cilium.io", "cilium", a.Cilium.Version, "kube-system"},
		"ccm":          {"aws-cloud-controller-manager", "https://kubernetes.github.io/cloud-provider-aws", "aws-cloud-controller-manager", a.CloudControllerManager.Version, "kube-system"},
		"csr-approver": {"talos-cloud-controller-manager", "", "oci://ghcr.io/siderolabs/charts/talos-cloud-controller-manager", a.CSRApprover.Version, "kube-system"},
		"metrics":      {"metrics-server", "https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", a.MetricsServer.Version, "kube-system"},
		"argocd":       {"argocd", "https://argoproj.github.io/argo-helm", "argo-cd", a.ArgoCD.Version, "argocd"},
		"argocd-apps":  {"argocd-apps", "https://argoproj.github.io/argo-helm", "argocd-apps", a.ArgoCD.AppsVersion, "argocd"},
		"ebs-csi":      {"aws-ebs-csi-driver", "https://kubernetes-sigs.github.io/aws-ebs-csi-driver", "aws-ebs-csi-driver", a.EBSCSI.Version, "kube-system"},
		// Workload identity: pinned here, not in config (they follow the
		// Kubernetes version this stack pins).
		"pod-identity-webhook": {"pod-identity-webhook", "https://jkroepke.github.io/helm-charts", "amazon-eks-pod-identity-webhook", PodIdentityWebhookVersion, "kube-system"},
		"cluster-autoscaler":   {"cluster-autoscaler", "https://kubernetes.github.io/autoscaler", "cluster-autoscaler", ClusterAutoscalerVersion, "kube-system"},
		// Installed by the drain stage, which owns its queue and rules.
		"nth": {"aws-node-termination-handler", "", "oci://public.ecr.aws/aws-ec2/helm/aws-node-termination-handler", a.NodeTerminationHandler.Version, "kube-system"},
	}
}

// PodIdentityWebhookVersion is jkroepke/helm-charts'
// amazon-eks-pod-identity-webhook chart, which deploys the webhook
// v0.6.17 (its appVersion). ClusterAutoscalerVersion is the newest
// cluster-autoscaler chart (appVersion 1.35.0); its image.tag follows the
// Kubernetes minor (config.AddonsFor).
const (
	PodIdentityWebhookVersion = "2.6.5"
	ClusterAutoscalerVersion  = config.ClusterAutoscalerChartVersion
)

// IRSAAnnotation names a service account's IAM role for the webhook.
// RoleAnnotation carries the same ARN on the add-on's pods: the webhook
// mutates a pod only when it is created, and the charts put
// IRSAAnnotation on the service account only, so a changed role (or the
// move to workload identity) must also change the pod template to roll
// the pods onto it.
const (
	IRSAAnnotation = "eks.amazonaws.com/role-arn"
	RoleAnnotation = "talos-aws.io/role-arn"
)

// Service accounts of the add-ons that hold AWS credentials (the keys of
// config.AddonServiceAccounts).
const (
	EBSCSIServiceAccount     = "ebs-csi-controller-sa"
	NTHServiceAccount        = "aws-node-termination-handler"
	AutoscalerServiceAccount = "cluster-autoscaler"
	// WebhookService is the webhook's Service (fullnameOverride) in
	// kube-system: its certificate's name.
	WebhookService = "pod-identity-webhook"
)

// Values is a Helm values tree.
type Values = map[string]any

const controlPlaneLabel = "node-role.kubernetes.io/control-plane"

func controlPlaneTolerations() []any {
	return []any{
		Values{"key": controlPlaneLabel, "operator": "Exists", "effect": "NoSchedule"},
		Values{"key": "node.cloudprovider.kubernetes.io/uninitialized", "operator": "Exists", "effect": "NoSchedule"},
	}
}

// replicasFor runs two replicas where there is more than one control-plane node.
func replicasFor(cpCount int) int {
	if cpCount > 1 {
		return 2
	}
	return 1
}

// CiliumValues follows Talos' Cilium guide: kube-proxy replacement talking to
// the API server through KubePrism, Talos' cgroup v2 mount, no SYS_MODULE
// (Talos does not let pods load kernel modules), IPAM from the node PodCIDRs
// Kubernetes assigns (what Talos' health checks expect), VXLAN tunnelling
// (what the node security groups allow), and BPF masquerading, which is why
// the Talos stage turns forwardKubeDNSToHost off.
func CiliumValues(c *config.Config) Values {
	hubble := c.Addons.Cilium.Hubble
	return Values{
		"ipam":                 Values{"mode": "kubernetes"},
		"kubeProxyReplacement": true,
		"k8sServiceHost":       "localhost",
		"k8sServicePort":       ports.KubePrism,
		"securityContext": Values{"capabilities": Values{
			"ciliumAgent":      []any{"CHOWN", "KILL", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "SYS_ADMIN", "SYS_RESOURCE", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"},
			"cleanCiliumState": []any{"NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE"},
		}},
		"cgroup":         Values{"autoMount": Values{"enabled": false}, "hostRoot": "/sys/fs/cgroup"},
		"routingMode":    "tunnel",
		"tunnelProtocol": "vxlan",
		"bpf":            Values{"masquerade": true},
		"operator":       Values{"replicas": replicasFor(c.ControlPlane.Count)},
		"ingressController": Values{
			"enabled":          true,
			"default":          true,
			"loadbalancerMode": "shared",
			"service": Values{
				"type":             "NodePort",
				"secureNodePort":   ports.IngressHTTPS,
				"insecureNodePort": ports.IngressHTTP,
			},
		},
		"hubble": Values{
			"enabled": hubble,
			"relay":   Values{"enabled": hubble},
			"ui":      Values{"enabled": hubble},
		},
	}
}

// CCMValues runs the AWS cloud controller manager on the host network of
// control-plane nodes (its IAM permissions are on their role), tolerating the
// taints it exists to remove, without cloud routes (Cilium tunnels).
func CCMValues(c *config.Config) Values {
	return Values{
		"args": []any{
			"--v=2",
			"--cloud-provider=aws",
			"--configure-cloud-routes=false",
			"--cluster-name=" + c.ClusterName,
		},
		"image":          Values{"tag": c.Addons.CloudControllerManager.ImageTag},
		"hostNetworking": true,
		"nodeSelector":   Values{controlPlaneLabel: ""},
		"tolerations":    controlPlaneTolerations(),
	}
}

// CSRApproverValues runs only the Talos cloud controller manager's
// node-csr-approval controller (the AWS controller owns node
// initialisation). Chart 0.5.2 (image v1.11.0) approves a CSR only for the
// kubelet-serving signer, from a system:node:* user, with subject O
// system:nodes, serving usages, no kubernetes.* or email/URI names, and
// every IP address among the addresses of the Node object its first DNS
// name names (pkg/certificatesigningrequest, pkg/talos/helper.go); it does
// not ask the Talos API. The chart reads replicaCount (values.yaml:6), and
// has no spread preset, so anti-affinity goes in as raw affinity; leader
// election makes two replicas safe.
func CSRApproverValues(c *config.Config) Values {
	return Values{
		"enabledControllers": []any{"node-csr-approval"},
		"replicaCount":       replicasFor(c.ControlPlane.Count),
		"nodeSelector":       Values{controlPlaneLabel: ""},
		"tolerations":        controlPlaneTolerations(),
		"affinity":           spreadByNode("talos-cloud-controller-manager"),
	}
}

// spreadByNode prefers a different node for each replica of the pods named
// app.kubernetes.io/name=name. Preferred, not required: a control plane that
// is one node short during a replacement must still schedule a rollout.
func spreadByNode(name string) Values {
	return Values{"podAntiAffinity": Values{"preferredDuringSchedulingIgnoredDuringExecution": []any{Values{
		"weight": 100,
		"podAffinityTerm": Values{
			"topologyKey":   "kubernetes.io/hostname",
			"labelSelector": Values{"matchLabels": Values{"app.kubernetes.io/name": name}},
		},
	}}}}
}

// MetricsServerValues keeps the chart's secure defaults: kubelet serving
// certificates are verified (never --kubelet-insecure-tls). Chart 3.13.0
// has no default anti-affinity (affinity {}), so two replicas could share a
// node; a soft hostname spread keeps them apart wherever there are nodes.
func MetricsServerValues(c *config.Config) Values {
	return Values{
		"args":                []any{},
		"replicas":            replicasFor(c.ControlPlane.Count),
		"podDisruptionBudget": Values{"enabled": c.ControlPlane.Count > 1, "minAvailable": 1},
		"affinity":            spreadByNode("metrics-server"),
	}
}

// ArgoCDValues: the UI stays inside the cluster (kubectl port-forward) until
// the user exposes it through the ingress; no SSO is configured by default.
func ArgoCDValues() Values {
	return Values{
		"dex":    Values{"enabled": false},
		"server": Values{"service": Values{"type": "ClusterIP"}},
	}
}

// ArgoCDAppsValues declares the optional root Application, so the cluster
// can take over its own apps from Git.
func ArgoCDAppsValues(c *config.Config) (Values, bool) {
	ra := c.Addons.ArgoCD.RootApp
	if ra.RepoURL == "" {
		return nil, false
	}
	path, rev := ra.Path, ra.Revision
	if path == "" {
		path = "."
	}
	if rev == "" {
		rev = "HEAD"
	}
	return Values{"applications": Values{"root": Values{
		"namespace": "argocd",
		"project":   "default",
		"source":    Values{"repoURL": ra.RepoURL, "path": path, "targetRevision": rev},
		"destination": Values{
			"server":    "https://kubernetes.default.svc",
			"namespace": "argocd",
		},
		"syncPolicy": Values{"automated": Values{"prune": true, "selfHeal": true}},
		// Deleting the root app (pre-destroy, or removing rootApp) then
		// deletes what it deployed instead of orphaning it (argocd-apps
		// 2.0.4 sets no finalizer by default, values.yaml:23-26).
		"finalizers": []any{"resources-finalizer.argocd.argoproj.io"},
	}}}, true
}

// DefaultStorageClass is the cluster's default StorageClass.
const DefaultStorageClass = "gp3"

// EBSCSIValues runs the controller on control-plane nodes and makes an encrypted gp3 StorageClass the default.
// Volumes are tagged kubernetes.io/cluster/<name>=owned (k8sTagClusterId;
// pkg/driver/controller.go at 2.53.0), so scripts/pre-destroy.sh can find
// any the cluster leaves behind. The chart's default affinity already
// spreads the controller's replicas by node (values.yaml:208-230).
//
// With workload identity (roleARN non-nil) the controller takes its own
// role through its service account; controller.region keeps it off IMDS
// (aws-ebs-csi-driver 1.53.0 cmd/main.go), whose hop limit is then 1.
func EBSCSIValues(c *config.Config, roleARN any) Values {
	v := Values{
		"controller": Values{
			"region":          c.Region,
			"k8sTagClusterId": c.ClusterName,
			"replicaCount":    replicasFor(c.ControlPlane.Count),
			"nodeSelector":    Values{controlPlaneLabel: ""},
			"tolerations": []any{
				Values{"key": controlPlaneLabel, "operator": "Exists", "effect": "NoSchedule"},
				Values{"key": "CriticalAddonsOnly", "operator": "Exists"},
			},
		},
		"storageClasses": []any{Values{
			"name":                 DefaultStorageClass,
			"annotations":          Values{"storageclass.kubernetes.io/is-default-class": "true"},
			"volumeBindingMode":    "WaitForFirstConsumer",
			"reclaimPolicy":        "Delete",
			"allowVolumeExpansion": true,
			"parameters":           Values{"type": "gp3", "encrypted": "true"},
		}},
	}
	if roleARN != nil {
		v["controller"].(Values)["serviceAccount"] = Values{"name": EBSCSIServiceAccount, "annotations": Values{IRSAAnnotation: roleARN}}
		v["controller"].(Values)["podAnnotations"] = Values{RoleAnnotation: roleARN}
	}
	return v
}

// PodIdentityWebhookValues run the webhook on the control-plane nodes, in
// front of every pod that names a role (eks.amazonaws.com/role-arn on its
// service account): it injects a projected token for sts.amazonaws.com and
// the region, so the AWS SDKs assume that role. Its serving certificate
// comes from the stack (cert, key: servingcert, its own CA), not from
// cert-manager, which the cluster does not run. failurePolicy stays the
// chart's Ignore: a webhook that is down never blocks a pod, it only leaves
// it without credentials (the add-ons that need them install after it).
func PodIdentityWebhookValues(c *config.Config, cert, key any) Values {
	replicas := replicasFor(c.ControlPlane.Count)
	return Values{
		"fullnameOverride":    WebhookService,
		"replicaCount":        replicas,
		"priorityClassName":   "system-cluster-critical",
		"podDisruptionBudget": Values{"enabled": replicas > 1, "maxUnavailable": 1},
		"config": Values{ //nolint:gosec // an audience and a region, no credential
			"defaultAwsRegion":    c.Region,
			"tokenAudience":       "sts.amazonaws.com",
			"stsRegionalEndpoint": true,
			// An hour, not the chart's day: the kubelet refreshes a projected
			// token at 80 % of its life, so a bad one does not stick for 19 h.
			"tokenExpiration": 3600,
			// v0.6.17 defaults the grace to 0: a pod created with its service
			// account in one release could miss its mutation (handler.go).
			"extraArgs": []any{"--service-account-lookup-grace-period=1s"},
		},
		"mutatingWebhook": Values{"failurePolicy": "Ignore"},
		"pki": Values{
			"certManager": Values{"enabled": false},
			"cert":        cert, "key": key, "caBundle": cert,
		},
		"nodeSelector": Values{controlPlaneLabel: ""},
		"tolerations":  controlPlaneTolerations(),
	}
}

// ClusterAutoscalerValues: AWS auto-discovery of this cluster's autoscaled
// pools by the tags compute sets on exactly those groups
// (k8s.io/cluster-autoscaler/enabled and .../<cluster>, the chart's
// default autoDiscovery.tags), the region from awsRegion (no IMDS), and its
// own role on its service account. It runs on the control plane, so it
// never scales away the node it runs on.
func ClusterAutoscalerValues(c *config.Config, roleARN any) Values {
	v := Values{
		"cloudProvider":    "aws",
		"awsRegion":        c.Region,
		"fullnameOverride": AutoscalerServiceAccount,
		"autoDiscovery":    Values{"clusterName": c.ClusterName},
		"rbac": Values{"serviceAccount": Values{
			"name": AutoscalerServiceAccount, "annotations": Values{IRSAAnnotation: roleARN},
		}},
		"podAnnotations": Values{RoleAnnotation: roleARN},
		"extraArgs":      Values{"balance-similar-node-groups": true},
		"nodeSelector":   Values{controlPlaneLabel: ""},
		"tolerations":    controlPlaneTolerations(),
	}
	// The release of the cluster's minor (config.AddonsFor); none keeps
	// the chart's own (appVersion 1.35.0), as a 1.35 stack always had.
	if tag := config.AddonsFor(c.KubernetesVersion).AutoscalerImage; tag != "" {
		v["image"] = Values{"tag": tag}
	}
	return v
}

// order is the install order docs/addons.md documents.
var order = []struct{ key, stage string }{
	{"cilium", "1: first, nothing before it"},
	{"ccm", "2: after Cilium"},
	{"csr-approver", "2: after Cilium"},
	{"metrics", "3: after every expected node is Ready"},
	{"argocd", "3: after every expected node is Ready"},
	{"pod-identity-webhook", "3: after every expected node is Ready, with workloadIdentity"},
	{"ebs-csi", "3: after every expected node is Ready (and the webhook)"},
	{"cluster-autoscaler", "3: after the webhook, when a pool is autoscaled"},
	{"argocd-apps", "4: after Argo CD, only with addons.argocd.rootApp.repoURL"},
	{"nth", "3: after every expected node is Ready (and the webhook), with worker pools (drain stage)"},
}

// ChartsMarkdown renders the add-on table of docs/addons.md.
func ChartsMarkdown(a config.Addons) string {
	charts := Charts(a)
	var b strings.Builder
	b.WriteString("| release | namespace | chart | version | repository | order |\n|---|---|---|---|---|---|\n")
	for _, o := range order {
		ch := charts[o.key]
		repo := ch.Repo
		if repo == "" {
			repo = "(OCI)"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | `%s` | %s | %s |\n", ch.Release, ch.Namespace, ch.Chart, ch.Version, repo, o.stage)
	}
	return b.String()
}
