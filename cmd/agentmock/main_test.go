package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer that the server goroutine and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func noEnv(string) string { return "" }

// running is an agentmock started by run in the background.
type running struct {
	url    string
	cert   string       // the PEM file of the ready lines, with -tls
	client *http.Client // trusts cert, and speaks HTTP/2 over TLS
	stderr *syncBuffer
	hup    chan os.Signal
	stop   context.CancelFunc
	exit   chan int
}

func start(t *testing.T, getenv func(string) string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	r := &running{client: http.DefaultClient, stderr: &syncBuffer{}, hup: make(chan os.Signal, 1), stop: cancel, exit: make(chan int, 1)}
	go func() {
		r.exit <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), getenv, pw, r.stderr, r.hup)
		pw.Close()
	}()
	// With -tls, a line names the certificate before the line of the URL.
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if cert, ok := strings.CutPrefix(strings.TrimSpace(line), "agentmock certificate "); ok && err == nil {
		r.cert = cert
		line, err = br.ReadString('\n')
	}
	if err != nil {
		t.Fatalf("no ready line: %v; stderr:\n%s", err, r.stderr)
	}
	go io.Copy(io.Discard, pr)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "agentmock listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") && !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("ready line %q has no URL", line)
	}
	r.url = url
	if r.cert != "" {
		r.client = trusting(t, r.cert)
	}
	t.Cleanup(func() {
		// An idle HTTP/2 connection would hold the stop up for the second
		// that the server gives its client to go after a GOAWAY.
		r.client.CloseIdleConnections()
		cancel()
		select {
		case <-r.exit:
		case <-time.After(10 * time.Second):
			t.Error("agentmock did not stop")
		}
	})
	return r
}

func (r *running) get(t *testing.T, path string, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", r.url+path, nil)
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestServesTheBuiltInDataAndStopsCleanly(t *testing.T) {
	r := start(t, noEnv)
	if got := r.get(t, "/v2/agents/agt_customer_support/sessions", "k"); got != 200 {
		t.Errorf("status %d, want 200", got)
	}
	r.stop()
	if code := <-r.exit; code != exitOK {
		t.Errorf("exit status %d, want 0", code)
	}
	r.exit <- exitOK // for the cleanup
}

func TestFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{"AGENTMOCK_API_KEY": "env_a, env_b", "AGENTMOCK_GENERATE": "agt_env=3"}
	r := start(t, func(k string) string { return env[k] }, "-generate", "agt_flag=2")
	if got := r.get(t, "/v2/agents/agt_flag/sessions", "env_b"); got != 200 {
		t.Errorf("env key on a flag-generated agent: %d, want 200", got)
	}
	if got := r.get(t, "/v2/agents/agt_env/sessions", "env_a"); got != 404 {
		t.Errorf("AGENTMOCK_GENERATE applied although -generate was given: %d, want 404", got)
	}
	if got := r.get(t, "/v2/agents/agt_flag/sessions", "other"); got != 401 {
		t.Errorf("a key not configured: %d, want 401", got)
	}
}

func TestNoAuth(t *testing.T) {
	r := start(t, func(k string) string { return map[string]string{"AGENTMOCK_NO_AUTH": "true"}[k] })
	if got := r.get(t, "/v2/agents/agt_customer_support/sessions", ""); got != 200 {
		t.Errorf("status %d, want 200", got)
	}
}

