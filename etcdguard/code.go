// The Lambda's code in S3: a preview names it from the source hash and
// builds nothing; `up` builds it (or takes it from the cache) and uploads
// it, only when the object is not there yet.

package etcdguard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/talos-aws/talos-aws/config"
)

// Code is where the function's code is: an object of the guard's code
// bucket named by the source hash, so a preview shows a code update
// exactly when the guard's source changed.
type Code struct {
	Key string
	// Upload puts the zip at Key in the bucket unless it is there. The
	// program calls it in `up` only.
	Upload func(ctx context.Context, bucket string) error
}

// CodeKey is the object key of the zip built from sourceHash.
func CodeKey(sourceHash string) string { return "etcd-guard/" + sourceHash + ".zip" }

// SourceCode is the Code of the module at root: the key from SourceHash
// (files read, nothing built), and an Upload that builds into cacheDir and
// puts the zip with the stack's AWS credentials (ProviderConfig). logf
// reports a build.
func SourceCode(root, cacheDir, region string, creds config.AWS, logf func(string, ...any)) (Code, error) {
	sh, err := SourceHash(root, Toolchain)
	if err != nil {
		return Code{}, err
	}
	key := CodeKey(sh)
	return Code{Key: key, Upload: func(ctx context.Context, bucket string) error {
		cfg, err := ProviderConfig(ctx, region, creds)
		if err != nil {
			return fmt.Errorf("AWS credentials for the etcd guard's code upload (as %s in %s): %w", creds.Describe(), region, err)
		}
		s := ObjectStore{Config: cfg}
		found, err := s.Exists(ctx, bucket, key)
		if err != nil || found {
			return err
		}
		a, err := Build(root, cacheDir)
		if err != nil {
			return err
		}
		if a.SourceHash != sh {
			return fmt.Errorf("the etcd guard's source changed while `up` ran (hash %s, then %s): run `pulumi up` again", sh[:12], a.SourceHash[:12])
		}
		if a.Built {
			logf("built the etcd guard Lambda in %s", a.Elapsed.Round(time.Millisecond))
		}
		zip, err := os.ReadFile(a.Path)
		if err != nil {
			return err
		}
		return s.Put(ctx, bucket, key, zip)
	}}, nil
}

// ObjectStore makes the two S3 calls the upload needs, signed with SigV4
// by the AWS SDK's signer: the SDK's S3 client would add its package (tens
// of seconds of every cold compile) for a HEAD and a PUT.
type ObjectStore struct {
	Config aws.Config
	// HTTP defaults to http.DefaultClient.
	HTTP *http.Client
}

// emptySHA256 is the payload hash of a request without a body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// url is the object's virtual-hosted-style address in the configured
// region, or path style under Config.BaseEndpoint when one is set.
func (s ObjectStore) url(bucket, key string) string {
	path := "/" + key // keys are CodeKey's: no character needs escaping
	if e := aws.ToString(s.Config.BaseEndpoint); e != "" {
		return strings.TrimSuffix(e, "/") + "/" + url.PathEscape(bucket) + path
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(s.Config.Region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return fmt.Sprintf("https://%s.s3.%s.%s%s", bucket, s.Config.Region, domain, path)
}

func (s ObjectStore) do(ctx context.Context, method, bucket, key string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.url(bucket, key), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hash := emptySHA256
	if body != nil {
		h := sha256.Sum256(body)
		hash = hex.EncodeToString(h[:])
		// S3 checks the body against this before it stores the object.
		req.Header.Set("X-Amz-Checksum-Sha256", base64.StdEncoding.EncodeToString(h[:]))
		req.Header.Set("Content-Type", "application/zip")
		req.ContentLength = int64(len(body))
	}
	req.Header.Set("X-Amz-Content-Sha256", hash)
	return signedDo(ctx, s.Config, s.HTTP, req, hash, "s3")
}

// signedDo signs req with SigV4 for service in cfg's region, with cfg's
// credentials, and sends it (client nil: http.DefaultClient). payloadHash
// is the hex SHA-256 of the body.
func signedDo(ctx context.Context, cfg aws.Config, client *http.Client, req *http.Request, payloadHash, service string) (*http.Response, error) {
	if cfg.Credentials == nil {
		return nil, fmt.Errorf("no AWS credentials")
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, payloadHash, service, cfg.Region, time.Now().UTC()); err != nil {
		return nil, err
	}
	if client == nil {
		client = http.DefaultClient
	}
	return client.Do(req)
}

// Exists is HEAD on the object: true on 200, false on 404.
func (s ObjectStore) Exists(ctx context.Context, bucket, key string) (bool, error) {
	resp, err := s.do(ctx, http.MethodHead, bucket, key, nil)
	if err != nil {
		return false, fmt.Errorf("look for s3://%s/%s: %w", bucket, key, err)
	}
	_ = resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("look for s3://%s/%s: %s (the identity running `pulumi up` needs s3:GetObject and s3:ListBucket on the guard's code bucket)", bucket, key, resp.Status)
}

// Put uploads body to the object.
func (s ObjectStore) Put(ctx context.Context, bucket, key string, body []byte) error {
	if body == nil {
		body = []byte{}
	}
	resp, err := s.do(ctx, http.MethodPut, bucket, key, body)
	if err != nil {
		return fmt.Errorf("upload s3://%s/%s: %w", bucket, key, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fmt.Errorf("upload s3://%s/%s: %s: %s", bucket, key, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}
