// talos-aws turns an empty AWS account into a highly available Kubernetes
// cluster on Talos Linux with one `pulumi up` (package program).
package main

import (
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/program"
)

func main() {
	pulumi.Run(program.Run(program.Real(time.Now())))
}
