package mockserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/scenarios"
)

// serve starts s on a loopback port for the test.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL
}

// get sends a GET with an API key and returns the response with its body read.
func get(t *testing.T, url, key string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Api-Key", key)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp, string(b)
}

// statusOf sends a GET with an API key and returns the status, for
// goroutines that must not end the test.
func statusOf(url, key string) (int, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Api-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// waitFor polls cond until it holds, and fails the test when it still does
// not after 10 seconds: what names the state waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after 10s for %s", what)
		}
	}
}

func mustActivate(t *testing.T, s *Server, apiKey string, rules ...scenarios.Rule) {
	t.Helper()
	if err := s.ActivateRules("test", 0, rules, apiKey); err != nil {
		t.Fatal(err)
	}
}

func TestBuiltInErrorScenarios(t *testing.T) {
	tests := []struct {
		scenario   string
		wantStatus int
		wantCode   string
	}{
		{"invalid_request", 400, "invalid_request"},
		{"unauthorized", 401, "unauthorized"},
		{"forbidden", 403, "forbidden"},
		{"agent_not_found", 404, "agent_not_found"},
		{"rate_limit_exceeded", 429, "rate_limit_exceeded"},
		{"server_error", 500, "internal_error"},
	}
	for _, tt := range tests {
		t.Run(tt.scenario+" answers "+tt.wantCode, func(t *testing.T) {
			s := newTestServer(t, WithScenario(tt.scenario))
			w := call(s, "GET", "/v2/agents/agt_a/sessions", "")
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tt.wantStatus)
			}
			if e := decodeError(t, w); e.Code != tt.wantCode {
				t.Errorf("code %q, want %q", e.Code, tt.wantCode)
			}
			if tt.wantStatus == 429 && w.Header().Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q, want 1", w.Header().Get("Retry-After"))
			}
			if got := s.Requests(); len(got) != 1 || got[0].Rule == "" || got[0].Status != tt.wantStatus {
				t.Errorf("journal %+v, want one entry naming the rule", got)
			}
		})
	}
}

func TestPrefer(t *testing.T) {
	tests := []struct {
		name       string
		prefer     string
		wantStatus int
		wantCode   string
	}{
		{"code=429 injects a 429", "code=429", 429, "rate_limit_exceeded"},
		{"code=503 among other preferences", "dynamic=true, code=503", 503, "service_unavailable"},
		{"code=200 is the normal response", "code=200", 200, ""},
		{"a scenario by name", "scenario=forbidden", 403, "forbidden"},
		{"an unknown scenario is a 400", "scenario=nope", 400, "invalid_request"},
		{"a code that is no number is a 400", "code=abc", 400, "invalid_request"},
	}
	s := newTestServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "Prefer", tt.prefer)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantCode != "" {
				if e := decodeError(t, w); e.Code != tt.wantCode {
					t.Errorf("code %q, want %q", e.Code, tt.wantCode)
				}
			}
		})
	}
}

