// Package testkit runs the real program, or one stage, under Pulumi's mocks
// and records everything it registers, so tests can assert on the graph.
package testkit

import (
	"context"
	"crypto/sha256"
	stdx509 "crypto/x509"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	talosmachine "github.com/pulumiverse/pulumi-talos/sdk/go/talos/machine"
	"github.com/siderolabs/crypto/x509"
	talosconfig "github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/talos"
)

// StackReference is the type of the program's read of its own last
// outputs, the one registration before the checks.
const StackReference = "pulumi:pulumi:StackReference"

// Project and Stack are the names tests run under.
const (
	Project = "talos-aws"
	Stack   = "test"
)

// Resource is one registered resource with the options that matter.
type Resource struct {
	Type                    string
	Name                    string
	Custom                  bool
	Inputs                  resource.PropertyMap
	Parent                  string
	Dependencies            []string
	IgnoreChanges           []string
	AdditionalSecretOutputs []string
	Provider                string
	Protect                 bool
	RetainOnDelete          bool
	// RPC is the whole registration, for graph comparisons (graph.go);
	// ReadRPC the whole read of a resource the program only reads.
	RPC     *pulumirpc.RegisterResourceRequest
	ReadRPC *pulumirpc.ReadResourceRequest
}

// Call is one invoke.
type Call struct {
	Token string
	Args  resource.PropertyMap
}

// Mocks records registrations and answers invokes like AWS and Talos would.
type Mocks struct {
	mu        sync.Mutex
	Resources []Resource
	Calls     []Call
	// Preview makes every provider-computed output unknown, as on the first
	// preview of a new stack.
	Preview bool
	// DryRun runs a preview with every output known, as a preview of an
	// existing stack sees its state.
	DryRun bool
	// AZs the region offers; default ap-southeast-1a..c.
	AZs []string
	// ControlPlaneInstances answers the control-plane instance lookup,
	// WorkerInstances any other instance lookup.
	ControlPlaneInstances []talos.Instance
	WorkerInstances       []talos.Instance
	// CredentialsMissing fails every AWS call as missing credentials do;
	// NotOptedInRegions fail the calls of a provider in one of them.
	CredentialsMissing bool
	NotOptedInRegions  []string
	// Quotas override DefaultQuotas by quota code; reading a code in
	// QuotaErrors fails with that message.
	Quotas      map[string]float64
	QuotaErrors map[string]string
	// Logs are the program's log lines, "severity: message".
	Logs []string
	// LastUp are the outputs of the stack's last `up`, which the program
	// reads back through a stack reference to itself; nil: a new stack.
	LastUp map[string]any
	// NoAMI lists architectures ("amd64", "arm64") for which the AMI lookup
	// finds no image, as for a Talos version or region Sidero Labs did not
	// publish; the mock then fails like the AWS provider does.
	NoAMI []string
	// VPC answers the existing-VPC reads (network); nil: no VPC exists,
	// and those reads answer as before.
	VPC *FakeVPC
}

// recordingLog keeps every log line the program writes in its Mocks.
type recordingLog struct {
	pulumi.Log
	m *Mocks
}

func (l recordingLog) record(severity, msg string) {
	l.m.mu.Lock()
	l.m.Logs = append(l.m.Logs, severity+": "+msg)
	l.m.mu.Unlock()
}

func (l recordingLog) Debug(msg string, args *pulumi.LogArgs) error {
	l.record("debug", msg)
	return l.Log.Debug(msg, args)
}

func (l recordingLog) Info(msg string, args *pulumi.LogArgs) error {
	l.record("info", msg)
	return l.Log.Info(msg, args)
}

func (l recordingLog) Warn(msg string, args *pulumi.LogArgs) error {
	l.record("warning", msg)
	return l.Log.Warn(msg, args)
}

func (l recordingLog) Error(msg string, args *pulumi.LogArgs) error {
	l.record("error", msg)
	return l.Log.Error(msg, args)
}

// DefaultQuotas are the mock account's limits: AWS's documented defaults for
// Elastic IPs, VPCs, Internet and NAT gateways (5) and NLBs (50); any other
// code (the vCPU classes) is DefaultVCPUQuota.
var DefaultQuotas = map[string]float64{"L-0263D0A3": 5, "L-F678F1CE": 5, "L-A4707A72": 5, "L-FE5A380F": 5, "L-69A177A2": 50}

// DefaultVCPUQuota is a roomy limit for every instance class.
const DefaultVCPUQuota = 1152

