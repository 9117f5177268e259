package etcdguard

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// The talosconfig's write is one signed PutSecretValue whose token is the
// value's hash: the same value twice is the same version, a new value a
// new one; an AWS error names what the deployer lacks.
func TestSecretStorePut(t *testing.T) {
	var got []map[string]string
	fail := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "secretsmanager.PutSecretValue" ||
			r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
			!strings.Contains(r.Header.Get("Authorization"), "/eu-west-1/secretsmanager/aws4_request") {
			t.Errorf("request %s %v", r.Method, r.Header)
		}
		b, _ := io.ReadAll(r.Body)
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Error(err)
		}
		got = append(got, m)
		if fail {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"AccessDeniedException","Message":"not authorized to perform kms:GenerateDataKey"}`)
		}
	}))
	defer srv.Close()
	s := SecretStore{Config: aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}}
	arn := "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod-etcd-guard-talosconfig-abc"
	for _, v := range []string{"context: prod\n", "context: prod\n", "context: prod\nrenewed: true\n"} {
		if err := s.Put(context.Background(), arn, v); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 3 || got[0]["SecretId"] != arn || got[0]["SecretString"] != "context: prod\n" {
		t.Fatalf("requests %v", got)
	}
	if got[0]["ClientRequestToken"] != got[1]["ClientRequestToken"] || got[1]["ClientRequestToken"] == got[2]["ClientRequestToken"] ||
		len(got[0]["ClientRequestToken"]) != 64 {
		t.Errorf("tokens %q %q %q: same value, same version; new value, new version (32-64 characters)",
			got[0]["ClientRequestToken"], got[1]["ClientRequestToken"], got[2]["ClientRequestToken"])
	}
	fail = true
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
