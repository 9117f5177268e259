// Command gen rewrites the generated parts of Pulumi.yaml and README.md from
// the code (config.Schema, compute.PortMatrix), so they cannot drift:
//
//	go run ./cmd/gen
package main

import (
	"fmt"
	"os"

	"github.com/talos-aws/talos-aws/docs"
)

func main() {
	if err := docs.Write("."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
