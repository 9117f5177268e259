// Command gen rewrites the generated sections of README.md and docs/, and
// Pulumi.yaml's config section, from the code (cmd/gen/docgen), so they
// cannot drift:
//
//	go run ./cmd/gen
package main

import (
	"fmt"
	"os"

	"github.com/talos-aws/talos-aws/cmd/gen/docgen"
)

func main() {
	if err := docgen.Write("."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
