package scenarios

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseRules(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []Rule
	}{
		{
			name: "durations are strings and a delay can be one duration",
			src:  `[{"match":{"agent_key":"agt_*","route":"list"},"times":2,"respond":{"status":429,"retry_after":"2s"}},{"delay":"300ms"}]`,
			want: []Rule{
				{Match: Match{AgentKey: "agt_*", Route: "list"}, Times: 2, Respond: &Response{Status: 429, RetryAfter: ms(2000)}},
				{Delay: &Delay{Min: ms(300), Max: ms(300)}},
			},
		},
		{
			name: "a delay can be a range",
			src:  `[{"delay":{"min":"50ms","max":"250ms"},"fault":"slow_body"}]`,
			want: []Rule{{Delay: &Delay{Min: ms(50), Max: ms(250)}, Fault: FaultSlowBody}},
		},
		{
			name: "after 0 skips none, and null counts are left out",
			src:  `[{"after":0,"times":null,"every":null,"probability":null,"fault":"empty_response"}]`,
			want: []Rule{{Fault: FaultEmptyResponse}},
		},
		{
			name: "a method matches in any case",
			src:  `[{"match":{"method":"patch"},"fault":"empty_response"},{"match":{"method":"OPTIONS"},"fault":"empty_response"}]`,
			want: []Rule{{Match: Match{Method: "patch"}, Fault: FaultEmptyResponse}, {Match: Match{Method: "OPTIONS"}, Fault: FaultEmptyResponse}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRules([]byte(tt.src))
			if err != nil {
				t.Fatalf("ParseRules: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseRules mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRulesRefusesBadRules(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		wantPath string
		wantMsg  string
	}{
		{"an unknown field is refused", `[{"fault":"empty_response","tims":1}]`, "rules[0]", `unknown field "tims"`},
		{"an unknown field in match is refused", `[{"fault":"empty_response","match":{"agent":"x"}}]`, "rules[0]", `unknown field "agent"`},
		{"an unknown field in a delay range is refused at the delay", `[{"delay":{"min":"1s","max":"2s","avg":"1s"}}]`, "rules[0].delay", `unknown field "avg"`},
		{"a delay range without max is refused at the delay", `[{"fault":"empty_response"},{"delay":{"min":"1s"}}]`, "rules[1].delay", `needs both "min" and "max"`},
		{"a number as a delay is refused at the delay", `[{"delay":300}]`, "rules[0].delay", `must be a duration like "300ms" or {"min": "50ms", "max": "250ms"}, got 300`},
		{"a delay that is not a duration is refused at the delay", `[{"delay":"soon"}]`, "rules[0].delay", `"soon" is not a duration (like "300ms" or "2s")`},
		{"a numeric retry_after is refused at the retry_after", `[{"respond":{"status":429,"retry_after":2}}]`, "rules[0].respond.retry_after", `duration must be a string like "300ms", got 2`},
		{"a negative retry_after is refused at the retry_after", `[{"respond":{"status":429,"retry_after":"-1s"}}]`, "rules[0].respond.retry_after", `"-1s" is negative`},
		{"a method that HTTP does not have is refused", `[{"match":{"method":"FETCH"},"fault":"empty_response"}]`, "rules[0].match.method", `"FETCH" is not an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)`},
		{"an empty array of rules is refused", `[]`, "rules", "must hold at least one rule"},
		{"null rules are refused", `null`, "rules", "must hold at least one rule"},
		{"a wrongly typed field names its path", `[{"fault":"empty_response"},{"respond":{"status":"500"}}]`, "rules[1].respond.status", "cannot use a JSON string as int"},
		{"an invalid status names its path", `[{"respond":{"status":700}}]`, "rules[0].respond.status", "700 is not an HTTP error status (400..599)"},
		{"a rule that does nothing is refused", `[{"fault":"empty_response"},{"times":1}]`, "rules[1]", "a rule needs at least one of respond, delay or fault"},
		{"probability 0 is refused, not taken as always", `[{"probability":0,"respond":{"status":503}}]`, "rules[0].probability", "must be more than 0 (leave it out for always)"},
		{"probability 0.0 is refused", `[{"fault":"empty_response"},{"probability":0.0,"fault":"empty_response"}]`, "rules[1].probability", "must be more than 0 (leave it out for always)"},
		{"times 0 is refused, not taken as unlimited", `[{"times":0,"respond":{"status":503}}]`, "rules[0].times", "must be more than 0 (leave it out for unlimited)"},
		{"every 0 is refused", `[{"every":0,"respond":{"status":503}}]`, "rules[0].every", "must be more than 0 (leave it out for each match)"},
		{"a 0 in another case is refused too", `[{"Times":0,"respond":{"status":503}}]`, "rules[0].times", "must be more than 0 (leave it out for unlimited)"},
		{"something other than an array is refused", `{"fault":"empty_response"}`, "rules", "must be a JSON array of rules, got a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules([]byte(tt.src))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseRules error = %v, want a *FieldError", err)
			}
			if fe.Path != tt.wantPath || fe.Message != tt.wantMsg {
				t.Errorf("ParseRules error = {%q, %q}, want {%q, %q}", fe.Path, fe.Message, tt.wantPath, tt.wantMsg)
			}
		})
	}
}

