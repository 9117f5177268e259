// Package kubeobject registers the two plain Kubernetes objects the stack
// makes besides Helm releases, a Namespace with labels and a
// RuntimeClass (the NVIDIA add-ons of GPU pools, images.NVIDIAAddonsFor),
// as pulumi-kubernetes' kubernetes:core/v1:Namespace and
// kubernetes:node.k8s.io/v1:RuntimeClass, without compiling the SDK's
// core/v1 package: 5 MB of generated Go (with meta/v1 and node/v1, a
// minute of a cold compile on two cores) for two small objects. As
// internal/helmrelease does for releases, the registration is the SDK's
// own (type, provider version, input names, the RuntimeClass' aliases),
// and a test registers each both ways under Pulumi's mocks and demands
// identical requests.
package kubeobject

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The type tokens (pulumi-kubernetes v4.32.0 sdk/go/kubernetes/core/v1
// namespace.go NewNamespace, node/v1 runtimeClass.go NewRuntimeClass).
const (
	NamespaceType    = "kubernetes:core/v1:Namespace"
	RuntimeClassType = "kubernetes:node.k8s.io/v1:RuntimeClass"
)

// ProviderVersion is the pulumi-kubernetes version the SDK stamps on every
// registration (utilities.PkgResourceDefaultOpts): go.mod's, as
// helmrelease.ProviderVersion.
const ProviderVersion = "4.32.0"

type namespaceArgs struct {
	ApiVersion *string `pulumi:"apiVersion"` //nolint:revive // the SDK's field name
	Kind       *string `pulumi:"kind"`
	// Metadata is the ObjectMeta's name and labels (meta).
	Metadata map[string]any `pulumi:"metadata"`
}

type namespaceInputs struct {
	ApiVersion pulumi.StringPtrInput `pulumi:"apiVersion"` //nolint:revive // the SDK's field name
	Kind       pulumi.StringPtrInput `pulumi:"kind"`
	Metadata   pulumi.MapInput       `pulumi:"metadata"`
}

func (namespaceInputs) ElementType() reflect.Type {
	return reflect.TypeOf((*namespaceArgs)(nil)).Elem()
}

type runtimeClassArgs struct {
	ApiVersion *string `pulumi:"apiVersion"` //nolint:revive // the SDK's field name
	Handler    string  `pulumi:"handler"`
	Kind       *string `pulumi:"kind"`
	// Metadata is the ObjectMeta's name and labels (meta).
	Metadata map[string]any `pulumi:"metadata"`
}

type runtimeClassInputs struct {
	ApiVersion pulumi.StringPtrInput `pulumi:"apiVersion"` //nolint:revive // the SDK's field name
	Handler    pulumi.StringInput    `pulumi:"handler"`
	Kind       pulumi.StringPtrInput `pulumi:"kind"`
	Metadata   pulumi.MapInput       `pulumi:"metadata"`
}

func (runtimeClassInputs) ElementType() reflect.Type {
	return reflect.TypeOf((*runtimeClassArgs)(nil)).Elem()
}

// Object is a registered object; the stack reads none of its outputs.
type Object struct {
	pulumi.CustomResourceState
}

func meta(name string, labels map[string]string) pulumi.Map {
	m := pulumi.Map{"name": pulumi.String(name)}
	if len(labels) > 0 {
		m["labels"] = pulumi.ToStringMap(labels)
	}
	return m
}

// Namespace registers a Namespace named name with labels, as
// corev1.NewNamespace would with metadata {name, labels}.
func Namespace(ctx *pulumi.Context, resourceName, name string, labels map[string]string, opts ...pulumi.ResourceOption) (*Object, error) {
	in := namespaceInputs{ApiVersion: pulumi.StringPtr("v1"), Kind: pulumi.StringPtr("Namespace"), Metadata: meta(name, labels)}
	var o Object
	if err := ctx.RegisterResource(NamespaceType, resourceName, in, &o, append([]pulumi.ResourceOption{pulumi.Version(ProviderVersion)}, opts...)...); err != nil {
		return nil, err
	}
	return &o, nil
}

// RuntimeClass registers a RuntimeClass named name for a CRI handler, as
// nodev1.NewRuntimeClass would with metadata {name} and handler: with the
// SDK's aliases to the class's earlier API versions.
func RuntimeClass(ctx *pulumi.Context, resourceName, name, handler string, opts ...pulumi.ResourceOption) (*Object, error) {
	in := runtimeClassInputs{ApiVersion: pulumi.StringPtr("node.k8s.io/v1"), Handler: pulumi.String(handler),
		Kind: pulumi.StringPtr("RuntimeClass"), Metadata: meta(name, nil)}
	aliases := pulumi.Aliases([]pulumi.Alias{
		{Type: pulumi.String("kubernetes:node.k8s.io/v1alpha1:RuntimeClass")},
		{Type: pulumi.String("kubernetes:node.k8s.io/v1beta1:RuntimeClass")},
	})
	var o Object
	all := append([]pulumi.ResourceOption{pulumi.Version(ProviderVersion)}, append(opts, aliases)...)
	if err := ctx.RegisterResource(RuntimeClassType, resourceName, in, &o, all...); err != nil {
		return nil, err
	}
	return &o, nil
}
