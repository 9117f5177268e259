package ssmparam

import (
	"encoding/json"
	"reflect"
	"sync"
	"testing"

	sdk "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"google.golang.org/protobuf/encoding/protojson"
)

type recorder struct {
	mu   sync.Mutex
	reqs map[string]map[string]any
}

func (r *recorder) NewResource(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	b, err := protojson.Marshal(a.RegisterRPC)
	if err != nil {
		return "", nil, err
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return "", nil, err
	}
	delete(v, "sourcePosition")
	delete(v, "stackTrace")
	r.mu.Lock()
	r.reqs[a.Name] = v
	r.mu.Unlock()
	return a.Name + "_id", a.Inputs, nil
}

func (r *recorder) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func register(t *testing.T, body func(ctx *pulumi.Context) error) map[string]map[string]any {
	t.Helper()
	rec := &recorder{reqs: map[string]map[string]any{}}
	if err := pulumi.RunErr(body, pulumi.WithMocks("p", "s", rec)); err != nil {
		t.Fatal(err)
	}
	return rec.reqs
}

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
	theirs := register(t, func(ctx *pulumi.Context) error {
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
	ours := register(t, func(ctx *pulumi.Context) error {
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
