package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ms(n int) Duration { return Duration(time.Duration(n) * time.Millisecond) }

func TestLoad(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []Scenario
	}{
		{
			name: "the contract's example loads in file order",
			src: `
scenarios:
  retry_then_succeed:
    description: Two 429s, then normal responses
    rules:
      - match: {agent_key: agt_customer_support}
        times: 2
        respond: {status: 429, retry_after: 2s}
  slow_and_flaky:
    seed: 7
    rules:
      - probability: 0.1
        fault: connection_reset
      - delay: {min: 50ms, max: 250ms}
`,
			want: []Scenario{
				{
					Name:        "retry_then_succeed",
					Description: "Two 429s, then normal responses",
					Rules: []Rule{{
						Match:   Match{AgentKey: "agt_customer_support"},
						Times:   2,
						Respond: &Response{Status: 429, RetryAfter: ms(2000)},
					}},
				},
				{
					Name: "slow_and_flaky",
					Seed: 7,
					Rules: []Rule{
						{Probability: 0.1, Fault: FaultConnectionReset},
						{Delay: &Delay{Min: ms(50), Max: ms(250)}},
					},
				},
			},
		},
		{
			name: "every field of a rule loads",
			src: `
scenarios:
  everything:
    rules:
      - match:
          agent_key: agt_*
          method: post
          route: create
          query: {limit: "1?"}
          headers: {X-Test: "a*"}
          api_key: key_a
        after: 1
        times: 3
        every: 2
        probability: 0.5
        respond:
          status: 503
          code: down
          message: gone fishing
          headers: {X-Why: maintenance}
          retry_after: 1500ms
        delay: 300ms
`,
			want: []Scenario{{
				Name: "everything",
				Rules: []Rule{{
					Match: Match{
						AgentKey: "agt_*", Method: "post", Route: "create",
						Query: map[string]string{"limit": "1?"}, Headers: map[string]string{"X-Test": "a*"},
						APIKey: "key_a",
					},
					After: 1, Times: 3, Every: 2, Probability: 0.5,
					Respond: &Response{Status: 503, Code: "down", Message: "gone fishing", Headers: map[string]string{"X-Why": "maintenance"}, RetryAfter: ms(1500)},
					Delay:   &Delay{Min: ms(300), Max: ms(300)},
				}},
			}},
		},
		{
			name: "after: 0 skips none, and null counts are left out",
			src:  "scenarios:\n  x:\n    rules:\n      - {after: 0, times: ~, every: ~, probability: ~, fault: empty_response}\n",
			want: []Scenario{{Name: "x", Rules: []Rule{{Fault: FaultEmptyResponse}}}},
		},
		{
			name: "an empty file holds no scenarios",
			src:  "# nothing here\n",
			want: nil,
		},
		{
			name: "a scenario with no rules loads",
			src:  "scenarios:\n  none: {description: does nothing}\n",
			want: []Scenario{{Name: "none", Description: "does nothing"}},
		},
		{
			name: "anchors and aliases are followed",
			src: `
scenarios:
  a:
    rules:
      - &r429 {respond: {status: 429}}
  b:
    rules: [*r429]
`,
			want: []Scenario{
				{Name: "a", Rules: []Rule{{Respond: &Response{Status: 429}}}},
				{Name: "b", Rules: []Rule{{Respond: &Response{Status: 429}}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load("scenarios.yaml", []byte(tt.src))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Load mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadRefusesBadFiles(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{
			name: "a status that is not an error names file, line and field",
			src: `scenarios:
  retry_then_succeed:
    rules:
      - match: {agent_key: agt_customer_support}
        times: 2
        respond:
          status: 700
`,
			want: "scenarios.yaml:7: scenarios.retry_then_succeed.rules[0].respond.status: 700 is not an HTTP error status (400..599)",
		},
		{
			name: "an unknown field in a rule is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - respond: {status: 500}\n        tims: 2\n",
			want: "scenarios.yaml:5: scenarios.x.rules[0].tims: unknown field \"tims\" (expected one of match, after, times, every, probability, respond, delay, fault, after_chunks)",
		},
		{
			name: "an unknown field inside a delay is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - delay: {min: 1s, max: 2s, avg: 1s}\n",
			want: "scenarios.yaml:4: scenarios.x.rules[0].delay.avg: unknown field \"avg\" (expected one of min, max)",
		},
		{
			name: "an unknown top-level field is refused",
			src:  "scenario:\n  x: {}\n",
			want: "scenarios.yaml:1: scenario: unknown field \"scenario\" (expected one of scenarios)",
		},
		{
			name: "a YAML syntax error names its line and field",
			src:  "scenarios:\n  x:\n    rules: [\n",
			want: "scenarios.yaml:3: scenarios.x.rules: did not find expected node content",
		},
		{
			name: "a rule without respond, delay or fault is refused at the rule's line",
			src:  "scenarios:\n  x:\n    rules:\n      - times: 2\n",
			want: "scenarios.yaml:4: scenarios.x.rules[0]: a rule needs at least one of respond, delay or fault",
		},
		{
			name: "an unknown fault is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - fault: explode\n",
			want: `scenarios.yaml:4: scenarios.x.rules[0].fault: "explode" is not a fault (connection_reset, empty_response, truncated_body, slow_body, stream_error or stream_cut)`,
		},
		{
			name: "a probability above 1 is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - fault: empty_response\n        probability: 1.5\n",
			want: "scenarios.yaml:5: scenarios.x.rules[0].probability: 1.5 is not between 0 and 1",
		},
		{
			name: "a negative count is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - fault: empty_response\n        after: -1\n",
			want: "scenarios.yaml:5: scenarios.x.rules[0].after: -1 is negative",
		},
		{
			name: "a count that is not an integer is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - fault: empty_response\n        times: two\n",
			want: `scenarios.yaml:5: scenarios.x.rules[0].times: must be an integer, got "two"`,
		},
		{
			name: "an unknown route is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - match:\n          route: lists\n        fault: empty_response\n",
			want: `scenarios.yaml:5: scenarios.x.rules[0].match.route: "lists" is not a route (list, create, get, update, delete, create_agent, list_agents, get_agent, update_agent, replace_agent, delete_agent, get_identity, update_identity, token, create_event, list_events, get_event, delete_event, hide_event, unhide_event)`,
		},
		{
			name: "a bad glob is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - match: {query: {limit: \"[\"}}\n        fault: empty_response\n",
			want: `scenarios.yaml:4: scenarios.x.rules[0].match.query.limit: "[" is not a valid glob pattern: a [ is not closed by ]`,
		},
		{
			name: "a backwards range in a glob is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - match: {agent_key: \"agt_[z-a]\"}\n        fault: empty_response\n",
			want: `scenarios.yaml:4: scenarios.x.rules[0].match.agent_key: "agt_[z-a]" is not a valid glob pattern: the range z-a is backwards`,
		},
		{
			name: "probability: 0 is refused, not taken as always",
			src:  "scenarios:\n  x:\n    rules:\n      - probability: 0\n        respond: {status: 503}\n",
			want: "scenarios.yaml:4: scenarios.x.rules[0].probability: must be more than 0 (leave it out for always)",
		},
		{
			name: "probability: 0.0 is refused too",
			src:  "scenarios:\n  x:\n    rules:\n      - respond: {status: 503}\n        probability: 0.0\n",
			want: "scenarios.yaml:5: scenarios.x.rules[0].probability: must be more than 0 (leave it out for always)",
		},
		{
			name: "times: 0 is refused, not taken as unlimited",
			src:  "scenarios:\n  x:\n    rules:\n      - times: 0\n        respond: {status: 503}\n",
			want: "scenarios.yaml:4: scenarios.x.rules[0].times: must be more than 0 (leave it out for unlimited)",
		},
		{
			name: "every: 0 is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - {every: 0, respond: {status: 503}}\n",
			want: "scenarios.yaml:4: scenarios.x.rules[0].every: must be more than 0 (leave it out for each match)",
		},
		{
			name: "a delay whose min exceeds its max is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - delay: {min: 2s, max: 1s}\n",
			want: "scenarios.yaml:4: scenarios.x.rules[0].delay: min 2s is greater than max 1s",
		},
		{
			name: "a delay with only min is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - delay: {min: 2s}\n",
			want: `scenarios.yaml:4: scenarios.x.rules[0].delay: must be a duration like "300ms" or a mapping with both min and max`,
		},
		{
			name: "a duration without a unit is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - respond: {status: 429, retry_after: 2}\n",
			want: `scenarios.yaml:4: scenarios.x.rules[0].respond.retry_after: "2" is not a duration (like "300ms" or "2s")`,
		},
		{
			name: "a negative duration is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - delay: -1s\n",
			want: `scenarios.yaml:4: scenarios.x.rules[0].delay: "-1s" is negative`,
		},
		{
			name: "respond without a status is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - respond: {code: oops}\n",
			want: "scenarios.yaml:4: scenarios.x.rules[0].respond.status: is required (an HTTP error status, 400..599)",
		},
		{
			name: "a fault combined with respond is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - respond: {status: 500}\n        fault: connection_reset\n",
			want: "scenarios.yaml:5: scenarios.x.rules[0].fault: cannot be combined with respond: a fault replaces the response",
		},
		{
			name: "a repeated field is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - fault: empty_response\n        fault: connection_reset\n",
			want: "scenarios.yaml:5: scenarios.x.rules[0].fault: duplicate key \"fault\" (first at line 4)",
		},
		{
			name: "a scenario defined twice is refused",
			src:  "scenarios:\n  x: {}\n  x: {}\n",
			want: "scenarios.yaml:3: scenarios.x: duplicate key \"x\" (first at line 2)",
		},
		{
			name: "a bad scenario name is refused",
			src:  "scenarios:\n  \"a b\": {}\n",
			want: `scenarios.yaml:2: scenarios.a b: "a b" is not a scenario name (letters, digits, '_', '-' and '.', at most 100)`,
		},
		{
			name: "rules that are not a list are refused",
			src:  "scenarios:\n  x:\n    rules: {fault: empty_response}\n",
			want: "scenarios.yaml:3: scenarios.x.rules: must be a list of rules, got a mapping",
		},
		{
			name: "a negative seed is refused",
			src:  "scenarios:\n  x:\n    seed: -3\n",
			want: `scenarios.yaml:3: scenarios.x.seed: must be a non-negative integer, got "-3"`,
		},
		{
			name: "a second YAML document is refused",
			src:  "scenarios: {}\n---\nscenarios: {}\n",
			want: "scenarios.yaml:2: a second YAML document; want exactly one",
		},
		{
			name: "a method that HTTP does not have is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - match: {method: FETCH}\n        fault: empty_response\n",
			want: `scenarios.yaml:4: scenarios.x.rules[0].match.method: "FETCH" is not an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)`,
		},
		{
			name: "an empty list of rules is refused",
			src:  "scenarios:\n  x:\n    description: nothing\n    rules: []\n",
			want: "scenarios.yaml:4: scenarios.x.rules: must hold at least one rule",
		},
		{
			name: "a scenario that is not a mapping is refused",
			src:  "scenarios:\n  x: [a]\n",
			want: "scenarios.yaml:2: scenarios.x: must be a mapping, got a list",
		},
		{
			name: "a count that does not decode is reported once",
			src:  "scenarios:\n  x:\n    rules:\n      - {times: [1], respond: {status: 503}}\n",
			want: "scenarios.yaml:4: scenarios.x.rules[0].times: must be an integer, got a list",
		},
		{
			name: "every bad scenario of a file is reported, not only the first",
			src:  "scenarios:\n  x:\n    rules:\n      - respond: {status: 200}\n  y:\n    rules:\n      - fault: explode\n",
			want: "scenarios.yaml:4: scenarios.x.rules[0].respond.status: 200 is not an HTTP error status (400..599)\n" +
				`scenarios.yaml:7: scenarios.y.rules[0].fault: "explode" is not a fault (connection_reset, empty_response, truncated_body, slow_body, stream_error or stream_cut)`,
		},
		{
			name: "a response header the server owns is refused",
			src:  "scenarios:\n  x:\n    rules:\n      - respond:\n          status: 500\n          headers: {content-length: \"3\"}\n",
			want: "scenarios.yaml:6: scenarios.x.rules[0].respond.headers.content-length: is set by the server",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load("scenarios.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Load succeeded with %d scenarios, want error %q", len(got), tt.want)
			}
			if got != nil {
				t.Errorf("Load returned %d scenarios with its error, want none", len(got))
			}
			if err.Error() != tt.want {
				t.Errorf("Load error\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
}

// yaml.v3 says "line N" for the start of the collection it was parsing, 0-based
// for parser errors, and not for the line where the problem is.
func TestLoadReportsSyntaxErrorsAtTheirLine(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{
			name: "an unclosed [ is reported on its line, at its field",
			src:  "scenarios:\n  x:\n    description: two faults\n    seed: 7\n    rules: [{fault: empty_response}, {fault: connection_reset}\n  y: {}\n",
			want: "scenarios.yaml:5: scenarios.x.rules: did not find expected ',' or ']'",
		},
		{
			name: "a tab in indentation is reported on its line, not the line before",
			src:  "scenarios:\n  x:\n    rules:\n      - fault: empty_response\n\t      times: 2\n",
			want: "scenarios.yaml:5: scenarios.x.rules[0].times: found a tab character that violates indentation",
		},
		{
			name: "an unclosed { is reported on its line, at its field",
			src:  "scenarios:\n  x:\n    rules:\n      - fault: empty_response\n        match: {agent_key: agt_a, method: get\n  y: {}\n",
			want: "scenarios.yaml:5: scenarios.x.rules[0].match: did not find expected ',' or '}'",
		},
		{
			name: "a badly indented key is reported on its line, not where its mapping starts",
			src:  "scenarios:\n  x: {description: a}\n   y: {}\n",
			want: "scenarios.yaml:3: scenarios.y: did not find expected key",
		},
		{
			name: "a badly indented list item is reported on its line, not where its list starts",
			src:  "scenarios:\n  x:\n    rules:\n      - fault: empty_response\n     - fault: slow_body\n",
			want: "scenarios.yaml:5: scenarios.x.rules[1].fault: did not find expected key",
		},
		{
			name: "a list left open over several lines is reported where it is left open",
			src:  "scenarios:\n  x:\n    rules: [\n      {fault: empty_response},\n      {fault: slow_body}\n  y: {}\n",
			want: "scenarios.yaml:5: scenarios.x.rules: did not find expected ',' or ']'",
		},
		{
			name: "an error on line 1, where yaml.v3 gives no line, gets one",
			src:  "\tscenarios: {}\n",
			want: "scenarios.yaml:1: scenarios: found character that cannot start any token",
		},
		{
			name: "an error outside any field says so",
			src:  "scenarios: {}\n]\n",
			want: "scenarios.yaml:2: (syntax): did not find expected key",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load("scenarios.yaml", []byte(tt.src))
			if err == nil || got != nil {
				t.Fatalf("Load = %d scenarios, %v; want none and error %q", len(got), err, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Load error\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}

// TestLoadRefusesAliasBombs checks the bound on the nodes that YAML aliases
// add, and that files within it load.
func TestLoadRefusesAliasBombs(t *testing.T) {
	// A query of 1,000 parameters (2,001 nodes) used by 200 rules.
	var query strings.Builder
	query.WriteString("scenarios:\n  anchor:\n    rules:\n      - fault: empty_response\n        match: {query: &q {")
	for i := range 1000 {
		fmt.Fprintf(&query, "p%d: v, ", i)
	}
	query.WriteString("}}\n  bomb:\n    rules:\n")
	for range 200 {
		query.WriteString("      - {match: {query: *q}, fault: empty_response}\n")
	}

	// A rule of 9 nodes used 10,000 times, within the bound.
	var rules strings.Builder
	rules.WriteString("scenarios:\n  x:\n    rules:\n      - &r {times: 1, respond: {status: 500}}\n")
	for range 10000 {
		rules.WriteString("      - *r\n")
	}

	tests := []struct {
		name string
		src  string
		want string // "" when the file loads
	}{
		{
			name: "a mapping reused past the bound is refused at the alias that passes it",
			src:  query.String(),
			want: "bomb.yaml:57: scenarios.bomb.rules[49].match.query: aliases expand the file by more than 100000 nodes",
		},
		{
			name: "aliases of aliases count every node they stand for",
			src:  "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
			want: "bomb.yaml:6: f[0]: aliases expand the file by more than 100000 nodes",
		},
		{
			name: "an alias inside the node it refers to is refused",
			src:  "scenarios:\n  x: &x\n    rules:\n      - match: {query: *x}\n        fault: empty_response\n",
			want: "bomb.yaml:4: scenarios.x.rules[0].match.query: alias *x is inside the node it refers to",
		},
		{name: "a rule reused within the bound loads", src: rules.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load("bomb.yaml", []byte(tt.src))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil || got != nil || err.Error() != tt.want {
				t.Errorf("Load = %d scenarios, error\n got: %v\nwant: %s", len(got), err, tt.want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	t.Run("a file loads and its errors carry its path", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(p, []byte("scenarios:\n  x:\n    rules:\n      - respond: {status: 200}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadFile(p)
		if err == nil || !strings.HasPrefix(err.Error(), p+":4: scenarios.x.rules[0].respond.status: 200 is not") {
			t.Errorf("LoadFile error = %v, want it to start with %q", err, p+":4:")
		}
	})
	t.Run("a missing file is an error", func(t *testing.T) {
		if _, err := LoadFile(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
			t.Error("LoadFile of a missing file succeeded")
		}
	})
}
