// Package helmrelease registers Helm releases as pulumi-kubernetes'
// kubernetes:helm.sh/v3:Release, with exactly the inputs this program sets,
// without compiling the SDK's helm/v3 package: that package (for its Chart
// component) imports kubernetes/yaml and through it all 69 API-group
// packages of the SDK, which were most of the program's cold compile. The
// registration is the SDK's own: same type token, same provider version,
// same input names and shapes, and the SDK's fixed compat flag; a test
// (helmrelease_test.go) registers a release both ways under Pulumi's mocks
// and demands identical requests, so the two cannot drift apart.
package helmrelease

import (
	"errors"
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type is the Release's type token (pulumi-kubernetes v4.32.0
// sdk/go/kubernetes/helm/v3/release.go, NewRelease).
const Type = "kubernetes:helm.sh/v3:Release"

// ProviderVersion is the pulumi-kubernetes version the SDK stamps on every
// registration (utilities.PkgResourceDefaultOpts); it is go.mod's version
// of the SDK, which the drift test checks.
const ProviderVersion = "4.32.0"

// Args are the Release inputs this program sets. Their names and types are
// the SDK's ReleaseArgs fields of the same name.
type Args struct {
	Name            pulumi.StringPtrInput
	Chart           pulumi.StringInput
	Version         pulumi.StringPtrInput
	Namespace       pulumi.StringPtrInput
	CreateNamespace pulumi.BoolPtrInput
	Values          pulumi.MapInput
	Timeout         pulumi.IntPtrInput
	Atomic          pulumi.BoolPtrInput
	// Repo is repositoryOpts.repo; empty for an OCI chart.
	Repo string
}

// releaseArgs is what the inputs marshal as: the SDK's releaseArgs names.
type releaseArgs struct {
	Atomic          *bool          `pulumi:"atomic"`
	Chart           string         `pulumi:"chart"`
	Compat          *string        `pulumi:"compat"`
	CreateNamespace *bool          `pulumi:"createNamespace"`
	Name            *string        `pulumi:"name"`
	Namespace       *string        `pulumi:"namespace"`
	RepositoryOpts  map[string]any `pulumi:"repositoryOpts"`
	Timeout         *int           `pulumi:"timeout"`
	Values          map[string]any `pulumi:"values"`
	Version         *string        `pulumi:"version"`
}

type inputs struct {
	Atomic          pulumi.BoolPtrInput   `pulumi:"atomic"`
	Chart           pulumi.StringInput    `pulumi:"chart"`
	Compat          pulumi.StringPtrInput `pulumi:"compat"`
	CreateNamespace pulumi.BoolPtrInput   `pulumi:"createNamespace"`
	Name            pulumi.StringPtrInput `pulumi:"name"`
	Namespace       pulumi.StringPtrInput `pulumi:"namespace"`
	RepositoryOpts  pulumi.MapInput       `pulumi:"repositoryOpts"`
	Timeout         pulumi.IntPtrInput    `pulumi:"timeout"`
	Values          pulumi.MapInput       `pulumi:"values"`
	Version         pulumi.StringPtrInput `pulumi:"version"`
}

func (inputs) ElementType() reflect.Type { return reflect.TypeOf((*releaseArgs)(nil)).Elem() }

// Release is a registered release and the one output the program reads.
type Release struct {
	pulumi.CustomResourceState

	// Status is the release's status object (the SDK's ReleaseStatus).
	Status pulumi.AnyOutput `pulumi:"status"`
}

// StatusVersion is status.version, the chart version installed.
func (r *Release) StatusVersion() pulumi.StringPtrOutput {
	return r.Status.ApplyT(func(v any) *string {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		s, ok := m["version"].(string)
		if !ok {
			return nil
		}
		return &s
	}).(pulumi.StringPtrOutput)
}

// New registers a release as helmv3.NewRelease would with the same Args.
func New(ctx *pulumi.Context, name string, a Args, opts ...pulumi.ResourceOption) (*Release, error) {
	if a.Chart == nil {
		return nil, errors.New("helmrelease: a release needs a chart")
	}
	in := inputs{
		Atomic: a.Atomic, Chart: a.Chart, CreateNamespace: a.CreateNamespace, Name: a.Name, Namespace: a.Namespace,
		Timeout: a.Timeout, Values: a.Values, Version: a.Version,
		// The SDK sets compat "true" on every Release it registers.
		Compat: pulumi.StringPtr("true"),
	}
	if a.Repo != "" {
		in.RepositoryOpts = pulumi.Map{"repo": pulumi.String(a.Repo)}
	}
	var r Release
	err := ctx.RegisterResource(Type, name, in, &r, append([]pulumi.ResourceOption{pulumi.Version(ProviderVersion)}, opts...)...)
	if err != nil {
		return nil, err
	}
	return &r, nil
}
