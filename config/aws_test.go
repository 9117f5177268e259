package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseAWS(t *testing.T) {
	t.Setenv("TALOS_AWS_TEST_DIR", "/srv/creds")
	for _, c := range []struct {
		name string
		src  map[string]string
		errs []string // each a substring of one error, with its key
		warn string
		want func(AWS) bool
	}{
		{name: "none", src: map[string]string{}, want: func(a AWS) bool { return a.Profile == "" && a.AssumeRole == nil }},
		{name: "profile and files", src: map[string]string{"profile": "ops", "sharedCredentialsFiles": `["/tmp/c"]`, "sharedConfigFiles": `["/tmp/f"]`},
			want: func(a AWS) bool {
				return a.Profile == "ops" && a.SharedCredentialsFiles[0] == "/tmp/c" && a.SharedConfigFiles[0] == "/tmp/f"
			}},
		{name: "assume role", src: map[string]string{"assumeRole": `{"roleArn":"arn:aws:iam::123456789012:role/deploy","sessionName":"ci","duration":"1h"}`},
			want: func(a AWS) bool {
				return a.AssumeRole != nil && a.AssumeRole.RoleARN == "arn:aws:iam::123456789012:role/deploy"
			}},
		{name: "key without secret, files not a list",
			src:  map[string]string{"accessKey": "AKIA0000000000000000", "sharedConfigFiles": "/tmp/f"},
			errs: []string{"aws:secretKey: Required value", "aws:sharedConfigFiles: Invalid value"}},
		{name: "token alone", src: map[string]string{"token": "t"}, errs: []string{"aws:token: Forbidden"}},
		{name: "role not an ARN", src: map[string]string{"assumeRole": `{"roleArn":"deploy"}`}, errs: []string{"aws:assumeRole.roleArn", "arn:aws:iam::<account>:role/<name>"}},
		{name: "role with an unknown field", src: map[string]string{"assumeRole": `{"roleArn":"arn:aws:iam::123456789012:role/d","sesionName":"x"}`},
			errs: []string{"aws:assumeRole: Invalid value", "sesionName"}},
		{name: "duration out of range", src: map[string]string{"assumeRole": `{"roleArn":"arn:aws:iam::123456789012:role/d","duration":"5m"}`},
			errs: []string{"aws:assumeRole.duration", "15m to 12h"}},
		{name: "paths expanded as the provider does", src: map[string]string{"sharedCredentialsFiles": `["~/.aws/ci","$TALOS_AWS_TEST_DIR/c"]`},
			want: func(a AWS) bool {
				home, _ := os.UserHomeDir()
				return a.SharedCredentialsFiles[0] == filepath.Join(home, ".aws/ci") && a.SharedCredentialsFiles[1] == "/srv/creds/c"
			}},
		{name: "aws:region that is not the stack's", src: map[string]string{"region": "us-east-1"},
			warn: `aws:region: "us-east-1" is not where the stack deploys: it uses region ("ap-southeast-1")`},
		{name: "a key the provider here does not take", src: map[string]string{"profile": "ops", "skipCredentialsValidation": "true"},
			warn: "aws:skipCredentialsValidation: not passed to the stack's AWS provider"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var set []string
			for k := range c.src {
				set = append(set, k)
			}
			a, errs, w := ParseAWS(MapSource(c.src), set, "ap-southeast-1")
			msg := strings.Join(errs.Strings(), "\n")
			if len(c.errs) == 0 && len(errs) > 0 {
				t.Fatalf("unexpected errors:\n%s", msg)
			}
			for _, e := range c.errs {
				if !strings.Contains(msg, e) {
					t.Errorf("errors lack %q:\n%s", e, msg)
				}
			}
			if ws := strings.Join(w, "\n"); (c.warn == "") != (ws == "") || !strings.Contains(ws, c.warn) {
				t.Errorf("warnings %q, want %q", ws, c.warn)
			}
			if c.want != nil && !c.want(a) {
				t.Errorf("parsed %+v", a)
			}
		})
	}
}

// Messages name the identity and never a secret.
func TestAWSDescribe(t *testing.T) {
	a := AWS{AccessKey: "AKIAABCDEFGHIJKL1234", SecretKey: "topsecret", AssumeRole: &AssumeRole{RoleARN: "arn:aws:iam::123456789012:role/d"}}
	d := a.Describe()
	if !strings.Contains(d, "…1234") || strings.Contains(d, "AKIAABCD") || strings.Contains(d, "topsecret") || !strings.Contains(d, "role/d") {
		t.Errorf("Describe() = %q", d)
	}
}