// providerRegion is the region input of the provider an invoke went through.
func (m *Mocks) providerRegion(ref string) string {
	// ref is "<urn>::<id>"; the URN ends in "::<name>".
	parts := strings.Split(ref, "::")
	if len(parts) < 2 {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.Resources {
		if r.Name == parts[len(parts)-2] && strings.HasPrefix(r.Type, "pulumi:providers:") {
			if v := r.Inputs["region"]; v.IsString() {
				return v.StringValue()
			}
		}
	}
	return ""
}

// NewResource records the registration and returns realistic outputs.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := Resource{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Inputs: args.Inputs, Provider: args.Provider}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Dependencies = rpc.GetDependencies()
		r.IgnoreChanges = rpc.GetIgnoreChanges()
		r.AdditionalSecretOutputs = rpc.GetAdditionalSecretOutputs()
		r.Protect = rpc.GetProtect()
		r.RetainOnDelete = rpc.GetRetainOnDelete()
		r.RPC = rpc
	}
	if rpc := args.ReadRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Dependencies = rpc.GetDependencies()
		r.ReadRPC = rpc
	}
	m.mu.Lock()
	m.Resources = append(m.Resources, r)
	m.mu.Unlock()

	outs := args.Inputs.Copy()
	for k, v := range outs {
		// Unknown inputs come back unknown (a secret wrapping an unknown
		// does not survive the mock's marshalling).
		if v.ContainsUnknowns() {
			outs[k] = resource.MakeComputed(resource.NewStringProperty(""))
		}
	}
	unknown := m.Preview
	computed := func(k string, v any) {
		if unknown {
			outs[resource.PropertyKey(k)] = resource.MakeComputed(resource.NewStringProperty(""))
			return
		}
		outs[resource.PropertyKey(k)] = resource.NewPropertyValue(v)
	}
	name := args.Name
	if n, ok := args.Inputs["name"]; ok && n.IsString() {
		name = n.StringValue()
	}
	switch args.TypeToken {
	case StackReference:
		// The engine reads a stack reference in a preview too.
		last := m.LastUp
		if last == nil {
			last = map[string]any{}
		}
		outs["outputs"] = resource.NewPropertyValue(last)
		outs["secretOutputNames"] = resource.NewPropertyValue([]any{})
	case "aws:lb/loadBalancer:LoadBalancer":
		computed("dnsName", name+"-0123456789abcdef.elb.ap-southeast-1.amazonaws.com")
		computed("arn", "arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:loadbalancer/net/"+name)
	case "aws:lb/targetGroup:TargetGroup":
		computed("arn", "arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:targetgroup/"+name)
	case "aws:ec2/launchTemplate:LaunchTemplate":
		computed("latestVersion", 1)
	case "aws:autoscaling/group:Group":
		computed("name", name+"-asg")
		computed("arn", "arn:aws:autoscaling:ap-southeast-1:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/"+name+"-asg")
	case "aws:sns/topic:Topic":
		computed("arn", "arn:aws:sns:ap-southeast-1:123456789012:"+name)
	case "aws:sqs/queue:Queue":
		computed("arn", "arn:aws:sqs:ap-southeast-1:123456789012:"+name)
		computed("url", "https://sqs.ap-southeast-1.amazonaws.com/123456789012/"+name)
	case "aws:cloudwatch/eventRule:EventRule":
		computed("arn", "arn:aws:events:ap-southeast-1:123456789012:rule/"+name)
		computed("name", name)
	case "aws:kms/key:Key":
		computed("arn", "arn:aws:kms:ap-southeast-1:123456789012:key/"+args.Name)
	case "aws:s3/bucketV2:BucketV2":
		computed("arn", "arn:aws:s3:::"+name)
		computed("bucket", name)
		computed("bucketRegionalDomainName", name+".s3.ap-southeast-1.amazonaws.com")
	case "aws:cloudfront/distribution:Distribution":
		computed("domainName", IssuerHost)
		computed("arn", "arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE")
	case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
		computed("arn", "arn:aws:iam::123456789012:oidc-provider/"+IssuerHost)
	case "aws:secretsmanager/secret:Secret":
		computed("arn", "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:"+name)
	case "aws:ssm/parameter:Parameter":
		computed("arn", "arn:aws:ssm:ap-southeast-1:123456789012:parameter"+name)
	case "aws:cloudwatch/logGroup:LogGroup":
		computed("arn", "arn:aws:logs:ap-southeast-1:123456789012:log-group:"+name)
	case "aws:lambda/function:Function":
		computed("arn", "arn:aws:lambda:ap-southeast-1:123456789012:function:"+name)
	case "aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile":
		computed("arn", "arn:aws:iam::123456789012:role/"+name)
		computed("name", name)
	case "talos:machine/secrets:Secrets":
		computed("machineSecrets", FakeMachineSecrets())
		computed("clientConfiguration", map[string]any{"caCertificate": "Y2E=", "clientCertificate": "Y3J0", "clientKey": "a2V5"})
	case "talos:cluster/kubeconfig:Kubeconfig":
		computed("kubeconfigRaw", FakeKubeconfig())
	}
	// Like the engine, mark the outputs the program asked to keep secret.
	for _, k := range r.AdditionalSecretOutputs {
		if v, ok := outs[resource.PropertyKey(k)]; ok && !v.IsComputed() && !v.IsSecret() {
			outs[resource.PropertyKey(k)] = resource.MakeSecret(v)
		}
	}
	id := args.Name + "_id"
	if unknown {
		id = ""
	}
	return id, outs, nil
}

