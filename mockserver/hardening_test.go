package mockserver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// smallBuffers is a listener whose connections take in little that the
// server has not read, as over a real network; on loopback the kernel
// would buffer megabytes and hide a server that stops reading early.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(64 << 10)
	}
	return c, err
}

// sendWholeThenRead writes a request with a body of n bytes (head, then
// filler, then tail) on a new connection, all of it, before it reads a
// byte of the answer: what Python's urllib and requests do. It fails the
// test when the server hangs up before it has the whole body.
func sendWholeThenRead(t *testing.T, addr, method, target, contentType, head string, n int, tail string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.(*net.TCPConn).SetWriteBuffer(64 << 10)
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	w := bufio.NewWriterSize(conn, 64<<10)
	fmt.Fprintf(w, "%s %s HTTP/1.1\r\nHost: agentmock.test\r\nX-Api-Key: key_a\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
		method, target, contentType, n, head)
	filler := strings.Repeat("x", 64<<10)
	for left := n - len(head) - len(tail); left > 0; left -= len(filler) {
		if _, err := io.WriteString(w, filler[:min(left, len(filler))]); err != nil {
			t.Fatalf("the server hung up before the client sent its whole body: %v", err)
		}
	}
	io.WriteString(w, tail)
	if err := w.Flush(); err != nil {
		t.Fatalf("the server hung up before the client sent its whole body: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no readable answer after the whole body: %v", err)
	}
	return resp
}

// TestOversizedBodyIsAReadable413 sends bodies over the caps the way
// clients that write their whole request before reading do: each gets a
// JSON 413 payload_too_large, not a connection reset, and nothing changes.
func TestOversizedBodyIsAReadable413(t *testing.T) {
	tests := []struct {
		name, method, target, contentType string
		head, tail                        string
		size                              int
	}{
		{"a 5 MB session create", "POST", "/v2/agents/agt_a/sessions", "application/json", `{"name":"`, `"}`, 5 << 20},
		{"a 5 MB session patch", "PATCH", "/v2/agents/agt_a/sessions/ase_a_001", "application/json", `{"name":"`, `"}`, 5 << 20},
		{"a 12 MB fixtures body", "PUT", "/__admin/fixtures", "application/yaml", "agents: []\n#", "\n", 12 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name+" gets a readable 413", func(t *testing.T) {
			s := newTestServer(t)
			ts := httptest.NewUnstartedServer(s)
			ts.Listener = smallBuffers{ts.Listener}
			ts.Start()
			t.Cleanup(ts.Close)
			resp := sendWholeThenRead(t, ts.Listener.Addr().String(), tt.method, tt.target, tt.contentType, tt.head, tt.size, tt.tail)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("reading the 413's body: %v", err)
			}
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413; %.300s", resp.StatusCode, body)
			}
			if e := checkErrorResponse(t, tt.name, resp.StatusCode, resp.Header.Get("Content-Type"), body); e.Code != codePayloadTooLarge {
				t.Errorf("code %q, want %q", e.Code, codePayloadTooLarge)
			}
			b := decodeList(t, call(s, "GET", "/v2/agents/agt_a/sessions?limit=1", ""))
			if b.Metadata.TotalCount != 10 || len(b.Sessions) != 1 || b.Sessions[0].Name != "Password reset" {
				t.Errorf("an oversized body changed the data: %+v", b)
			}
		})
	}
}