func TestRulesRoundTripThroughJSON(t *testing.T) {
	t.Run("marshalled rules parse back to the same rules", func(t *testing.T) {
		want := []Rule{
			{Match: Match{Headers: map[string]string{"X-A": "b"}}, Every: 3, Respond: &Response{Status: 429, RetryAfter: ms(1500)}},
			{Delay: &Delay{Min: ms(50), Max: ms(250)}},
			{Delay: &Delay{Min: ms(300), Max: ms(300)}, Fault: FaultSlowBody},
		}
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseRules(b)
		if err != nil {
			t.Fatalf("ParseRules(%s): %v", b, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("round trip mismatch (-want +got):\n%s\njson: %s", diff, b)
		}
	})
	t.Run("durations marshal as strings", func(t *testing.T) {
		b, _ := json.Marshal(Rule{Delay: &Delay{Min: ms(50), Max: ms(250)}})
		if got, want := string(b), `{"delay":{"min":"50ms","max":"250ms"}}`; got != want {
			t.Errorf("json.Marshal = %s, want %s", got, want)
		}
	})
}

func TestValidateMatch(t *testing.T) {
	tests := []struct {
		name     string
		match    Match
		wantPath string
	}{
		{"a method with a space is refused", Match{Method: "GE T"}, "rules[0].match.method"},
		{"a header name with a colon is refused", Match{Headers: map[string]string{"X:Y": "a"}}, "rules[0].match.headers.X:Y"},
		{"a bad agent_key glob is refused", Match{AgentKey: "agt_[a"}, "rules[0].match.agent_key"},
		{"an empty query parameter name is refused", Match{Query: map[string]string{"": "a"}}, "rules[0].match.query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRules([]Rule{{Match: tt.match, Fault: FaultEmptyResponse}})
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Path != tt.wantPath {
				t.Errorf("ValidateRules = %v, want a *FieldError at %s", err, tt.wantPath)
			}
		})
	}
}

func TestDelayConstructors(t *testing.T) {
	tests := []struct {
		name string
		got  *Delay
		want *Delay
	}{
		{"DelayOf gives a fixed delay", DelayOf(300 * time.Millisecond), &Delay{Min: ms(300), Max: ms(300)}},
		{"DelayBetween gives a range", DelayBetween(50*time.Millisecond, 250*time.Millisecond), &Delay{Min: ms(50), Max: ms(250)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("delay mismatch (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a backwards range is refused by validation", func(t *testing.T) {
		err := ValidateRules([]Rule{{Delay: DelayBetween(2*time.Second, time.Second)}})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Path != "rules[0].delay" {
			t.Errorf("ValidateRules = %v, want a *FieldError at rules[0].delay", err)
		}
	})
}
