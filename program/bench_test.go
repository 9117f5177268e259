package program

import (
	"fmt"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/testkit"
)

func poolsConfig(n int) map[string]string {
	pools := make([]string, n)
	for i := range pools {
		pools[i] = fmt.Sprintf(`{"name":"pool-%02d","instanceTypes":["m7i.large","m6i.large"],"minSize":1,"maxSize":4,"desiredCapacity":2}`, i)
	}
	return map[string]string{"adminCidrs": admin, "workerPools": "[" + strings.Join(pools, ",") + "]"}
}

// BenchmarkProgram evaluates the whole program under mocks (machine configs
// generated for real by Talos' machinery in the mock) for 1, 10 and 50 pools.
//
//	go test -run '^$' -bench BenchmarkProgram -benchmem .
func BenchmarkProgram(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		cfg := poolsConfig(n)
		b.Run(fmt.Sprintf("pools=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m := &testkit.Mocks{ControlPlaneInstances: cpInstances()}
				if _, err := testkit.Run(b, m, cfg, program); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
