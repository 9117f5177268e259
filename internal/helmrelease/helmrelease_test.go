package helmrelease

import (
	"encoding/json"
	"reflect"
	"testing"

	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/internal/registertest"
)

// recorder keeps each registration's full request.

// The same release through the SDK's helmv3.NewRelease and through New
// must be the same request to the engine: type, inputs, version, parent,
// provider, dependencies and options. That is what keeps an existing
// stack's releases (and the workloads Helm installed) where they are.
func TestSameRequestAsTheSDK(t *testing.T) {
	for _, c := range []struct {
		name string
		repo string
	}{{"with a repository", "https://helm.cilium.io"}, {"OCI chart, no repository", ""}} {
		t.Run(c.name, func(t *testing.T) {
			values := func(ctx *pulumi.Context) pulumi.Map {
				// A nested map, a list, and an output, as the add-ons pass.
				return pulumi.Map{
					"ipam":     pulumi.Map{"mode": pulumi.String("kubernetes")},
					"args":     pulumi.ToStringArray([]string{"--a", "--b"}),
					"replicas": pulumi.Int(2),
					"queueURL": pulumi.String("https://sqs.example/q").ToStringOutput(),
				}
			}
			options := func(ctx *pulumi.Context) ([]pulumi.ResourceOption, error) {
				parent := &struct{ pulumi.ResourceState }{}
				if err := ctx.RegisterComponentResource("test:index:Parent", "parent", parent); err != nil {
					return nil, err
				}
				dep := &struct{ pulumi.ResourceState }{}
				if err := ctx.RegisterComponentResource("test:index:Dep", "dep", dep); err != nil {
					return nil, err
				}
				return []pulumi.ResourceOption{pulumi.Parent(parent), pulumi.DependsOn([]pulumi.Resource{dep})}, nil
			}
			sdk := registertest.Requests(t, func(ctx *pulumi.Context) error {
				opts, err := options(ctx)
				if err != nil {
					return err
				}
				ra := &helmv3.ReleaseArgs{
					Name: pulumi.String("cilium"), Chart: pulumi.String("cilium"), Version: pulumi.String("1.18.4"),
					Namespace: pulumi.String("kube-system"), CreateNamespace: pulumi.Bool(false), Values: values(ctx),
					Timeout: pulumi.Int(600), Atomic: pulumi.Bool(false),
				}
				if c.repo != "" {
					ra.RepositoryOpts = &helmv3.RepositoryOptsArgs{Repo: pulumi.String(c.repo)}
				}
				_, err = helmv3.NewRelease(ctx, "addons-cilium", ra, opts...)
				return err
			})
			ours := registertest.Requests(t, func(ctx *pulumi.Context) error {
				opts, err := options(ctx)
				if err != nil {
					return err
				}
				_, err = New(ctx, "addons-cilium", Args{
					Name: pulumi.String("cilium"), Chart: pulumi.String("cilium"), Version: pulumi.String("1.18.4"),
					Namespace: pulumi.String("kube-system"), CreateNamespace: pulumi.Bool(false), Values: values(ctx),
					Timeout: pulumi.Int(600), Atomic: pulumi.Bool(false), Repo: c.repo,
				}, opts...)
				return err
			})
			a, b := sdk["addons-cilium"], ours["addons-cilium"]
			if a == nil || b == nil {
				t.Fatalf("missing registration: sdk %v, ours %v", a != nil, b != nil)
			}
			if a["type"] != Type || a["version"] != ProviderVersion {
				t.Errorf("the SDK registers %v at version %v; this package says %s at %s", a["type"], a["version"], Type, ProviderVersion)
			}
			if !reflect.DeepEqual(a, b) {
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				t.Errorf("requests differ:\nSDK  %s\nours %s", ja, jb)
			}
		})
	}
}

// Every input this package sends is an SDK ReleaseArgs input of the same
// name; a field the SDK renamed or dropped fails here.
func TestInputsAreTheSDKs(t *testing.T) {
	sdk := helmv3.ReleaseArgs{}.ElementType()
	theirs := map[string]reflect.Type{}
	for i := range sdk.NumField() {
		f := sdk.Field(i)
		theirs[f.Tag.Get("pulumi")] = f.Type
	}
	ours := inputs{}.ElementType()
	for i := range ours.NumField() {
		f := ours.Field(i)
		tag := f.Tag.Get("pulumi")
		typ, ok := theirs[tag]
		switch {
		case !ok:
			t.Errorf("input %q is not a Release input of the SDK", tag)
		case tag == "repositoryOpts":
			// A map here, the SDK's RepositoryOpts struct there: the request
			// test shows both marshal to the same object.
			if typ.Kind() != reflect.Pointer || typ.Elem().Kind() != reflect.Struct {
				t.Errorf("the SDK's repositoryOpts is %s, not an object", typ)
			}
		case typ != f.Type:
			t.Errorf("input %q: the SDK's type is %s, this package's %s", tag, typ, f.Type)
		}
	}
}
