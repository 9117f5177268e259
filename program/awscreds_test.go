package program

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/talos-aws/talos-aws/testkit"
)

// The stack's AWS providers (the main one, and preflight's home-region one
// when it exists) take the credential settings of the aws: namespace, which
// an explicit provider would otherwise never see; secrets stay secret.
func TestProviderTakesTheStacksAWSCredentials(t *testing.T) {
	cfg := devConfig(t)
	cfg["aws:profile"] = "platform"
	cfg["aws:sharedCredentialsFiles"] = `["/home/ops/.aws/credentials"]`
	cfg["aws:assumeRole"] = `{"roleArn":"arn:aws:iam::123456789012:role/talos-deployer","sessionName":"talos-aws"}`
	cfg["aws:accessKey"] = "AKIAIOSFODNN7EXAMPLE"
	cfg["aws:secretKey"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	m := &testkit.Mocks{ControlPlaneInstances: cpInstances(), Preview: true}
	evaluate(t, m, cfg)
	p := one(t, m, "pulumi:providers:aws", "aws")
	if got := str(p, "profile"); got != "platform" {
		t.Errorf("provider profile %q", got)
	}
	if got := testkit.Strings(p.Inputs["sharedCredentialsFiles"]); len(got) != 1 || got[0] != "/home/ops/.aws/credentials" {
		t.Errorf("provider sharedCredentialsFiles %v", got)
	}
	role := p.Inputs["assumeRole"]
	if role.IsSecret() {
		role = role.SecretValue().Element
	}
	if !role.IsObject() || role.ObjectValue()["roleArn"].StringValue() != "arn:aws:iam::123456789012:role/talos-deployer" {
		t.Errorf("provider assumeRole %v", role)
	}
	for _, k := range []resource.PropertyKey{"accessKey", "secretKey"} {
		if !p.Inputs[k].IsSecret() {
			t.Errorf("provider %s is not a secret", k)
		}
	}
}

// Half-set credentials and a malformed role stop the preview before any
// resource, the provider included, with their keys; the project's own
// errors come with them.
func TestBadAWSCredentialSettingsRejected(t *testing.T) {
	cfg := map[string]string{"adminCidrs": admin, "azCount": "9",
		"aws:accessKey": "AKIAIOSFODNN7EXAMPLE", "aws:assumeRole": `{"roleArn":"talos-deployer"}`}
	m := &testkit.Mocks{Preview: true}
	_, err := testkit.Run(t, m, cfg, program)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"aws:secretKey", "aws:assumeRole.roleArn", "azCount"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s:\n%v", want, err)
		}
	}
	// Only the read of the stack's own last outputs comes first.
	for _, r := range m.Resources {
		if r.Type != testkit.StackReference {
			t.Errorf("registered %s %s before failing", r.Type, r.Name)
		}
	}
}
