package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// roots is a pool that trusts the certificates of the PEM file at path.
func roots(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", path)
	}
	return pool
}

// trusting is a client that trusts the certificates of the PEM file at
// path, and speaks HTTP/2 where the server offers it.
func trusting(t *testing.T, path string) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots(t, path)}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// writeKeyPair writes a self-signed certificate for 127.0.0.1, valid now,
// and its key to PEM files in dir, and returns their paths.
func writeKeyPair(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	return writeKeyPairValid(t, dir, name, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

// writeKeyPairValid is writeKeyPair with a certificate valid from
// notBefore to notAfter.
func writeKeyPairValid(t *testing.T, dir, name string, notBefore, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile
}

func TestTLSWithACertificateMadeAtStart(t *testing.T) {
	r := start(t, noEnv, "-tls")
	if !strings.HasPrefix(r.url, "https://127.0.0.1:") || r.cert == "" {
		t.Fatalf("ready lines give %q and certificate %q, want an https:// URL and a file", r.url, r.cert)
	}
	if !filepath.IsAbs(r.cert) {
		t.Errorf("the certificate's path %q is relative", r.cert)
	}
	addr := strings.TrimPrefix(r.url, "https://")

	t.Run("the API and the admin API answer over HTTP/2", func(t *testing.T) {
		for _, path := range []string{"/__admin/health", "/v2/agents/agt_customer_support/sessions"} {
			req, _ := http.NewRequest("GET", r.url+path, nil)
			req.Header.Set("X-Api-Key", "k")
			resp, err := r.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
				t.Errorf("%s: %d over %s, want 200 over HTTP/2.0", path, resp.StatusCode, resp.Proto)
			}
		}
	})

	t.Run("ALPN offers h2 and http/1.1", func(t *testing.T) {
		for _, proto := range []string{"h2", "http/1.1"} {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots(t, r.cert), NextProtos: []string{proto}})
			if err != nil {
				t.Fatal(err)
			}
			conn.Close()
			if got := conn.ConnectionState().NegotiatedProtocol; got != proto {
				t.Errorf("ALPN chose %q, want %q", got, proto)
			}
		}
	})

	t.Run("the certificate names the loopback addresses and localhost", func(t *testing.T) {
		b, _ := os.ReadFile(r.cert)
		block, _ := pem.Decode(b)
		if block == nil {
			t.Fatalf("%s is not PEM", r.cert)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
			if err := c.VerifyHostname(host); err != nil {
				t.Error(err)
			}
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots(t, r.cert), DNSName: "localhost"}); err != nil {
			t.Errorf("the certificate is not its own CA: %v", err)
		}
	})

	t.Run("a client that does not trust it fails", func(t *testing.T) {
		c := &http.Client{Transport: &http.Transport{}}
		defer c.CloseIdleConnections()
		resp, err := c.Get(r.url + "/__admin/health")
		if err == nil {
			resp.Body.Close()
			t.Fatal("a client with the system's roots was served")
		}
		if !errors.As(err, new(*tls.CertificateVerificationError)) {
			t.Errorf("error %v, want a certificate verification error", err)
		}
	})

	t.Run("plain HTTP on the port gets a 400", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + "/__admin/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})

	r.client.CloseIdleConnections()
	r.stop()
	if code := <-r.exit; code != exitOK {
		t.Errorf("exit status %d, want 0", code)
	}
	r.exit <- exitOK // for the cleanup
	if _, err := os.Stat(r.cert); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the certificate made at start is still there after a stop: %v", err)
	}
}

func TestTLSFromTheEnvironment(t *testing.T) {
	r := start(t, func(k string) string { return map[string]string{"AGENTMOCK_TLS": "true"}[k] })
	if got := r.get(t, "/__admin/health", ""); got != 200 || !strings.HasPrefix(r.url, "https://") {
		t.Errorf("%s: %d, want https:// and 200", r.url, got)
	}
}

func TestTLSWithGivenFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeKeyPair(t, dir, "given")
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"flags", []string{"-tls-cert", certFile, "-tls-key", keyFile}, nil},
		{"variables", nil, map[string]string{"AGENTMOCK_TLS_CERT": certFile, "AGENTMOCK_TLS_KEY": keyFile}},
		{"flags with -tls", []string{"-tls", "-tls-cert", certFile, "-tls-key", keyFile}, nil},
	} {
		t.Run("from "+tt.name, func(t *testing.T) {
			r := start(t, func(k string) string { return tt.env[k] }, tt.args...)
			if r.cert != certFile {
				t.Errorf("the ready line names %q, want the file given, %q", r.cert, certFile)
			}
			if got := r.get(t, "/v2/agents/agt_customer_support/sessions", "k"); got != 200 {
				t.Errorf("status %d, want 200", got)
			}
			r.client.CloseIdleConnections()
			r.stop()
			<-r.exit
			r.exit <- exitOK // for the cleanup
			if _, err := os.Stat(certFile); err != nil {
				t.Errorf("a stop took the file given: %v", err)
			}
		})
	}
}

// TestAnExpiredCertificateIsServedWithAWarning: clients will refuse it,
// which a test may want.
func TestAnExpiredCertificateIsServedWithAWarning(t *testing.T) {
	certFile, keyFile := writeKeyPairValid(t, t.TempDir(), "expired", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	r := start(t, noEnv, "-tls-cert", certFile, "-tls-key", keyFile)
	if !strings.Contains(r.stderr.String(), "level=WARN msg=\"the certificate is not valid now") {
		t.Errorf("no warning in the log:\n%s", r.stderr)
	}
	resp, err := r.client.Get(r.url + "/__admin/health")
	if err == nil {
		resp.Body.Close()
		t.Fatal("a client accepted an expired certificate")
	}
	if !strings.Contains(err.Error(), "expired") {
		t.Errorf("error %v, want one about the expired certificate", err)
	}
}

func TestBadTLSFilesExitWithStatus2(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeKeyPair(t, dir, "one")
	_, otherKey := writeKeyPair(t, dir, "other")
	junk := filepath.Join(dir, "junk.pem")
	writeFile(t, junk, "not PEM at all\n")
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string // in stderr
		notWant string
	}{
		{"-tls-cert alone", []string{"-tls-cert", certFile}, nil, "-tls-cert needs -tls-key (or AGENTMOCK_TLS_KEY) too", ""},
		{"-tls-key alone", []string{"-tls-key", keyFile}, nil, "-tls-key needs -tls-cert (or AGENTMOCK_TLS_CERT) too", ""},
		{"-tls=false with files", []string{"-tls=false", "-tls-cert", certFile, "-tls-key", keyFile}, nil, "-tls=false contradicts -tls-cert", ""},
		{"a missing certificate", []string{"-tls-cert", missing, "-tls-key", keyFile}, nil, "-tls-cert: open " + missing, ""},
		{"a missing key", []string{"-tls-cert", certFile, "-tls-key", missing}, nil, "-tls-key: open " + missing, ""},
		{"a certificate that is not PEM", []string{"-tls-cert", junk, "-tls-key", keyFile}, nil, "-tls-cert " + junk + ": no PEM CERTIFICATE block", ""},
		{"a key that is not PEM", []string{"-tls-cert", certFile, "-tls-key", junk}, nil, "-tls-key " + junk, ""},
		{"a key of another certificate", []string{"-tls-cert", certFile, "-tls-key", otherKey}, nil, "private key does not match public key", ""},
		{"a key given as the certificate", []string{"-tls-cert", keyFile, "-tls-key", keyFile}, nil, "-tls-cert " + keyFile + ": no PEM CERTIFICATE block", ""},

		{"a certificate alone in the environment", nil, map[string]string{"AGENTMOCK_TLS_CERT": certFile}, "AGENTMOCK_TLS_CERT needs -tls-key (or AGENTMOCK_TLS_KEY) too", ""},
		{"a missing key in the environment", nil, map[string]string{"AGENTMOCK_TLS_CERT": certFile, "AGENTMOCK_TLS_KEY": missing}, "AGENTMOCK_TLS_KEY: open", "-tls-key"},
		{"a mismatched key in the environment", nil, map[string]string{"AGENTMOCK_TLS_CERT": certFile, "AGENTMOCK_TLS_KEY": otherKey}, "AGENTMOCK_TLS_KEY " + otherKey + ", the key of AGENTMOCK_TLS_CERT", "-tls-key"},
		{"a bad AGENTMOCK_TLS", nil, map[string]string{"AGENTMOCK_TLS": "maybe"}, "AGENTMOCK_TLS", ""},
	}
	stopped, cancel := context.WithCancel(context.Background())
	cancel() // should a case be taken, its server stops at once
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "AGENTMOCK_ADDR" {
					return "127.0.0.1:0"
				}
				return tt.env[k]
			}
			var stderr bytes.Buffer
			if code := run(stopped, tt.args, getenv, io.Discard, &stderr, nil); code != exitUsage {
				t.Errorf("exit status %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tt.want)
			}
			if tt.notWant != "" && strings.Contains(stderr.String(), tt.notWant) {
				t.Errorf("stderr %q names %q", stderr.String(), tt.notWant)
			}
		})
	}
}