// fakePKI is a cluster CA made the way Talos makes it, and an admin
// kubeconfig signed by it, so waits that really dial can be tested.
var fakePKI struct {
	once       sync.Once
	ca         *x509.CertificateAuthority
	kubeconfig string
	err        error
}

func initFakePKI() {
	fakePKI.once.Do(func() {
		ca, err := secrets.NewKubernetesCA(time.Now(), talosconfig.TalosVersionCurrent)
		if err != nil {
			fakePKI.err = err
			return
		}
		admin, err := x509.NewKeyPair(ca, x509.CommonName("admin"), x509.Organization("system:masters"),
			x509.ExtKeyUsage([]stdx509.ExtKeyUsage{stdx509.ExtKeyUsageClientAuth}))
		if err != nil {
			fakePKI.err = err
			return
		}
		enc := base64.StdEncoding.EncodeToString
		fakePKI.ca = ca
		// What the provider returns: the cluster endpoint (internal NLB) as server.
		fakePKI.kubeconfig = fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: talos-aws
  cluster:
    server: https://internal:6443
    certificate-authority-data: %s
contexts:
- name: admin@talos-aws
  context:
    cluster: talos-aws
    user: admin@talos-aws
current-context: admin@talos-aws
users:
- name: admin@talos-aws
  user:
    client-certificate-data: %s
    client-key-data: %s
`, enc(ca.CrtPEM), enc(admin.CrtPEM), enc(admin.KeyPEM))
	})
}

// FakeKubeconfig is the admin kubeconfig the mocked Talos provider returns.
func FakeKubeconfig() string {
	initFakePKI()
	return fakePKI.kubeconfig
}

// ClusterCA is the CA that signed FakeKubeconfig's credentials: tests sign
// their API server certificates with it.
func ClusterCA() (*x509.CertificateAuthority, error) {
	initFakePKI()
	return fakePKI.ca, fakePKI.err
}

// IssuerHost is the mocked CloudFront distribution's domain name.
const IssuerHost = "d111111abcdef8.cloudfront.net"

// ServiceAccountKey is the mocked machine secrets' service-account key: a
// real RSA key (PKCS#1 PEM, as Talos makes it), fixed so the issuer's
// documents derived from it are the same on every run. Test-only.
//
//go:embed testdata/serviceaccount.key
var ServiceAccountKey []byte

// machineSecretsJSON is the mocked provider's machine secrets: a bundle
// Talos machinery v1.12.0 generated under the v1.12 contract, as the
// provider stores it (base64 PEM), with ServiceAccountKey as its
// service-account key and short fixed ids and tokens. Test-only: fixed, so
// every configuration rendered from it, and the user-data goldens, are the
// same on every run.
//
//go:embed testdata/machine-secrets.json
var machineSecretsJSON []byte

// FakeMachineSecrets is the mocked provider's machineSecrets output.
func FakeMachineSecrets() map[string]any {
	var ms map[string]any
	if err := json.Unmarshal(machineSecretsJSON, &ms); err != nil {
		panic(err)
	}
	return ms
}

// AMIID is the mocked image of an AMI name: each Talos version its own, as
// Sidero publishes them; Talos v1.12.11's, which every recorded graph was
// made with, keeps its fixed id.
func AMIID(arch, name string) string {
	id := "ami-" + arch + "0123456789ab"
	if name != "" && !strings.Contains(name, "-v1.12.11-") {
		id = fmt.Sprintf("ami-%s%x", arch, sha256.Sum256([]byte(name)))[:len(id)]
	}
	return id
}

// Call answers invokes. Machine configurations are generated for real with
// Talos' machinery, from the exact inputs the program passes.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.Calls = append(m.Calls, Call{Token: args.Token, Args: args.Args})
	m.mu.Unlock()
	if strings.HasPrefix(args.Token, "aws:") {
		if m.CredentialsMissing {
			return nil, fmt.Errorf("no valid credential sources for AWS Provider found")
		}
		if region := m.providerRegion(args.Provider); slices.Contains(m.NotOptedInRegions, region) {
			return nil, fmt.Errorf("validating provider credentials: retrieving caller identity from STS: operation error STS: GetCallerIdentity, https response error StatusCode: 403, api error InvalidClientTokenId: The security token included in the request is invalid")
		}
	}
	switch args.Token {
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/newcomer", "id": "123456789012", "userId": "AIDAEXAMPLE"}), nil
	case "aws:index/getRegions:getRegions":
		var names []string
		for _, f := range args.Args["filters"].ArrayValue() {
			if f.ObjectValue()["name"].StringValue() == "region-name" {
				for _, v := range f.ObjectValue()["values"].ArrayValue() {
					if slices.Contains(m.NotOptedInRegions, v.StringValue()) {
						names = append(names, v.StringValue())
					}
				}
			}
		}
		return resource.NewPropertyMapFromMap(map[string]any{"names": names, "id": "aws"}), nil
	case "aws:servicequotas/getServiceQuota:getServiceQuota":
		code := args.Args["quotaCode"].StringValue()
		if msg, ok := m.QuotaErrors[code]; ok {
			return nil, fmt.Errorf("%s", msg)
		}
		v, ok := m.Quotas[code]
		if !ok {
			v, ok = DefaultQuotas[code]
		}
		if !ok {
			v = DefaultVCPUQuota
		}
		return resource.NewPropertyMapFromMap(map[string]any{"quotaCode": code, "serviceCode": args.Args["serviceCode"].StringValue(), "value": v, "id": code}), nil
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		azs := m.AZs
		if azs == nil {
			azs = []string{"ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"}
		}
		return resource.NewPropertyMapFromMap(map[string]any{"names": azs, "id": "ap-southeast-1"}), nil
	case "aws:ec2/getAmi:getAmi":
		arch := "amd64"
		for _, f := range args.Args["filters"].ArrayValue() {
			if f.ObjectValue()["name"].StringValue() == "architecture" && f.ObjectValue()["values"].ArrayValue()[0].StringValue() == "arm64" {
				arch = "arm64"
			}
		}
		for _, missing := range m.NoAMI {
			if missing == arch {
				// The provider's aws_ami data source error for an empty result.
				return nil, errors.New("Your query returned no results. Please change your search criteria and try again.") //nolint:staticcheck // the provider's text

			}
		}
		var name string
		for _, f := range args.Args["filters"].ArrayValue() {
			if v := f.ObjectValue()["values"].ArrayValue(); f.ObjectValue()["name"].StringValue() == "name" && len(v) > 0 {
				name = v[0].StringValue()
			}
		}
		return resource.NewPropertyMapFromMap(map[string]any{"id": AMIID(arch, name), "architecture": arch}), nil
	case "aws:ec2/getInstances:getInstances":
		instances := m.WorkerInstances
		for _, f := range args.Args["filters"].ArrayValue() {
			for _, v := range f.ObjectValue()["values"].ArrayValue() {
				if v.IsString() && v.StringValue() == "compute-cp-asg" {
					instances = m.ControlPlaneInstances
				}
			}
		}
		var ids, ips []string
		for _, in := range instances {
			ids, ips = append(ids, in.ID), append(ips, in.PrivateIP)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"ids": ids, "privateIps": ips, "id": "x"}), nil
	case "aws:ec2/getVpc:getVpc", "aws:ec2/getSubnet:getSubnet", "aws:ec2/getRouteTables:getRouteTables",
		"aws:ec2/getRouteTable:getRouteTable", "aws:ec2/getVpcDhcpOptions:getVpcDhcpOptions", "aws:ec2/getVpcEndpoint:getVpcEndpoint":
		if m.VPC != nil {
			return m.VPC.call(args.Token, args.Args)
		}
	case "talos:machine/getConfiguration:getConfiguration":
		return machineConfiguration(args.Args)
	case "talos:client/getConfiguration:getConfiguration":
		var nodes []string
		for _, n := range args.Args["nodes"].ArrayValue() {
			nodes = append(nodes, n.StringValue())
		}
		return resource.NewPropertyMapFromMap(map[string]any{"talosConfig": fmt.Sprintf(
			"context: %s\ncontexts:\n  %s:\n    endpoints: [%s]\n    nodes: [%s]\n",
			args.Args["clusterName"].StringValue(), args.Args["clusterName"].StringValue(),
			args.Args["endpoints"].ArrayValue()[0].StringValue(), strings.Join(nodes, ", "))}), nil
	}
	return resource.PropertyMap{}, nil
}

func machineConfiguration(a resource.PropertyMap) (resource.PropertyMap, error) {
	var patches []string
	for _, p := range a["configPatches"].ArrayValue() {
		patches = append(patches, p.StringValue())
	}
	typ := machine.TypeWorker
	if a["machineType"].StringValue() == "controlplane" {
		typ = machine.TypeControlPlane
	}
	// As the provider does: the configuration is rendered from the machine
	// secrets it is given.
	raw, err := json.Marshal(a["machineSecrets"].Mappable())
	if err != nil {
		return nil, err
	}
	var ms talosmachine.MachineSecrets
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, err
	}
	bundle, err := talos.BundleFromMachineSecrets(ms)
	if err != nil {
		return nil, err
	}
	b, err := talos.Render(talos.RenderInput{
		ClusterName: a["clusterName"].StringValue(), Endpoint: a["clusterEndpoint"].StringValue(),
		KubernetesVersion: a["kubernetesVersion"].StringValue(), TalosVersion: a["talosVersion"].StringValue(),
		Type: typ, Patches: patches, Secrets: bundle,
	})
	if err != nil {
		return nil, err
	}
	return resource.NewPropertyMapFromMap(map[string]any{"machineConfiguration": string(b), "id": "cfg"}), nil
}

// Run evaluates body under mocks with the given project config and returns
// the awaited outputs body hands back.
func Run(t testing.TB, m *Mocks, cfg map[string]string, body func(ctx *pulumi.Context) (map[string]pulumi.Output, error)) (map[string]internals.UnsafeAwaitOutputResult, error) {
	t.Helper()
	full := map[string]string{}
	// As the Pulumi CLI does: a declared key the stack does not set gets
	// Pulumi.yaml's default (pulumi pkg/workspace/config.go, the project
	// config merge), so the program never sees such a key absent.
	for _, k := range config.Schema() {
		if k.Default == nil {
			continue
		}
		if _, set := cfg[k.Name]; set {
			continue
		}
		v, ok := k.Default.(string)
		if !ok {
			b, err := json.Marshal(k.Default)
			if err != nil {
				t.Fatal(err)
			}
			v = string(b)
		}
		full[Project+":"+k.Name] = v
	}
	for k, v := range cfg {
		// A key with a namespace ("aws:profile") is another package's.
		if strings.Contains(k, ":") {
			full[k] = v
			continue
		}
		full[Project+":"+k] = v
	}
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(pulumi.EnvConfig, string(b))
	t.Setenv(pulumi.EnvDryRun, fmt.Sprint(m.Preview || m.DryRun))
	results := map[string]internals.UnsafeAwaitOutputResult{}
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		ctx.Log = recordingLog{Log: ctx.Log, m: m}
		outs, err := body(ctx)
		if err != nil {
			return err
		}
		for k, o := range outs {
			r, err := internals.UnsafeAwaitOutput(context.Background(), o)
			if err != nil {
				return fmt.Errorf("output %s: %w", k, err)
			}
			results[k] = r
		}
		return nil
	}, pulumi.WithMocks(Project, Stack, m))
	return results, err
}

// ByType returns the recorded resources of one type.
func (m *Mocks) ByType(typ string) []Resource {
	var out []Resource
	for _, r := range m.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// InComponent returns the recorded resources of one type whose parent is a
// component of the given type token (e.g. "talos-aws:drain:Drain").
func (m *Mocks) InComponent(typ, component string) []Resource {
	var out []Resource
	for _, r := range m.ByType(typ) {
		if strings.Contains(r.Parent, "::"+component+"::") || strings.Contains(r.Parent, "$"+component+"::") {
			out = append(out, r)
		}
	}
	return out
}

// ByName finds a resource by logical name.
func (m *Mocks) ByName(name string) (Resource, bool) {
	for _, r := range m.Resources {
		if r.Name == name {
			return r, true
		}
	}
	return Resource{}, false
}

// Strings reads a string array input.
func Strings(v resource.PropertyValue) []string {
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		out = append(out, e.StringValue())
	}
	return out
}
