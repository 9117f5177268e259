// Package servingcert makes a webhook's serving certificate that is the
// same on every run: an Ed25519 key derived from a secret seed and a
// self-signed certificate with fixed dates and serial. Ed25519 signatures
// are deterministic, so the same seed and names give the same bytes, and a
// `pulumi up` with no change renders the same Helm values (no upgrade, no
// restart). The certificate is its own CA: the webhook configuration's
// caBundle is the certificate itself.
package servingcert

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"time"
)

// NotBefore and NotAfter are fixed: dates from the clock would change the
// certificate on every run. The webhook is reached only by the API server,
// which trusts exactly this certificate (caBundle).
var (
	NotBefore = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	NotAfter  = time.Date(2126, 1, 1, 0, 0, 0, 0, time.UTC)
)

// New derives the key from seed (HKDF-SHA256 with info, so one secret can
// seed several keys) and signs a certificate for dnsNames, the first one
// as its common name. It returns the PEM certificate and PKCS#8 key.
func New(seed []byte, info string, dnsNames []string) (certPEM, keyPEM []byte, err error) {
	if len(seed) == 0 || len(dnsNames) == 0 {
		return nil, nil, errors.New("servingcert: need a seed and at least one DNS name")
	}
	k, err := hkdf.Key(sha256.New, seed, nil, info, ed25519.SeedSize)
	if err != nil {
		return nil, nil, err
	}
	priv := ed25519.NewKeyFromSeed(k)
	sum := sha256.Sum256(append([]byte(info), priv.Public().(ed25519.PublicKey)...))
	serial := new(big.Int).SetBytes(sum[:16])
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: dnsNames[0]},
		DNSNames:              dnsNames,
		NotBefore:             NotBefore,
		NotAfter:              NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, nil, err
	}
	kd, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), nil
}
