package ami

import (
	"context"
	"fmt"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/etcdguard"
)

// ForStack is a Builder that acts as the stack's AWS provider does, in
// its region, with its credential settings (etcdguard.ProviderConfig, as
// the guard's code upload and talosconfig writer do). progress may be nil.
func ForStack(ctx context.Context, region string, creds config.AWS, progress func(Progress)) (*Builder, error) {
	cfg, err := etcdguard.ProviderConfig(ctx, region, creds)
	if err != nil {
		return nil, fmt.Errorf("AWS credentials for building Talos AMIs (as %s in %s): %w", creds.Describe(), region, err)
	}
	return &Builder{AWS: cfg, Progress: progress}, nil
}
