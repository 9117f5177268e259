package program

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"

	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/config/configtest"
	"github.com/talos-aws/talos-aws/internal/oidc"
	"github.com/talos-aws/talos-aws/talos"
	"github.com/talos-aws/talos-aws/testkit"
)

const issuer = "https://" + testkit.IssuerHost

// irsaRoles are the roles whose trust is a web identity.
func irsaRoles(t *testing.T, m *testkit.Mocks) map[string]testkit.Resource {
	t.Helper()
	out := map[string]testkit.Resource{}
	for _, r := range m.ByType("aws:iam/role:Role") {
		if strings.Contains(str(r, "assumeRolePolicy"), "AssumeRoleWithWebIdentity") {
			out[r.Name] = r
		}
	}
	return out
}

// The HA stack with workload identity: a private issuer behind CloudFront,
// documents from the service-account key, an OIDC provider for STS, one
// role per AWS add-on trusting exactly its service account, the API
// servers configured with the issuer, and hop limit 1 on every node.
func TestWorkloadIdentityStack(t *testing.T) {
	m := &testkit.Mocks{}
	cfg := haConfig(t)
	cfg["workerPools"] = `[{"name":"general","instanceTypes":["m7i.large"],"minSize":2,"maxSize":6,"desiredCapacity":3,"autoscaled":true}]`
	cfg["serviceAccountRoles"] = `[{"namespace":"payments","serviceAccount":"exporter","policyArns":["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],"policy":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"sqs:SendMessage\",\"Resource\":\"*\"}]}"}]`
	outs := evaluate(t, m, cfg)

	pab := one(t, m, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "identity-issuer")
	for _, k := range []resource.PropertyKey{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		if !pab.Inputs[k].BoolValue() {
			t.Errorf("issuer bucket %s off", k)
		}
	}
	dist := one(t, m, "aws:cloudfront/distribution:Distribution", "identity-issuer")
	cb := dist.Inputs["defaultCacheBehavior"].ObjectValue()
	if cb["viewerProtocolPolicy"].StringValue() != "https-only" {
		t.Errorf("viewer protocol %v", cb["viewerProtocolPolicy"])
	}
	origin := dist.Inputs["origins"].ArrayValue()[0].ObjectValue()
	if origin["originAccessControlId"].StringValue() != "identity-issuer_id" || !strings.HasSuffix(origin["domainName"].StringValue(), ".s3.ap-southeast-1.amazonaws.com") {
		t.Errorf("origin %v: want the bucket through origin access control", origin)
	}
	pol := policyDoc(t, one(t, m, "aws:s3/bucketPolicy:BucketPolicy", "identity-issuer"))
	for _, s := range pol.Statement {
		if s.Effect == "Allow" {
			if p, ok := s.Principal.(map[string]any); !ok || p["Service"] != "cloudfront.amazonaws.com" ||
				!strings.Contains(mustJSON(t, s.Condition), "distribution/EDFDVBD6EXAMPLE") {
				t.Errorf("issuer bucket grants %v %v: only this distribution may read", s.Principal, s.Condition)
			}
		}
	}

	// The documents: the issuer is the provider's URL, the key the
	// machine secrets' (its kid as Kubernetes computes it).
	var disco oidc.Discovery
	if err := json.Unmarshal([]byte(str(one(t, m, "aws:s3/bucketObjectv2:BucketObjectv2", "identity-well-known-openid-configuration"), "content")), &disco); err != nil {
		t.Fatal(err)
	}
	if disco.Issuer != issuer || disco.JWKSURI != issuer+"/openid/v1/jwks" {
		t.Errorf("discovery %+v", disco)
	}
	want, err := oidc.KeySet(testkit.ServiceAccountKey)
	if err != nil {
		t.Fatal(err)
	}
	jwksObj := one(t, m, "aws:s3/bucketObjectv2:BucketObjectv2", "identity-openid-v1-jwks")
	if got := str(jwksObj, "content"); got != mustJSON(t, want) {
		t.Errorf("jwks %s, want the machine secrets' public key %s", got, mustJSON(t, want))
	}
	if jwksObj.Inputs["content"].IsSecret() {
		t.Error("the JWKS is public keys: it must not be a secret")
	}
	prov := one(t, m, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "identity")
	if str(prov, "url") != issuer || !slices.Equal(testkit.Strings(prov.Inputs["clientIdLists"]), []string{"sts.amazonaws.com"}) {
		t.Errorf("provider %v", prov.Inputs)
	}
	if !dependsOn(prov, "aws:s3/bucketObjectv2:BucketObjectv2", "identity-openid-v1-jwks") {
		t.Error("the provider must be created after the documents it points at")
	}

	// One role per service account, each trusting exactly one.
	wantRoles := map[string]string{
		"identity-kube-system-ebs-csi-controller-sa":        "system:serviceaccount:kube-system:ebs-csi-controller-sa",
		"identity-kube-system-aws-node-termination-handler": "system:serviceaccount:kube-system:aws-node-termination-handler",
		"identity-kube-system-cluster-autoscaler":           "system:serviceaccount:kube-system:cluster-autoscaler",
		"identity-payments-exporter":                        "system:serviceaccount:payments:exporter",
	}
	roles := irsaRoles(t, m)
	if len(roles) != len(wantRoles) {
		t.Errorf("%d web identity roles, want %d: %v", len(roles), len(wantRoles), keys(roles))
	}
	for name, sub := range wantRoles {
		r, ok := roles[name]
		if !ok {
			t.Errorf("no role %s", name)
			continue
		}
		d := policyDocAt(t, r, "assumeRolePolicy")
		if len(d.Statement) != 1 {
			t.Fatalf("%s: %d trust statements", name, len(d.Statement))
		}
		s := d.Statement[0]
		p, _ := s.Principal.(map[string]any)
		eq := s.Condition["StringEquals"]
		if p["Federated"] != "arn:aws:iam::123456789012:oidc-provider/"+testkit.IssuerHost || len(eq) != 2 ||
			eq[testkit.IssuerHost+":sub"] != sub || eq[testkit.IssuerHost+":aud"] != "sts.amazonaws.com" || len(s.Condition) != 1 {
			t.Errorf("%s trusts %v %v; want exactly %s with audience sts.amazonaws.com", name, s.Principal, s.Condition, sub)
		}
	}
	if a := one(t, m, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "identity-payments-exporter-0"); str(a, "policyArn") != "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" {
		t.Errorf("managed policy %v", a.Inputs)
	}
	if p := one(t, m, "aws:iam/rolePolicy:RolePolicy", "identity-payments-exporter"); !strings.Contains(str(p, "policy"), "sqs:SendMessage") {
		t.Errorf("inline policy %v", p.Inputs)
	}
	arns, _ := outs["serviceAccountRoleArns"].Value.(map[string]string)
	for _, k := range []string{"payments/exporter", "kube-system/ebs-csi-controller-sa", "kube-system/cluster-autoscaler", "kube-system/aws-node-termination-handler"} {
		if !strings.HasPrefix(arns[k], "arn:aws:iam::123456789012:role/") {
			t.Errorf("serviceAccountRoleArns[%s] = %v", k, arns[k])
		}
	}
	if outs["oidcIssuerUrl"].Value != issuer {
		t.Errorf("oidcIssuerUrl %v", outs["oidcIssuerUrl"].Value)
	}

	// Only the autoscaler may scale, only this cluster's autoscaled groups.
	cas := policyDoc(t, one(t, m, "aws:iam/rolePolicy:RolePolicy", "identity-kube-system-cluster-autoscaler"))
	for _, s := range cas.Statement {
		if slices.Contains(s.Actions(), "autoscaling:SetDesiredCapacity") && s.Condition["StringEquals"]["aws:ResourceTag/k8s.io/cluster-autoscaler/prod"] != "owned" {
			t.Errorf("autoscaler may scale %v", s.Condition)
		}
	}

	// No pod reaches a node role: hop limit 1 everywhere, and the node
	// roles lost what moved to the add-ons' roles.
	for _, lt := range m.ByType("aws:ec2/launchTemplate:LaunchTemplate") {
		if hop := lt.Inputs["metadataOptions"].ObjectValue()["httpPutResponseHopLimit"].NumberValue(); hop != 1 {
			t.Errorf("%s hop limit %v", lt.Name, hop)
		}
	}
	for _, p := range m.ByType("aws:iam/rolePolicy:RolePolicy") {
		if str(p, "role") != "compute-cp" && str(p, "role") != "compute-workers" {
			continue
		}
		for _, a := range policyDoc(t, p).Actions() {
			if strings.HasPrefix(a, "sqs:") || a == "ec2:CreateSnapshot" || a == "autoscaling:CompleteLifecycleAction" || a == "autoscaling:SetDesiredCapacity" {
				t.Errorf("node role %s still grants %s", str(p, "role"), a)
			}
		}
	}
	if nth := one(t, m, "aws:iam/rolePolicy:RolePolicy", "drain-nth"); str(nth, "role") != "identity-kube-system-aws-node-termination-handler" {
		t.Errorf("termination handler policy on %s, want its own role", str(nth, "role"))
	}

	// The API servers sign as the issuer; workers are untouched.
	for _, c := range m.Calls {
		if c.Token != "talos:machine/getConfiguration:getConfiguration" {
			continue
		}
		patches := strings.Join(testkit.Strings(c.Args["configPatches"]), "\n")
		hasIssuer := strings.Contains(patches, "service-account-issuer: "+issuer) && strings.Contains(patches, "service-account-jwks-uri: "+issuer+"/openid/v1/jwks")
		if cp := c.Args["machineType"].StringValue() == "controlplane"; cp != hasIssuer {
			t.Errorf("%s machine config has the issuer: %v", c.Args["machineType"].StringValue(), hasIssuer)
		}
		if strings.Contains(patches, "serviceAccount:") {
			t.Error("a patch touches cluster.serviceAccount: the key must never change")
		}
	}

	// The webhook before every add-on that takes a role; each names its role.
	rel := releases(m)
	wh := rel["addons-pod-identity-webhook"]
	if !dependsOn(wh, "aws:autoscaling/group:Group", "compute-cp") {
		t.Error("the webhook must wait for the control plane to roll: tokens must come from API servers of one issuer")
	}
	for name, r := range rel {
		if v := plain(r.Inputs["values"]); strings.Contains(mustJSON(t, v.Mappable()), "eks.amazonaws.com/role-arn") &&
			!strings.Contains(mustJSON(t, v.Mappable()), "talos-aws.io/role-arn") {
			t.Errorf("%s names a role on its service account but not on its pods: they would not roll onto it", name)
		}
	}
	if !wh.Inputs["values"].ContainsSecrets() {
		t.Error("the webhook's serving key must be a secret")
	}
	pki := plain(plain(wh.Inputs["values"]).ObjectValue()["pki"]).ObjectValue()
	if !strings.HasPrefix(plain(pki["cert"]).StringValue(), "-----BEGIN CERTIFICATE-----") || plain(pki["caBundle"]).StringValue() != plain(pki["cert"]).StringValue() ||
		!plain(pki["key"]).IsString() || !strings.Contains(plain(pki["key"]).StringValue(), "PRIVATE KEY") {
		t.Errorf("webhook pki %v", pki)
	}
	for name, sa := range map[string][]string{
		"addons-ebs-csi":            {"controller", "serviceAccount", "annotations"},
		"addons-cluster-autoscaler": {"rbac", "serviceAccount", "annotations"},
		"drain-nth":                 {"serviceAccount", "annotations"},
	} {
		r, ok := rel[name]
		if !ok {
			t.Errorf("no release %s", name)
			continue
		}
		v := plain(r.Inputs["values"])
		for _, k := range sa {
			v = plain(v.ObjectValue()[resource.PropertyKey(k)])
		}
		if arn := plain(v.ObjectValue()["eks.amazonaws.com/role-arn"]).StringValue(); !strings.HasPrefix(arn, "arn:aws:iam::123456789012:role/identity-kube-system-") {
			t.Errorf("%s role annotation %q", name, arn)
		}
		if !dependsOn(r, "kubernetes:helm.sh/v3:Release", "addons-pod-identity-webhook") {
			t.Errorf("%s does not wait for the webhook", name)
		}
	}
}

