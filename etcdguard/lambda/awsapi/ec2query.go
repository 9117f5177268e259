package awsapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The guard needs one EC2 call, DescribeInstances for private addresses.
// The generated EC2 client (aws-sdk-go-v2/service/ec2) is 14 MB of the
// Lambda binary and most of its compile time, so the call is made here on
// the EC2 Query API (version 2016-11-15), signed with the SDK's SigV4
// signer and credentials.

const ec2APIVersion = "2016-11-15"

// EC2 describes instances' private addresses.
type EC2 struct {
	Credentials aws.CredentialsProvider
	Region      string
	// Endpoint overrides https://ec2.<region>.amazonaws.com (tests).
	Endpoint string
	HTTP     *http.Client
}

// NewEC2 uses the configuration's credentials and region.
func NewEC2(cfg aws.Config) *EC2 {
	return &EC2{Credentials: cfg.Credentials, Region: cfg.Region}
}

func (e *EC2) endpoint() string {
	if e.Endpoint != "" {
		return e.Endpoint
	}
	host := "ec2." + e.Region + ".amazonaws.com"
	if strings.HasPrefix(e.Region, "cn-") {
		host += ".cn"
	}
	return "https://" + host + "/"
}

type describeInstancesResponse struct {
	Reservations []struct {
		Instances []struct {
			ID        string `xml:"instanceId"`
			PrivateIP string `xml:"privateIpAddress"`
		} `xml:"instancesSet>item"`
	} `xml:"reservationSet>item"`
	NextToken string `xml:"nextToken"`
}

type ec2ErrorResponse struct {
	Errors []struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Errors>Error"`
}

// PrivateIPs maps instance ids to private addresses.
func (e *EC2) PrivateIPs(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	token := ""
	for {
		form := url.Values{"Action": {"DescribeInstances"}, "Version": {ec2APIVersion}}
		for i, id := range ids {
			form.Set("InstanceId."+strconv.Itoa(i+1), id)
		}
		if token != "" {
			form.Set("NextToken", token)
		}
		var resp describeInstancesResponse
		if err := e.call(ctx, form, &resp); err != nil {
			return nil, err
		}
		for _, r := range resp.Reservations {
			for _, in := range r.Instances {
				out[in.ID] = in.PrivateIP
			}
		}
		if resp.NextToken == "" {
			return out, nil
		}
		token = resp.NextToken
	}
}

func (e *EC2) call(ctx context.Context, form url.Values, into any) error {
	body := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint(), strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	creds, err := e.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("ec2 credentials: %w", err)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ec2", e.Region, time.Now()); err != nil {
		return err
	}
	client := e.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("ec2 %s: %w", form.Get("Action"), err)
	}
	defer res.Body.Close() //nolint:errcheck // read fully above; nothing to do on a close error
	b, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		var er ec2ErrorResponse
		if xml.Unmarshal(b, &er) == nil && len(er.Errors) > 0 {
			return fmt.Errorf("ec2 %s: %s: %s", form.Get("Action"), er.Errors[0].Code, er.Errors[0].Message)
		}
		return fmt.Errorf("ec2 %s: HTTP %d", form.Get("Action"), res.StatusCode)
	}
	return xml.Unmarshal(b, into)
}
