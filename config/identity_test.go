package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// roles renders serviceAccountRoles elements as the JSON Pulumi hands over.
func roles(elems ...string) string { return "[" + strings.Join(elems, ",") + "]" }

// role is a valid element with extra fields (`,"x":...`) appended.
func role(ns, sa, extra string) string {
	return fmt.Sprintf(`{"namespace":%q,"serviceAccount":%q%s}`, ns, sa, extra)
}

const (
	s3ReadOnly  = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
	validPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:eu-west-1:123456789012:payments"}]}`
)

// arns is n distinct valid managed policy ARNs as a JSON list.
func arns(n int) string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf(`"arn:aws:iam::123456789012:policy/p%d"`, i))
	}
	return "[" + strings.Join(out, ",") + "]"
}

// policyOfSize is a valid policy of exactly n characters without
// whitespace, padded with whitespace that IAM does not count.
func policyOfSize(n int) string {
	head := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::`
	tail := `"}]}`
	return "{\n  " + head[1:] + strings.Repeat("a", n-len(head)-len(tail)) + tail + strings.Repeat(" \n\t", 500)
}

// policyOf is a role with only an inline policy, doc given as JSON text.
func policyOf(doc string) string {
	return roles(role("payments", "exporter", `,"policy":`+jsonString(doc)))
}

func jsonString(s string) string { return fmt.Sprintf("%q", s) }