func TestPreferScenarioKeepsCounting(t *testing.T) {
	s := newTestServer(t, WithScenarios(scenarios.Scenario{Name: "twice", Rules: []scenarios.Rule{
		{Times: 2, Respond: &scenarios.Response{Status: 429}},
	}}))
	var got []int
	for range 4 {
		got = append(got, call(s, "GET", "/v2/agents/agt_a/sessions", "", "Prefer", "scenario=twice").Code)
	}
	if diff := cmp.Diff([]int{429, 429, 200, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestTimesIsExactUnderConcurrency(t *testing.T) {
	s := newTestServer(t)
	url := serve(t, s)
	mustActivate(t, s, "", scenarios.Rule{Times: 5, Respond: &scenarios.Response{Status: 429}})
	var wg sync.WaitGroup
	statuses := make(chan int, 50)
	for range 50 {
		wg.Go(func() {
			status, err := statusOf(url+"/v2/agents/agt_a/sessions", "k")
			if err != nil {
				t.Error(err)
			}
			statuses <- status
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	if count[429] != 5 || count[200] != 45 {
		t.Errorf("statuses %v, want 5 429s and 45 200s", count)
	}
}

func TestScenarioScopedToOneKey(t *testing.T) {
	s := newTestServer(t)
	if err := s.ActivateScenario("server_error", "key_a"); err != nil {
		t.Fatal(err)
	}
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "X-Api-Key", "key_a"); w.Code != 500 {
		t.Errorf("key_a: %d, want 500", w.Code)
	}
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "X-Api-Key", "key_b"); w.Code != 200 {
		t.Errorf("key_b: %d, want 200", w.Code)
	}
	s.DeactivateScenario("key_a")
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "X-Api-Key", "key_a"); w.Code != 200 {
		t.Errorf("key_a after deactivation: %d, want 200", w.Code)
	}
}

func TestInjectedResponseHeadersAndRetryAfter(t *testing.T) {
	s := newTestServer(t)
	mustActivate(t, s, "", scenarios.Rule{Respond: &scenarios.Response{
		Status: 429, RetryAfter: scenarios.Duration(1500 * time.Millisecond), Headers: map[string]string{"X-Trace": "t1"},
	}})
	w := call(s, "GET", "/v2/agents/agt_a/sessions", "")
	if w.Code != 429 || w.Header().Get("Retry-After") != "2" || w.Header().Get("X-Trace") != "t1" {
		t.Errorf("got %d Retry-After %q X-Trace %q, want 429, 2 (rounded up) and t1",
			w.Code, w.Header().Get("Retry-After"), w.Header().Get("X-Trace"))
	}
}

func TestDelayAloneDelaysTheNormalResponse(t *testing.T) {
	s := newTestServer(t)
	mustActivate(t, s, "", scenarios.Rule{Delay: &scenarios.Delay{Min: scenarios.Duration(50 * time.Millisecond), Max: scenarios.Duration(50 * time.Millisecond)}})
	start := time.Now()
	w := call(s, "GET", "/v2/agents/agt_a/sessions", "")
	if w.Code != 200 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("got %d after %v, want 200 after at least 50ms", w.Code, time.Since(start))
	}
}

func TestDelayEndsWhenTheClientGoesAway(t *testing.T) {
	s := newTestServer(t)
	url := serve(t, s)
	mustActivate(t, s, "", scenarios.Rule{Delay: &scenarios.Delay{Min: scenarios.Duration(time.Hour), Max: scenarios.Duration(time.Hour)}})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/v2/agents/agt_a/sessions", nil)
	req.Header.Set("X-Api-Key", "k")
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("the request finished although the delay is an hour")
	}
	// The handler notices and records the request; an hour-long wait would
	// not end before the poll's deadline.
	waitFor(t, "the delayed handler to record the request after the client left", func() bool { return len(s.Requests()) > 0 })
	if st := s.Requests()[0].Status; st != statusClientGone {
		t.Errorf("journal status %d, want %d", st, statusClientGone)
	}
}

// rawGet sends a GET on a fresh connection and returns all it reads until
// the server closes, and the error that ended the read.
func rawGet(t *testing.T, url string) (string, error) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /v2/agents/agt_a/sessions HTTP/1.1\r\nHost: x\r\nX-Api-Key: k\r\n\r\n")
	b, err := io.ReadAll(conn)
	return string(b), err
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault scenarios.Fault
		check func(t *testing.T, url string)
	}{
		{"connection_reset sends a TCP RST", scenarios.FaultConnectionReset, func(t *testing.T, url string) {
			got, err := rawGet(t, url)
			if got != "" || !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("read %q, %v; want nothing and ECONNRESET", got, err)
			}
		}},
		{"empty_response closes without a byte", scenarios.FaultEmptyResponse, func(t *testing.T, url string) {
			got, err := rawGet(t, url)
			if got != "" || err != nil {
				t.Errorf("read %q, %v; want nothing and a clean close", got, err)
			}
		}},
		{"truncated_body sends the headers and half the body", scenarios.FaultTruncatedBody, func(t *testing.T, url string) {
			got, err := rawGet(t, url)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
			if err != nil {
				t.Fatalf("no valid status line and headers: %v\n%q", err, got)
			}
			body, err := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) || len(body) != int(resp.ContentLength)/2 {
				t.Errorf("status %d, %d of %d bytes, %v; want 200, half the body and an unexpected EOF",
					resp.StatusCode, len(body), resp.ContentLength, err)
			}
		}},
		{"slow_body dribbles the whole body over the delay", scenarios.FaultSlowBody, func(t *testing.T, url string) {
			start := time.Now()
			resp, body := get(t, url+"/v2/agents/agt_a/sessions", "k")
			if resp.StatusCode != 200 || !strings.HasSuffix(body, "}}\n") || time.Since(start) < 50*time.Millisecond {
				t.Errorf("status %d after %v, body %q; want the whole body over about 100ms", resp.StatusCode, time.Since(start), body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name+", and the journal records it", func(t *testing.T) {
			s := newTestServer(t)
			url := serve(t, s)
			mustActivate(t, s, "", scenarios.Rule{Fault: tt.fault, Delay: &scenarios.Delay{Min: scenarios.Duration(100 * time.Millisecond), Max: scenarios.Duration(100 * time.Millisecond)}})
			tt.check(t, url)
			var faults []string
			for _, r := range s.Requests() {
				faults = append(faults, r.Fault)
			}
			if diff := cmp.Diff([]string{string(tt.fault)}, faults); diff != "" {
				t.Errorf("journal faults (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	s := newTestServer(t, WithRateLimit("1/s,burst=2"))
	var got []string
	for range 3 {
		w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "X-Api-Key", "key_a")
		got = append(got, fmt.Sprintf("%d %s/%s", w.Code, w.Header().Get("X-RateLimit-Remaining"), w.Header().Get("X-RateLimit-Limit")))
		if w.Code == 429 {
			if e := decodeError(t, w); e.Code != codeRateLimited || w.Header().Get("Retry-After") != "1" {
				t.Errorf("429 with code %q and Retry-After %q, want rate_limit_exceeded and 1", e.Code, w.Header().Get("Retry-After"))
			}
		}
	}
	if diff := cmp.Diff([]string{"200 1/2", "200 0/2", "429 0/2"}, got); diff != "" {
		t.Errorf("status remaining/limit (-want +got):\n%s", diff)
	}
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "X-Api-Key", "key_b"); w.Code != 200 {
		t.Errorf("another key shares the bucket: %d", w.Code)
	}
	s.Reset()
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "X-Api-Key", "key_a"); w.Code != 200 {
		t.Errorf("a reset does not refill the bucket: %d", w.Code)
	}
}

func TestRateLimitRefills(t *testing.T) {
	l := newLimiter(fixturesRateLimit(10, 1))
	now := time.Unix(0, 0)
	if !l.take("k", now).ok || l.take("k", now).ok {
		t.Fatal("a bucket of 1 did not give exactly one token")
	}
	if q := l.take("k", now.Add(50*time.Millisecond)); q.ok || q.retryAfter != 50*time.Millisecond {
		t.Errorf("after 50ms at 10/s: %+v, want refused with 50ms to wait", q)
	}
	if !l.take("k", now.Add(200*time.Millisecond)).ok {
		t.Error("after 200ms at 10/s the bucket is still empty")
	}
}

func TestJournalIsABoundedRing(t *testing.T) {
	s := newTestServer(t, WithJournalSize(3))
	for i := 1; i <= 5; i++ {
		call(s, "GET", fmt.Sprintf("/v2/agents/agt_a/sessions?limit=%d", i), "")
	}
	var queries []string
	for _, r := range s.Requests() {
		queries = append(queries, r.Query)
	}
	if diff := cmp.Diff([]string{"limit=3", "limit=4", "limit=5"}, queries); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
}

func TestJournalEntry(t *testing.T) {
	s := newTestServer(t)
	call(s, "GET", "/v2/agents/agt_nobody/sessions?limit=2", "", "X-Api-Key", "secret_key_1")
	got := s.Requests()
	if len(got) != 1 {
		t.Fatalf("%d entries, want 1", len(got))
	}
	e := got[0]
	want := Request{Method: "GET", Path: "/v2/agents/agt_nobody/sessions", Query: "limit=2", Route: "list",
		AgentKey: "agt_nobody", APIKey: KeyFingerprint("secret_key_1"), Status: 404, ErrorCode: codeAgentNotFound}
	if diff := cmp.Diff(want, e, cmpopts.IgnoreFields(Request{}, "Time", "Duration", "RequestID")); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
	if e.Time.IsZero() || e.Duration <= 0 || !strings.HasPrefix(e.RequestID, "req_") {
		t.Errorf("entry without a time, a duration or a request_id: %+v", e)
	}
	if strings.Contains(e.APIKey, "secret") {
		t.Errorf("api_key %q is not the fingerprint", e.APIKey)
	}
}

func fixturesRateLimit(perSecond float64, burst int) fixtures.RateLimit {
	return fixtures.RateLimit{PerSecond: perSecond, Burst: burst}
}

func TestDebugLogNamesRequestsButNotKeys(t *testing.T) {
	var logs strings.Builder
	s := newTestServer(t, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	call(s, "GET", "/v2/agents/agt_a/sessions?limit=2", "", "X-Api-Key", "secret_key_3")
	got := logs.String()
	if !strings.Contains(got, "msg=request") || !strings.Contains(got, `query="limit=2"`) || !strings.Contains(got, KeyFingerprint("secret_key_3")) {
		t.Errorf("no request line: %s", got)
	}
	if strings.Contains(got, "secret_key_3") {
		t.Errorf("the log shows the key: %s", got)
	}
}

func TestRateLimitComesAfterAuthentication(t *testing.T) {
	s := newTestServer(t, WithAPIKeys("key_a"), WithRateLimit("1/s,burst=1"))
	for range 3 {
		if w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "X-Api-Key", "stranger"); w.Code != 401 {
			t.Fatalf("a key that is not accepted: %d, want 401 every time", w.Code)
		}
	}
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", ""); w.Code != 200 {
		t.Errorf("key_a: %d, want 200", w.Code)
	}
}

func TestRateLimitForgetsFullBuckets(t *testing.T) {
	l := newLimiter(fixturesRateLimit(10, 1))
	now := time.Unix(0, 0)
	for i := range 10 * minSweep {
		l.take(fmt.Sprint("key", i), now.Add(time.Duration(i)*time.Second))
	}
	if n := len(l.buckets); n > 2*minSweep {
		t.Errorf("%d buckets for keys used once, long ago; want at most %d", n, 2*minSweep)
	}
}

// TestJournalHasTheEntryWhenTheClientHasTheResponse reads the journal right
// after each response, with bodies larger than the server's write buffers.
func TestJournalHasTheEntryWhenTheClientHasTheResponse(t *testing.T) {
	s := generated(t, 500)
	url := serve(t, s)
	for i := range 200 {
		resp, _ := get(t, url+"/v2/agents/agt_big/sessions?limit=100", "k")
		if resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
		if n := len(s.Requests()); n != i+1 {
			t.Fatalf("after response %d the journal has %d entries", i+1, n)
		}
	}
}

func TestPanicIsJournaledAsA500(t *testing.T) {
	s := newTestServer(t)
	s.router.GET("/v2/agents/:agent_key/panic", s.api("list", func(http.ResponseWriter, *request) error { panic("boom") }))
	if w := call(s, "GET", "/v2/agents/agt_a/panic", ""); w.Code != 500 {
		t.Fatalf("status %d", w.Code)
	}
	if got := s.Requests(); len(got) != 1 || got[0].Status != 500 || got[0].ErrorCode != codeInternal {
		t.Errorf("journal %+v, want one 500 internal_error", got)
	}
}

func TestVerySlowRateLimitDoesNotOverflow(t *testing.T) {
	l := newLimiter(fixturesRateLimit(1e-12, 1))
	now := time.Unix(0, 0)
	l.take("k", now)
	if q := l.take("k", now); q.ok || q.retryAfter <= 0 || q.reset <= 0 {
		t.Errorf("%+v, want a refusal with positive waits", q)
	}
}

func TestCloseEndsDelaysWithA503(t *testing.T) {
	s := newTestServer(t)
	url := serve(t, s)
	mustActivate(t, s, "", scenarios.Rule{Delay: &scenarios.Delay{Min: scenarios.Duration(time.Hour), Max: scenarios.Duration(time.Hour)}})
	got := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", url+"/v2/agents/agt_a/sessions", nil)
		req.Header.Set("X-Api-Key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- 0
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	// Close must find the request inside its delay, not before it.
	waitFor(t, "the request to reach its delay", func() bool { return delayed(s) || len(s.Requests()) > 0 })
	s.Close()
	select {
	case status := <-got:
		if status != 503 {
			t.Errorf("status %d, want 503", status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the delay")
	}
}

// delayed reports whether the server has a request waiting in a delay: the
// rule has matched once.
func delayed(s *Server) bool {
	for _, a := range s.engine.Active() {
		for _, r := range a.Rules {
			if r.Matched > 0 {
				return true
			}
		}
	}
	return false
}

func TestInjectedErrorsUseTheServersCodes(t *testing.T) {
	s := newTestServer(t)
	tests := []struct {
		status int
		code   string
	}{
		{413, codePayloadTooLarge},
		{415, codeUnsupportedMedia},
		{405, codeMethodNotAllowed},
		{503, codeUnavailable},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("an injected %d has the code %s", tt.status, tt.code), func(t *testing.T) {
			w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "Prefer", fmt.Sprint("code=", tt.status))
			if e := decodeError(t, w); w.Code != tt.status || e.Code != tt.code {
				t.Errorf("Prefer: code=%d gave %d %q, want %q", tt.status, w.Code, e.Code, tt.code)
			}
		})
	}
	t.Run("an injected 400 has field_errors", func(t *testing.T) {
		if e := decodeError(t, call(s, "GET", "/v2/agents/agt_a/sessions", "", "Prefer", "code=400")); len(e.FieldErrors) == 0 {
			t.Error("an injected 400 has no field_errors")
		}
	})
}

func TestJournalRecordsWrongMethodsAndUnknownRoutes(t *testing.T) {
	s := newTestServer(t)
	call(s, "PUT", "/v2/agents/agt_a/sessions", "")
	call(s, "GET", "/v2/agentz", "")
	call(s, "GET", "/__admin/nope", "")
	want := []Request{
		{Method: "PUT", Path: "/v2/agents/agt_a/sessions", Status: 405, ErrorCode: codeMethodNotAllowed},
		{Method: "GET", Path: "/v2/agentz", Status: 404, ErrorCode: codeNotFound},
	}
	if diff := cmp.Diff(want, s.Requests(), cmpopts.IgnoreFields(Request{}, "Time", "Duration", "RequestID", "APIKey")); diff != "" {
		t.Errorf("journal (-want +got):\n%s", diff)
	}
}
