package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// shortTimeouts are flags that shorten the server's timeouts, so that a
// test can see them act: at their real values, 10s and 2m, the deadline
// below would pass first.
var shortTimeouts = []string{"-read-header-timeout", "300ms", "-idle-timeout", "300ms"}

// closedWithin is how long a test waits for the server to hang up. It is
// far more than the shortened timeouts, and far less than the real ones.
const closedWithin = 5 * time.Second

// waitClosed reads from conn until the server hangs up, and fails the test
// if it has not within closedWithin. Whatever comes first (a 408, say) is
// read and dropped.
func waitClosed(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(closedWithin))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("%s: the server still holds the connection after %v", what, closedWithin)
	}
}

// exchange writes req on a new connection, beside reading the answer, so
// that a server that answers before the end of a large request is heard.
// It returns the status, or an error when the server hung up without one.
func exchange(t *testing.T, addr, req string) (int, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		io.WriteString(conn, req)
	}()
	defer func() { conn.Close(); <-wrote }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("no answer in 10s to %.60q", req)
		}
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (r *running) addr() string { return strings.TrimPrefix(r.url, "http://") }

// headers returns a GET with about n bytes of extra header lines.
func headers(n int) string {
	var b strings.Builder
	b.WriteString("GET /v2/agents/agt_customer_support/sessions HTTP/1.1\r\nHost: x\r\nX-Api-Key: k\r\nConnection: close\r\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "X-Pad-%d: %s\r\n", i, strings.Repeat("p", 1000))
	}
	b.WriteString("\r\n")
	return b.String()
}

func TestHeaderBlocksAreCapped(t *testing.T) {
	r := start(t, noEnv)
	tests := []struct {
		name string
		size int
		want int
	}{
		{"32 kB of headers are served", 32 << 10, 200},
		{"200 kB of headers, under net/http's default cap, are refused", 200 << 10, 431},
		{"2 MB of headers are refused", 2 << 20, 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, err := exchange(t, r.addr(), headers(tt.size))
			if err != nil || status != tt.want {
				t.Errorf("status %d (%v), want %d", status, err, tt.want)
			}
			if got := r.get(t, "/v2/agents/agt_customer_support/sessions", "k"); got != 200 {
				t.Errorf("afterwards, a normal request gets %d", got)
			}
		})
	}
}

// TestSlowClientsDoNotHoldConnections opens connections that send their
// headers a line at a time and never finish, one that sends the first bytes
// of a TLS handshake, and one idle after a request: the server hangs up on
// each after its timeout, and serves others all along.
func TestSlowClientsDoNotHoldConnections(t *testing.T) {
	r := start(t, noEnv, shortTimeouts...)

	done := make(chan struct{})
	var trickles sync.WaitGroup
	var slow []net.Conn
	for range 20 {
		conn, err := net.Dial("tcp", r.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		slow = append(slow, conn)
		io.WriteString(conn, "GET /v2/agents/agt_customer_support/sessions HTTP/1.1\r\nHost: x\r\n")
		trickles.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := fmt.Fprintf(conn, "X-Slow-%d: 1\r\n", i); err != nil {
					return
				}
			}
		})
	}
	defer func() { close(done); trickles.Wait() }()

	tls, err := net.Dial("tcp", r.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer tls.Close()
	io.WriteString(tls, "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"+strings.Repeat("\x00", 32))

	if got := r.get(t, "/v2/agents/agt_customer_support/sessions", "k"); got != 200 {
		t.Errorf("with 20 slow clients connected, a normal request gets %d", got)
	}

	idle, err := net.Dial("tcp", r.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /v2/agents/agt_customer_support/sessions HTTP/1.1\r\nHost: x\r\nX-Api-Key: k\r\n\r\n")
	idle.SetReadDeadline(time.Now().Add(closedWithin))
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the keep-alive request: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("the keep-alive request: %d, close %v", resp.StatusCode, resp.Close)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Error("the server sent bytes on an idle connection")
	} else if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("the server still holds an idle connection after %v", closedWithin)
	}

	for i, conn := range slow {
		waitClosed(t, conn, fmt.Sprintf("slow client %d", i))
	}
	waitClosed(t, tls, "a TLS handshake")
	if got := r.get(t, "/v2/agents/agt_customer_support/sessions", "k"); got != 200 {
		t.Errorf("afterwards, a normal request gets %d", got)
	}
}

// TestNonHTTPBytesOnTheSocket sends what is not HTTP: the server answers
// 400 or 431, or hangs up, and goes on serving.
func TestNonHTTPBytesOnTheSocket(t *testing.T) {
	r := start(t, noEnv, shortTimeouts...)
	for name, raw := range map[string]string{
		"binary with line ends":       strings.Repeat("\xde\xad\xbe\xef", 256) + "\r\n\r\n",
		"100 kB without a line end":   strings.Repeat("\x00\xff", 50<<10),
		"a bare line end":             "\r\n\r\n",
		"a request line of 100 kB":    "GET /" + strings.Repeat("a", 100<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"a header without a colon":    "GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
		"a NUL in a header":           "GET / HTTP/1.1\r\nHost: x\r\nX-Api-Key: a\x00b\r\n\r\n",
		"a Content-Length of 30 nine": "POST /v2/agents/agt_customer_support/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: " + strings.Repeat("9", 30) + "\r\n\r\n",
		"two Content-Lengths":         "POST /v2/agents/agt_customer_support/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"a chunk size of 30 f":        "POST /v2/agents/agt_customer_support/sessions HTTP/1.1\r\nHost: x\r\nX-Api-Key: k\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("f", 30) + "\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			status, err := exchange(t, r.addr(), raw)
			if err == nil && status != 400 && status != 431 {
				t.Errorf("status %d, want 400, 431 or a hang-up", status)
			}
			if got := r.get(t, "/v2/agents/agt_customer_support/sessions", "k"); got != 200 {
				t.Errorf("afterwards, a normal request gets %d", got)
			}
		})
	}
}

// TestBodiesAreCappedOnTheBinary sends bodies over each cap to the binary:
// 413, and the server goes on.
func TestBodiesAreCappedOnTheBinary(t *testing.T) {
	r := start(t, noEnv)
	post := func(method, path string, size int) string {
		return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nX-Api-Key: k\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			method, path, size, strings.Repeat(" ", size))
	}
	for _, tt := range []struct {
		method, path string
		size         int
	}{
		{"PUT", "/__admin/fixtures", 10<<20 + 1},
		{"PUT", "/__admin/scenario", 1<<20 + 1},
		{"POST", "/__admin/clock", 1<<20 + 1},
		{"POST", "/v2/agents/agt_customer_support/sessions", 1<<20 + 1},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status, err := exchange(t, r.addr(), post(tt.method, tt.path, tt.size))
			if err != nil || status != 413 {
				t.Errorf("a body of %d bytes: %d (%v), want 413", tt.size, status, err)
			}
			if got := r.get(t, "/__admin/health", ""); got != 200 {
				t.Errorf("afterwards, the health check gets %d", got)
			}
		})
	}
}
