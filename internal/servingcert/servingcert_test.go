package servingcert

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The same seed gives the same bytes; another seed another key; and the
// pair serves TLS that a client trusting only the certificate accepts for
// the service name, as the API server does with caBundle.
func TestDeterministicAndServes(t *testing.T) {
	names := []string{"pod-identity-webhook.kube-system.svc", "pod-identity-webhook.kube-system.svc.cluster.local"}
	c1, k1, err := New([]byte("seed"), "webhook", names)
	if err != nil {
		t.Fatal(err)
	}
	c2, k2, _ := New([]byte("seed"), "webhook", names)
	if !bytes.Equal(c1, c2) || !bytes.Equal(k1, k2) {
		t.Fatal("same seed, different certificate: every `up` would upgrade the release")
	}
	c3, k3, _ := New([]byte("other"), "webhook", names)
	if bytes.Equal(c1, c3) || bytes.Equal(k1, k3) {
		t.Fatal("another seed gave the same key")
	}
	pair, err := tls.X509KeyPair(c1, k1)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c1)
	for name, ok := range map[string]bool{names[0]: true, "other.kube-system.svc": false} {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: name}}}
		resp, err := client.Get(srv.URL)
		if err == nil {
			_ = resp.Body.Close()
		}
		if (err == nil) != ok {
			t.Errorf("TLS to %s: %v", name, err)
		}
	}
	if _, _, err := New(nil, "webhook", names); err == nil {
		t.Error("no seed accepted")
	}
}