// workloadIdentity false keeps today's model: no issuer, the control
// plane's hop limit 2 and its role holding the EBS CSI permissions.
func TestWorkloadIdentityOff(t *testing.T) {
	m := &testkit.Mocks{}
	cfg := haConfig(t)
	cfg["workloadIdentity"] = "false"
	outs := evaluate(t, m, cfg)
	for _, r := range m.Resources {
		if strings.HasPrefix(r.Type, "aws:cloudfront/") || r.Type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider" || r.Type == "talos-aws:identity:Identity" {
			t.Errorf("%s %s with workload identity off", r.Type, r.Name)
		}
	}
	if len(irsaRoles(t, m)) != 0 {
		t.Error("web identity roles with workload identity off")
	}
	if _, ok := outs["serviceAccountRoleArns"]; ok {
		t.Error("serviceAccountRoleArns output with workload identity off")
	}
	cp := one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", "compute-cp")
	if hop := cp.Inputs["metadataOptions"].ObjectValue()["httpPutResponseHopLimit"].NumberValue(); hop != compute.ControlPlaneIMDSHopLimit {
		t.Errorf("control-plane hop limit %v", hop)
	}
	if _, ok := releases(m)["addons-pod-identity-webhook"]; ok {
		t.Error("webhook installed with workload identity off")
	}
}

