// Package oidc makes the documents an OpenID Connect issuer of Kubernetes
// service-account tokens serves, from the cluster's service-account key:
// the discovery document and the JWKS, as kube-apiserver would serve them
// (k8s.io/kubernetes pkg/serviceaccount/openidmetadata.go), so AWS STS can
// verify the tokens the API servers sign without reaching them.
package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
)

// DiscoveryPath and JWKSPath are where the issuer serves its documents;
// JWKSPath is kube-apiserver's own.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/openid/v1/jwks"
)

// Audience is the audience STS demands of web identity tokens.
const Audience = "sts.amazonaws.com"

// KeyID is the key id kube-apiserver puts in the tokens it signs:
// base64url (unpadded) of SHA-256 of the PKIX DER public key
// (pkg/serviceaccount/jwt.go, keyIDFromPublicKey).
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// JWK is one public key of a JWKS.
type JWK struct {
	Use string `json:"use"`
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Crv string `json:"crv,omitempty"`
	Alg string `json:"alg"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKS is a key set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// ParsePrivateKey reads a PEM private key: PKCS#1 RSA (what Talos
// generates for service accounts after 1.6), SEC 1 EC, or PKCS#8.
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return nil, errors.New("oidc: service-account key is not PEM")
	}
	switch b.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(b.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, err
		}
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, fmt.Errorf("oidc: PKCS#8 key of type %T", k)
	}
	return nil, fmt.Errorf("oidc: PEM block %q is no private key", b.Type)
}

// Algorithm is the JWS algorithm kube-apiserver signs with for this key
// (RS256 for RSA; ES256/384/512 by curve), each one STS accepts.
func Algorithm(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RS256", nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
	}
	return "", fmt.Errorf("oidc: no JWS algorithm for a %T key", pub)
}

// KeySet is the JWKS of the public half of the service-account key.
func KeySet(pemKey []byte) (JWKS, error) {
	k, err := ParsePrivateKey(pemKey)
	if err != nil {
		return JWKS{}, err
	}
	pub := k.Public()
	kid, err := KeyID(pub)
	if err != nil {
		return JWKS{}, err
	}
	alg, err := Algorithm(pub)
	if err != nil {
		return JWKS{}, err
	}
	j := JWK{Use: "sig", Kid: kid, Alg: alg}
	enc := base64.RawURLEncoding.EncodeToString
	switch p := pub.(type) {
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", enc(p.N.Bytes()), enc(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		// Uncompressed point: 0x04, then X and Y at the curve's size.
		b, err := p.Bytes()
		if err != nil {
			return JWKS{}, err
		}
		size := (len(b) - 1) / 2
		j.Kty, j.Crv = "EC", p.Curve.Params().Name
		j.X, j.Y = enc(b[1:1+size]), enc(b[1+size:])
	}
	return JWKS{Keys: []JWK{j}}, nil
}

// Discovery is the discovery document of issuer, its keys at JWKSPath.
type Discovery struct {
	Issuer           string   `json:"issuer"`
	JWKSURI          string   `json:"jwks_uri"`
	ResponseTypes    []string `json:"response_types_supported"`
	SubjectTypes     []string `json:"subject_types_supported"`
	SigningAlgValues []string `json:"id_token_signing_alg_values_supported"`
}

// Documents are the two objects the issuer serves, by path (no leading
// slash), as JSON.
func Documents(issuer string, pemKey []byte) (map[string]string, error) {
	if err := CheckIssuer(issuer); err != nil {
		return nil, err
	}
	ks, err := KeySet(pemKey)
	if err != nil {
		return nil, err
	}
	d, err := json.Marshal(Discovery{
		Issuer: issuer, JWKSURI: issuer + JWKSPath,
		ResponseTypes: []string{"id_token"}, SubjectTypes: []string{"public"},
		SigningAlgValues: []string{ks.Keys[0].Alg},
	})
	if err != nil {
		return nil, err
	}
	k, err := json.Marshal(ks)
	if err != nil {
		return nil, err
	}
	return map[string]string{strings.TrimPrefix(DiscoveryPath, "/"): string(d), strings.TrimPrefix(JWKSPath, "/"): string(k)}, nil
}

// CheckIssuer holds an issuer to what kube-apiserver and IAM accept: an
// https URL with a host, no port, query, fragment or trailing slash.
func CheckIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil {
		return err
	}
	if u.Scheme != "https" || u.Host == "" || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(issuer, "/") {
		return fmt.Errorf("oidc: issuer %q must be https://host[/path] with no port, query, fragment or trailing slash", issuer)
	}
	return nil
}

// Host is the issuer without its scheme: the prefix of the condition keys
// (HOST:sub, HOST:aud) in a web identity trust policy.
func Host(issuer string) string { return strings.TrimPrefix(issuer, "https://") }
