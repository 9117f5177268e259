package config

import (
	"fmt"
	"regexp"
	"unicode"

	"github.com/talos-aws/talos-aws/internal/fielddoc"
)

// ServiceAccountRole is an IAM role for one of the user's own workloads,
// assumable only by one Kubernetes service account through the cluster's
// OIDC provider (workload identity).
type ServiceAccountRole struct {
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	// PolicyARNs are IAM managed policies attached to the role.
	PolicyARNs []string `json:"policyArns"`
	// Policy is an inline IAM policy document, as JSON text.
	Policy string `json:"policy"`
}

// FieldDocs documents the fields for the configuration reference; the
// bounds are validateIdentity's.
func (ServiceAccountRole) FieldDocs() map[string]fielddoc.Field {
	return map[string]fielddoc.Field{
		"namespace":      {Doc: "The service account's namespace.", Allowed: fmt.Sprintf("a DNS label, at most %d characters", maxNamespaceLen)},
		"serviceAccount": {Doc: "The service account that alone may assume the role; not one of the stack's own add-ons'.", Allowed: fmt.Sprintf("a DNS subdomain, at most %d characters; each namespace/serviceAccount pair once", maxServiceAccountLen)},
		"policyArns": {Doc: "IAM managed policies attached to the role.",
			Allowed: fmt.Sprintf("IAM managed policy ARNs, at most %d (more than %d needs the IAM quota raised); at least one of policyArns and policy", maxRolePolicyARNs, defaultRolePolicyARNs)},
		"policy": {Doc: "An inline IAM policy document, as a JSON string.", Allowed: fmt.Sprintf("a policy document of version %s, at most %d characters without whitespace", iamPolicyVersion, maxRoleInlinePolicyChars)},
	}
}

// AddonServiceAccounts are the service accounts ("namespace/name") the
// stack's own add-ons hold roles for, each with the config key that turns
// its add-on on. A serviceAccountRoles element may not name one.
var AddonServiceAccounts = map[string]string{
	"kube-system/ebs-csi-controller-sa":        "addons.ebsCsi",
	"kube-system/aws-node-termination-handler": "addons.nodeTerminationHandler",
	"kube-system/cluster-autoscaler":           "workerPools[].autoscaled",
}

// AnyAutoscaled reports whether any worker pool hands its size to the
// cluster autoscaler.
func AnyAutoscaled(c *Config) bool {
	for _, p := range c.WorkerPools {
		if p.Autoscaled {
			return true
		}
	}
	return false
}

// IAM limits on a role (IAM and AWS STS quotas): managed policies attached
// (default quota 10, code L-0DA4ABF3, raisable to the hard limit 20), and
// the characters, whitespace not counted, of its inline policies.
const (
	maxRolePolicyARNs        = 20
	defaultRolePolicyARNs    = 10
	maxRoleInlinePolicyChars = 10240
	maxNamespaceLen          = 63
	maxServiceAccountLen     = 253
	iamPolicyVersion         = "2012-10-17"
)