func TestPreflightAllowsTheHeadersItAsksFor(t *testing.T) {
	w := call(newTestServer(t), "OPTIONS", "/v2/agents/agt_a/sessions", "",
		"X-Api-Key", "", "Origin", "https://app.example", "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "traceparent, x-request-id")
	if w.Code != http.StatusNoContent {
		t.Fatalf("preflight: %d, want 204", w.Code)
	}
	allowed := map[string]bool{}
	for _, v := range w.Header().Values("Access-Control-Allow-Headers") {
		for h := range strings.SplitSeq(v, ",") {
			allowed[strings.ToLower(strings.TrimSpace(h))] = true
		}
	}
	for _, h := range []string{"traceparent", "x-request-id"} {
		if !allowed[h] {
			t.Errorf("Access-Control-Allow-Headers %q does not allow %s", w.Header().Values("Access-Control-Allow-Headers"), h)
		}
	}
}

func TestAdminAnswersCarryNoCORSHeaders(t *testing.T) {
	tests := []struct {
		name, method, target string
	}{
		{"the health check", "GET", "/__admin/health"},
		{"the journal", "GET", "/__admin/requests"},
		{"a preflight of a reset", "OPTIONS", "/__admin/reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" has no Access-Control header", func(t *testing.T) {
			w := call(newTestServer(t), tt.method, tt.target, "",
				"Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
			for name := range w.Header() {
				if strings.HasPrefix(strings.ToLower(name), "access-control-") {
					t.Errorf("%s %s: %d with %s: %q", tt.method, tt.target, w.Code, name, w.Header().Values(name))
				}
			}
		})
	}
}

// TestFieldErrorsAreTheSameOnEveryRun sends a create with two fields in
// conflict: the field errors name the same field with the same reason on
// every try and on every server.
func TestFieldErrorsAreTheSameOnEveryRun(t *testing.T) {
	const body = `{"key":"kk1","id":"kk2","name":"x"}`
	fieldErrorsOf := func(t *testing.T, s *Server) map[string]string {
		t.Helper()
		w := call(s, "POST", "/v2/agents/agt_a/sessions", body)
		if w.Code != 400 {
			t.Fatalf("status %d, want 400; %s", w.Code, w.Body)
		}
		return decodeError(t, w).FieldErrors
	}
	first := fieldErrorsOf(t, newTestServer(t))
	if len(first) == 0 {
		t.Fatal("no field_errors")
	}
	for _, s := range []*Server{newTestServer(t), newTestServer(t)} {
		for i := range 50 {
			if diff := cmp.Diff(first, fieldErrorsOf(t, s)); diff != "" {
				t.Fatalf("try %d: field_errors (-first +now):\n%s", i+1, diff)
			}
		}
	}
}

func TestAnEmptyAdminTokenIsAnError(t *testing.T) {
	if _, err := New(WithAdminToken("")); err == nil {
		t.Error("New(WithAdminToken(\"\")) is no error; the admin API would need no token")
	}
}

// TestInvalidUTF8InABodyIsA400 sends a name with a byte that is not UTF-8:
// a 400 naming the field, and nothing created or changed.
func TestInvalidUTF8InABodyIsA400(t *testing.T) {
	const list, item = "/v2/agents/agt_a/sessions", "/v2/agents/agt_a/sessions/ase_a_001"
	tests := []struct {
		name, method, target string
	}{
		{"a create", "POST", list},
		{"a patch", "PATCH", item},
	}
	for _, tt := range tests {
		t.Run(tt.name+" with invalid UTF-8 in the name is a 400 that changes nothing", func(t *testing.T) {
			s := newTestServer(t)
			w := call(s, tt.method, tt.target, "{\"name\":\"a\xffb\"}")
			if w.Code != 400 {
				t.Fatalf("status %d, want 400; %q", w.Code, w.Body)
			}
			if e := decodeError(t, w); e.FieldErrors["name"] == "" {
				t.Errorf("field_errors %v do not name name", e.FieldErrors)
			}
			if b := decodeList(t, call(s, "GET", list+"?limit=100", "")); b.Metadata.TotalCount != 10 {
				t.Errorf("total_count %d, want the 10 sessions of the data", b.Metadata.TotalCount)
			}
			if got := decodeSession(t, call(s, "GET", item, ""), 200); got.Name != "Password reset" {
				t.Errorf("the name of ase_a_001 is %q, want Password reset", got.Name)
			}
		})
	}
}

// metadataOf returns the raw metadata of a session response, and whether it
// has the key at all.
func metadataOf(t *testing.T, w *httptest.ResponseRecorder, wantStatus int) (string, bool) {
	t.Helper()
	if w.Code != wantStatus {
		t.Fatalf("status %d, want %d; %s", w.Code, wantStatus, w.Body)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &fields); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	m, ok := fields["metadata"]
	return string(m), ok
}

func TestEmptyMetadataIsKept(t *testing.T) {
	const list, item = "/v2/agents/agt_a/sessions", "/v2/agents/agt_a/sessions/ase_a_001"
	type shown struct {
		Metadata string
		Present  bool
	}
	show := func(t *testing.T, w *httptest.ResponseRecorder, status int) shown {
		t.Helper()
		m, ok := metadataOf(t, w, status)
		return shown{m, ok}
	}
	empty := shown{"{}", true}
	t.Run("a create with {} shows metadata {}", func(t *testing.T) {
		s := newTestServer(t)
		if diff := cmp.Diff(empty, show(t, call(s, "POST", list, `{"key":"m1","name":"m","metadata":{}}`), 201)); diff != "" {
			t.Errorf("create (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(empty, show(t, call(s, "GET", list+"/m1", ""), 200)); diff != "" {
			t.Errorf("a later get (-want +got):\n%s", diff)
		}
	})
	t.Run("a patch with {} shows metadata {}", func(t *testing.T) {
		s := newTestServer(t)
		if diff := cmp.Diff(empty, show(t, call(s, "PATCH", item, `{"metadata":{}}`), 200)); diff != "" {
			t.Errorf("patch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(empty, show(t, call(s, "GET", item, ""), 200)); diff != "" {
			t.Errorf("a later get (-want +got):\n%s", diff)
		}
	})
	t.Run("a patch with null clears the metadata", func(t *testing.T) {
		s := newTestServer(t)
		show(t, call(s, "PATCH", item, `{"metadata":{"k":"v"}}`), 200)
		if diff := cmp.Diff(shown{}, show(t, call(s, "PATCH", item, `{"metadata":null}`), 200)); diff != "" {
			t.Errorf("patch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(shown{}, show(t, call(s, "GET", item, ""), 200)); diff != "" {
			t.Errorf("a later get (-want +got):\n%s", diff)
		}
	})
}

// TestUnroutedRequestsOfAKeyAreRateLimited checks the 404s of unknown
// routes and the 405s of wrong methods: an accepted key's answer counts
// against its bucket and says so, and its journal entry names the key;
// without a key, or with one that is refused, an unknown route is still a
// 404, not a 401.
func TestUnroutedRequestsOfAKeyAreRateLimited(t *testing.T) {
	rateLimitHeaders := []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
	tests := []struct {
		name           string
		method, target string
		headers        []string
		wantStatus     int
		wantCode       string
		wantKey        string // the fingerprint in the journal
		wantRateLimit  bool
	}{
		{"an unknown route of an accepted key", "GET", "/v2/agentz", nil, 404, codeNotFound, KeyFingerprint("key_a"), true},
		{"a wrong method of an accepted key", "PUT", "/v2/agents/agt_a/sessions", nil, 405, codeMethodNotAllowed, KeyFingerprint("key_a"), true},
		{"an unknown route with no key", "GET", "/v2/agentz", []string{"X-Api-Key", ""}, 404, codeNotFound, "", false},
		{"an unknown route with a refused key", "GET", "/v2/agentz", []string{"X-Api-Key", "stranger"}, 404, codeNotFound, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name+fmt.Sprintf(" is a %d", tt.wantStatus), func(t *testing.T) {
			s := newTestServer(t, WithAPIKeys("key_a"), WithRateLimit("10/s,burst=20"))
			w := call(s, tt.method, tt.target, "", tt.headers...)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; %s", w.Code, tt.wantStatus, w.Body)
			}
			if e := decodeError(t, w); e.Code != tt.wantCode {
				t.Errorf("code %q, want %q", e.Code, tt.wantCode)
			}
			if tt.wantRateLimit {
				got := map[string]string{}
				for _, h := range rateLimitHeaders {
					got[h] = w.Header().Get(h)
				}
				want := map[string]string{"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "19", "X-RateLimit-Reset": "1"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("rate-limit headers (-want +got):\n%s", diff)
				}
			}
			entries := s.Requests()
			if len(entries) != 1 {
				t.Fatalf("%d journal entries, want 1: %+v", len(entries), entries)
			}
			if tt.wantKey != "" && entries[0].APIKey != tt.wantKey {
				t.Errorf("journal api_key %q, want %q", entries[0].APIKey, tt.wantKey)
			}
		})
	}
}

// TestJournalCarriesTheRequestIDOfAnError checks that a client's
// request_id finds its journal entry, and that successes have none.
func TestJournalCarriesTheRequestIDOfAnError(t *testing.T) {
	tests := []struct {
		name           string
		method, target string
		body           string
		headers        []string
		wantStatus     int
	}{
		{"a bad parameter", "GET", "/v2/agents/agt_a/sessions?limit=0", "", nil, 400},
		{"no key", "GET", "/v2/agents/agt_a/sessions", "", []string{"X-Api-Key", ""}, 401},
		{"a key the agent does not allow", "GET", "/v2/agents/agt_locked/sessions", "", []string{"X-Api-Key", "key_b"}, 403},
		{"an unknown agent", "GET", "/v2/agents/agt_nobody/sessions", "", nil, 404},
		{"an unknown route", "GET", "/v2/agentz", "", nil, 404},
		{"a wrong method", "PUT", "/v2/agents/agt_a/sessions", "", nil, 405},
		{"an existing key", "POST", "/v2/agents/agt_a/sessions", `{"key":"ase_a_001","name":"x"}`, nil, 409},
		{"an injected error", "GET", "/v2/agents/agt_a/sessions", "", []string{"Prefer", "code=429"}, 429},
		{"a list", "GET", "/v2/agents/agt_a/sessions", "", nil, 200},
		{"a create", "POST", "/v2/agents/agt_a/sessions", `{"name":"x"}`, nil, 201},
		{"a delete", "DELETE", "/v2/agents/agt_a/sessions/ase_a_001", "", nil, 204},
	}
	for _, tt := range tests {
		what := "has no request_id"
		if tt.wantStatus >= 400 {
			what = "has the request_id of the error"
		}
		t.Run(fmt.Sprintf("the entry of %s (%d) %s", tt.name, tt.wantStatus, what), func(t *testing.T) {
			s := newTestServer(t)
			w := call(s, tt.method, tt.target, tt.body, tt.headers...)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; %s", w.Code, tt.wantStatus, w.Body)
			}
			want := ""
			if tt.wantStatus >= 400 {
				want = decodeError(t, w).RequestID
			}
			entries := s.Requests()
			if len(entries) != 1 {
				t.Fatalf("%d journal entries, want 1: %+v", len(entries), entries)
			}
			if got := entries[0].RequestID; got != want {
				t.Errorf("journal request_id %q, want %q", got, want)
			}
		})
	}
}

// TestJournalRequestIDsAreDistinct checks that each error has its own id.
func TestJournalRequestIDsAreDistinct(t *testing.T) {
	s := newTestServer(t)
	for range 3 {
		call(s, "GET", "/v2/agents/agt_nobody/sessions", "")
	}
	ids := map[string]bool{}
	for _, e := range s.Requests() {
		ids[e.RequestID] = true
	}
	if got := slices.Sorted(maps.Keys(ids)); len(got) != 3 || got[0] == "" {
		t.Errorf("request_ids %q, want three distinct ones", got)
	}
}
