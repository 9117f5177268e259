// Package configtest parses stack configurations for tests of the stage
// packages. It imports only config, so any package's tests can use it.
package configtest

import (
	"testing"

	"github.com/talos-aws/talos-aws/config"
)

// AdminCIDRs is the adminCidrs every parsed test configuration has unless
// it sets its own.
const AdminCIDRs = `["203.0.113.10/32"]`

// Parse parses kv as project config on top of a valid adminCidrs and fails
// the test on any error.
func Parse(t testing.TB, kv map[string]string) *config.Config {
	t.Helper()
	m := map[string]string{"adminCidrs": AdminCIDRs}
	for k, v := range kv {
		m[k] = v
	}
	c, _, err := config.Parse(config.MapSource(m))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
