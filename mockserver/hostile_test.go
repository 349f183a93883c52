package mockserver

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// checkErrorResponse checks that an error is the API's JSON error: a code, a
// message and a request id, and field errors on a 400.
func checkErrorResponse(t *testing.T, what string, status int, contentType string, body []byte) errorBody {
	t.Helper()
	if contentType != "application/json" {
		t.Fatalf("%s: %d with Content-Type %q: %s", what, status, contentType, body)
	}
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || !utf8.Valid(body) {
		t.Fatalf("%s: %d with a body that is not the JSON error (%v): %q", what, status, err, body)
	}
	if e.Code == "" || len(e.Messages) == 0 || !strings.HasPrefix(e.RequestID, "req_") ||
		status == 400 && len(e.FieldErrors) == 0 && e.Code == codeInvalidRequest {
		t.Fatalf("%s: %d with an incomplete error: %s", what, status, body)
	}
	return e
}

// lockedBuffer is a bytes.Buffer that a server's logger and a test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rawResponse is what came back on a raw connection: a response, or
// closed (with err) when the server hung up without one.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// rawExchange writes req on a new connection to addr, exactly as given, and
// reads one response. The write runs beside the read, so that a server that
// answers before the end of a large request is heard. It never waits more
// than 10 seconds.
func rawExchange(t *testing.T, addr, req string) rawResponse {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		io.WriteString(conn, req) // the server may hang up first; its answer says why
	}()
	defer func() { conn.Close(); <-wrote }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("no answer in 10s to %.80q", req)
		}
		return rawResponse{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: body, err: err}
}

// request builds a raw HTTP/1.1 request with the key key_a, a length for
// the body, and Connection: close. headers replace the defaults of the same
// name; an empty value removes one.
func rawRequest(method, target, body string, headers ...string) string {
	h := map[string]string{"Host": "agentmock.test", "X-Api-Key": "key_a", "Connection": "close"}
	order := []string{"Host", "X-Api-Key", "Connection"}
	if body != "" {
		h["Content-Type"] = "application/json"
		order = append(order, "Content-Type")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if _, ok := h[headers[i]]; !ok {
			order = append(order, headers[i])
		}
		h[headers[i]] = headers[i+1]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	for _, k := range order {
		if h[k] != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", k, h[k])
		}
	}
	if body != "" || method == "POST" || method == "PUT" || method == "PATCH" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// hostileCase is one hostile request and what may answer it.
type hostileCase struct {
	name string
	req  string
	want []int // acceptable statuses
	// field must be in the field_errors of a 400.
	field string
	// byNetHTTP: net/http answers before the handler, in plain text.
	byNetHTTP bool
	// mayClose: the server may hang up instead of answering.
	mayClose bool
}

func b64(s string) string { return url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(s))) }

func deep(open, close string, n int, inner string) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

