package awsapi

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/talos-aws/talos-aws/etcdguard/lambda/guard"
)

// A DescribeInstances answer shaped as EC2 documents it (trimmed).
const describeXML = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId>
  <reservationSet>
    <item><reservationId>r-1</reservationId><instancesSet>
      <item><instanceId>i-0a</instanceId><privateIpAddress>10.0.1.10</privateIpAddress>
        <networkInterfaceSet><item><privateIpAddress>10.0.1.10</privateIpAddress></item></networkInterfaceSet></item>
    </instancesSet></item>
    <item><reservationId>r-2</reservationId><instancesSet>
      <item><instanceId>i-0b</instanceId><privateIpAddress>10.0.2.10</privateIpAddress></item>
    </instancesSet></item>
  </reservationSet>%s
</DescribeInstancesResponse>`

func TestEC2PrivateIPs(t *testing.T) {
	var forms []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/") ||
			!strings.Contains(auth, "/ap-southeast-1/ec2/aws4_request") {
			http.Error(w, "unsigned", http.StatusForbidden)
			return
		}
		b, _ := io.ReadAll(r.Body)
		f, _ := url.ParseQuery(string(b))
		forms = append(forms, f)
		if f.Get("NextToken") == "" {
			_, _ = io.WriteString(w, strings.Replace(describeXML, "%s", "<nextToken>more</nextToken>", 1))
			return
		}
		_, _ = io.WriteString(w, strings.Replace(strings.Replace(describeXML, "%s", "", 1), "i-0a", "i-0c", 1))
	}))
	defer srv.Close()
	e := &EC2{Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), Region: "ap-southeast-1", Endpoint: srv.URL + "/"}
	ips, err := e.PrivateIPs(t.Context(), []string{"i-0a", "i-0b", "i-0c"})
	if err != nil {
		t.Fatal(err)
	}
	if ips["i-0a"] != "10.0.1.10" || ips["i-0b"] != "10.0.2.10" || ips["i-0c"] != "10.0.1.10" || len(ips) != 3 {
		t.Fatalf("ips = %v", ips)
	}
	if len(forms) != 2 || forms[0].Get("Action") != "DescribeInstances" || forms[0].Get("Version") != ec2APIVersion ||
		forms[0].Get("InstanceId.3") != "i-0c" || forms[1].Get("NextToken") != "more" {
		t.Fatalf("requests = %v", forms)
	}
}

func TestEC2Error(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>not allowed</Message></Error></Errors></Response>`)
	}))
	defer srv.Close()
	e := &EC2{Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), Region: "eu-west-1", Endpoint: srv.URL + "/"}
	if _, err := e.PrivateIPs(t.Context(), []string{"i-1"}); err == nil || !strings.Contains(err.Error(), "UnauthorizedOperation: not allowed") {
		t.Fatalf("err = %v", err)
	}
	if (&EC2{Region: "cn-north-1"}).endpoint() != "https://ec2.cn-north-1.amazonaws.com.cn/" {
		t.Fatal("China regions live under amazonaws.com.cn")
	}
}

// A DescribeAutoScalingGroups answer shaped as Auto Scaling documents it
// (trimmed): one node in service, one retired at the terminate hook.
const describeGroupsXML = `<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <DescribeAutoScalingGroupsResult><AutoScalingGroups><member>
    <AutoScalingGroupName>prod-cp</AutoScalingGroupName><DesiredCapacity>3</DesiredCapacity>
    <Instances>
      <member><InstanceId>i-0a</InstanceId><LifecycleState>InService</LifecycleState><HealthStatus>Healthy</HealthStatus><AvailabilityZone>eu-west-1a</AvailabilityZone><ProtectedFromScaleIn>true</ProtectedFromScaleIn></member>
      <member><InstanceId>i-0b</InstanceId><LifecycleState>Terminating:Wait</LifecycleState><HealthStatus>Unhealthy</HealthStatus><AvailabilityZone>eu-west-1b</AvailabilityZone><ProtectedFromScaleIn>true</ProtectedFromScaleIn></member>
    </Instances>
  </member></AutoScalingGroups></DescribeAutoScalingGroupsResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</DescribeAutoScalingGroupsResponse>`

// Issue 27: a DescribeInstances failure ended the guard's run before any
// heartbeat. The group's instances now come back without addresses, with
// guard.ErrAddresses, so the run can hold their hooks.
func TestInstancesWithoutAddresses(t *testing.T) {
	asg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, describeGroupsXML)
	}))
	defer asg.Close()
	ec2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors></Response>`)
	}))
	defer ec2.Close()
	creds := credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")
	a := &ASG{
		AutoScaling: autoscaling.New(autoscaling.Options{Region: "eu-west-1", Credentials: creds, BaseEndpoint: aws.String(asg.URL), RetryMaxAttempts: 1}),
		EC2:         &EC2{Credentials: creds, Region: "eu-west-1", Endpoint: ec2.URL + "/"},
		Name:        "prod-cp",
	}
	ins, err := a.Instances(t.Context())
	if !errors.Is(err, guard.ErrAddresses) || !strings.Contains(err.Error(), "RequestLimitExceeded") {
		t.Fatalf("err = %v, want guard.ErrAddresses with EC2's error", err)
	}
	if len(ins) != 2 || ins[1].ID != "i-0b" || ins[1].State != guard.TerminatingWait || ins[0].PrivateIP != "" || ins[1].PrivateIP != "" {
		t.Fatalf("instances %+v: want both, in their states, without addresses", ins)
	}
}
