package scenarios

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBuiltIn(t *testing.T) {
	t.Run("every built-in scenario is valid and described", func(t *testing.T) {
		for _, s := range BuiltIn() {
			if err := s.Validate(); err != nil {
				t.Errorf("%s: %v", s.Name, err)
			}
			if s.Description == "" {
				t.Errorf("%s has no description", s.Name)
			}
		}
	})

	tests := []struct {
		name string
		want Decision
	}{
		{"invalid_request", Decision{Rule: "invalid_request#1", Status: 400, Code: "invalid_request", Message: "the request is invalid"}},
		{"unauthorized", Decision{Rule: "unauthorized#1", Status: 401, Code: "unauthorized", Message: "missing or invalid API key"}},
		{"forbidden", Decision{Rule: "forbidden#1", Status: 403, Code: "forbidden", Message: "this API key may not access this agent"}},
		{"agent_not_found", Decision{Rule: "agent_not_found#1", Status: 404, Code: "agent_not_found", Message: `agent "agt_customer_support" does not exist`}},
		{"rate_limit_exceeded", Decision{Rule: "rate_limit_exceeded#1", Status: 429, Code: "rate_limit_exceeded", Message: "rate limit exceeded; retry later", RetryAfter: time.Second}},
		{"server_error", Decision{Rule: "server_error#1", Status: 500, Code: "internal_error", Message: "internal server error"}},
		{"slow", Decision{Rule: "slow#1", Delay: 2 * time.Second}},
		{"connection_reset", Decision{Rule: "connection_reset#1", Fault: FaultConnectionReset}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" gives its documented decision on every request", func(t *testing.T) {
			e := newEngine(t)
			if err := e.Activate(tt.name, ""); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if diff := cmp.Diff(tt.want, e.Decide(listReq)); diff != "" {
					t.Fatalf("request %d: Decide mismatch (-want +got):\n%s", i+1, diff)
				}
			}
		})
	}

	t.Run("flaky gives 503 to about 30% of requests, the same ones on every run", func(t *testing.T) {
		run := func() string {
			e := newEngine(t)
			if err := e.Activate("flaky", ""); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for range 1000 {
				switch d := e.Decide(listReq); {
				case d.IsZero():
					b.WriteByte('.')
				case d.Status == 503 && d.Code == "service_unavailable" && d.Rule == "flaky#1":
					b.WriteByte('x')
				default:
					t.Fatalf("flaky decided %+v", d)
				}
			}
			return b.String()
		}
		first := run()
		if n := strings.Count(first, "x"); n < 250 || n > 350 {
			t.Errorf("%d of 1000 requests got 503, want about 300", n)
		}
		if first != run() {
			t.Error("two runs of flaky differ")
		}
	})

	t.Run("the tests cover every built-in scenario", func(t *testing.T) {
		covered := map[string]bool{"flaky": true}
		for _, tt := range tests {
			covered[tt.name] = true
		}
		for _, s := range BuiltIn() {
			if !covered[s.Name] {
				t.Errorf("built-in %s has no test of its decision", s.Name)
			}
		}
	})
}
