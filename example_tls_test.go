package agentmock_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net/http"
	"strings"

	"github.com/agentmock/agentmock"
)

// A server on HTTPS: Client trusts it and speaks HTTP/2. A client of one's
// own trusts it through Certificate; this one, with a TLS config of its own
// and no ForceAttemptHTTP2, speaks HTTP/1.1, which the server offers too.
func ExampleWithTLS() {
	srv, err := agentmock.NewServer(agentmock.WithTLS())
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	fmt.Println(strings.HasPrefix(srv.URL, "https://"))

	resp, err := srv.Client().Get(srv.URL + "/v2/agents/agt_customer_support/sessions?limit=1")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Proto, resp.Status)

	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	own := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer own.CloseIdleConnections()
	resp, err = own.Get(srv.URL + "/__admin/health")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Proto, resp.Status)
	// Output:
	// true
	// HTTP/2.0 200 OK
	// HTTP/1.1 200 OK
}
