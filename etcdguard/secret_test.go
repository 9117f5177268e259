package etcdguard

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// fakeSecrets is Secrets Manager's versioning as its API reference gives
// it: PutSecretValue with a known token and the same value is ignored
// (the version keeps its stages); a new token makes the version current,
// the previous current becomes AWSPREVIOUS.
type fakeSecrets struct {
	t        *testing.T
	values   map[string]string
	stages   map[string][]string
	calls    []string
	denyPuts bool
}

func (f *fakeSecrets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		!strings.Contains(r.Header.Get("Authorization"), "/eu-west-1/secretsmanager/aws4_request") {
		f.t.Errorf("request %s %v", r.Method, r.Header)
	}
	f.calls = append(f.calls, action)
	var in map[string]string
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &in); err != nil {
		f.t.Error(err)
	}
	answer := func(v any) { _ = json.NewEncoder(w).Encode(v) }
	current := func() string {
		for id, st := range f.stages {
			if slices.Contains(st, "AWSCURRENT") {
				return id
			}
		}
		return ""
	}
	switch action {
	case "PutSecretValue":
		if f.denyPuts {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"AccessDeniedException","Message":"not authorized to perform kms:GenerateDataKey"}`)
			return
		}
		tok := in["ClientRequestToken"]
		if len(tok) < 32 || len(tok) > 64 {
			f.t.Errorf("token %q", tok)
		}
		if v, ok := f.values[tok]; ok {
			if v != in["SecretString"] {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			answer(map[string]any{"VersionId": tok, "VersionStages": f.stages[tok]})
			return
		}
		if c := current(); c != "" {
			f.stages[c] = []string{"AWSPREVIOUS"}
		}
		f.values[tok], f.stages[tok] = in["SecretString"], []string{"AWSCURRENT"}
		answer(map[string]any{"VersionId": tok, "VersionStages": f.stages[tok]})
	case "DescribeSecret":
		answer(map[string]any{"VersionIdsToStages": f.stages})
	case "UpdateSecretVersionStage":
		if c := current(); c != in["RemoveFromVersionId"] {
			f.t.Errorf("moving AWSCURRENT from %q, it is on %q", in["RemoveFromVersionId"], c)
		}
		f.stages[in["RemoveFromVersionId"]] = []string{"AWSPREVIOUS"}
		f.stages[in["MoveToVersionId"]] = []string{"AWSCURRENT"}
		answer(map[string]any{})
	default:
		f.t.Errorf("unexpected %s", action)
	}
}

// The talosconfig's write: one signed PutSecretValue whose token is the
// value's hash, so the same value twice is one version; a value that
// comes back is made current again; an AWS error names what the deployer
// lacks. Nothing is read back.
func TestSecretStorePut(t *testing.T) {
	f := &fakeSecrets{t: t, values: map[string]string{}, stages: map[string][]string{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := SecretStore{Config: aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}}
	arn := "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod-etcd-guard-talosconfig-abc"
	a, b := "context: prod\n", "context: prod\nrenewed: true\n"
	for i, v := range []string{a, a, b, a} {
		if err := s.Put(context.Background(), arn, v); err != nil {
			t.Fatal(err)
		}
		if cur := f.stages[VersionToken(v)]; !slices.Contains(cur, "AWSCURRENT") {
			t.Fatalf("write %d: its version has stages %v, want AWSCURRENT", i, cur)
		}
	}
	if len(f.values) != 2 {
		t.Errorf("%d versions for two values", len(f.values))
	}
	if got := strings.Join(f.calls, ","); got != "PutSecretValue,PutSecretValue,PutSecretValue,PutSecretValue,DescribeSecret,UpdateSecretVersionStage" {
		t.Errorf("calls %s", got)
	}
	for _, c := range f.calls {
		if strings.HasPrefix(c, "Get") {
			t.Errorf("%s: the deployer must not read the value", c)
		}
	}
	f.denyPuts = true
	if err := s.Put(context.Background(), arn, "x"); err == nil || !strings.Contains(err.Error(), "kms:GenerateDataKey") || !strings.Contains(err.Error(), "secretsmanager:PutSecretValue") {
		t.Errorf("error %v", err)
	}
}

func TestSecretAndKeyPolicies(t *testing.T) {
	root, err := AccountRoot("arn:aws-cn:iam::123456789012:role/prod-etcd-guard")
	if err != nil || root != "arn:aws-cn:iam::123456789012:root" {
		t.Fatalf("AccountRoot = %q, %v", root, err)
	}
	if _, err := AccountRoot("arn:aws:sts::123456789012:assumed-role/x/y"); err == nil {
		t.Error("an STS ARN is not an IAM one")
	}
	k := KeyPolicy(root, "cn-north-1")
	for _, s := range k.Statement {
		decrypts := strings.Contains(strings.Join(s.Actions(), ","), "kms:Decrypt")
		if decrypts && s.Condition["StringEquals"]["kms:ViaService"] != "secretsmanager.cn-north-1.amazonaws.com" {
			t.Errorf("%s decrypts outside Secrets Manager", s.Sid)
		}
		if !decrypts && s.NotAction == nil {
			t.Errorf("%s: the administration statement must exclude kms:Decrypt", s.Sid)
		}
	}
	sp := SecretPolicy("arn:aws:iam::123456789012:role/g", []string{"arn:aws:iam::123456789012:role/bg"})
	b := sp.JSON()
	for _, want := range []string{`"Effect":"Deny"`, `"Principal":"*"`, `"secretsmanager:GetSecretValue"`, `"aws:PrincipalArn":["arn:aws:iam::123456789012:role/g","arn:aws:iam::123456789012:role/bg"]`} {
		if !strings.Contains(b, want) {
			t.Errorf("secret policy %s lacks %s", b, want)
		}
	}
}
