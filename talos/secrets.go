package talos

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/pulumiverse/pulumi-talos/sdk/go/talos/machine"
	"github.com/siderolabs/crypto/x509"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
)

// bundleClock is the clock of a bundle made from stored machine secrets.
// The provider gives it time.Now(); rendering a machine configuration reads
// no time from it (TestRenderIgnoresTheClock), so a fixed one keeps every
// render of the same inputs the same.
var bundleClock = secrets.NewFixedClock(time.Unix(0, 0).UTC())

// BundleFromMachineSecrets turns the machine secrets the Talos provider keeps
// (talos:machine/secrets:Secrets, base64 PEM) into the secrets bundle Talos'
// generator takes, field for field as the provider's configuration data
// source does it (terraform-provider-talos v0.10.1
// pkg/talos/talos_machine_configuration_data_source.go Read and
// machineSecretsCertsToSecretsBundleCerts).
func BundleFromMachineSecrets(ms machine.MachineSecrets) (*secrets.Bundle, error) {
	b := &secrets.Bundle{
		Clock:   bundleClock,
		Cluster: &secrets.Cluster{ID: ms.Cluster.Id, Secret: ms.Cluster.Secret},
		Secrets: &secrets.Secrets{
			BootstrapToken:            ms.Secrets.BootstrapToken,
			SecretboxEncryptionSecret: ms.Secrets.SecretboxEncryptionSecret,
		},
		TrustdInfo: &secrets.TrustdInfo{Token: ms.Trustdinfo.Token},
	}
	if ms.Secrets.AescbcEncryptionSecret != nil {
		b.Secrets.AESCBCEncryptionSecret = *ms.Secrets.AescbcEncryptionSecret
	}
	pair := func(what string, c machine.Certificate) (*x509.PEMEncodedCertificateAndKey, error) {
		crt, err := base64.StdEncoding.DecodeString(c.Cert)
		if err != nil {
			return nil, fmt.Errorf("machine secrets: certs.%s.cert: %w", what, err)
		}
		key, err := base64.StdEncoding.DecodeString(c.Key)
		if err != nil {
			return nil, fmt.Errorf("machine secrets: certs.%s.key: %w", what, err)
		}
		return &x509.PEMEncodedCertificateAndKey{Crt: crt, Key: key}, nil
	}
	certs := &secrets.Certs{}
	var err error
	if certs.Etcd, err = pair("etcd", ms.Certs.Etcd); err != nil {
		return nil, err
	}
	if certs.K8s, err = pair("k8s", ms.Certs.K8s); err != nil {
		return nil, err
	}
	if certs.K8sAggregator, err = pair("k8sAggregator", ms.Certs.K8sAggregator); err != nil {
		return nil, err
	}
	if certs.OS, err = pair("os", ms.Certs.Os); err != nil {
		return nil, err
	}
	sa, err := base64.StdEncoding.DecodeString(ms.Certs.K8sServiceaccount.Key)
	if err != nil {
		return nil, fmt.Errorf("machine secrets: certs.k8sServiceaccount.key: %w", err)
	}
	certs.K8sServiceAccount = &x509.PEMEncodedKey{Key: sa}
	b.Certs = certs
	return b, nil
}

// MachineSecretsFromBundle is the inverse, as the provider stores a bundle
// it generated (pkg/talos/util.go secretsBundleTomachineSecrets): for tests
// and fixtures.
func MachineSecretsFromBundle(b *secrets.Bundle) machine.MachineSecrets {
	enc := base64.StdEncoding.EncodeToString
	pair := func(c *x509.PEMEncodedCertificateAndKey) machine.Certificate {
		return machine.Certificate{Cert: enc(c.Crt), Key: enc(c.Key)}
	}
	ms := machine.MachineSecrets{
		Cluster: machine.Cluster{Id: b.Cluster.ID, Secret: b.Cluster.Secret},
		Secrets: machine.KubernetesSecrets{
			BootstrapToken:            b.Secrets.BootstrapToken,
			SecretboxEncryptionSecret: b.Secrets.SecretboxEncryptionSecret,
		},
		Trustdinfo: machine.TrustdInfo{Token: b.TrustdInfo.Token},
		Certs: machine.Certificates{
			Etcd: pair(b.Certs.Etcd), K8s: pair(b.Certs.K8s), K8sAggregator: pair(b.Certs.K8sAggregator), Os: pair(b.Certs.OS),
			K8sServiceaccount: machine.Key{Key: enc(b.Certs.K8sServiceAccount.Key)},
		},
	}
	if b.Secrets.AESCBCEncryptionSecret != "" {
		s := b.Secrets.AESCBCEncryptionSecret
		ms.Secrets.AescbcEncryptionSecret = &s
	}
	return ms
}
