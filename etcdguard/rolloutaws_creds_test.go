package etcdguard

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"

	"github.com/talos-aws/talos-aws/config"
)

// The rollout wait acts as the stack's AWS provider: with aws:profile it
// uses that profile even when the environment holds other keys, static
// aws:accessKey/secretKey win over both, and aws:assumeRole assumes the
// role on top. Credentials are resolved offline (profiles and static keys
// need no call; the role's provider is checked by type).
func TestRolloutUsesTheProvidersCredentials(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = AKIADEFAULT000000000\naws_secret_access_key = d\n\n"+
		"[stack]\naws_access_key_id = AKIASTACKPROFILE0000\naws_secret_access_key = s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The runner's own credentials, which the wait must not use.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT00000")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "e")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))

	for _, c := range []struct {
		name   string
		a      config.AWS
		key    string
		assume bool
		who    string
	}{
		{"no settings: the runner's environment, as the provider", config.AWS{}, "AKIAENVIRONMENT00000", false, "default AWS credential chain"},
		{"aws:profile over the environment", config.AWS{Profile: "stack", SharedCredentialsFiles: []string{creds}}, "AKIASTACKPROFILE0000", false, "profile stack"},
		{"aws:accessKey over aws:profile", config.AWS{Profile: "stack", SharedCredentialsFiles: []string{creds}, AccessKey: "AKIASTATICKEY0000001", SecretKey: "k"},
			"AKIASTATICKEY0000001", false, "access key …0001"},
		{"aws:assumeRole on top of the profile", config.AWS{Profile: "stack", SharedCredentialsFiles: []string{creds},
			AssumeRole: &config.AssumeRole{RoleARN: "arn:aws:iam::123456789012:role/deployer", SessionName: "talos-aws", Duration: "1h"}},
			"", true, "role arn:aws:iam::123456789012:role/deployer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ProviderConfig(context.Background(), "eu-west-1", c.a)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != "eu-west-1" {
				t.Errorf("region %q", cfg.Region)
			}
			if c.assume {
				cache, ok := cfg.Credentials.(*aws.CredentialsCache)
				if !ok || !cache.IsCredentialsProvider(&stscreds.AssumeRoleProvider{}) {
					t.Errorf("credentials %T do not assume the role", cfg.Credentials)
				}
			} else {
				v, err := cfg.Credentials.Retrieve(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if v.AccessKeyID != c.key {
					t.Errorf("the wait would call AWS as %s; the provider as %s", v.AccessKeyID, c.key)
				}
			}
			r, err := NewRollout(context.Background(), "eu-west-1", c.a, "cp-asg", "prod")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(r.identity, c.who) || !strings.Contains(r.identity, "eu-west-1") || strings.Contains(r.identity, "SecretKey") {
				t.Errorf("errors would say %q; want %q and the region", r.identity, c.who)
			}
		})
	}
}
