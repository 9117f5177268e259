package preflight

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// HomeRegion is a region of the same partition that is enabled in every
// account (opt-in regions cannot include it), used to ask about the
// configured region when that region itself does not answer.
func HomeRegion(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "cn-north-1"
	case strings.HasPrefix(region, "us-gov-"):
		return "us-gov-west-1"
	}
	return "us-east-1"
}

// CredentialsError is the message for AWS credentials that do not resolve.
func CredentialsError(region string, cause error) error {
	return fmt.Errorf("preflight: AWS credentials did not resolve for region %s: %s\n"+
		"Fix one of: `aws configure` (access keys), `export AWS_PROFILE=<profile>` (a named profile), "+
		"`aws sso login --profile <profile>` (an expired SSO session); `aws sts get-caller-identity` must print your account before `pulumi preview` can",
		region, firstLine(cause.Error()))
}

// OptInError is the message for a region the account has not enabled.
func OptInError(region string) error {
	return fmt.Errorf("preflight: region %s is an opt-in region that this AWS account has not enabled (config key region)\n"+
		"Fix: `aws account enable-region --region-name %s`, wait until `aws account get-region-opt-status --region-name %s` says ENABLED "+
		"(minutes, sometimes hours), then run again; or choose an enabled region: `pulumi config set region <region>`",
		region, region, region)
}

// CheckIPURL answers with the caller's public IPv4 address.
const CheckIPURL = "https://checkip.amazonaws.com"

// PublicAddress asks CheckIPURL for this machine's public IPv4 address,
// within 3 seconds. It is the only call the program makes outside AWS's
// APIs; main wires it in, tests never do.
func PublicAddress(ctx context.Context) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, CheckIPURL, nil)
	if err != nil {
		return netip.Addr{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return netip.Addr{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return netip.Addr{}, fmt.Errorf("%s: %s", CheckIPURL, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.ParseAddr(strings.TrimSpace(string(b)))
}

// AdminCIDRWarning returns a warning when no adminCidrs entry contains addr,
// and "" when one does.
func AdminCIDRWarning(adminCIDRs []string, addr netip.Addr) string {
	for _, c := range adminCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(addr) {
			return ""
		}
	}
	return fmt.Sprintf("adminCidrs %v does not contain this machine's public address %s (from %s): "+
		"the bootstrap and the kubeconfig go through the public NLB, which admits only adminCidrs, so `pulumi up` will time out waiting for the cluster. "+
		"Fix: `pulumi config set --path 'adminCidrs[%d]' %s/32`",
		adminCIDRs, addr, CheckIPURL, len(adminCIDRs), addr)
}
