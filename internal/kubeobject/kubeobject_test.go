package kubeobject

import (
	"encoding/json"
	"reflect"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	nodev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/node/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/internal/registertest"
)

// options are a parent, a dependency and RetainOnDelete, as the add-ons
// pass them.
func options(ctx *pulumi.Context) ([]pulumi.ResourceOption, error) {
	parent := &struct{ pulumi.ResourceState }{}
	if err := ctx.RegisterComponentResource("test:index:Parent", "parent", parent); err != nil {
		return nil, err
	}
	dep := &struct{ pulumi.ResourceState }{}
	if err := ctx.RegisterComponentResource("test:index:Dep", "dep", dep); err != nil {
		return nil, err
	}
	return []pulumi.ResourceOption{pulumi.Parent(parent), pulumi.DependsOn([]pulumi.Resource{dep}), pulumi.RetainOnDelete(true)}, nil
}

// The same objects through the SDK and through this package are the same
// requests to the engine: type, inputs, version, aliases, parent,
// dependencies and options.
func TestSameRequestsAsTheSDK(t *testing.T) {
	labels := map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}
	sdk := registertest.Requests(t, func(ctx *pulumi.Context) error {
		opts, err := options(ctx)
		if err != nil {
			return err
		}
		if _, err := corev1.NewNamespace(ctx, "ns", &corev1.NamespaceArgs{Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String("gpu-operator"), Labels: pulumi.ToStringMap(labels)}}, opts...); err != nil {
			return err
		}
		_, err = nodev1.NewRuntimeClass(ctx, "rc", &nodev1.RuntimeClassArgs{Handler: pulumi.String("nvidia"),
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("nvidia")}}, opts...)
		return err
	})
	ours := registertest.Requests(t, func(ctx *pulumi.Context) error {
		opts, err := options(ctx)
		if err != nil {
			return err
		}
		if _, err := Namespace(ctx, "ns", "gpu-operator", labels, opts...); err != nil {
			return err
		}
		_, err = RuntimeClass(ctx, "rc", "nvidia", "nvidia", opts...)
		return err
	})
	for name, typ := range map[string]string{"ns": NamespaceType, "rc": RuntimeClassType} {
		a, b := sdk[name], ours[name]
		if a == nil || b == nil {
			t.Fatalf("%s: missing registration: sdk %v, ours %v", name, a != nil, b != nil)
		}
		if a["type"] != typ || a["version"] != ProviderVersion {
			t.Errorf("the SDK registers %v at version %v; this package says %s at %s", a["type"], a["version"], typ, ProviderVersion)
		}
		if !reflect.DeepEqual(a, b) {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			t.Errorf("%s: requests differ:\nSDK  %s\nours %s", name, ja, jb)
		}
	}
}

// Every input is the SDK's, by name and shape.
func TestInputsAreTheSDKs(t *testing.T) {
	for _, c := range []struct {
		sdk, ours reflect.Type
	}{
		{corev1.NamespaceArgs{}.ElementType(), namespaceInputs{}.ElementType()},
		{nodev1.RuntimeClassArgs{}.ElementType(), runtimeClassInputs{}.ElementType()},
	} {
		theirs := map[string]reflect.Type{}
		for i := range c.sdk.NumField() {
			theirs[c.sdk.Field(i).Tag.Get("pulumi")] = c.sdk.Field(i).Type
		}
		for i := range c.ours.NumField() {
			f := c.ours.Field(i)
			tag := f.Tag.Get("pulumi")
			typ, ok := theirs[tag]
			switch {
			case !ok:
				t.Errorf("%s: input %q is not the SDK's", c.ours, tag)
			case tag == "metadata":
				// The SDK's ObjectMeta, a map of two of its fields here:
				// the request test shows they marshal alike.
				if typ != reflect.TypeOf(&metav1.ObjectMeta{}) {
					t.Errorf("%s: the SDK's metadata is %s, not an ObjectMeta", c.ours, typ)
				}
			case typ != f.Type:
				t.Errorf("%s: input %q is %s in the SDK, %s here", c.ours, tag, typ, f.Type)
			}
		}
	}
}
