package scenarios

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newEngine(t *testing.T, user ...Scenario) *Engine {
	t.Helper()
	e, err := NewEngine(user)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	return e
}

func activateRules(t *testing.T, e *Engine, seed uint64, apiKey string, rules ...Rule) {
	t.Helper()
	if err := e.ActivateRules("test", seed, rules, apiKey); err != nil {
		t.Fatalf("ActivateRules: %v", err)
	}
}

var listReq = Request{Method: "GET", Route: RouteList, AgentKey: "agt_customer_support", APIKey: "key_a"}

// pattern runs n requests and writes "x" for each that a rule took and "."
// for each that got the normal behaviour.
func pattern(e *Engine, n int, r Request) string {
	var b strings.Builder
	for range n {
		if e.Decide(r).IsZero() {
			b.WriteByte('.')
		} else {
			b.WriteByte('x')
		}
	}
	return b.String()
}

func TestDecideMatches(t *testing.T) {
	req := Request{
		Method:   "POST",
		Route:    RouteCreate,
		AgentKey: "agt_customer_support",
		Query:    url.Values{"limit": {"10"}, "filter": {"a/b"}},
		Header:   http.Header{"X-Test": {"blue"}, "User-Agent": {"curl/8.5.0"}},
		APIKey:   "key_a",
	}
	tests := []struct {
		name  string
		match Match
		want  bool
	}{
		{"an empty match takes every request", Match{}, true},
		{"an exact agent_key matches", Match{AgentKey: "agt_customer_support"}, true},
		{"an agent_key glob matches", Match{AgentKey: "agt_customer_*"}, true},
		{"an agent_key glob for another agent does not match", Match{AgentKey: "agt_sales*"}, false},
		{"the method matches case-insensitively", Match{Method: "post"}, true},
		{"another method does not match", Match{Method: "GET"}, false},
		{"the route matches", Match{Route: RouteCreate}, true},
		{"another route does not match", Match{Route: RouteList}, false},
		{"a query glob matches", Match{Query: map[string]string{"limit": "1?"}}, true},
		{"a query glob matches across a slash", Match{Query: map[string]string{"filter": "a*"}}, true},
		{"a query value that differs does not match", Match{Query: map[string]string{"limit": "5"}}, false},
		{"an absent query parameter does not match even *", Match{Query: map[string]string{"page_key": "*"}}, false},
		{"a header matches with its name in any case", Match{Headers: map[string]string{"x-test": "bl*"}}, true},
		{"a header glob matches across a slash", Match{Headers: map[string]string{"User-Agent": "curl*"}}, true},
		{"a header value that differs does not match", Match{Headers: map[string]string{"X-Test": "red"}}, false},
		{"an absent header does not match", Match{Headers: map[string]string{"X-Other": "*"}}, false},
		{"the api_key matches", Match{APIKey: "key_a"}, true},
		{"another api_key does not match", Match{APIKey: "key_b"}, false},
		{"every field must match", Match{AgentKey: "agt_*", Method: "POST", APIKey: "key_b"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t)
			activateRules(t, e, 0, "", Rule{Match: tt.match, Respond: &Response{Status: 500}})
			if got := !e.Decide(req).IsZero(); got != tt.want {
				t.Errorf("rule took the request: %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDecideCounts(t *testing.T) {
	fail := &Response{Status: 503}
	tests := []struct {
		name  string
		rules []Rule
		want  string
	}{
		{"times 2 takes the first two requests", []Rule{{Times: 2, Respond: fail}}, "xx......"},
		{"after 3 skips the first three requests", []Rule{{After: 3, Respond: fail}}, "...xxxxx"},
		{"every 3 takes each third request", []Rule{{Every: 3, Respond: fail}}, "..x..x.."},
		{"after and every count matches after the skipped ones", []Rule{{After: 1, Every: 2, Respond: fail}}, "..x.x.x."},
		{"after, every and times combine", []Rule{{After: 1, Every: 2, Times: 2, Respond: fail}}, "..x.x..."},
		{"a spent rule lets the next one decide", []Rule{{Times: 1, Respond: fail}, {After: 2, Fault: FaultEmptyResponse}}, "x..xxxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t)
			activateRules(t, e, 0, "", tt.rules...)
			if got := pattern(e, len(tt.want), listReq); got != tt.want {
				t.Errorf("pattern = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDecideFirstMatchingRuleDecides(t *testing.T) {
	e := newEngine(t)
	activateRules(t, e, 0, "",
		Rule{Match: Match{Route: RouteGet}, Respond: &Response{Status: 404, Code: "session_not_found"}},
		Rule{Times: 1, Respond: &Response{Status: 429, RetryAfter: ms(2500)}},
		Rule{Delay: &Delay{Min: ms(10), Max: ms(10)}},
	)
	get := listReq
	get.Route = RouteGet
	tests := []struct {
		name string
		req  Request
		want Decision
	}{
		{"a get takes the first rule with its own code and a default message", get, Decision{Rule: "test#1", Status: 404, Code: "session_not_found", Message: "the session does not exist"}},
		{"a list skips the first rule and takes the second", listReq, Decision{Rule: "test#2", Status: 429, Code: "rate_limit_exceeded", Message: "rate limit exceeded; retry later", RetryAfter: 2500 * time.Millisecond}},
		{"once the second rule is spent the third delays", listReq, Decision{Rule: "test#3", Delay: 10 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, e.Decide(tt.req)); diff != "" {
				t.Errorf("Decide mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideProbabilityIsSeeded(t *testing.T) {
	rule := Rule{Probability: 0.3, Respond: &Response{Status: 503}}
	run := func(seed uint64) string {
		e := newEngine(t)
		activateRules(t, e, seed, "", rule)
		return pattern(e, 200, listReq)
	}
	a, b, c := run(7), run(7), run(8)
	t.Run("the same seed repeats exactly across two engines", func(t *testing.T) {
		if a != b {
			t.Errorf("seed 7 gave\n%s\nthen\n%s", a, b)
		}
	})
	t.Run("another seed gives another sequence", func(t *testing.T) {
		if a == c {
			t.Errorf("seeds 7 and 8 gave the same sequence %s", a)
		}
	})
	t.Run("about the given share of requests is taken", func(t *testing.T) {
		if n := strings.Count(a, "x"); n < 40 || n > 80 {
			t.Errorf("%d of 200 taken, want about 60", n)
		}
	})
	t.Run("reactivating restarts the sequence", func(t *testing.T) {
		e := newEngine(t)
		activateRules(t, e, 7, "", rule)
		pattern(e, 50, listReq)
		activateRules(t, e, 7, "", rule)
		if got := pattern(e, 200, listReq); got != a {
			t.Errorf("after reactivation got\n%s\nwant\n%s", got, a)
		}
	})
}

func TestDecideDelay(t *testing.T) {
	t.Run("a range is drawn within bounds and repeats with the seed", func(t *testing.T) {
		draw := func() []time.Duration {
			e := newEngine(t)
			activateRules(t, e, 3, "", Rule{Delay: &Delay{Min: ms(50), Max: ms(250)}})
			var out []time.Duration
			for range 100 {
				d := e.Decide(listReq)
				if d.Delay < 50*time.Millisecond || d.Delay > 250*time.Millisecond || d.Status != 0 {
					t.Fatalf("Decide = %+v, want a normal response delayed 50ms..250ms", d)
				}
				out = append(out, d.Delay)
			}
			return out
		}
		if diff := cmp.Diff(draw(), draw()); diff != "" {
			t.Errorf("delays differ between runs (-first +second):\n%s", diff)
		}
	})
	t.Run("slow_body without a delay dribbles over the default", func(t *testing.T) {
		e := newEngine(t)
		activateRules(t, e, 0, "", Rule{Fault: FaultSlowBody})
		want := Decision{Rule: "test#1", Fault: FaultSlowBody, Delay: DefaultSlowBody}
		if diff := cmp.Diff(want, e.Decide(listReq)); diff != "" {
			t.Errorf("Decide mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestDecideCountsAreExactUnderConcurrency(t *testing.T) {
	e := newEngine(t)
	activateRules(t, e, 0, "", Rule{Times: 5, Respond: &Response{Status: 429}})
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		fired int
	)
	for range 50 {
		wg.Go(func() {
			if e.Decide(listReq).Status == 429 {
				mu.Lock()
				fired++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Run("times 5 fires exactly 5 times under 50 parallel requests", func(t *testing.T) {
		if fired != 5 {
			t.Errorf("fired %d times, want 5", fired)
		}
	})
	t.Run("the activation reports the same count", func(t *testing.T) {
		want := []Activation{{Name: "test", Inline: true, Seed: DefaultSeed, Rules: []RuleCount{{Rule: "test#1", Matched: 5, Fired: 5}}}}
		if diff := cmp.Diff(want, e.Active()); diff != "" {
			t.Errorf("Active mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestScopes(t *testing.T) {
	e := newEngine(t)
	if err := e.Activate("server_error", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.Activate("rate_limit_exceeded", "key_a"); err != nil {
		t.Fatal(err)
	}
	activateRules(t, e, 0, "key_c", Rule{Match: Match{Route: RouteDelete}, Fault: FaultConnectionReset})
	withKey := func(k string) Request { r := listReq; r.APIKey = k; return r }

	tests := []struct {
		name string
		req  Request
		want int
	}{
		{"a key with its own activation gets it", withKey("key_a"), 429},
		{"another key gets the global activation", withKey("key_b"), 500},
		{"a request without a key gets the global activation", withKey(""), 500},
		{"a key whose own rules do not match gets the normal response, not the global one", withKey("key_c"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.Decide(tt.req).Status; got != tt.want {
				t.Errorf("Decide status = %d, want %d", got, tt.want)
			}
		})
	}
	t.Run("Active lists the global activation first, then keys in order", func(t *testing.T) {
		var got []string
		for _, a := range e.Active() {
			got = append(got, a.Name+"@"+a.APIKey)
		}
		want := []string{"server_error@", "rate_limit_exceeded@key_a", "test@key_c"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Active mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("deactivating a key falls back to the global activation", func(t *testing.T) {
		e.Deactivate("key_a")
		if got := e.Decide(withKey("key_a")).Status; got != 500 {
			t.Errorf("Decide status = %d, want 500", got)
		}
	})
	t.Run("deactivating the global activation leaves the per-key ones", func(t *testing.T) {
		e.Deactivate("")
		if got := e.Decide(withKey("key_b")); !got.IsZero() {
			t.Errorf("Decide = %+v, want the zero Decision", got)
		}
		if got := len(e.Active()); got != 1 {
			t.Errorf("%d activations left, want 1", got)
		}
	})
	t.Run("Reset ends every activation", func(t *testing.T) {
		e.Reset()
		if got := e.Active(); got != nil {
			t.Errorf("Active = %+v, want none", got)
		}
	})
}

func TestActivateErrors(t *testing.T) {
	e := newEngine(t)
	t.Run("an unknown name wraps ErrUnknownScenario", func(t *testing.T) {
		if err := e.Activate("nope", ""); !errors.Is(err, ErrUnknownScenario) {
			t.Errorf("Activate error = %v, want ErrUnknownScenario", err)
		}
	})
	t.Run("invalid inline rules are refused with a field path", func(t *testing.T) {
		err := e.ActivateRules("", 0, []Rule{{Fault: FaultEmptyResponse}, {Respond: &Response{Status: 302}}}, "")
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Path != "rules[1].respond.status" {
			t.Errorf("ActivateRules error = %v, want a *FieldError at rules[1].respond.status", err)
		}
		if got := e.Active(); got != nil {
			t.Errorf("Active = %+v after a refused activation, want none", got)
		}
	})
	t.Run("inline rules without a name are labelled inline", func(t *testing.T) {
		if err := e.ActivateRules("", 0, []Rule{{Fault: FaultEmptyResponse}}, ""); err != nil {
			t.Fatal(err)
		}
		if got := e.Decide(listReq).Rule; got != "inline#1" {
			t.Errorf("Rule = %q, want inline#1", got)
		}
	})
	t.Run("a caller changing its rules afterwards does not change the activation", func(t *testing.T) {
		rules := []Rule{{Respond: &Response{Status: 500, Headers: map[string]string{"X-A": "1"}}}}
		activateRules(t, e, 0, "", rules...)
		rules[0].Respond.Status = 400
		rules[0].Respond.Headers["X-A"] = "2"
		d := e.Decide(listReq)
		if d.Status != 500 || d.Headers["X-A"] != "1" {
			t.Errorf("Decide = %+v, want status 500 and X-A 1", d)
		}
	})
}

func TestDecideNamed(t *testing.T) {
	user := Scenario{Name: "retry_then_succeed", Rules: []Rule{{Times: 2, Respond: &Response{Status: 429, RetryAfter: ms(2000)}}}}
	e := newEngine(t, user)
	statuses := func(apiKey string, n int) []int {
		r := listReq
		r.APIKey = apiKey
		var out []int
		for range n {
			d, err := e.DecideNamed("retry_then_succeed", r)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d.Status)
		}
		return out
	}
	t.Run("repeated requests share the scenario's counters", func(t *testing.T) {
		got := append(statuses("key_a", 1), statuses("key_a", 3)...)
		if diff := cmp.Diff([]int{429, 429, 0, 0}, got); diff != "" {
			t.Errorf("statuses mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("another API key has counters of its own", func(t *testing.T) {
		if diff := cmp.Diff([]int{429, 429, 0}, statuses("key_b", 3)); diff != "" {
			t.Errorf("statuses mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("it does not activate anything for other requests", func(t *testing.T) {
		if d := e.Decide(listReq); !d.IsZero() {
			t.Errorf("Decide = %+v, want the zero Decision", d)
		}
	})
	t.Run("Reset starts the counters again", func(t *testing.T) {
		e.Reset()
		if diff := cmp.Diff([]int{429, 429, 0}, statuses("key_a", 3)); diff != "" {
			t.Errorf("statuses mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("an unknown name wraps ErrUnknownScenario", func(t *testing.T) {
		if _, err := e.DecideNamed("nope", listReq); !errors.Is(err, ErrUnknownScenario) {
			t.Errorf("DecideNamed error = %v, want ErrUnknownScenario", err)
		}
	})
}

func TestCatalog(t *testing.T) {
	t.Run("a user scenario overrides the built-in of the same name", func(t *testing.T) {
		e := newEngine(t, Scenario{Name: "slow", Rules: []Rule{{Delay: &Delay{Min: ms(10), Max: ms(10)}}}})
		if err := e.Activate("slow", ""); err != nil {
			t.Fatal(err)
		}
		if got := e.Decide(listReq).Delay; got != 10*time.Millisecond {
			t.Errorf("Delay = %v, want 10ms", got)
		}
	})
	t.Run("Scenarios lists built-ins and user scenarios sorted by name", func(t *testing.T) {
		e := newEngine(t, Scenario{Name: "aaa", Rules: []Rule{{Fault: FaultEmptyResponse}}})
		var got []string
		for _, s := range e.Scenarios() {
			got = append(got, s.Name)
		}
		want := []string{"aaa", "agent_not_found", "connection_reset", "flaky", "forbidden", "invalid_request", "rate_limit_exceeded", "server_error", "slow", "unauthorized"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Scenarios mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("an invalid user scenario is refused", func(t *testing.T) {
		_, err := NewEngine([]Scenario{{Name: "bad", Rules: []Rule{{Fault: "boom"}}}})
		if err == nil || !strings.Contains(err.Error(), `scenario "bad": rules[0].fault:`) {
			t.Errorf("NewEngine error = %v, want it to name the scenario and field", err)
		}
	})
	t.Run("a scenario given twice is refused", func(t *testing.T) {
		s := Scenario{Name: "x"}
		if _, err := NewEngine([]Scenario{s, s}); err == nil {
			t.Error("NewEngine accepted a scenario defined twice")
		}
	})
	t.Run("a refused SetCatalog keeps the old catalog", func(t *testing.T) {
		e := newEngine(t, Scenario{Name: "mine", Rules: []Rule{{Fault: FaultEmptyResponse}}})
		if err := e.SetCatalog([]Scenario{{Name: "mine", Rules: []Rule{{}}}}); err == nil {
			t.Fatal("SetCatalog accepted a rule that does nothing")
		}
		if err := e.Activate("mine", ""); err != nil {
			t.Errorf("Activate after a refused SetCatalog: %v", err)
		}
	})
	t.Run("SetCatalog keeps current activations", func(t *testing.T) {
		e := newEngine(t, Scenario{Name: "mine", Rules: []Rule{{Fault: FaultEmptyResponse}}})
		if err := e.Activate("mine", ""); err != nil {
			t.Fatal(err)
		}
		if err := e.SetCatalog(nil); err != nil {
			t.Fatal(err)
		}
		if got := e.Decide(listReq).Fault; got != FaultEmptyResponse {
			t.Errorf("Fault = %q, want empty_response", got)
		}
		if err := e.Activate("mine", ""); !errors.Is(err, ErrUnknownScenario) {
			t.Errorf("Activate of a removed scenario: %v, want ErrUnknownScenario", err)
		}
	})
}

func TestForStatus(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   Decision
	}{
		{"429 carries the default Retry-After", 429, Decision{Rule: "prefer:code=429", Status: 429, Code: "rate_limit_exceeded", Message: "rate limit exceeded; retry later", RetryAfter: time.Second}},
		{"404 is agent_not_found", 404, Decision{Rule: "prefer:code=404", Status: 404, Code: "agent_not_found", Message: "the agent does not exist"}},
		{"409 is session_exists", 409, Decision{Rule: "prefer:code=409", Status: 409, Code: "session_exists", Message: "the session already exists"}},
		{"504 is gateway_timeout", 504, Decision{Rule: "prefer:code=504", Status: 504, Code: "gateway_timeout", Message: "gateway timeout"}},
		{"an unlisted status gets code error and its status text", 418, Decision{Rule: "prefer:code=418", Status: 418, Code: "error", Message: "i'm a teapot"}},
		{"a success status is the normal behaviour", 200, Decision{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ForStatus(tt.status)); diff != "" {
				t.Errorf("ForStatus(%d) mismatch (-want +got):\n%s", tt.status, diff)
			}
		})
	}
}

func BenchmarkDecideIdle(b *testing.B) {
	e, err := NewEngine(nil)
	if err != nil {
		b.Fatal(err)
	}
	r := listReq
	b.ReportAllocs()
	for b.Loop() {
		if !e.Decide(r).IsZero() {
			b.Fatal("idle engine took a request")
		}
	}
}

func BenchmarkDecideActive(b *testing.B) {
	e, err := NewEngine(nil)
	if err != nil {
		b.Fatal(err)
	}
	rules := []Rule{{Match: Match{AgentKey: "agt_*", Route: RouteGet}, Respond: &Response{Status: 404}}, {Every: 2, Delay: &Delay{Min: ms(1), Max: ms(5)}}}
	if err := e.ActivateRules("bench", 0, rules, ""); err != nil {
		b.Fatal(err)
	}
	r := listReq
	b.ReportAllocs()
	for b.Loop() {
		e.Decide(r)
	}
}

func TestDecideNamedStateIsBounded(t *testing.T) {
	e, err := NewEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 * MaxNamedStates {
		if _, err := e.DecideNamed("server_error", Request{APIKey: fmt.Sprint("key", i)}); err != nil {
			t.Fatal(err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := len(e.named); n > MaxNamedStates {
		t.Errorf("%d named states, want at most %d", n, MaxNamedStates)
	}
}
