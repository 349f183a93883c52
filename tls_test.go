package agentmock_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/agentmock/agentmock"
	"github.com/agentmock/agentmock/mockserver"
	"github.com/agentmock/agentmock/scenarios"
)

const sessionsPath = "/v2/agents/agt_customer_support/sessions"

func TestWithTLSServesHTTPS(t *testing.T) {
	srv := agentmock.NewTestServer(t, agentmock.WithTLS())
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Errorf("URL %q, want https://127.0.0.1:PORT", srv.URL)
	}
	if srv.Certificate() == nil {
		t.Fatal("Certificate is nil")
	}

	t.Run("Client trusts the server and speaks HTTP/2", func(t *testing.T) {
		for _, path := range []string{sessionsPath, "/__admin/health"} {
			resp, err := srv.Client().Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
				t.Errorf("%s: %d over %s, want 200 over HTTP/2.0", path, resp.StatusCode, resp.Proto)
			}
		}
	})

	t.Run("ClientWithoutKeepAlive trusts the server too", func(t *testing.T) {
		if got := status(t, srv.ClientWithoutKeepAlive(), srv.URL+sessionsPath); got != 200 {
			t.Errorf("status %d, want 200", got)
		}
	})

	t.Run("a client that trusts only Certificate is served", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		defer c.CloseIdleConnections()
		if got := status(t, c, srv.URL+"/__admin/health"); got != 200 {
			t.Errorf("status %d, want 200", got)
		}
	})

	t.Run("HTTP/1.1 is offered too", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		conn, err := tls.Dial("tcp", strings.TrimPrefix(srv.URL, "https://"),
			&tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if got := conn.ConnectionState().NegotiatedProtocol; got != "http/1.1" {
			t.Errorf("ALPN chose %q, want http/1.1", got)
		}
	})

	t.Run("a client that does not trust the certificate fails", func(t *testing.T) {
		c := &http.Client{Transport: &http.Transport{}}
		defer c.CloseIdleConnections()
		resp, err := c.Get(srv.URL + "/__admin/health")
		if err == nil {
			resp.Body.Close()
			t.Fatal("a client with the system's roots was served")
		}
		if !errors.As(err, new(*tls.CertificateVerificationError)) {
			t.Errorf("error %v, want a certificate verification error", err)
		}
	})
}

func TestWithoutTLSThereIsNoCertificate(t *testing.T) {
	srv := agentmock.NewTestServer(t)
	if !strings.HasPrefix(srv.URL, "http://") {
		t.Errorf("URL %q, want http://", srv.URL)
	}
	if c := srv.Certificate(); c != nil {
		t.Errorf("Certificate %v, want nil", c.Subject)
	}
}

// TestFaultsOverHTTP2: HTTP/2 has no connection to take over, so a fault
// that would close one resets its stream instead. The client gets an
// error, not a response, and the other streams of the connection go on.
func TestFaultsOverHTTP2(t *testing.T) {
	for _, fault := range []scenarios.Fault{scenarios.FaultConnectionReset, scenarios.FaultEmptyResponse, scenarios.FaultTruncatedBody} {
		t.Run(string(fault)+" resets the stream", func(t *testing.T) {
			srv := agentmock.NewTestServer(t, agentmock.WithTLS())
			c := srv.Client()
			if got := status(t, c, srv.URL+sessionsPath); got != 200 { // a connection to share
				t.Fatalf("status %d before the fault", got)
			}
			if err := srv.ActivateRules("once", 0, []scenarios.Rule{{Times: 1, Fault: fault}}, ""); err != nil {
				t.Fatal(err)
			}
			resp, err := c.Get(srv.URL + sessionsPath)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err == nil || !strings.Contains(err.Error(), "INTERNAL_ERROR") {
				t.Errorf("error %v, want the stream reset with INTERNAL_ERROR", err)
			}
			resp, err = c.Get(srv.URL + sessionsPath)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
				t.Errorf("after the fault: %d over %s, want 200 over HTTP/2.0", resp.StatusCode, resp.Proto)
			}
			srv.AssertRequests(t, mockserver.Request{Status: 200}, mockserver.Request{Fault: string(fault)}, mockserver.Request{Status: 200})
		})
	}

	t.Run("stream_cut resets the stream with no end frame", func(t *testing.T) {
		srv := agentmock.NewTestServer(t, agentmock.WithTLS())
		rules := []scenarios.Rule{{Fault: scenarios.FaultStreamCut, AfterChunks: 1}}
		if err := srv.ActivateRules("cut", 0, rules, ""); err != nil {
			t.Fatal(err)
		}
		var frames int
		var last error
		for _, err := range srv.SendStream(t.Context(), "agt_customer_support", "ase_customer_support_002", "Hello") {
			if err != nil {
				last = err
				break
			}
			frames++
		}
		if frames == 0 || last == nil || !strings.Contains(last.Error(), "INTERNAL_ERROR") {
			t.Errorf("%d frames, then %v; want some frames, then the stream reset", frames, last)
		}
	})
}
