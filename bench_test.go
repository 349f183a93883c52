package agentmock_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/agentmock/agentmock"
	"github.com/agentmock/agentmock/mockserver"
)

// fetch sends one list request and reads the whole response.
func fetch(b *testing.B, c *http.Client, url string) {
	req, _ := http.NewRequest("GET", url+"/v2/agents/agt_customer_support/sessions?limit=25", nil)
	req.Header.Set("X-Api-Key", "k")
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatal(resp.Status)
	}
}

// BenchmarkNewTestServer measures what a test pays for a mock server: start
// it, send one request, close it. Compare with BenchmarkBareHTTPTest.
func BenchmarkNewTestServer(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		srv, err := agentmock.NewServer()
		if err != nil {
			b.Fatal(err)
		}
		fetch(b, srv.Client(), srv.URL)
		srv.Close()
	}
}

// BenchmarkBareHTTPTest is the floor: an httptest server whose handler
// writes a fixed page of the same size.
func BenchmarkBareHTTPTest(b *testing.B) {
	srv, err := mockserver.New()
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/v2/agents/agt_customer_support/sessions?limit=25", nil)
	req.Header.Set("X-Api-Key", "k")
	srv.ServeHTTP(rec, req)
	page := rec.Body.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(page)))
			w.Write(page)
		}))
		fetch(b, ts.Client(), ts.URL)
		ts.Close()
	}
}
