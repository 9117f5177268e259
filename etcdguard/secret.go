// The admin talosconfig in Secrets Manager, written by `up` and readable
// only by the guard (and the break-glass roles the user names): no
// SecretVersion resource, because the provider reads every version back
// (GetSecretValue in its create, refresh and delete), so the deployer
// would need the read the secret's policy denies everyone else.

package etcdguard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
)

// SecretWriter stores value as the secret's current version. The program
// calls it in `up` only, after the secret's policy exists.
type SecretWriter func(ctx context.Context, secretARN, value string) error

// VersionToken is the ClientRequestToken of value's version: its SHA-256.
// PutSecretValue with a token whose version holds the same value changes
// nothing (Secrets Manager API reference, PutSecretValue,
// ClientRequestToken), so every `up` writes and only a new value makes a
// new version.
func VersionToken(value string) string {
	h := sha256.Sum256([]byte(value))
	return hex.EncodeToString(h[:])
}

// AWSSecretWriter writes with the stack's AWS settings (ProviderConfig).
func AWSSecretWriter(region string, creds config.AWS) SecretWriter {
	return func(ctx context.Context, arn, value string) error {
		cfg, err := ProviderConfig(ctx, region, creds)
		if err != nil {
			return fmt.Errorf("AWS credentials for the etcd guard's talosconfig (as %s in %s): %w", creds.Describe(), region, err)
		}
		return SecretStore{Config: cfg}.Put(ctx, arn, value)
	}
}

// SecretStore makes the one Secrets Manager call `up` needs, signed with
// SigV4, as ObjectStore does for S3 (the SDK's client would add its
// package to every cold compile).
type SecretStore struct {
	Config aws.Config
	HTTP   *http.Client
}

func (s SecretStore) endpoint() string {
	if e := aws.ToString(s.Config.BaseEndpoint); e != "" {
		return strings.TrimSuffix(e, "/") + "/"
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(s.Config.Region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return fmt.Sprintf("https://secretsmanager.%s.%s/", s.Config.Region, domain)
}

// Put is PutSecretValue with VersionToken(value), then, if that version
// is not current, UpdateSecretVersionStage moving AWSCURRENT to it: a value
// that comes back (A, B, then A again after a state rollback) finds its
// old version, which PutSecretValue leaves as it is (the request is
// "ignored"), so the current one would stay B. Nothing reads the value.
func (s SecretStore) Put(ctx context.Context, arn, value string) error {
	token := VersionToken(value)
	var put struct {
		VersionStages []string
	}
	if err := s.call(ctx, "PutSecretValue", map[string]string{"SecretId": arn, "SecretString": value, "ClientRequestToken": token}, &put); err != nil {
		return fmt.Errorf("write %s: %w (the identity running `pulumi up` needs secretsmanager:PutSecretValue on it, and kms:GenerateDataKey and kms:Decrypt on its key)", arn, err)
	}
	if slices.Contains(put.VersionStages, "AWSCURRENT") {
		return nil
	}
	var desc struct {
		VersionIdsToStages map[string][]string
	}
	if err := s.call(ctx, "DescribeSecret", map[string]string{"SecretId": arn}, &desc); err != nil {
		return fmt.Errorf("find the current version of %s: %w", arn, err)
	}
	move := map[string]string{"SecretId": arn, "VersionStage": "AWSCURRENT", "MoveToVersionId": token}
	for id, stages := range desc.VersionIdsToStages {
		if slices.Contains(stages, "AWSCURRENT") && id != token {
			move["RemoveFromVersionId"] = id
		}
	}
	if err := s.call(ctx, "UpdateSecretVersionStage", move, nil); err != nil {
		return fmt.Errorf("make version %s of %s current: %w", token[:12], arn, err)
	}
	return nil
}

// call makes one signed Secrets Manager JSON call and decodes its answer
// into out (nil: ignored).
func (s SecretStore) call(ctx context.Context, action string, in map[string]string, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager."+action)
	req.ContentLength = int64(len(body))
	h := sha256.Sum256(body)
	resp, err := signedDo(ctx, s.Config, s.HTTP, req, hex.EncodeToString(h[:]), "secretsmanager")
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		if len(msg) > 2048 {
			msg = msg[:2048]
		}
		return fmt.Errorf("%s: %s: %s", action, resp.Status, strings.TrimSpace(string(msg)))
	}
	if out != nil && len(msg) > 0 {
		if err := json.Unmarshal(msg, out); err != nil {
			return fmt.Errorf("%s: answer: %w", action, err)
		}
	}
	return nil
}

// SecretPolicy is the talosconfig secret's resource policy, by who may:
// nobody but the guard's role and the break-glass roles
// (etcdGuardSecretReaders) may read it, and nobody but the break-glass
// roles may replace or remove this policy, whatever their IAM policies
// allow (an explicit Deny wins over any grant). Writing, describing and
// managing the secret stay with IAM, so `up` still writes it
// (SecretWriter). Sessions are matched by their role (aws:PrincipalArn is
// the role's ARN for an assumed-role session).
func SecretPolicy(guardRoleARN string, readers []string) iampolicy.Document {
	allowed := append([]string{guardRoleARN}, readers...)
	return iampolicy.New(
		iampolicy.Statement{
			Sid: "OnlyTheGuardAndBreakGlassRead", Effect: "Deny", Principal: "*", Resource: "*",
			Action:    []string{"secretsmanager:GetSecretValue"},
			Condition: map[string]map[string]any{"StringNotEquals": {"aws:PrincipalArn": allowed}},
		},
		iampolicy.Statement{
			Sid: "OnlyBreakGlassChangesThisPolicy", Effect: "Deny", Principal: "*", Resource: "*",
			Action:    []string{"secretsmanager:DeleteResourcePolicy", "secretsmanager:PutResourcePolicy"},
			Condition: breakGlassOnly(readers),
		},
	)
}

// breakGlassOnly spares the break-glass roles from a Deny; with none, the
// Deny spares nobody.
func breakGlassOnly(readers []string) map[string]map[string]any {
	if len(readers) == 0 {
		return nil
	}
	return map[string]map[string]any{"StringNotEquals": {"aws:PrincipalArn": append([]string(nil), readers...)}}
}

// KeyPolicy is the talosconfig key's policy: the account administers and
// uses the key through IAM as with the default policy, except that Decrypt
// works only through Secrets Manager in this region, where the secret's
// policy decides who reads. So kms:Decrypt on "*" alone decrypts nothing.
// accountARN is the account's root principal (arn:<partition>:iam::<id>:root).
func KeyPolicy(accountARN, region string) iampolicy.Document {
	return iampolicy.New(
		iampolicy.Statement{Sid: "Administer", Effect: "Allow", Principal: map[string]string{"AWS": accountARN},
			NotAction: []string{"kms:Decrypt"}, Resource: "*"},
		iampolicy.Statement{Sid: "DecryptThroughSecretsManager", Effect: "Allow", Principal: map[string]string{"AWS": accountARN},
			Action: []string{"kms:Decrypt"}, Resource: "*",
			Condition: map[string]map[string]any{"StringEquals": {"kms:ViaService": "secretsmanager." + region + ".amazonaws.com"}}},
	)
}

// AccountRoot is the root principal of the account an IAM ARN is in.
func AccountRoot(iamARN string) (string, error) {
	p := strings.SplitN(iamARN, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[2] != "iam" || len(p[4]) != 12 {
		return "", fmt.Errorf("etcdguard: %q is not an IAM ARN", iamARN)
	}
	return "arn:" + p[1] + ":iam::" + p[4] + ":root", nil
}
