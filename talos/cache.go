package talos

import (
	"sync"

	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
)

// Generating a secrets bundle creates several CAs and takes about a second;
// a size estimate only needs one per Talos version per process.
var (
	bundleMu    sync.Mutex
	bundleCache = map[string]*secrets.Bundle{}
)

// NewSecretsBundleCached returns a throwaway bundle, made once per version.
func NewSecretsBundleCached(talosVersion string) (*secrets.Bundle, error) {
	bundleMu.Lock()
	defer bundleMu.Unlock()
	if b, ok := bundleCache[talosVersion]; ok {
		return b, nil
	}
	b, err := NewSecretsBundle(talosVersion)
	if err != nil {
		return nil, err
	}
	bundleCache[talosVersion] = b
	return b, nil
}
