// Package registertest runs a Pulumi program under mocks and returns each
// resource's whole registration request, for the tests that demand a
// typed registration (internal/helmrelease, internal/cloudfront, internal/kubeobject,
// internal/ssmparam) send exactly the SDK's request. Only tests import it.
package registertest

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"google.golang.org/protobuf/encoding/protojson"
)

type recorder struct {
	mu    sync.Mutex
	reqs  map[string]map[string]any
	extra resource.PropertyMap
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
	// Where in the source the call was made is all that may differ.
	delete(v, "sourcePosition")
	delete(v, "stackTrace")
	r.mu.Lock()
	r.reqs[a.Name] = v
	r.mu.Unlock()
	out := a.Inputs.Copy()
	for k, x := range r.extra {
		out[k] = x
	}
	return a.Name + "_id", out, nil
}

func (r *recorder) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

// Requests runs body under mocks and returns every resource's request, by
// name. Each resource's outputs are its inputs plus those in extra.
func Requests(t testing.TB, body func(ctx *pulumi.Context) error, extra ...resource.PropertyMap) map[string]map[string]any {
	t.Helper()
	rec := &recorder{reqs: map[string]map[string]any{}, extra: resource.PropertyMap{}}
	for _, e := range extra {
		for k, v := range e {
			rec.extra[k] = v
		}
	}
	if err := pulumi.RunErr(body, pulumi.WithMocks("p", "s", rec)); err != nil {
		t.Fatal(err)
	}
	return rec.reqs
}
