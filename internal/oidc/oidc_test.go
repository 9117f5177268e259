package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"

	talosconfig "github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
)

// sign makes a compact JWS as kube-apiserver does for a service account
// token: header with alg and kid, claims, RS256/ES256 signature.
func sign(t *testing.T, k crypto.Signer, alg, kid string, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid})
	c, _ := json.Marshal(claims)
	input := enc(h) + "." + enc(c)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch key := k.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	case *ecdsa.PrivateKey:
		r, s, e := ecdsa.Sign(rand.Reader, key, sum[:])
		sig, err = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...), e
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc(sig)
}

// verify checks a token against a JWKS as a relying party (STS) does:
// the key by kid, the algorithm the key names, the signature.
func verify(t *testing.T, token string, ks JWKS) error {
	t.Helper()
	dec := base64.RawURLEncoding.DecodeString
	parts := strings.Split(token, ".")
	hb, _ := dec(parts[0])
	var h map[string]string
	if err := json.Unmarshal(hb, &h); err != nil {
		return err
	}
	sig, _ := dec(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	for _, k := range ks.Keys {
		if k.Kid != h["kid"] || k.Alg != h["alg"] {
			continue
		}
		switch k.Kty {
		case "RSA":
			n, _ := dec(k.N)
			e, _ := dec(k.E)
			pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
		case "EC":
			x, _ := dec(k.X)
			y, _ := dec(k.Y)
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				return err
			}
			if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
				return errBadSig
			}
			return nil
		}
	}
	return errNoKey
}

type testErr string

func (e testErr) Error() string { return string(e) }

const (
	errBadSig = testErr("signature does not verify")
	errNoKey  = testErr("no key with that kid and alg")
)

// The service-account key of real Talos 1.12 machine secrets: a token
// signed with it verifies against the JWKS the issuer serves, by kid; a
// token signed by another key does not.
func TestJWKSVerifiesTokensOfTheMachineSecretsKey(t *testing.T) {
	b, err := secrets.NewBundle(secrets.NewClock(), talosconfig.TalosVersion1_12)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := b.Certs.K8sServiceAccount.Key
	key, err := ParsePrivateKey(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("Talos 1.12 service-account key is %T, want RSA (RS256, which STS accepts)", key)
	}
	t.Logf("Talos 1.12 service-account key: RSA %d bits", rsaKey.N.BitLen())
	docs, err := Documents("https://d111111abcdef8.cloudfront.net", pemKey)
	if err != nil {
		t.Fatal(err)
	}
	var ks JWKS
	if err := json.Unmarshal([]byte(docs["openid/v1/jwks"]), &ks); err != nil {
		t.Fatal(err)
	}
	if len(ks.Keys) != 1 || ks.Keys[0].Alg != "RS256" || ks.Keys[0].Use != "sig" || ks.Keys[0].E != "AQAB" {
		t.Fatalf("jwks %+v", ks)
	}
	// The kid as Kubernetes computes it, recomputed here from the public key.
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	sum := sha256.Sum256(der)
	kid := base64.RawURLEncoding.EncodeToString(sum[:])
	if ks.Keys[0].Kid != kid {
		t.Fatalf("kid %s, want %s", ks.Keys[0].Kid, kid)
	}
	claims := map[string]any{"iss": "https://d111111abcdef8.cloudfront.net", "aud": []string{Audience},
		"sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa"}
	if err := verify(t, sign(t, key, "RS256", kid, claims), ks); err != nil {
		t.Errorf("a token of the machine secrets' key: %v", err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	if err := verify(t, sign(t, other, "RS256", kid, claims), ks); err == nil {
		t.Error("a token of another key verified")
	}
	if err := verify(t, sign(t, key, "RS256", "other-kid", claims), ks); err == nil {
		t.Error("a token with another kid verified")
	}

	var d Discovery
	if err := json.Unmarshal([]byte(docs[".well-known/openid-configuration"]), &d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != "https://d111111abcdef8.cloudfront.net" || d.JWKSURI != "https://d111111abcdef8.cloudfront.net/openid/v1/jwks" ||
		len(d.SigningAlgValues) != 1 || d.SigningAlgValues[0] != "RS256" || d.SubjectTypes[0] != "public" || d.ResponseTypes[0] != "id_token" {
		t.Errorf("discovery %+v", d)
	}
}

// Older contracts (≤ 1.6) made ECDSA P-256 keys: ES256, also accepted.
func TestJWKSOfAnECKey(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(k)
	ks, err := KeySet(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	if ks.Keys[0].Alg != "ES256" || ks.Keys[0].Crv != "P-256" || len(ks.Keys[0].X) != 43 {
		t.Fatalf("jwks %+v", ks)
	}
	if err := verify(t, sign(t, k, "ES256", ks.Keys[0].Kid, map[string]any{"sub": "x"}), ks); err != nil {
		t.Error(err)
	}
}

func TestIssuerForm(t *testing.T) {
	for issuer, ok := range map[string]bool{
		"https://d1.cloudfront.net": true, "https://d1.cloudfront.net/cluster": true,
		"http://d1.cloudfront.net": false, "https://d1.cloudfront.net/": false, "https://d1.cloudfront.net:443": false,
		"https://d1.cloudfront.net?x=1": false, "d1.cloudfront.net": false,
	} {
		if err := CheckIssuer(issuer); (err == nil) != ok {
			t.Errorf("%s: %v", issuer, err)
		}
	}
	if _, err := Documents("http://x", nil); err == nil {
		t.Error("Documents took an http issuer")
	}
	if _, err := KeySet([]byte("not pem")); err == nil {
		t.Error("KeySet took no PEM")
	}
}