// A preview of an existing cluster that gets workload identity now says
// what `up` will disrupt; a preview of one that has it already, of a new
// stack, or with the switch off, does not. (The decision is tested here:
// Pulumi's mock monitor cannot carry the secret-and-unknown user data such
// a preview has, which the engine itself handles.)
func TestPreviewWarnsOfTheIssuerMove(t *testing.T) {
	cfg := configtest.Parse(t, map[string]string{"talosVersion": "v1.12.11", "kubernetesVersion": "1.35.10"})
	w := issuerMoveWarning(cfg, true, false)
	for _, want := range []string{"control plane rolls: 3 node(s)", "workers do not roll", "restart workloads", "workloadIdentity: false"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q lacks %q", w, want)
		}
	}
	off := configtest.Parse(t, map[string]string{"workloadIdentity": "false"})
	// From Talos 1.13 the old issuer stays accepted: nothing to warn of
	// (TestIssuerMoveKeepsTheOldIssuer).
	onThirteen := configtest.Parse(t, nil)
	for _, tc := range []struct {
		cfg                   *config.Config
		clusterExists, issuer bool
	}{{cfg, true, true}, {cfg, false, false}, {off, true, false}, {onThirteen, true, false}} {
		if w := issuerMoveWarning(tc.cfg, tc.clusterExists, tc.issuer); w != "" {
			t.Errorf("cluster %v, issuer %v, workloadIdentity %v: warned %q", tc.clusterExists, tc.issuer, tc.cfg.WorkloadIdentity, w)
		}
	}
	// And a real preview of a stack that has the issuer logs nothing of it.
	m := &testkit.Mocks{DryRun: true}
	evaluate(t, m, haConfig(t))
	for _, l := range m.Logs {
		if strings.Contains(l, "workloadIdentity:") {
			t.Errorf("settled stack warned: %s", l)
		}
	}
}

