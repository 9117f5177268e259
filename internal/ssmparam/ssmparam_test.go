package ssmparam

import (
	"encoding/json"
	"reflect"
	"testing"

	sdk "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/internal/registertest"
)

// The guard's suspects parameter through the SDK and through New is the
// same request: type, inputs (the value a secret), version, parent,
// options (value an additional secret output, ignoreChanges).
func TestSameRequestAsTheSDK(t *testing.T) {
	opts := func(ctx *pulumi.Context) ([]pulumi.ResourceOption, error) {
		p := &struct{ pulumi.ResourceState }{}
		if err := ctx.RegisterComponentResource("test:index:Parent", "parent", p); err != nil {
			return nil, err
		}
		return []pulumi.ResourceOption{pulumi.Parent(p), pulumi.IgnoreChanges([]string{"value"})}, nil
	}
	tags := pulumi.StringMap{"Name": pulumi.String("prod-etcd-guard")}
	theirs := registertest.Requests(t, func(ctx *pulumi.Context) error {
		o, err := opts(ctx)
		if err != nil {
			return err
		}
		_, err = sdk.NewParameter(ctx, "suspects", &sdk.ParameterArgs{
			Name: pulumi.String("/talos-aws/prod/etcd-guard/suspects"), Type: pulumi.String("String"), Value: pulumi.String("-"),
			Description: pulumi.String("d"), Tags: tags,
		}, o...)
		return err
	})
	ours := registertest.Requests(t, func(ctx *pulumi.Context) error {
		o, err := opts(ctx)
		if err != nil {
			return err
		}
		_, err = New(ctx, "suspects", Args{
			Name: pulumi.String("/talos-aws/prod/etcd-guard/suspects"), Type: pulumi.String("String"), Value: pulumi.String("-"),
			Description: pulumi.String("d"), Tags: tags,
		}, o...)
		return err
	})
	a, b := theirs["suspects"], ours["suspects"]
	if a == nil || b == nil {
		t.Fatalf("missing registration: sdk %v, ours %v", a != nil, b != nil)
	}
	if a["type"] != Type || a["version"] != ProviderVersion {
		t.Errorf("the SDK registers %v at %v; this package says %s at %s", a["type"], a["version"], Type, ProviderVersion)
	}
	if !reflect.DeepEqual(a, b) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		t.Errorf("requests differ:\nSDK  %s\nours %s", ja, jb)
	}
}
