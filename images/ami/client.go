package ami

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// unsignedPayload is SigV4's payload hash for a body left out of the
// signature: PutSnapshotBlock's block, which its SHA-256 checksum header
// (signed) covers instead (PutSnapshotBlockInput.BlockData, aws-sdk-go-v2
// service/ebs v1.43.5; the SDK adds the unsigned-payload middleware to
// that operation alone).
const unsignedPayload = "UNSIGNED-PAYLOAD"

// client makes signed calls to EC2's Query API and the EBS direct APIs,
// by hand with the SDK's SigV4 signer, as etcdguard does for S3 and
// Secrets Manager: the SDK's EC2 client is the heaviest package of the
// SDK (minutes of a cold compile) for three calls.
type client struct {
	cfg  aws.Config
	http *http.Client
	ec2  string // endpoint, no trailing slash
	ebs  string
	// retry policy
	attempts int
	base     time.Duration
}

func (c *client) domain() string {
	if strings.HasPrefix(c.cfg.Region, "cn-") {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

func (c *client) ec2Endpoint() string {
	if c.ec2 != "" {
		return strings.TrimSuffix(c.ec2, "/")
	}
	return fmt.Sprintf("https://ec2.%s.%s", c.cfg.Region, c.domain())
}

func (c *client) ebsEndpoint() string {
	if c.ebs != "" {
		return strings.TrimSuffix(c.ebs, "/")
	}
	return fmt.Sprintf("https://ebs.%s.%s", c.cfg.Region, c.domain())
}

// send signs req for service with the configuration's credentials and
// sends it.
func (c *client) send(ctx context.Context, req *http.Request, payloadHash, service string) (*http.Response, error) {
	if c.cfg.Credentials == nil {
		return nil, errors.New("no AWS credentials")
	}
	creds, err := c.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, payloadHash, service, c.cfg.Region, time.Now().UTC()); err != nil {
		return nil, err
	}
	return c.http.Do(req)
}

// apiError is an AWS error answer.
type apiError struct {
	Op      string
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s: %d %s: %s", e.Op, e.Status, e.Code, e.Message)
}

// retryable: server faults, throttling and the network; never a client
// error, which a retry would only repeat.
func retryable(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		if ae.Status >= 500 || ae.Status == http.StatusTooManyRequests {
			return true
		}
		switch ae.Code {
		case "RequestThrottledException", "ThrottlingException", "Throttling", "RequestLimitExceeded", "InternalError", "Unavailable", "ServiceUnavailable",
			// EBS direct APIs' "Error retries": retryable though 4xx.
			"ConcurrentLimitExceededException", "InvalidSignatureException":
			return true
		case "ValidationException":
			return strings.Contains(ae.Message, "Failed to read block data")
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, errTransient)
}

var errTransient = errors.New("transient")

// retry runs f until it succeeds, fails for good, or attempts run out,
// backing off exponentially with full jitter (AWS's "Error retries"
// advice, which the EBS direct API reference gives for PutSnapshotBlock).
func (c *client) retry(ctx context.Context, f func(ctx context.Context) error) error {
	var err error
	for attempt := 0; attempt < c.attempts; attempt++ {
		if err = f(ctx); err == nil || !retryable(err) {
			return err
		}
		if attempt == c.attempts-1 {
			break
		}
		d := c.base << attempt
		d = time.Duration(rand.Int64N(int64(d) + 1)) //nolint:gosec // jitter, not a secret
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(d):
		}
	}
	return fmt.Errorf("after %d attempts: %w", c.attempts, err)
}

// readAll reads at most 1 MiB of an answer.
func readAll(resp *http.Response) ([]byte, error) {
	defer func() { _ = resp.Body.Close() }()
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func newRequest(ctx context.Context, method, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(body))
	return req, nil
}
