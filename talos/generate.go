package talos

import (
	"fmt"
	"strings"
	"time"

	"github.com/siderolabs/talos/pkg/machinery/config/bundle"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/configpatcher"
	"github.com/siderolabs/talos/pkg/machinery/config/encoder"
	"github.com/siderolabs/talos/pkg/machinery/config/generate"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/constants"
	"github.com/siderolabs/talos/pkg/machinery/gendata"

	talosconfig "github.com/siderolabs/talos/pkg/machinery/config"
)

// MaxUserDataBytes is EC2's limit on raw (pre-base64) user data.
const MaxUserDataBytes = 16384

// RenderInput describes one machine configuration.
type RenderInput struct {
	ClusterName       string
	Endpoint          string
	KubernetesVersion string
	TalosVersion      string
	Type              machine.Type
	Patches           []string
	Secrets           *secrets.Bundle
	// InstallImage is machine.install.image; empty: InstallerImage of
	// TalosVersion (a role without an image key).
	InstallImage string
}

// NewSecretsBundle makes a throwaway secrets bundle for the given contract:
// certificate and key sizes, hence config sizes, do not depend on the values.
func NewSecretsBundle(talosVersion string) (*secrets.Bundle, error) {
	contract, err := talosconfig.ParseContractFromVersion(talosVersion)
	if err != nil {
		return nil, err
	}
	return secrets.NewBundle(secrets.NewFixedClock(time.Now()), contract)
}

// ProviderInstaller is the installer image the Talos provider (pulumi-talos
// v0.7.1 = terraform-provider-talos v0.10.1, machinery v1.12.0) wrote into
// every machine configuration, whatever talosVersion said: its own
// machinery's tag (pkg/talos/util.go GenerateInstallerImage).
const ProviderInstaller = "ghcr.io/siderolabs/installer:v1.12.0"

// InstallerImage is machine.install.image for a Talos version. Nodes boot
// the AMI and never install, so the image only names what an upgrade
// through the Talos API would pull; it is still part of the user data the
// launch templates carry. Talos 1.12 keeps the image the provider wrote
// (ProviderInstaller), so a 1.12 stack's user data, and its nodes, stay as
// they are; from 1.13 on it follows talosVersion.
func InstallerImage(talosVersion string) string {
	if strings.HasPrefix(talosVersion, "v1.12.") {
		return ProviderInstaller
	}
	return fmt.Sprintf("%s/%s/installer:%s", gendata.ImagesRegistry, gendata.ImagesUsername, talosVersion)
}

func installImage(in RenderInput) string {
	if in.InstallImage != "" {
		return in.InstallImage
	}
	return InstallerImage(in.TalosVersion)
}

// Render renders a machine configuration with Talos' generator, pinned in
// go.mod, as the Talos provider did (terraform-provider-talos v0.10.1
// pkg/talos/util.go machineConfigGenerateOptions.generate): the same
// generator options, patch order and comment flags (docs and examples off),
// the contract of talosVersion, and the installer of InstallerImage (or the
// image key's, RenderInput.InstallImage).
func Render(in RenderInput) ([]byte, error) {
	contract, err := talosconfig.ParseContractFromVersion(in.TalosVersion)
	if err != nil {
		return nil, err
	}
	patches, err := configpatcher.LoadPatches(in.Patches)
	if err != nil {
		return nil, err
	}
	genOpts := []generate.Option{
		generate.WithClusterDiscovery(true),
		generate.WithDNSDomain(constants.DefaultDNSDomain),
		generate.WithInstallDisk("/dev/sda"),
		generate.WithInstallImage(installImage(in)),
		generate.WithSecretsBundle(in.Secrets),
		generate.WithVersionContract(contract),
	}
	opts := []bundle.Option{
		bundle.WithInputOptions(&bundle.InputOptions{
			ClusterName: in.ClusterName,
			Endpoint:    in.Endpoint,
			KubeVersion: strings.TrimPrefix(in.KubernetesVersion, "v"),
			GenOptions:  genOpts,
		}),
		bundle.WithVerbose(false),
	}
	if in.Type == machine.TypeWorker {
		opts = append(opts, bundle.WithPatchWorker(patches))
	} else {
		opts = append(opts, bundle.WithPatchControlPlane(patches))
	}
	b, err := bundle.NewBundle(opts...)
	if err != nil {
		return nil, err
	}
	return b.Serialize(encoder.CommentsDisabled, in.Type)
}

// cloudMode is the runtime mode Talos validates an EC2 node's config in: a
// cloud image, already installed, not in a container.
type cloudMode struct{}

func (cloudMode) String() string        { return "cloud" }
func (cloudMode) RequiresInstall() bool { return false }
func (cloudMode) InContainer() bool     { return false }

// ValidateMachineConfig loads a rendered machine configuration with Talos'
// config loader and validates it as a cloud node would at boot.
func ValidateMachineConfig(b []byte) (warnings []string, err error) {
	p, err := configloader.NewFromBytes(b)
	if err != nil {
		return nil, err
	}
	return p.Validate(cloudMode{})
}
