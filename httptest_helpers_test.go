package agentmock_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/agentmock/agentmock"
	"github.com/agentmock/agentmock/mockserver"
	"github.com/agentmock/agentmock/scenarios"
)

const demoYAML = `
agents:
  - key: agt_demo
    sessions:
      - {id: ase_demo_001, created_at: 2024-01-15T10:30:00Z}
`

func status(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestFixtureOptionsServeTheirData(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.yaml")
	if err := os.WriteFile(path, []byte(demoYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	options := map[string]agentmock.Option{
		"a file":   agentmock.WithFixtureFile(path),
		"an fs.FS": agentmock.WithFixtureFS(fstest.MapFS{"f.yaml": {Data: []byte(demoYAML)}}, "f.yaml"),
		"YAML":     agentmock.WithFixtureYAML([]byte(demoYAML)),
	}
	for name, opt := range options {
		t.Run("fixtures from "+name+" are served", func(t *testing.T) {
			t.Parallel()
			srv := agentmock.NewTestServer(t, opt)
			if got := status(t, srv.Client(), srv.URL+"/v2/agents/agt_demo/sessions"); got != 200 {
				t.Errorf("agt_demo: %d, want 200", got)
			}
			if got := status(t, srv.Client(), srv.URL+"/v2/agents/agt_customer_support/sessions"); got != 404 {
				t.Errorf("built-in agent: %d, want 404", got)
			}
		})
	}
}

// fatalTB records a Fatal instead of failing the test that runs it.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper()        {}
func (f *fatalTB) Cleanup(func()) {}
func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func TestBadOptionFailsTheTest(t *testing.T) {
	tests := map[string]agentmock.Option{
		"a missing file":           agentmock.WithFixtureFile(filepath.Join(t.TempDir(), "missing.yaml")),
		"an unknown field":         agentmock.WithFixtureYAML([]byte("agents: []\ncolour: blue\n")),
		"a bad generated agent":    agentmock.WithGenerated("not an agent", 3),
		"an empty API key":         agentmock.WithAPIKeys(""),
		"a negative session count": agentmock.WithGenerated("agt_x", -1),
		"an unknown scenario":      agentmock.WithScenario("nope"),
		"a bad rate limit":         agentmock.WithRateLimit("fast"),
		"a bad scenario file":      agentmock.WithScenarioYAML([]byte("scenarios: {x: {rules: [{fault: boom}]}}")),
		"an empty admin token":     agentmock.WithAdminToken(""),
	}
	for name, opt := range tests {
		t.Run(name+" is fatal", func(t *testing.T) {
			tb := &fatalTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				agentmock.NewTestServer(tb, opt)
			}()
			<-done
			if !strings.Contains(tb.msg, "agentmock") {
				t.Errorf("Fatal message %q, want one that names agentmock", tb.msg)
			}
		})
	}
}

func TestParallelServersAreIndependent(t *testing.T) {
	for i := range 4 {
		t.Run(fmt.Sprintf("server %d", i), func(t *testing.T) {
			t.Parallel()
			srv := agentmock.NewTestServer(t, agentmock.WithGenerated(fmt.Sprintf("agt_only_%d", i), i+1))
			for j := range 4 {
				want := 404
				if j == i {
					want = 200
				}
				if got := status(t, srv.Client(), fmt.Sprintf("%s/v2/agents/agt_only_%d/sessions", srv.URL, j)); got != want {
					t.Errorf("agt_only_%d: %d, want %d", j, got, want)
				}
			}
		})
	}
}

func TestClientSendsTheKey(t *testing.T) {
	srv := agentmock.NewTestServer(t, agentmock.WithAPIKeys("k1"))
	url := srv.URL + "/v2/agents/agt_customer_support/sessions"
	if got := status(t, srv.Client(), url); got != 200 {
		t.Errorf("Client(): %d, want 200", got)
	}
	if got := status(t, http.DefaultClient, url); got != 401 {
		t.Errorf("a client without a key: %d, want 401", got)
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-Api-Key", "wrong")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("Client() with an explicit wrong key: %d, want 401 (it must not override)", resp.StatusCode)
	}
}

func TestSeedChangesGeneratedData(t *testing.T) {
	get := func(seed uint64) string {
		srv := agentmock.NewTestServer(t, agentmock.WithSeed(seed), agentmock.WithGenerated("agt_g", 5))
		resp, err := srv.Client().Get(srv.URL + "/v2/agents/agt_g/sessions")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %s %v", resp.StatusCode, b, err)
		}
		return string(b)
	}
	if a, b := get(7), get(7); a != b {
		t.Errorf("the same seed gave different data:\n%s\n%s", a, b)
	}
	if a, b := get(7), get(8); a == b {
		t.Errorf("seeds 7 and 8 gave the same data: %s", a)
	}
}

// TestTwo429sThenSuccess is the README's worked example: a client that
// retries on 429 gets two of them, then the page, and the journal shows it.
func TestTwo429sThenSuccess(t *testing.T) {
	t.Parallel()
	srv := agentmock.NewTestServer(t, agentmock.WithScenarioYAML([]byte(`
scenarios:
  retry_then_succeed:
    rules:
      - match: {agent_key: agt_customer_support}
        times: 2
        respond: {status: 429, retry_after: 1s}
`)), agentmock.WithScenario("retry_then_succeed"))

	// The client under test would do this loop itself.
	url := srv.URL + "/v2/agents/agt_customer_support/sessions?limit=3"
	var statuses []int
	for range 5 {
		code := status(t, srv.Client(), url)
		statuses = append(statuses, code)
		if code != http.StatusTooManyRequests {
			break
		}
	}
	if diff := cmp.Diff([]int{429, 429, 200}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}

	srv.AssertRequests(t,
		mockserver.Request{Status: 429, Rule: "retry_then_succeed#1"},
		mockserver.Request{Status: 429, Rule: "retry_then_succeed#1"},
		mockserver.Request{Status: 200, Query: "limit=3", APIKey: mockserver.KeyFingerprint(agentmock.DefaultAPIKey)},
	)
}

// errorTB records Errorf instead of failing the test that runs it.
type errorTB struct {
	testing.TB
	errors []string
}

func (e *errorTB) Helper() {}
func (e *errorTB) Errorf(format string, args ...any) {
	e.errors = append(e.errors, fmt.Sprintf(format, args...))
}

func TestAssertRequestsReportsADiff(t *testing.T) {
	srv := agentmock.NewTestServer(t)
	status(t, srv.Client(), srv.URL+"/v2/agents/agt_nobody/sessions")
	tests := []struct {
		name string
		want []mockserver.Request
		fail bool
	}{
		{"the right status passes", []mockserver.Request{{Status: 404}}, false},
		{"only the named fields count", []mockserver.Request{{AgentKey: "agt_nobody", ErrorCode: "agent_not_found"}}, false},
		{"a wrong status fails", []mockserver.Request{{Status: 200}}, true},
		{"a missing request fails", []mockserver.Request{{Status: 404}, {Status: 200}}, true},
		{"an extra request fails", nil, true},
		{"NoStatus fails for a request that got a status", []mockserver.Request{{Status: agentmock.NoStatus}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := &errorTB{TB: t}
			srv.AssertRequests(tb, tt.want...)
			if failed := len(tb.errors) > 0; failed != tt.fail {
				t.Errorf("failed %v, want %v: %v", failed, tt.fail, tb.errors)
			}
			if tt.fail && len(tb.errors) > 0 && !strings.Contains(tb.errors[0], "-want +got") {
				t.Errorf("the failure has no diff: %s", tb.errors[0])
			}
		})
	}
}

func TestScenarioAndRateLimitOptions(t *testing.T) {
	t.Parallel()
	srv := agentmock.NewTestServer(t, agentmock.WithRateLimit("1/s,burst=1"))
	url := srv.URL + "/v2/agents/agt_customer_support/sessions"
	if a, b := status(t, srv.Client(), url), status(t, srv.Client(), url); a != 200 || b != 429 {
		t.Errorf("statuses %d %d, want 200 429", a, b)
	}
	if err := srv.ActivateScenario("forbidden", ""); err != nil {
		t.Fatal(err)
	}
	srv.Reset()
	if got := status(t, srv.Client(), url); got != 200 {
		t.Errorf("after Reset: %d, want 200", got)
	}
}

func TestClientSendsTheFixturesKey(t *testing.T) {
	srv := agentmock.NewTestServer(t, agentmock.WithFixtureYAML([]byte("api_keys: [from_file]\nagents:\n  - key: agt_x\n")))
	if got := status(t, srv.Client(), srv.URL+"/v2/agents/agt_x/sessions"); got != 200 || srv.APIKey != "from_file" {
		t.Errorf("status %d with key %q, want 200 with from_file", got, srv.APIKey)
	}
}

func TestNewServerRefusesAnEmptyAdminToken(t *testing.T) {
	srv, err := agentmock.NewServer(agentmock.WithAdminToken(""))
	if err == nil {
		srv.Close()
		t.Fatal("NewServer(WithAdminToken(\"\")) is no error; the admin API would need no token")
	}
	if !strings.Contains(err.Error(), "agentmock") {
		t.Errorf("error %q does not name agentmock", err)
	}
}

// TestAssertRequestsNoStatus asserts a request that a fault cut off before
// any status: NoStatus matches it, and fails for a request that got one.
func TestAssertRequestsNoStatus(t *testing.T) {
	srv := agentmock.NewTestServer(t)
	rules := []scenarios.Rule{{Times: 1, Fault: scenarios.FaultConnectionReset}}
	if err := srv.ActivateRules("reset_once", 0, rules, ""); err != nil {
		t.Fatal(err)
	}
	// A fresh connection each time, so that the transport has no reused
	// connection to retry on.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	t.Cleanup(client.CloseIdleConnections)
	send := func() (*http.Response, error) {
		req, err := http.NewRequest("GET", srv.URL+"/v2/agents/agt_customer_support/sessions", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Api-Key", srv.APIKey)
		return client.Do(req)
	}
	if resp, err := send(); err == nil {
		resp.Body.Close()
		t.Fatalf("the connection_reset fault answered %d", resp.StatusCode)
	}
	srv.AssertRequests(t, mockserver.Request{Status: agentmock.NoStatus, Fault: "connection_reset"})

	resp, err := send()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tests := []struct {
		name string
		want []mockserver.Request
		fail bool
	}{
		{"NoStatus matches the request that got none", []mockserver.Request{{Status: agentmock.NoStatus}, {Status: 200}}, false},
		{"NoStatus fails for the request that got a status", []mockserver.Request{{Status: agentmock.NoStatus}, {Status: agentmock.NoStatus}}, true},
		{"a status fails for the request that got none", []mockserver.Request{{Status: 200}, {Status: 200}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := &errorTB{TB: t}
			srv.AssertRequests(tb, tt.want...)
			if failed := len(tb.errors) > 0; failed != tt.fail {
				t.Errorf("failed %v, want %v: %v", failed, tt.fail, tb.errors)
			}
		})
	}
}

func TestSendAndEvents(t *testing.T) {
	srv := agentmock.NewTestServer(t)
	turn, err := srv.Send("agt_customer_support", "ase_customer_support_003", "Hello")
	if err == nil {
		t.Fatalf("a disabled session took an input: %+v", turn)
	}
	turn, err = srv.Send("agt_new_agent", "nope", "Hello")
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("an unknown session: %v", err)
	}
	for i := range 3 {
		if turn, err = srv.Send("agt_customer_support", "ase_customer_support_002", fmt.Sprint("question ", i)); err != nil {
			t.Fatal(err)
		}
	}
	events, err := srv.Events("agt_customer_support", "ase_customer_support_002")
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-len(turn):]
	if diff := cmp.Diff(turn, last); diff != "" {
		t.Errorf("the last turn in the list (-sent +listed):\n%s", diff)
	}
	if turn[0].Messages[0].Content != "question 2" || len(turn[0].Raw) == 0 {
		t.Errorf("input %+v", turn[0])
	}
}

