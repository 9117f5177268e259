// Package tags builds the AWS tags of one resource.
package tags

import (
	"maps"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// For returns the stack's tags (cluster tag included) plus the resource's
// Name and any extra tags; extras win.
func For(stack map[string]string, name string, extra map[string]string) pulumi.StringMap {
	m := map[string]string{}
	maps.Copy(m, stack)
	m["Name"] = name
	maps.Copy(m, extra)
	return pulumi.ToStringMap(m)
}