func hostileCases() []hostileCase {
	const list = "/v2/agents/agt_a/sessions"
	const item = "/v2/agents/agt_a/sessions/ase_a_001"
	get := func(target string, headers ...string) string { return rawRequest("GET", target, "", headers...) }
	post := func(body string, headers ...string) string { return rawRequest("POST", list, body, headers...) }
	patch := func(body string, headers ...string) string { return rawRequest("PATCH", item, body, headers...) }
	many := make([]string, 200)
	for i := range many {
		many[i] = fmt.Sprintf("unknown_%d=%d", i, i)
	}
	validLongFilter := strings.Repeat("(a*)*", maxFilterLen/5) // 255 characters
	cases := []hostileCase{
		// page_key
		{name: "a 10 kB page_key", req: get(list + "?page_key=" + strings.Repeat("A", 10<<10)), want: []int{400}, field: "page_key"},
		{name: "an empty page_key is the first page", req: get(list + "?page_key="), want: []int{200}},
		{name: "a page_key of a JSON array", req: get(list + "?page_key=" + b64(`["ase_a_001"]`)), want: []int{400}, field: "page_key"},
		{name: "a page_key with a number as id", req: get(list + "?page_key=" + b64(`{"session_id":3}`)), want: []int{400}, field: "page_key"},
		{name: "a page_key with an object as id", req: get(list + "?page_key=" + b64(`{"session_id":{"a":1}}`)), want: []int{400}, field: "page_key"},
		{name: "a page_key cut inside the id", req: get(list + "?page_key=" + b64(`{"session_id":"}`)), want: []int{400}, field: "page_key"},
		{name: "a page_key with trailing JSON", req: get(list + "?page_key=" + b64(`{"session_id":"ase_a_001"}}`)), want: []int{400}, field: "page_key"},
		{name: "a page_key of 200 nested objects", req: get(list + "?page_key=" + b64(deep(`{"session_id":`, "}", 200, `"a"`))), want: []int{400}, field: "page_key"},
		{name: "a page_key with invalid UTF-8", req: get(list + "?page_key=%FF%FE"), want: []int{400}, field: "page_key"},
		{name: "a page_key with NUL", req: get(list + "?page_key=%00"), want: []int{400}, field: "page_key"},
		{name: "a page_key with an id of NUL", req: get(list + "?page_key=" + b64("{\"session_id\":\"\x00\"}")), want: []int{400}, field: "page_key"},
		{name: "a page_key with a traversal as id", req: get(list + "?page_key=" + b64(`{"session_id":"../../__admin"}`)), want: []int{400}, field: "page_key"},
		// limit, enabled
		{name: "a 30-digit limit", req: get(list + "?limit=" + strings.Repeat("9", 30)), want: []int{400}, field: "limit"},
		{name: "a negative 30-digit limit", req: get(list + "?limit=-" + strings.Repeat("9", 30)), want: []int{400}, field: "limit"},
		{name: "a limit of invalid UTF-8", req: get(list + "?limit=%FF"), want: []int{400}, field: "limit"},
		{name: "a limit of NUL", req: get(list + "?limit=1%00"), want: []int{400}, field: "limit"},
		{name: "a limit in hex", req: get(list + "?limit=0x10"), want: []int{400}, field: "limit"},
		{name: "an enabled of NUL", req: get(list + "?enabled=%00"), want: []int{400}, field: "enabled"},
		{name: "an enabled of invalid UTF-8", req: get(list + "?enabled=tru%FF"), want: []int{400}, field: "enabled"},
		// filter
		{name: "a catastrophic-looking filter", req: get(list + "?filter=" + url.QueryEscape(`(a+)+$`)), want: []int{200}},
		{name: "another catastrophic-looking filter", req: get(list + "?filter=" + url.QueryEscape(`^(([a-z])+.)+[A-Z]([a-z])+$`)), want: []int{200}},
		{name: "a filter of 255 characters", req: get(list + "?filter=" + url.QueryEscape(validLongFilter)), want: []int{200}},
		{name: "a filter of 256 runes of two bytes", req: get(list + "?filter=" + url.QueryEscape(strings.Repeat("é", maxFilterLen))), want: []int{200}},
		{name: "a filter of 257 runes", req: get(list + "?filter=" + url.QueryEscape(strings.Repeat("é", maxFilterLen+1))), want: []int{400}, field: "filter"},
		{name: "a filter of 10 kB", req: get(list + "?filter=" + strings.Repeat("a", 10<<10)), want: []int{400}, field: "filter"},
		{name: "a filter too large to compile", req: get(list + "?filter=" + url.QueryEscape(`((a{100}){100}){100}`)), want: []int{400}, field: "filter"},
		{name: "a filter that repeats too much", req: get(list + "?filter=" + url.QueryEscape(`a{1001}`)), want: []int{400}, field: "filter"},
		{name: "a filter that nests too deeply", req: get(list + "?filter=" + url.QueryEscape(deep("(", ")", 2000, "a"))), want: []int{400}, field: "filter"},
		{name: "a filter of invalid UTF-8", req: get(list + "?filter=%FF"), want: []int{400}, field: "filter"},
		{name: "a filter of NUL", req: get(list + "?filter=%00"), want: []int{200}},
		// the query as a whole
		{name: "200 unknown parameters", req: get(list + "?" + strings.Join(many, "&")), want: []int{200}},
		{name: "an unknown parameter of invalid UTF-8 and NUL", req: get(list + "?x=%FF%00&%FE=1"), want: []int{200}},
		{name: "a bad escape in an unknown parameter", req: get(list + "?x=%ZZ&%=1"), want: []int{200}},
		{name: "a bad escape in limit", req: get(list + "?limit=%ZZ"), want: []int{400}, field: "limit"},
		{name: "a bad escape in page_key", req: get(list + "?page_key=%"), want: []int{400}, field: "page_key"},
		{name: "a semicolon", req: get(list + "?limit=1;limit=2"), want: []int{400}, field: "limit"},
		{name: "a repeated parameter", req: get(list + "?enabled=true&enabled=true"), want: []int{400}, field: "enabled"},
		// the agent key and the path
		{name: "an agent key of invalid UTF-8", req: get("/v2/agents/agt_%FF%FE/sessions"), want: []int{400}, field: "agent_key"},
		{name: "an agent key of raw invalid UTF-8", req: get("/v2/agents/agt_\xff/sessions"), want: []int{400}, field: "agent_key"},
		{name: "an agent key with NUL", req: get("/v2/agents/agt_%00/sessions"), want: []int{400}, field: "agent_key"},
		{name: "an agent key of 10 kB", req: get("/v2/agents/agt_" + strings.Repeat("a", 10<<10) + "/sessions"), want: []int{400}, field: "agent_key"},
		{name: "an encoded slash in the agent key", req: get("/v2/agents/agt_a%2Fx/sessions"), want: []int{404}},
		// net/http decodes %2F in the path that routes see: the same as a slash.
		{name: "an encoded slash before the session key", req: get("/v2/agents/agt_a/sessions%2Fase_a_001"), want: []int{200}},
		{name: "a traversal to the admin API", req: rawRequest("POST", "/v2/agents/agt_a/sessions/../../../../__admin/reset", ""), want: []int{404, 405}},
		{name: "an encoded traversal to the admin API", req: rawRequest("POST", "/v2/agents/%2e%2e/%2e%2e/__admin/reset", ""), want: []int{404, 405}},
		{name: "a traversal in the session key", req: rawRequest("DELETE", "/v2/agents/agt_a/sessions/..%2F..%2F..%2F__admin%2Freset", ""), want: []int{404}},
		{name: "a session key with NUL", req: get("/v2/agents/agt_a/sessions/ase%00"), want: []int{400}, field: "session_key"},
		{name: "a session key of dots", req: get("/v2/agents/agt_a/sessions/.."), want: []int{400}, field: "session_key"},
		{name: "an absolute URL", req: get("http://evil.test/v2/agents/agt_a/sessions"), want: []int{200}},
		{name: "an asterisk", req: get("*"), want: []int{404, 405}},
		{name: "an HTTP/2 preface", req: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", want: []int{404, 405}},
		{name: "CONNECT", req: rawRequest("CONNECT", "127.0.0.1:1", ""), want: []int{404, 405}},
		{name: "an unknown method", req: rawRequest("BREW", list, ""), want: []int{405}},
		// the API key
		{name: "an API key of raw invalid UTF-8", req: get(list, "X-Api-Key", "key_\xff\xfe"), want: []int{200}},
		{name: "an API key of 8 kB", req: get(list, "X-Api-Key", strings.Repeat("k", 8<<10)), want: []int{200}},
		{name: "an API key with NUL", req: get(list, "X-Api-Key", "key\x00a"), want: []int{400}, byNetHTTP: true},
		{name: "a bearer token with NUL", req: get(list, "X-Api-Key", "", "Authorization", "Bearer key\x00a"), want: []int{400}, byNetHTTP: true},
		{name: "a bare bearer", req: get(list, "X-Api-Key", "", "Authorization", "Bearer "), want: []int{401}},
		// Prefer
		{name: "a Prefer code of 30 digits", req: get(list, "Prefer", "code="+strings.Repeat("9", 30)), want: []int{400}, field: "Prefer"},
		{name: "a Prefer code out of range", req: get(list, "Prefer", "code=99999"), want: []int{400}},
		{name: "a Prefer code of 200", req: get(list, "Prefer", "code=200"), want: []int{200}},
		{name: "a Prefer scenario of invalid UTF-8", req: get(list, "Prefer", "scenario=\xff"), want: []int{400}, field: "Prefer"},
		{name: "a Prefer of 10000 separators", req: get(list, "Prefer", strings.Repeat(",;", 5000)), want: []int{200}},
		// request bodies: create
		{name: "a create nested 20000 deep", req: post(`{"name":"x","metadata":` + deep(`{"a":`, "}", 20000, "1") + `}`), want: []int{400}, field: "body"},
		{name: "a create of 500000 nested arrays", req: post(deep("[", "]", 500000, "")), want: []int{400}, field: "body"},
		{name: "a create with a huge tti", req: post(`{"name":"x","tti_minutes":1e400}`), want: []int{400}, field: "tti_minutes"},
		{name: "a create with a 30-digit tti", req: post(`{"name":"x","tti_minutes":` + strings.Repeat("9", 30) + `}`), want: []int{400}, field: "tti_minutes"},
		{name: "a create with huge numbers in metadata", req: post(`{"name":"x","metadata":{"n":1e400,"m":` + strings.Repeat("9", 400) + `}}`), want: []int{201, 400}},
		{name: "a create with invalid UTF-8 in the name", req: post("{\"name\":\"\xff\xfe\"}"), want: []int{400}, field: "name"},
		{name: "a create with invalid UTF-8 in the key", req: post("{\"name\":\"x\",\"key\":\"a\xff\"}"), want: []int{400}, field: "key"},
		{name: "a create with an escaped NUL in the name", req: post(`{"name":"a\u0000b"}`), want: []int{201, 400}},
		{name: "a create with a raw NUL in the name", req: post("{\"name\":\"a\x00b\"}"), want: []int{400}, field: "body"},
		{name: "a create with NUL in the key", req: post(`{"name":"x","key":"a\u0000"}`), want: []int{400}, field: "key"},
		{name: "a create with a traversal as key", req: post(`{"name":"x","key":"../../__admin"}`), want: []int{400}, field: "key"},
		{name: "a create with a lone surrogate", req: post(`{"name":"\ud800"}`), want: []int{201, 400}},
		{name: "a create with trailing JSON", req: post(`{"name":"x"}}`), want: []int{400}, field: "body"},
		{name: "a create with a second object", req: post(`{"name":"x"}{"name":"y"}`), want: []int{400}, field: "body"},
		{name: "a create of null", req: post(`null`), want: []int{400}, field: "body"},
		{name: "a create of a string", req: post(`"x"`), want: []int{400}, field: "body"},
		{name: "an empty create", req: rawRequest("POST", list, "", "Content-Type", "application/json"), want: []int{400}, field: "body"},
		{name: "a create of 2 MiB", req: post(`{"name":"` + strings.Repeat("x", 2<<20) + `"}`), want: []int{413}},
		{name: "a create of another media type", req: post(`{"name":"x"}`, "Content-Type", "text/plain"), want: []int{415}},
		{name: "a create with a broken media type", req: post(`{"name":"x"}`, "Content-Type", "application/json; ;;="), want: []int{415}},
		// request bodies: patch
		{name: "a patch nested 20000 deep", req: patch(`{"metadata":` + deep(`{"a":`, "}", 20000, "1") + `}`), want: []int{400}, field: "body"},
		{name: "a patch with a huge tti", req: patch(`{"tti_minutes":-1e400}`), want: []int{400}, field: "tti_minutes"},
		{name: "a patch of the key to NUL", req: patch(`{"key":"\u0000"}`), want: []int{400}, field: "key"},
		{name: "a patch of created_at", req: patch(`{"created_at":"\u0000"}`), want: []int{400}, field: "created_at"},
		{name: "a patch of enabled to null", req: patch(`{"enabled":null}`), want: []int{400}, field: "enabled"},
		{name: "a patch with invalid UTF-8", req: patch("{\"description\":\"\xc0\xaf\"}"), want: []int{400}, field: "description"},
		{name: "a patch of 2 MiB", req: patch(`{"name":"` + strings.Repeat("x", 2<<20) + `"}`), want: []int{413}},
		// the admin API
		{name: "an admin scenario of bad JSON", req: rawRequest("PUT", "/__admin/scenario", `{"name":`), want: []int{400}, field: "body"},
		{name: "an admin scenario of 2 MiB", req: rawRequest("PUT", "/__admin/scenario", `{"name":"`+strings.Repeat("x", 2<<20)+`"}`), want: []int{413}},
		{name: "an admin scenario nested deep", req: rawRequest("PUT", "/__admin/scenario", `{"rules":`+deep("[", "]", 20000, "")+`}`), want: []int{400}},
		{name: "an admin scenario with a huge seed", req: rawRequest("PUT", "/__admin/scenario", `{"name":"slow","seed":1e400}`), want: []int{400}, field: "body"},
		{name: "an admin scenario with a huge status", req: rawRequest("PUT", "/__admin/scenario", `{"name":"x","rules":[{"respond":{"status":1e400}}]}`), want: []int{400}},
		{name: "an admin scenario with a huge delay", req: rawRequest("PUT", "/__admin/scenario", `{"name":"x","rules":[{"delay":"99999999999999h"}]}`), want: []int{400}},
		{name: "an admin scenario named NUL", req: rawRequest("PUT", "/__admin/scenario", `{"name":"\u0000"}`), want: []int{404}},
		{name: "an admin scenario named in invalid UTF-8", req: rawRequest("PUT", "/__admin/scenario", "{\"name\":\"\xff\"}"), want: []int{404}},
		{name: "an admin scenario with a header injection", req: rawRequest("PUT", "/__admin/scenario", `{"name":"x","api_key":"k","rules":[{"respond":{"status":418,"headers":{"X-A":"b\r\nSet-Cookie: c"}}}]}`), want: []int{400}},
		{name: "an admin deactivation for a key of invalid UTF-8", req: rawRequest("DELETE", "/__admin/scenario?api_key=%FF", ""), want: []int{200}},
		{name: "an admin clock of bad JSON", req: rawRequest("POST", "/__admin/clock", `{"advance":`), want: []int{400}, field: "body"},
		{name: "an admin clock advance that overflows", req: rawRequest("POST", "/__admin/clock", `{"advance":"99999999999999h"}`), want: []int{400}, field: "advance"},
		{name: "an admin clock set past year 9999", req: rawRequest("POST", "/__admin/clock", `{"set":"10000-01-01T00:00:00Z"}`), want: []int{400}, field: "body"},
		{name: "an admin clock of 2 MiB", req: rawRequest("POST", "/__admin/clock", `{"advance":"`+strings.Repeat("1", 2<<20)+`"}`), want: []int{413}},
		{name: "an admin journal limit of 30 digits", req: get("/__admin/requests?limit=" + strings.Repeat("9", 30)), want: []int{400}, field: "limit"},
		{name: "an admin journal status of invalid UTF-8", req: get("/__admin/requests?status=%FF"), want: []int{400}, field: "status"},
		{name: "an admin journal filter of NUL", req: get("/__admin/requests?agent_key=%00"), want: []int{200}},
		{name: "an admin fixtures body of bad YAML", req: rawRequest("PUT", "/__admin/fixtures", "agents: [\n"), want: []int{400}},
		{name: "an admin fixtures body of 11 MiB", req: rawRequest("PUT", "/__admin/fixtures", "agents: []\n#"+strings.Repeat("x", 11<<20)), want: []int{413}},
		// bytes that are not HTTP
		{name: "binary garbage", req: strings.Repeat("\xde\xad\xbe\xef", 1024) + "\r\n\r\n", want: []int{400}, byNetHTTP: true, mayClose: true},
		{name: "a TLS client hello", req: "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + strings.Repeat("\x00", 64) + "\r\n\r\n", want: []int{400}, byNetHTTP: true, mayClose: true},
		{name: "empty lines", req: "\r\n\r\n\r\n", want: []int{400}, byNetHTTP: true, mayClose: true},
		{name: "no Host", req: "GET " + list + " HTTP/1.1\r\n\r\n", want: []int{400}, byNetHTTP: true},
	}
	return cases
}

// TestHostileRequests sends each hostile request on its own connection to a
// real server. Each gets one of the statuses it may get, never a 5xx or a
// hang; the handler's errors are the API's JSON errors naming the bad
// field. After each, the server still serves, nothing was reset, no panic
// was logged, and the API key never shows in the journal or the logs.
func TestHostileRequests(t *testing.T) {
	logs := &lockedBuffer{}
	s := newTestServer(t, WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	addr := ts.Listener.Addr().String()
	client := ts.Client()

	// A canary: a reset (by a traversal, say) would remove it.
	if w := call(s, "POST", "/v2/agents/agt_a/sessions", `{"key":"canary","name":"canary"}`, "Content-Type", "application/json"); w.Code != 201 {
		t.Fatalf("canary: %d %s", w.Code, w.Body)
	}
	stillServing := func(t *testing.T) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+"/v2/agents/agt_a/sessions/canary", nil)
		req.Header.Set("X-Api-Key", "key_a")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("the server stopped serving: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("the canary session answers %d: the data was reset or the server broke", resp.StatusCode)
		}
	}

	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := rawExchange(t, addr, tc.req)
			defer stillServing(t)
			if got.err != nil && got.status == 0 {
				if !tc.mayClose {
					t.Fatalf("no response: %v", got.err)
				}
				return
			}
			if got.status >= 500 || !containsInt(tc.want, got.status) {
				t.Fatalf("status %d, want one of %v; %.300s", got.status, tc.want, got.body)
			}
			if tc.byNetHTTP {
				return
			}
			ct := got.header.Get("Content-Type")
			if got.status >= 400 {
				e := checkErrorResponse(t, tc.name, got.status, ct, got.body)
				if tc.field != "" && e.FieldErrors[tc.field] == "" {
					t.Errorf("field_errors %v do not name %q", e.FieldErrors, tc.field)
				}
				return
			}
			if len(got.body) > 0 && (ct != "application/json" || !json.Valid(got.body) || !utf8.Valid(got.body)) {
				t.Errorf("%d with Content-Type %q and a body that is not UTF-8 JSON: %.300q", got.status, ct, got.body)
			}
		})
	}

	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "panic") {
			t.Errorf("a panic was logged: %.500s", line)
		}
	}
	journal, _ := json.Marshal(s.Requests())
	for _, key := range []string{"key_a", "key_\xff\xfe", strings.Repeat("k", 8<<10)} {
		if bytes.Contains(journal, []byte(key)) || strings.Contains(logs.String(), key) {
			t.Errorf("the key %.20q shows in clear in the journal or the logs", key)
		}
	}
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestAdminClockStaysInRange moves the clock to the end of year 9999 and
// tries to push it further: the clock must refuse, not answer 500 because
// the time no longer encodes, and sessions created at the edge must still
// have an RFC 3339 created_at.
func TestAdminClockStaysInRange(t *testing.T) {
	s := newTestServer(t)
	if w := call(s, "POST", "/__admin/clock", `{"set":"9999-12-31T23:00:00Z"}`); w.Code != 200 {
		t.Fatalf("set: %d %s", w.Code, w.Body)
	}
	w := call(s, "POST", "/__admin/clock", `{"advance":"2h"}`)
	if w.Code != 400 {
		t.Fatalf("advance past year 9999: %d %s, want 400", w.Code, w.Body)
	}
	checkErrorResponse(t, "advance", w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
	for _, c := range [][3]string{
		{"GET", "/__admin/clock", ""},
		{"POST", "/v2/agents/agt_a/sessions", `{"name":"at the edge"}`},
		{"GET", "/v2/agents/agt_a/sessions?limit=100", ""},
	} {
		if w := call(s, c[0], c[1], c[2]); w.Code >= 500 {
			t.Errorf("%s %s: %d %s", c[0], c[1], w.Code, w.Body)
		}
	}
	if w := call(s, "POST", "/__admin/clock", `{"advance":"2562047h"}`); w.Code != 400 {
		t.Errorf("advance by the largest duration at the edge: %d %s, want 400", w.Code, w.Body)
	}
}

// TestAdminFixturesRefusesHostileBodies sends bodies built to break a YAML
// loader. Each must be a 400 (or 413) JSON error that says what is wrong,
// soon, and leave the data that was serving.
func TestAdminFixturesRefusesHostileBodies(t *testing.T) {
	s := newTestServer(t)
	if w := call(s, "PUT", "/__admin/fixtures", "agents:\n  - key: agt_mine\n    generate: {count: 7}\n"); w.Code != 200 {
		t.Fatalf("setup: %d %s", w.Code, w.Body)
	}
	// An alias bomb in metadata: 9^9 values if expanded.
	bomb := "agents:\n  - key: agt_bomb\n    sessions:\n      - id: s0\n        metadata:\n          a: &a [x,x,x,x,x,x,x,x,x]\n"
	for c := 'b'; c <= 'i'; c++ {
		prev := string(c - 1)
		bomb += fmt.Sprintf("          %c: &%c [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", c, c, prev, prev, prev, prev, prev, prev, prev, prev, prev)
	}
	// Many sessions sharing one large anchor: 100000 values per session.
	shared := "agents:\n  - key: agt_shared\n    sessions:\n      - id: s0\n        metadata:\n          a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	for c := 'b'; c <= 'e'; c++ {
		prev := string(c - 1)
		shared += fmt.Sprintf("          %c: &%c [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", c, c, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
	}
	for i := 1; i < 100; i++ {
		shared += fmt.Sprintf("      - {id: s%d, metadata: {e: *e}}\n", i)
	}
	bodies := map[string]string{
		"empty":                     "",
		"not YAML":                  "\x00\x01\x02\xff",
		"invalid UTF-8":             "agents:\n  - key: agt_\xff\n",
		"a JSON array":              `[1,2,3]`,
		"a second document":         "agents: []\n---\nagents: []\n",
		"an unknown field":          "agents:\n  - key: agt_x\n    colour: blue\n",
		"a bad agent key":           "agents:\n  - key: agt_../../x\n",
		"a NUL in a session id":     "agents:\n  - key: agt_x\n    sessions: [{id: \"a\\0b\"}]\n",
		"a negative count":          "agents:\n  - key: agt_x\n    generate: {count: -1}\n",
		"a count of 30 digits":      "agents:\n  - key: agt_x\n    generate: {count: " + strings.Repeat("9", 30) + "}\n",
		"a count beyond the digits": "agents:\n  - key: agt_x\n    generate: {count: 1000000000}\n",
		"a huge time":               "agents:\n  - key: agt_x\n    sessions: [{id: a, created_at: \"99999-01-01T00:00:00Z\"}]\n",
		"a NaN in metadata":         "agents:\n  - key: agt_x\n    sessions: [{id: a, metadata: {n: .nan}}]\n",
		"an infinite number":        "agents:\n  - key: agt_x\n    sessions: [{id: a, metadata: {n: -.inf}}]\n",
		"nesting 20000 deep":        "agents:\n  - key: agt_x\n    sessions: [{id: a, metadata: " + deep("{a: ", "}", 20000, "1") + "}]\n",
		"an alias bomb":             bomb,
		"metadata shared too much":  shared,
		"an alias bomb in agents":   "x: &x {key: agt_x}\nagents: [*x, *x]\n",
		"a vertical tab as a key":   "\v:",
		"a lone quote as a key":     "agents:\n\v\":",
		"an anchor in itself":       "agents:\n  - key: agt_x\n    sessions: [{id: a, metadata: &m {b: *m}}]\n",
		"nesting 5000 deep":         "agents:\n  - key: agt_x\n    sessions: [{id: a, metadata: {b: " + deep("[", "]", 5000, "") + "}}]\n",
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			done := make(chan *httptest.ResponseRecorder, 1)
			go func() { done <- call(s, "PUT", "/__admin/fixtures", body) }()
			var w *httptest.ResponseRecorder
			select {
			case w = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("no answer in 30s")
			}
			if w.Code != 400 && w.Code != 413 {
				t.Fatalf("status %d, want 400 or 413; %.300s", w.Code, w.Body)
			}
			e := checkErrorResponse(t, name, w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
			if w.Code == 400 && !strings.HasPrefix(e.Messages[0], "request body") {
				t.Errorf("the message does not name the body: %q", e.Messages)
			}
			if w := call(s, "GET", "/v2/agents/agt_mine/sessions", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"total_count":7`) {
				t.Errorf("after a refused body, the data that was serving is gone: %d %s", w.Code, w.Body)
			}
		})
	}
}

// TestSessionBodyTrailingData is the create and the patch of a body with a
// stray closing brace or bracket after the object: not one JSON object, so
// a 400, like any other trailing data.
func TestSessionBodyTrailingData(t *testing.T) {
	s := newTestServer(t)
	for _, tail := range []string{"}", "]", "}}", " ]", "{}", "x"} {
		t.Run(fmt.Sprintf("%q after the object is a 400", tail), func(t *testing.T) {
			if w := call(s, "POST", "/v2/agents/agt_a/sessions", `{"name":"x"}`+tail, "Content-Type", "application/json"); w.Code != 400 {
				t.Errorf("create with %q after the object: %d %s, want 400", tail, w.Code, w.Body)
			}
			if w := call(s, "PATCH", "/v2/agents/agt_a/sessions/ase_a_001", `{"name":"x"}`+tail, "Content-Type", "application/json"); w.Code != 400 {
				t.Errorf("patch with %q after the object: %d %s, want 400", tail, w.Code, w.Body)
			}
		})
	}
	t.Run("white space around the object is fine", func(t *testing.T) {
		if w := call(s, "POST", "/v2/agents/agt_a/sessions", " \n{\"name\":\"x\"}\r\n\t ", "Content-Type", "application/json"); w.Code != 201 {
			t.Errorf("create with white space around the object: %d %s, want 201", w.Code, w.Body)
		}
	})
}