func TestReadFramesOfABrokenStream(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
		wantErr    error
	}{
		{"a whole stream ends at its end frame", "data: {\"type\":\"streaming_agent_output\",\"content\":\"Hi\"}\n\ndata: {\"type\":\"end\"}\n\n", []string{"streaming_agent_output", "end"}, nil},
		{"a stream cut before its end is an unexpected EOF", "data: {\"type\":\"streaming_agent_output\",\"content\":\"Hi\"}\n\n", []string{"streaming_agent_output"}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var gotErr error
			for f, err := range agentmock.ReadFrames(strings.NewReader(tt.body)) {
				if err != nil {
					gotErr = err
					break
				}
				got = append(got, f.Type)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" || gotErr != tt.wantErr {
				t.Errorf("frames (-want +got):\n%s\nerror %v, want %v", diff, gotErr, tt.wantErr)
			}
		})
	}
}

// TestGoClientsHideASingleFault shows why ClientWithoutKeepAlive exists:
// Client's transport sends a GET again when its reused connection is reset
// before a byte, so a times: 1 fault is invisible to it.
func TestGoClientsHideASingleFault(t *testing.T) {
	for _, tt := range []struct {
		name     string
		client   func(*agentmock.TestServer) *http.Client
		wantFail bool
	}{
		{"Client retries on a reused connection and sees a 200", (*agentmock.TestServer).Client, false},
		{"ClientWithoutKeepAlive sees the fault", (*agentmock.TestServer).ClientWithoutKeepAlive, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := agentmock.NewTestServer(t)
			c := tt.client(srv)
			url := srv.URL + "/v2/agents/agt_customer_support/sessions"
			warm, err := c.Get(url) // a connection to reuse
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, warm.Body)
			warm.Body.Close()
			if err := srv.ActivateRules("once", 0, []scenarios.Rule{{Times: 1, Fault: scenarios.FaultConnectionReset}}, ""); err != nil {
				t.Fatal(err)
			}
			resp, err := c.Get(url)
			if err == nil {
				resp.Body.Close()
			}
			if failed := err != nil; failed != tt.wantFail {
				t.Errorf("error %v, want a failure: %v", err, tt.wantFail)
			}
		})
	}
}