func TestBadInputExitsWithStatus2(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("agents:\n  - key: no.pe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string // in stderr
		notWant string // not in stderr: for a value from the environment, the flag
	}{
		{"an unknown flag", []string{"-colour"}, nil, "colour", ""},
		{"a stray argument", []string{"serve"}, nil, "serve", ""},
		{"a missing fixtures file", []string{"-fixtures", filepath.Join(dir, "missing.yaml")}, nil, "missing.yaml", ""},
		{"a bad fixtures file", []string{"-fixtures", bad}, nil, "bad.yaml:2", ""},
		{"a bad -generate", []string{"-generate", "agt_x"}, nil, "agt_x", ""},
		{"a bad log format", []string{"-log-format", "xml"}, nil, "xml", ""},
		{"a bad log level", []string{"-log-level", "loud"}, nil, "loud", ""},
		{"a bad rate limit", []string{"-rate-limit", "fast"}, nil, "rate-limit", ""},
		{"an unknown scenario", []string{"-scenario", "nope"}, nil, "nope", ""},
		{"a bad scenarios file", []string{"-scenarios", bad}, nil, "bad.yaml", ""},
		{"a negative journal size", []string{"-journal-size", "-1"}, nil, "journal-size", ""},
		{"a bad stream pace", []string{"-stream-pace", "fast"}, nil, "-stream-pace: stream pace", ""},
		{"a zero header timeout", []string{"-read-header-timeout", "0s"}, nil, "-read-header-timeout", "-idle-timeout"},
		{"an address without a port", []string{"-addr", "nonsense"}, nil, "-addr", ""},
		{"a port over 65535", []string{"-addr", "127.0.0.1:99999"}, nil, `-addr: the port must be a number from 0 to 65535, not "99999"`, ""},
		{"a port by service name", []string{"-addr", "127.0.0.1:http"}, nil, `not "http"`, ""},
		{"an empty port", []string{"-addr", "127.0.0.1:"}, nil, `not ""`, ""},
		{"a negative port", []string{"-addr", "127.0.0.1:-1"}, nil, `not "-1"`, ""},
		{"an empty -api-key", []string{"-api-key", ""}, nil, "-api-key: an API key cannot be empty", ""},
		{"an empty -admin-token", []string{"-admin-token", ""}, nil, "-admin-token: the admin token cannot be empty", ""},
		{"an empty -admin-token after =", []string{"-admin-token="}, nil, "-admin-token: the admin token cannot be empty", ""},

		{"a bad seed in the environment", nil, map[string]string{"AGENTMOCK_SEED": "abc"}, "AGENTMOCK_SEED", "-seed"},
		{"a bad log format in the environment", nil, map[string]string{"AGENTMOCK_LOG_FORMAT": "xml"}, "AGENTMOCK_LOG_FORMAT", "-log-format"},
		{"a bad address in the environment", nil, map[string]string{"AGENTMOCK_ADDR": "bad"}, "AGENTMOCK_ADDR", "-addr"},
		{"a bad port in the environment", nil, map[string]string{"AGENTMOCK_ADDR": "127.0.0.1:99999"}, "AGENTMOCK_ADDR", "-addr"},
		{"a bad rate limit in the environment", nil, map[string]string{"AGENTMOCK_RATE_LIMIT": "junk"}, "AGENTMOCK_RATE_LIMIT", "-rate-limit"},
		{"a bad -generate in the environment", nil, map[string]string{"AGENTMOCK_GENERATE": "junk"}, "AGENTMOCK_GENERATE", "-generate"},
		{"a bad agent to generate in the environment", nil, map[string]string{"AGENTMOCK_GENERATE": "no.pe=3"}, "AGENTMOCK_GENERATE no.pe=3", "-generate"},
		{"a negative journal size in the environment", nil, map[string]string{"AGENTMOCK_JOURNAL_SIZE": "-1"}, "AGENTMOCK_JOURNAL_SIZE", "-journal-size"},
		{"a bad stream pace in the environment", nil, map[string]string{"AGENTMOCK_STREAM_PACE": "40"}, "AGENTMOCK_STREAM_PACE", "-stream-pace"},
		{"a zero idle timeout in the environment", nil, map[string]string{"AGENTMOCK_IDLE_TIMEOUT": "0s"}, "AGENTMOCK_IDLE_TIMEOUT", "-idle-timeout"},
		{"an unknown scenario in the environment", nil, map[string]string{"AGENTMOCK_SCENARIO": "nope"}, "AGENTMOCK_SCENARIO", "-scenario"},
		{"a missing fixtures file in the environment", nil, map[string]string{"AGENTMOCK_FIXTURES": filepath.Join(dir, "missing.yaml")}, "AGENTMOCK_FIXTURES: ", "-fixtures"},
		{"a bad scenarios file in the environment", nil, map[string]string{"AGENTMOCK_SCENARIOS": bad}, "AGENTMOCK_SCENARIOS: ", "-scenarios"},
		{"a blank admin token in the environment", nil, map[string]string{"AGENTMOCK_ADMIN_TOKEN": " "}, "AGENTMOCK_ADMIN_TOKEN: the admin token cannot be empty", "-admin-token"},
		{"an empty API key in an environment list", nil, map[string]string{"AGENTMOCK_API_KEY": "key_a,,key_b"}, "AGENTMOCK_API_KEY: an API key cannot be empty", "-api-key"},
	}
	// Should a case be taken, the server it starts is on a free port, and
	// stops at once with status 0.
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if v, ok := tt.env[k]; ok || k != "AGENTMOCK_ADDR" {
					return v
				}
				return "127.0.0.1:0"
			}
			var stdout, stderr bytes.Buffer
			code := run(stopped, tt.args, getenv, &stdout, &stderr, nil)
			if code != exitUsage {
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

func TestVersion(t *testing.T) {
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"-version"}, noEnv, &stdout, io.Discard, nil); code != exitOK {
		t.Fatalf("exit status %d", code)
	}
	if !strings.HasPrefix(stdout.String(), "agentmock ") {
		t.Errorf("stdout %q", stdout.String())
	}
}

func TestReloadIsAllOrNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.yaml")
	write := func(yaml string) {
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("agents:\n  - key: agt_one\n")
	r := start(t, noEnv, "-fixtures", path)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("%s never happened; stderr:\n%s", what, r.stderr)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	write("agents:\n  - key: agt_two\n")
	r.hup <- os.Interrupt
	waitFor("reload", func() bool { return r.get(t, "/v2/agents/agt_two/sessions", "k") == 200 })

	write("agents:\n  - key: agt_three\n    colour: blue\n")
	r.hup <- os.Interrupt
	waitFor("the refusal log line", func() bool { return strings.Contains(r.stderr.String(), "reload refused") })
	if !strings.Contains(r.stderr.String(), "f.yaml:3") {
		t.Errorf("the refusal does not name the file and line:\n%s", r.stderr)
	}
	if got := r.get(t, "/v2/agents/agt_two/sessions", "k"); got != 200 {
		t.Errorf("after a bad reload the old data is gone: %d", got)
	}
}

func TestScenarioRateLimitAndAdminTokenFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(path, []byte("scenarios:\n  teapot:\n    rules:\n      - respond: {status: 418}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AGENTMOCK_ADMIN_TOKEN": "tok", "AGENTMOCK_SCENARIO": "teapot"}
	r := start(t, func(k string) string { return env[k] }, "-scenarios", path, "-rate-limit", "100/s,burst=5")
	req, _ := http.NewRequest("GET", r.url+"/v2/agents/agt_customer_support/sessions", nil)
	req.Header.Set("X-Api-Key", "k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 418 {
		t.Errorf("status %d, want the start scenario's 418", resp.StatusCode)
	}
	if got := r.get(t, "/__admin/requests", ""); got != 401 {
		t.Errorf("admin call without the token: %d, want 401", got)
	}
	req, _ = http.NewRequest("DELETE", r.url+"/__admin/scenario", nil)
	req.Header.Set("Authorization", "Bearer tok")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("deactivate: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ = http.NewRequest("GET", r.url+"/v2/agents/agt_customer_support/sessions", nil)
	req.Header.Set("X-Api-Key", "k")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Limit") != "5" {
		t.Errorf("status %d X-RateLimit-Limit %q, want 200 and 5", resp.StatusCode, resp.Header.Get("X-RateLimit-Limit"))
	}
}

func TestTheExampleFilesLoad(t *testing.T) {
	r := start(t, noEnv, "-fixtures", "../../testdata/sessions.yaml", "-scenarios", "../../testdata/scenarios.yaml",
		"-scenario", "creates_fail")
	if got := r.get(t, "/v2/agents/agt_internal_tools/sessions", "key_b"); got != 403 {
		t.Errorf("key_b on agt_internal_tools: %d, want 403", got)
	}
	if got := r.get(t, "/v2/agents/agt_customer_support/sessions", "key_a"); got != 200 {
		t.Errorf("key_a on agt_customer_support: %d, want 200", got)
	}
}

// waitFired polls the admin API until the active scenario's first rule has
// fired n times: a request it took is then inside it.
func (r *running) waitFired(t *testing.T, n int) {
	t.Helper()
	want := fmt.Sprintf(`"fired":%d`, n)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, body := r.call(t, "GET", "/__admin/scenarios", "")
		if strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rule never fired %d times: %s", n, body)
		}
	}
}

func TestStopEndsInjectedDelays(t *testing.T) {
	r := start(t, noEnv)
	if status, body := r.call(t, "PUT", "/__admin/scenario", `{"rules":[{"delay":"1h"}]}`); status != 200 {
		t.Fatalf("activate: %d %s", status, body)
	}
	got := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", r.url+"/v2/agents/agt_customer_support/sessions", nil)
		req.Header.Set("X-Api-Key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- 0
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	r.waitFired(t, 1) // the request is in its delay
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
	if status := <-got; status != 503 {
		t.Errorf("the delayed request got %d, want 503", status)
	}
}

// TestStopCutsOffASlowBody: a slow_body in flight does not hold a stop up
// either. Its client has the status and the headers, then the connection
// closes before the whole body, as the README says.
func TestStopCutsOffASlowBody(t *testing.T) {
	r := start(t, noEnv)
	if status, body := r.call(t, "PUT", "/__admin/scenario", `{"rules":[{"fault":"slow_body","delay":"1h"}]}`); status != 200 {
		t.Fatalf("activate: %d %s", status, body)
	}
	req, _ := http.NewRequest("GET", r.url+"/v2/agents/agt_customer_support/sessions", nil)
	req.Header.Set("X-Api-Key", "k")
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req) // returns once the first piece of the body is out
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	r.stop()
	select {
	case code := <-r.exit:
		if code != exitOK {
			t.Errorf("exit status %d, want 0", code)
		}
		r.exit <- code // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("the server is still waiting for the slow body")
	}
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) || int64(len(b)) >= resp.ContentLength {
		t.Errorf("read %d of %d bytes, then %v; want a body cut off by io.ErrUnexpectedEOF", len(b), resp.ContentLength, err)
	}
}