func TestWorkloadIdentityDefaults(t *testing.T) {
	cfg, w, err := Parse(src(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.WorkloadIdentity {
		t.Error("workloadIdentity must default to true")
	}
	if cfg.ServiceAccountRoles == nil || len(cfg.ServiceAccountRoles) != 0 {
		t.Errorf("serviceAccountRoles must default to an empty list, got %#v", cfg.ServiceAccountRoles)
	}
	if len(w) != 0 {
		t.Errorf("defaults warn: %v", w)
	}
	if d, ok := schemaDefault("workloadIdentity").(bool); !ok || !d {
		t.Errorf("schema default of workloadIdentity: %#v", schemaDefault("workloadIdentity"))
	}
	if d, ok := schemaDefault("serviceAccountRoles").([]ServiceAccountRole); !ok || d == nil || len(d) != 0 {
		t.Errorf("schema default of serviceAccountRoles: %#v", schemaDefault("serviceAccountRoles"))
	}
	cfg, _, err = Parse(src(map[string]string{"workloadIdentity": "false"}))
	if err != nil || cfg.WorkloadIdentity {
		t.Errorf("workloadIdentity false: %v %v", cfg.WorkloadIdentity, err)
	}
}

func TestServiceAccountRolesValid(t *testing.T) {
	cfg, w, err := Parse(src(map[string]string{"serviceAccountRoles": roles(
		role("payments", "exporter", `,"policyArns":["`+s3ReadOnly+`","arn:aws:iam::123456789012:policy/team/a/Reader+=,.@_-1"],"policy":`+jsonString(validPolicy)),
		role("payments", "exporter.v2", `,"policy":`+jsonString(`{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}}`)),
		role("a", strings.Repeat("b", 253), `,"policyArns":["arn:aws-cn:iam::aws:policy/service-role/AmazonEC2RoleforSSM"]`),
		role(strings.Repeat("n", 63), "x-1.y-2", `,"policyArns":["arn:aws-us-gov:iam::123456789012:policy/`+strings.Repeat("p", 128)+`"]`),
		role("kube-system", "my-controller", `,"policyArns":`+arns(10)),
		role("other", "exporter", `,"policy":`+jsonString(policyOfSize(maxRoleInlinePolicyChars))),
	)}))
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	want := ServiceAccountRole{Namespace: "payments", ServiceAccount: "exporter",
		PolicyARNs: []string{s3ReadOnly, "arn:aws:iam::123456789012:policy/team/a/Reader+=,.@_-1"}, Policy: validPolicy}
	if len(cfg.ServiceAccountRoles) != 6 || !reflect.DeepEqual(cfg.ServiceAccountRoles[0], want) {
		t.Errorf("roles: %+v", cfg.ServiceAccountRoles)
	}
	if nonSpaceLen(cfg.ServiceAccountRoles[5].Policy) != maxRoleInlinePolicyChars {
		t.Errorf("size fixture: %d", nonSpaceLen(cfg.ServiceAccountRoles[5].Policy))
	}
}

// Every rule of serviceAccountRoles and workloadIdentity raises its error
// at the exact key path of what broke it.
func TestServiceAccountRolesErrors(t *testing.T) {
	ok := `,"policyArns":["` + s3ReadOnly + `"]`
	badARN := func(arn string) string {
		return roles(role("payments", "exporter", `,"policyArns":["`+s3ReadOnly+`",`+jsonString(arn)+`]`))
	}
	for _, tt := range []struct {
		name string
		kv   map[string]string
		path string // exact FieldError.Path
		want string // substring of that error's text
	}{
		// the list and its elements
		{"not a list", map[string]string{"serviceAccountRoles": `{"namespace":"a"}`}, "serviceAccountRoles", "Invalid value: expected a list of {namespace, serviceAccount, policyArns, policy} objects"},
		{"element not an object", map[string]string{"serviceAccountRoles": roles(role("a", "b", ok), `"a/b"`)}, "serviceAccountRoles[1]", `Invalid value: expected an object, got "a/b"`},
		{"unknown nested key", map[string]string{"serviceAccountRoles": roles(`{"namespace":"a","serviceAcount":"b","policyArns":["` + s3ReadOnly + `"]}`)},
			"serviceAccountRoles[0].serviceAcount", `Invalid value: unknown key; did you mean "serviceAccount"?`},
		{"unknown key far from any", map[string]string{"serviceAccountRoles": roles(role("a", "b", ok+`,"zzzzzzzzzzzz":1`))},
			"serviceAccountRoles[0].zzzzzzzzzzzz", "unknown key; valid keys: namespace, policy, policyArns, serviceAccount"},
		{"field of the wrong type", map[string]string{"serviceAccountRoles": roles(role("a", "b", ok), `{"namespace":"a","serviceAccount":7,"policy":"{}"}`)},
			"serviceAccountRoles[1].serviceAccount", "Invalid value: expected a string, got 7"},
		{"policy as an object", map[string]string{"serviceAccountRoles": roles(role("a", "b", `,"policy":{"Version":"2012-10-17"}`))},
			"serviceAccountRoles[0].policy", "Invalid value: expected a string, got an object"},
		{"workloadIdentity not a boolean", map[string]string{"workloadIdentity": "yes"}, "workloadIdentity", `Invalid value: expected true or false, got "yes"`},
		{"roles without workload identity", map[string]string{"workloadIdentity": "false", "serviceAccountRoles": roles(role("a", "b", ok))},
			"serviceAccountRoles", "Forbidden: needs workloadIdentity true"},
		// namespace
		{"namespace missing", map[string]string{"serviceAccountRoles": roles(role("a", "b", ok), `{"serviceAccount":"b","policyArns":["`+s3ReadOnly+`"]}`)},
			"serviceAccountRoles[1].namespace", "Required value"},
		{"namespace uppercase", map[string]string{"serviceAccountRoles": roles(role("Payments", "b", ok))}, "serviceAccountRoles[0].namespace", `Invalid value: "Payments": must be a DNS-1123 label`},
		{"namespace with a dot", map[string]string{"serviceAccountRoles": roles(role("a.b", "b", ok))}, "serviceAccountRoles[0].namespace", "DNS-1123 label"},
		{"namespace ends with '-'", map[string]string{"serviceAccountRoles": roles(role("a-", "b", ok))}, "serviceAccountRoles[0].namespace", "starting and ending with a letter or digit"},
		{"namespace too long", map[string]string{"serviceAccountRoles": roles(role(strings.Repeat("n", 64), "b", ok))}, "serviceAccountRoles[0].namespace", "1-63 lowercase"},
		// serviceAccount
		{"service account missing", map[string]string{"serviceAccountRoles": roles(`{"namespace":"a","policyArns":["` + s3ReadOnly + `"]}`)}, "serviceAccountRoles[0].serviceAccount", "Required value"},
		{"service account underscore", map[string]string{"serviceAccountRoles": roles(role("a", "my_sa", ok))}, "serviceAccountRoles[0].serviceAccount", `Invalid value: "my_sa": must be a DNS-1123 subdomain`},
		{"service account empty part", map[string]string{"serviceAccountRoles": roles(role("a", "a..b", ok))}, "serviceAccountRoles[0].serviceAccount", "DNS-1123 subdomain"},
		{"service account part ends with '-'", map[string]string{"serviceAccountRoles": roles(role("a", "a-.b", ok))}, "serviceAccountRoles[0].serviceAccount", "DNS-1123 subdomain"},
		{"service account too long", map[string]string{"serviceAccountRoles": roles(role("a", strings.Repeat("s", 254), ok))}, "serviceAccountRoles[0].serviceAccount", "1-253 lowercase"},
		// policies
		{"no policy at all", map[string]string{"serviceAccountRoles": roles(role("a", "b", ok), role("a", "c", `,"policyArns":[]`))},
			"serviceAccountRoles[1]", "Required value: set policyArns, policy or both"},
		{"ARN not a string", map[string]string{"serviceAccountRoles": roles(role("a", "b", `,"policyArns":["`+s3ReadOnly+`",5]`))},
			"serviceAccountRoles[0].policyArns[1]", "Invalid value: expected a string, got 5"},
		{"ARN short account", map[string]string{"serviceAccountRoles": badARN("arn:aws:iam::1234:policy/x")},
			"serviceAccountRoles[0].policyArns[1]", `Invalid value: "arn:aws:iam::1234:policy/x": must be an IAM managed policy ARN: arn:<aws|aws-cn|aws-us-gov>:iam::<12-digit account id|aws>:policy/[path/]<name>`},
		{"ARN of a role", map[string]string{"serviceAccountRoles": badARN("arn:aws:iam::123456789012:role/x")}, "serviceAccountRoles[0].policyArns[1]", "must be an IAM managed policy ARN"},
		{"ARN of another service", map[string]string{"serviceAccountRoles": badARN("arn:aws:s3:::bucket")}, "serviceAccountRoles[0].policyArns[1]", "must be an IAM managed policy ARN"},
		{"ARN of another partition", map[string]string{"serviceAccountRoles": badARN("arn:aws-iso:iam::aws:policy/x")}, "serviceAccountRoles[0].policyArns[1]", "must be an IAM managed policy ARN"},
		{"ARN with a region", map[string]string{"serviceAccountRoles": badARN("arn:aws:iam:us-east-1:aws:policy/x")}, "serviceAccountRoles[0].policyArns[1]", "must be an IAM managed policy ARN"},
		{"ARN name too long", map[string]string{"serviceAccountRoles": badARN("arn:aws:iam::aws:policy/" + strings.Repeat("p", 129))}, "serviceAccountRoles[0].policyArns[1]", "must be an IAM managed policy ARN"},
		{"ARN name bad character", map[string]string{"serviceAccountRoles": badARN("arn:aws:iam::aws:policy/a*b")}, "serviceAccountRoles[0].policyArns[1]", "must be an IAM managed policy ARN"},
		{"ARN without a name", map[string]string{"serviceAccountRoles": badARN("arn:aws:iam::aws:policy/team/")}, "serviceAccountRoles[0].policyArns[1]", "must be an IAM managed policy ARN"},
		{"ARN duplicate", map[string]string{"serviceAccountRoles": roles(role("a", "b", `,"policyArns":["`+s3ReadOnly+`","arn:aws:iam::aws:policy/ReadOnlyAccess","`+s3ReadOnly+`"]`))},
			"serviceAccountRoles[0].policyArns[2]", `Duplicate value: "` + s3ReadOnly + `": same as serviceAccountRoles[0].policyArns[0]`},
		{"more than 20 ARNs", map[string]string{"serviceAccountRoles": roles(role("a", "b", ok), role("a", "c", `,"policyArns":`+arns(21)))},
			"serviceAccountRoles[1].policyArns", "Too long: 21: at most 20 managed policies per role (IAM's hard limit)"},
		{"policy not JSON", map[string]string{"serviceAccountRoles": policyOf(`{"Version":`)}, "serviceAccountRoles[0].policy", "Invalid value: must be an IAM policy document as a JSON string; not valid JSON"},
		{"policy with trailing data", map[string]string{"serviceAccountRoles": policyOf(validPolicy + `{}`)}, "serviceAccountRoles[0].policy", "not valid JSON"},
		{"policy a list", map[string]string{"serviceAccountRoles": policyOf(`[` + validPolicy + `]`)}, "serviceAccountRoles[0].policy", "must be a JSON object (an IAM policy document), got a list"},
		{"policy without Version", map[string]string{"serviceAccountRoles": policyOf(`{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)},
			"serviceAccountRoles[0].policy", `Version must be "2012-10-17", got none`},
		{"policy with old Version", map[string]string{"serviceAccountRoles": policyOf(`{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)},
			"serviceAccountRoles[0].policy", `Version must be "2012-10-17", got "2008-10-17"`},
		{"policy without Statement", map[string]string{"serviceAccountRoles": policyOf(`{"Version":"2012-10-17"}`)},
			"serviceAccountRoles[0].policy", "Statement must be a statement object or a non-empty list of them"},
		{"policy with empty Statement", map[string]string{"serviceAccountRoles": policyOf(`{"Version":"2012-10-17","Statement":[]}`)},
			"serviceAccountRoles[0].policy", "Statement must be a statement object or a non-empty list of them"},
		{"policy with a string Statement", map[string]string{"serviceAccountRoles": policyOf(`{"Version":"2012-10-17","Statement":"allow all"}`)},
			"serviceAccountRoles[0].policy", "Statement must be a statement object or a non-empty list of them"},
		{"statement not an object", map[string]string{"serviceAccountRoles": policyOf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},"x"]}`)},
			"serviceAccountRoles[0].policy", `Statement[1] must be an object, got "x"`},
		{"statement Effect lowercase", map[string]string{"serviceAccountRoles": policyOf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"allow","Action":"s3:*","Resource":"*"}]}`)},
			"serviceAccountRoles[0].policy", `Statement[1].Effect must be "Allow" or "Deny", got "allow"`},
		{"single statement without Effect", map[string]string{"serviceAccountRoles": policyOf(`{"Version":"2012-10-17","Statement":{"Action":"s3:*","Resource":"*"}}`)},
			"serviceAccountRoles[0].policy", `Statement.Effect must be "Allow" or "Deny", got none`},
		{"statement without Action", map[string]string{"serviceAccountRoles": policyOf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`)},
			"serviceAccountRoles[0].policy", "Statement[0] needs an Action or a NotAction"},
		{"policy too large", map[string]string{"serviceAccountRoles": policyOf(policyOfSize(maxRoleInlinePolicyChars + 1))},
			"serviceAccountRoles[0].policy", "Too long: 10241 characters without whitespace; IAM allows a role's inline policy at most 10240"},
		// pairs
		{"duplicate pair", map[string]string{"serviceAccountRoles": roles(role("payments", "exporter", ok), role("payments", "other", ok), role("payments", "exporter", `,"policy":`+jsonString(validPolicy)))},
			"serviceAccountRoles[2]", `Duplicate value: "payments/exporter": same as serviceAccountRoles[0]`},
		{"EBS CSI controller's account", map[string]string{"serviceAccountRoles": roles(role("kube-system", "ebs-csi-controller-sa", ok))},
			"serviceAccountRoles[0]", "Forbidden: kube-system/ebs-csi-controller-sa is the service account of the stack's own add-on (addons.ebsCsi): the stack already gives that service account its role"},
		{"termination handler's account", map[string]string{"serviceAccountRoles": roles(role("a", "b", ok), role("kube-system", "aws-node-termination-handler", ok))},
			"serviceAccountRoles[1]", "(addons.nodeTerminationHandler): the stack already gives that service account its role"},
		{"cluster autoscaler's account", map[string]string{"serviceAccountRoles": roles(role("kube-system", "cluster-autoscaler", ok))},
			"serviceAccountRoles[0]", "(workerPools[].autoscaled): the stack already gives that service account its role"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse(src(tt.kv))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			for _, e := range ve.Errors {
				if e.Path == tt.path && strings.Contains(e.Error(), tt.want) {
					return
				}
			}
			t.Errorf("no error at %s containing %q in:\n%s", tt.path, tt.want, err)
		})
	}
}

func TestServiceAccountRolesWarnings(t *testing.T) {
	_, w, err := Parse(src(map[string]string{"serviceAccountRoles": roles(
		role("a", "b", `,"policyArns":["`+s3ReadOnly+`"]`),
		role("a", "c", `,"policyArns":`+arns(11)),
	)}))
	if err != nil {
		t.Fatal(err)
	}
	want := "serviceAccountRoles[1].policyArns: 11 managed policies: IAM's default quota is 10 per role (Service Quotas code L-0DA4ABF3, raisable to 20)"
	if len(w) != 1 || !strings.HasPrefix(w[0], want) {
		t.Errorf("want one warning %q, got %v", want, w)
	}
}

// All problems of all elements are reported at once, an unreadable element
// hiding none of the others'.
func TestServiceAccountRolesAllErrorsAtOnce(t *testing.T) {
	_, _, err := Parse(src(map[string]string{
		"workloadIdentity": "false",
		"serviceAccountRoles": roles(
			role("Bad", "b", `,"policyArns":["arn:aws:iam::aws:policy/x","nope"]`),
			`{"namespace":"a","serviceAcount":"b"}`,
			role("a", "b_c", `,"policy":`+jsonString(`{"Version":"2012-10-17","Statement":[{"Effect":"Maybe"}]}`)),
			role("kube-system", "cluster-autoscaler", ""),
		),
	}))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	got := map[string]int{}
	for _, e := range ve.Errors {
		got[e.Path]++
	}
	for path, n := range map[string]int{
		"serviceAccountRoles":                   1,
		"serviceAccountRoles[0].namespace":      1,
		"serviceAccountRoles[0].policyArns[1]":  1,
		"serviceAccountRoles[1].serviceAcount":  1,
		"serviceAccountRoles[2].serviceAccount": 1,
		"serviceAccountRoles[2].policy":         2, // Effect and Action
		"serviceAccountRoles[3]":                2, // an add-on's account, and no policy
	} {
		if got[path] != n {
			t.Errorf("%d error(s) at %s, want %d, in:\n%s", got[path], path, n, err)
		}
	}
	if len(ve.Errors) != 9 {
		t.Errorf("%d errors, want 9:\n%s", len(ve.Errors), err)
	}
}

func TestAddonServiceAccounts(t *testing.T) {
	want := map[string]string{
		"kube-system/ebs-csi-controller-sa":        "addons.ebsCsi",
		"kube-system/aws-node-termination-handler": "addons.nodeTerminationHandler",
		"kube-system/cluster-autoscaler":           "workerPools[].autoscaled",
	}
	if !reflect.DeepEqual(AddonServiceAccounts, want) {
		t.Errorf("AddonServiceAccounts = %v", AddonServiceAccounts)
	}
}

func TestAnyAutoscaled(t *testing.T) {
	cfg, _, err := Parse(src(nil))
	if err != nil {
		t.Fatal(err)
	}
	if AnyAutoscaled(cfg) {
		t.Error("default pools are not autoscaled")
	}
	cfg, _, err = Parse(src(map[string]string{
		"workerPools": `[{"name":"a","instanceTypes":["m7i.large"]},{"name":"b","instanceTypes":["m7i.large"],"autoscaled":true}]`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !AnyAutoscaled(cfg) {
		t.Error("pool b is autoscaled")
	}
}

// Autoscaled pools without workload identity get no autoscaler: a warning
// at the pool says so.
func TestAutoscaledWithoutIdentityWarns(t *testing.T) {
	_, w, err := Parse(src(map[string]string{"workloadIdentity": "false",
		"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"minSize":1,"maxSize":3,"desiredCapacity":1,"autoscaled":true}]`}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(w, func(x string) bool {
		return strings.Contains(x, "workerPools[0].autoscaled") && strings.Contains(x, "no cluster autoscaler")
	}) {
		t.Errorf("warnings %v", w)
	}
}