// TestFaultsOverTLS: over HTTP/2 there is no connection to take over, so a
// fault that closes one resets the request's stream instead; over
// HTTP/1.1 on TLS the connection closes. Either way the client gets an
// error, not a response.
func TestFaultsOverTLS(t *testing.T) {
	r := start(t, noEnv, "-tls")
	for _, tt := range []struct {
		name  string
		http2 bool
		fault string
		want  string // in the error
	}{
		{"connection_reset over HTTP/2 resets the stream", true, "connection_reset", "INTERNAL_ERROR"},
		{"truncated_body over HTTP/2 resets the stream", true, "truncated_body", "INTERNAL_ERROR"},
		{"connection_reset over HTTP/1.1 resets the TCP connection under TLS", false, "connection_reset", "connection reset"},
		{"empty_response over HTTP/1.1 closes the connection", false, "empty_response", "EOF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := r.call(t, "PUT", "/__admin/scenario", `{"rules":[{"times":1,"fault":"`+tt.fault+`"}]}`); status != 200 {
				t.Fatalf("activate: %d %s", status, body)
			}
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots(t, r.cert)}, ForceAttemptHTTP2: tt.http2, DisableKeepAlives: true}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("GET", r.url+"/v2/agents/agt_customer_support/sessions", nil)
			req.Header.Set("X-Api-Key", "k")
			resp, err := tr.RoundTrip(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

// TestStopOverTLS: a stop is as graceful over HTTP/2 as over HTTP/1.1: a
// request held by a delay gets its 503, and the exit status is 0.
func TestStopOverTLS(t *testing.T) {
	r := start(t, noEnv, "-tls")
	if status, body := r.call(t, "PUT", "/__admin/scenario", `{"rules":[{"delay":"1h"}]}`); status != 200 {
		t.Fatalf("activate: %d %s", status, body)
	}
	type answer struct {
		status int
		proto  string
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("GET", r.url+"/v2/agents/agt_customer_support/sessions", nil)
		req.Header.Set("X-Api-Key", "k")
		resp, err := r.client.Do(req)
		if err != nil {
			got <- answer{err: err}
			return
		}
		resp.Body.Close()
		got <- answer{status: resp.StatusCode, proto: resp.Proto}
	}()
	r.waitFired(t, 1)
	r.stop()
	select {
	case code := <-r.exit:
		if code != exitOK {
			t.Errorf("exit status %d, want 0", code)
		}
		r.exit <- code // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("the server is still waiting for the delayed request")
	}
	if a := <-got; a.err != nil || a.status != 503 || a.proto != "HTTP/2.0" {
		t.Errorf("the delayed request got %d over %s (%v), want 503 over HTTP/2.0", a.status, a.proto, a.err)
	}
}