// plain is v without its secret wrapper.
func plain(v resource.PropertyValue) resource.PropertyValue {
	if v.IsSecret() {
		return v.SecretValue().Element
	}
	return v
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Bad serviceAccountRoles stop the preview before any resource, every
// error at its path.
func TestBadServiceAccountRolesRejected(t *testing.T) {
	cfg := haConfig(t)
	cfg["serviceAccountRoles"] = `[{"namespace":"Payments","serviceAccount":"exporter","policyArns":["arn:aws:s3:::bucket"]},` +
		`{"namespace":"payments","serviceAccount":"exporter","policy":"{\"Version\":\"2008-10-17\"}"},` +
		`{"namespace":"payments","serviceAccount":"exporter","policy":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\"}]}"},` +
		`{"namespace":"kube-system","serviceAccount":"ebs-csi-controller-sa","policyArns":["arn:aws:iam::aws:policy/ReadOnlyAccess"]}]`
	expectRejected(t, &testkit.Mocks{Preview: true}, cfg,
		"serviceAccountRoles[0].namespace", "serviceAccountRoles[0].policyArns[0]", "serviceAccountRoles[1].policy",
		"serviceAccountRoles[2]", "serviceAccountRoles[3]")
}

// apiServerIssuers reads the --service-account-issuer list of the
// control-plane user data an evaluation rendered (nil: Talos' default).
func apiServerIssuers(t *testing.T, m *testkit.Mocks) []string {
	t.Helper()
	return apiServerArg(t, m, "service-account-issuer")
}

// apiServerAudiences is apiServerIssuers for --api-audiences.
func apiServerAudiences(t *testing.T, m *testkit.Mocks) []string {
	t.Helper()
	return apiServerArg(t, m, "api-audiences")
}

func apiServerArg(t *testing.T, m *testkit.Mocks, arg string) []string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(str(one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", "compute-cp"), "userData"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := configloader.NewFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p.Cluster().APIServer().ExtraArgs()[arg]
}

// Workload identity turned on for a running Talos 1.13 cluster: the API
// servers sign with the new issuer and still accept the old one (the
// cluster endpoint), so the tokens pods hold stay valid; the record says
// so; an `up` within a day keeps both (no roll), the first `up` a day
// after the roll drops the old one (a roll). The same on Talos 1.12 gets
// one issuer and the preview's warning instead.
func TestIssuerMoveKeepsTheOldIssuer(t *testing.T) {
	cfg := noIdentity(haConfig(t))
	cfg["talosVersion"], cfg["kubernetesVersion"] = "v1.13.13", "1.36.3"
	endpoint := "https://prod-int-0123456789abcdef.elb.ap-southeast-1.amazonaws.com:6443"
	cloudFront := issuer
	last := map[string]any{"clusterEndpoint": endpoint, "talosVersion": "v1.13.13", "kubernetesVersion": "1.36.3",
		"serviceAccountIssuers": map[string]any{"accepted": []any{endpoint}, "since": "2026-11-01T00:00:00Z"}}

	// Before: no workload identity, Talos' default issuer, no patch.
	m := &testkit.Mocks{LastUp: last}
	evaluate(t, m, cfg)
	if got := apiServerIssuers(t, m); got != nil {
		t.Fatalf("without workload identity the API servers take Talos' default, got %v", got)
	}

	// The move: both, the new one first.
	cfg["workloadIdentity"] = "true"
	m = &testkit.Mocks{LastUp: last}
	outs := evaluate(t, m, cfg)
	if got := apiServerIssuers(t, m); !slices.Equal(got, []string{cloudFront, endpoint}) {
		t.Fatalf("issuers %v, want the new then the old", got)
	}
	rec, ok := outs["serviceAccountIssuers"].Value.(map[string]any)
	if !ok || fmt.Sprint(rec["accepted"]) != fmt.Sprint([]any{cloudFront, endpoint}) || rec["since"] != testNow.Format(time.RFC3339) {
		t.Fatalf("record %v", outs["serviceAccountIssuers"].Value)
	}
	if !slices.ContainsFunc(m.Logs, func(l string) bool { return strings.Contains(l, "keep accepting "+endpoint) }) {
		t.Errorf("the run does not say the old issuer stays: %v", m.Logs)
	}

	// Later runs, from what that `up` recorded.
	moved := maps.Clone(last)
	moved["serviceAccountIssuers"] = rec
	moved["oidcIssuerUrl"] = cloudFront
	for _, tc := range []struct {
		after time.Duration
		want  []string
	}{{23 * time.Hour, []string{cloudFront, endpoint}}, {talos.IssuerGrace, []string{cloudFront}}} {
		old := clock
		clock = func() time.Time { return testNow.Add(tc.after) }
		m = &testkit.Mocks{LastUp: moved}
		outs = evaluate(t, m, cfg)
		clock = old
		if got := apiServerIssuers(t, m); !slices.Equal(got, tc.want) {
			t.Errorf("%s after the roll: issuers %v, want %v", tc.after, got, tc.want)
		}
		if rec := outs["serviceAccountIssuers"].Value.(map[string]any); fmt.Sprint(rec["accepted"]) != fmt.Sprint(tc.want) {
			t.Errorf("%s after the roll: record %v", tc.after, rec)
		}
	}

	// Talos 1.12: one issuer, and the preview's warning (issuerMoveWarning).
	cfg["talosVersion"], cfg["kubernetesVersion"] = "v1.12.11", "1.35.10"
	last12 := maps.Clone(last)
	last12["talosVersion"], last12["kubernetesVersion"] = "v1.12.11", "1.35.10"
	m = &testkit.Mocks{LastUp: last12}
	evaluate(t, m, cfg)
	if got := apiServerIssuers(t, m); !slices.Equal(got, []string{cloudFront}) {
		t.Errorf("Talos 1.12: issuers %v, want the new one alone", got)
	}
}