var (
	dnsLabelRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// An IAM managed policy ARN: an account's policy or an AWS managed one
	// (account "aws"), an optional path, a name of at most 128 characters.
	policyARNRe = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}|aws):policy/([\x21-\x2e\x30-\x7e]+/)*[A-Za-z0-9+=,.@_-]{1,128}$`)
)

const policyARNForm = "must be an IAM managed policy ARN: arn:<aws|aws-cn|aws-us-gov>:iam::<12-digit account id|aws>:policy/[path/]<name>, " +
	"e.g. arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"

func validateIdentity(c *Config, errs *ErrorList, w *Warnings, skip map[string]bool) {
	if !c.WorkloadIdentity {
		for i, p := range c.WorkerPools {
			if p.Autoscaled {
				w.Add(fmt.Sprintf("workerPools[%d].autoscaled", i), "no cluster autoscaler is installed with workloadIdentity false (it would have no credentials): the pool keeps desiredCapacity for an autoscaler of your own")
			}
		}
	}
	if skip["serviceAccountRoles"] {
		return
	}
	if len(c.ServiceAccountRoles) > 0 && !c.WorkloadIdentity && !skip["workloadIdentity"] {
		errs.Forbidden("serviceAccountRoles", "needs workloadIdentity true: the roles are assumed through the cluster's OIDC provider, which only workload identity creates")
	}
	pairs := map[string]string{}
	for i, r := range c.ServiceAccountRoles {
		path := fmt.Sprintf("serviceAccountRoles[%d]", i)
		if skip[path] {
			continue
		}
		nsOK := validateNamespace(path+".namespace", r.Namespace, errs)
		saOK := validateServiceAccountName(path+".serviceAccount", r.ServiceAccount, errs)
		if nsOK && saOK {
			pair := r.Namespace + "/" + r.ServiceAccount
			if key, ok := AddonServiceAccounts[pair]; ok {
				errs.Forbidden(path, fmt.Sprintf(
					"%s is the service account of the stack's own add-on (%s): the stack already gives that service account its role; use a service account of your own", pair, key))
			}
			if first, dup := pairs[pair]; dup {
				errs.Duplicate(path, pair, first)
			} else {
				pairs[pair] = path
			}
		}
		if len(r.PolicyARNs) == 0 && r.Policy == "" {
			errs.Required(path, "set policyArns, policy or both: a role without a policy grants nothing")
		}
		validatePolicyARNs(path+".policyArns", r.PolicyARNs, errs, w)
		if r.Policy != "" {
			validatePolicyDocument(path+".policy", r.Policy, errs)
		}
	}
}

func validateNamespace(path, ns string, errs *ErrorList) bool {
	switch {
	case ns == "":
		errs.Required(path, "the Kubernetes namespace of the service account")
	case len(ns) > maxNamespaceLen || !dnsLabelRe.MatchString(ns):
		errs.Invalid(path, ns, fmt.Sprintf(
			"must be a DNS-1123 label (a Kubernetes namespace name): 1-%d lowercase letters, digits and '-', starting and ending with a letter or digit", maxNamespaceLen))
	default:
		return true
	}
	return false
}

func validateServiceAccountName(path, sa string, errs *ErrorList) bool {
	switch {
	case sa == "":
		errs.Required(path, "the name of the Kubernetes service account that may assume the role")
	case len(sa) > maxServiceAccountLen || !dnsSubdomainRe.MatchString(sa):
		errs.Invalid(path, sa, fmt.Sprintf(
			"must be a DNS-1123 subdomain (a Kubernetes service account name): 1-%d lowercase letters, digits, '-' and '.', each '.'-separated part starting and ending with a letter or digit", maxServiceAccountLen))
	default:
		return true
	}
	return false
}

func validatePolicyARNs(path string, arns []string, errs *ErrorList, w *Warnings) {
	switch n := len(arns); {
	case n > maxRolePolicyARNs:
		errs.TooLong(path, n, fmt.Sprintf("at most %d managed policies per role (IAM's hard limit)", maxRolePolicyARNs))
	case n > defaultRolePolicyARNs:
		w.Add(path, "%d managed policies: IAM's default quota is %d per role (Service Quotas code L-0DA4ABF3, raisable to %d); raise it before `pulumi up`",
			n, defaultRolePolicyARNs, maxRolePolicyARNs)
	}
	seen := map[string]string{}
	for j, arn := range arns {
		ap := fmt.Sprintf("%s[%d]", path, j)
		if !policyARNRe.MatchString(arn) {
			errs.Invalid(ap, arn, policyARNForm)
			continue
		}
		if first, dup := seen[arn]; dup {
			errs.Duplicate(ap, arn, first)
		} else {
			seen[arn] = ap
		}
	}
}

// validatePolicyDocument checks what IAM would refuse of an inline policy
// at `up`: JSON that is not an object, a missing or old Version, no
// statement, a statement without a valid Effect or an action, and more
// characters (whitespace not counted) than a role's inline policies may
// have. Each rule that fails is one error at path.
func validatePolicyDocument(path, doc string, errs *ErrorList) {
	v, err := readJSON([]byte(doc))
	if err != nil {
		errs.Invalid(path, nil, "must be an IAM policy document as a JSON string; not valid JSON: "+err.Error())
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		errs.Invalid(path, nil, "must be a JSON object (an IAM policy document), got "+describe(v))
		return
	}
	if ver, _ := m["Version"].(string); ver != iamPolicyVersion {
		got := "none"
		if x, set := m["Version"]; set {
			got = describe(x)
		}
		errs.Invalid(path, nil, fmt.Sprintf("Version must be %q, got %s", iamPolicyVersion, got))
	}
	var statements []any
	name := "Statement"
	switch s := m["Statement"].(type) {
	case map[string]any:
		statements = []any{s}
	case []any:
		statements = s
	}
	if len(statements) == 0 {
		errs.Invalid(path, nil, "Statement must be a statement object or a non-empty list of them")
	}
	_, list := m["Statement"].([]any)
	for k, st := range statements {
		sp := name
		if list {
			sp = fmt.Sprintf("%s[%d]", name, k)
		}
		sm, ok := st.(map[string]any)
		if !ok {
			errs.Invalid(path, nil, fmt.Sprintf("%s must be an object, got %s", sp, describe(st)))
			continue
		}
		if e, _ := sm["Effect"].(string); e != "Allow" && e != "Deny" {
			got := "none"
			if x, set := sm["Effect"]; set {
				got = describe(x)
			}
			errs.Invalid(path, nil, fmt.Sprintf("%s.Effect must be \"Allow\" or \"Deny\", got %s", sp, got))
		}
		_, action := sm["Action"]
		_, notAction := sm["NotAction"]
		if !action && !notAction {
			errs.Invalid(path, nil, sp+" needs an Action or a NotAction")
		}
	}
	if n := nonSpaceLen(doc); n > maxRoleInlinePolicyChars {
		errs.TooLong(path, nil, fmt.Sprintf(
			"%d characters without whitespace; IAM allows a role's inline policy at most %d", n, maxRoleInlinePolicyChars))
	}
}

// nonSpaceLen counts the characters IAM counts against a policy size
// limit: every one but whitespace.
func nonSpaceLen(s string) int {
	n := 0
	for _, r := range s {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}
