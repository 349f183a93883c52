package replies

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckMatch(t *testing.T) {
	tests := []struct {
		name, src string
		wantErr   string // "" when valid
	}{
		{"an empty pattern is valid", "", ""},
		{"a case-insensitive pattern is valid", "(?i)refund|money back", ""},
		{"a pattern of 256 characters is valid", strings.Repeat("é", 256), ""},
		{"a pattern of 257 characters is refused", strings.Repeat("é", 257), "pattern is 257 characters long; at most 256"},
		{"an unclosed group is refused", "(refund", "missing closing )"},
		{"a backreference, which RE2 lacks, is refused", `(a)\1`, "invalid escape sequence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, CheckMatch(tt.src), tt.wantErr)
		})
	}
}

func TestCheckTemplate(t *testing.T) {
	tests := []struct {
		name, src string
		wantErr   string
	}{
		{"plain text is valid", "Refunds take 5 days.", ""},
		{"every field of the data is valid", "{{.Input}} {{.Turn}} {{.Session.Key}} {{.Session.Name}} {{.Session.Metadata.x}} {{.Agent.Key}} {{.Agent.Name}} {{len .History}}", ""},
		{"an index guarded by an if is valid", "{{if .History}}{{index .History 0}}{{end}}", ""},
		{"a range within the step limit is valid", "{{range 10000}}{{end}}{{range .History}}{{.}}{{end}}", ""},
		{"a word template in the text is valid", "Use the template in your dashboard.", ""},
		{"a syntax error is refused", "{{.Input", `template: text:1: unclosed action`},
		{"an unknown function is refused", "{{shout .Input}}", `function "shout" not defined`},
		{"a misspelt field is refused", "{{.Inptu}}", "can't evaluate field Inptu in type *replies.Input"},
		{"an unguarded index into the history is refused", "{{index .History 0}}", "slice index out of range"},
		{"a template that writes too much is refused", "{{range 10000}}{{$.Input}}{{$.Input}}{{end}}", "template: text: writes more than 65536 bytes"},
		{"a range past the step limit is refused", "{{range 10001}}{{end}}", "template: text: takes more than 10000 range iterations"},
		{"nested ranges count every iteration", "{{range 101}}{{range 100}}{{end}}{{end}}", "takes more than 10000 range iterations"},
		{"a defined template is refused", `{{define "t"}}{{.Input}}{{end}}{{template "t" .}}`, "{{define}}, {{block}} and {{template}} are not supported"},
		{"a call of an undefined template is refused", `{{if true}}{{template "t" .}}{{end}}`, "are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, CheckTemplate(tt.src), tt.wantErr)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("got error %v, want none", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("got error %v, want one containing %q", err, want)
	}
}

func TestCompileNamesTheField(t *testing.T) {
	rules := []Rule{
		{Match: "(", Tools: []Tool{{Input: map[string]any{"q": []any{"ok", map[string]any{"deep": "{{.Nope}}"}}}}}},
		{Reply: "{{.Input"},
	}
	_, err := Compile(rules)
	if err == nil {
		t.Fatal("Compile succeeded")
	}
	var got []string
	for line := range strings.Lines(err.Error()) {
		field, _, _ := strings.Cut(line, ": ")
		got = append(got, field)
	}
	want := []string{"replies[0].match", "replies[0].tools[0].name", "replies[0].tools[0].configuration", "replies[0].tools[0].input.q[1].deep", "replies[1].reply"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields named (-want +got):\n%s\n%v", diff, err)
	}
}

// in is a turn of a session of the built-in data.
func in(text string, turn int, history ...string) Input {
	return Input{
		Input:   text,
		Turn:    turn,
		Session: Session{Key: "ase_customer_support_001", Name: "Billing inquiry", Metadata: map[string]any{"customer_name": "Ada", "tier": json.Number("2"), "note": nil}},
		Agent:   Agent{Key: "agt_customer_support", Name: "Customer Support"},
		History: history,
	}
}

func TestScriptTurn(t *testing.T) {
	refund := Rule{
		Match:    "(?i)refund",
		Thinking: "The customer asks about a refund (turn {{.Turn}}).",
		Tools: []Tool{{
			Name: "corpora_search", Configuration: "kb",
			Input:  map[string]any{"query": "{{.Input}}", "filters": []any{"{{.Session.Key}}", json.Number("1e400"), true}, "limit": json.Number("5")},
			Output: map[string]any{"results": []any{map[string]any{"score": json.Number("0.92")}}},
		}},
		Reply: "Refunds take 5 days, {{.Session.Metadata.customer_name}}.",
	}
	script, err := Compile([]Rule{
		refund,
		{Match: "(?i)refund", Reply: "never: the first rule that matches wins"},
		{Match: "^data$", Reply: "{{.Agent.Key}} {{.Agent.Name}} {{.Session.Name}} {{.Session.Metadata.tier}} {{.History}} {{len .History}}"},
		{Match: "^missing$", Reply: "[{{.Session.Metadata.absent}}][{{.Session.Metadata.note}}][{{with .Session.Metadata.absent}}x{{else}}{{.Session.Metadata.absent}}{{end}}]"},
		{Match: "^think only$", Thinking: "Nothing scripted to say."},
		{Match: "^empty reply$", Reply: "{{.Session.Metadata.absent}}  "},
		{Match: "^late failure$", Thinking: "thinking", Reply: "{{if .History}}{{index .History 3}}{{end}}"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   Input
		want Turn
	}{
		{
			name: "the first matching rule thinks, calls its tools and replies",
			in:   in("Where is my REFUND?", 2, "hello"),
			want: Turn{
				Thinking: "The customer asks about a refund (turn 2).",
				Tools: []ToolCall{{
					Name: "corpora_search", Configuration: "kb",
					Input:  map[string]any{"query": "Where is my REFUND?", "filters": []any{"ase_customer_support_001", json.Number("1e400"), true}, "limit": json.Number("5")},
					Output: map[string]any{"results": []any{map[string]any{"score": json.Number("0.92")}}},
				}},
				Reply: "Refunds take 5 days, Ada.",
			},
		},
		{
			name: "templates see the agent, the session and the history",
			in:   in("data", 3, "one", "two"),
			want: Turn{Reply: "agt_customer_support Customer Support Billing inquiry 2 [one two] 2"},
		},
		{
			name: "a metadata key the session lacks, or a null one, prints as nothing",
			in:   in("missing", 1),
			want: Turn{Reply: "[][][]"},
		},
		{
			name: "a rule without a reply says the generated one",
			in:   in("think only", 1),
			want: Turn{Thinking: "Nothing scripted to say.", Reply: Generate(in("think only", 1)).Reply},
		},
		{
			name: "a reply that writes only spaces gives way to the generated one",
			in:   in("empty reply", 1),
			want: Turn{Reply: Generate(in("empty reply", 1)).Reply},
		},
		{
			name: "a template that fails on this input makes the whole turn generated",
			in:   in("late failure", 2, "only one"),
			want: Generate(in("late failure", 2, "only one")),
		},
		{
			name: "an input that no rule matches is generated",
			in:   in("How do I change my plan?", 1),
			want: Generate(in("How do I change my plan?", 1)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, script.Turn(tt.in)); diff != "" {
				t.Errorf("Turn (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a session without metadata prints a missing key as nothing", func(t *testing.T) {
		i := in("missing", 1)
		i.Session.Metadata = nil
		if got := script.Turn(i).Reply; got != "[][][]" {
			t.Errorf("reply %q, want [][][]", got)
		}
	})
	t.Run("a rule with an empty match matches every input", func(t *testing.T) {
		s, err := Compile([]Rule{{Reply: "always"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{"", "anything", "Where is my refund?"} {
			if got := s.Turn(in(text, 1)).Reply; got != "always" {
				t.Errorf("%q: reply %q, want always", text, got)
			}
		}
	})
	t.Run("a nil script generates every turn", func(t *testing.T) {
		var s *Script
		if diff := cmp.Diff(Generate(in("refund", 1)), s.Turn(in("refund", 1))); diff != "" {
			t.Errorf("Turn (-want +got):\n%s", diff)
		}
	})
	t.Run("the caller's changes to a turn or to the rules do not reach the script", func(t *testing.T) {
		rules := []Rule{refund}
		rules[0].Tools = []Tool{{Name: "n", Configuration: "c", Input: map[string]any{"a": []any{"{{.Turn}}"}}, Output: map[string]any{"b": []any{"x"}}}}
		s, err := Compile(rules)
		if err != nil {
			t.Fatal(err)
		}
		want := s.Turn(in("refund", 1))
		got := s.Turn(in("refund", 1))
		got.Tools[0].Input["a"].([]any)[0] = "changed"
		got.Tools[0].Output["b"].([]any)[0] = "changed"
		got.Tools[0].Output["new"] = 1
		rules[0].Tools[0].Input["a"].([]any)[0] = "changed"
		rules[0].Tools[0].Output["b"].([]any)[0] = "changed"
		rules[0].Reply = "changed"
		if diff := cmp.Diff(want, s.Turn(in("refund", 1))); diff != "" {
			t.Errorf("Turn after the changes (-before +after):\n%s", diff)
		}
	})
}

func TestGenerate(t *testing.T) {
	t.Run("the same input gives the same reply, twice and from fresh values", func(t *testing.T) {
		a, b := Generate(in("My invoice total looks wrong", 1)), Generate(in("My invoice total looks wrong", 1))
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("two calls differ (-first +second):\n%s", diff)
		}
	})
	t.Run("two inputs give exactly the replies they gave when written", func(t *testing.T) {
		// A change here means that replies differ from those of earlier
		// versions: a gofakeit upgrade that changed its generator or its
		// list of first names, or a change of the sentences or the seed.
		tests := []struct {
			in   Input
			want string
		}{
			{in("I'm having trouble with my widget installation. The configuration wizard keeps failing at step 3.", 1),
				"Thanks for reaching out about your widget installation. Most questions like this are resolved by signing out, signing back in and trying again. I'll keep this conversation open in case you have more questions."},
			{in("My SSO login fails with a SAML error", 2, "hello"),
				"Thanks for following up on your SSO login. I've passed this to Jimmie on our security team, who will follow up within 20 hours. Let me know if there's anything else you need."},
		}
		for _, tt := range tests {
			if diff := cmp.Diff(Turn{Reply: tt.want}, Generate(tt.in)); diff != "" {
				t.Errorf("Generate(%q) (-want +got):\n%s", tt.in.Input, diff)
			}
		}
	})
	t.Run("another turn, input, session or agent gives another reply", func(t *testing.T) {
		base := in("Can I get a refund for my annual plan?", 1)
		seen := map[string]string{Generate(base).Reply: "base"}
		variants := map[string]Input{"turn": base, "input": base, "session": base, "agent": base}
		v := variants["turn"]
		v.Turn = 2
		variants["turn"] = v
		v = variants["input"]
		v.Input += " Thanks."
		variants["input"] = v
		v = variants["session"]
		v.Session.Key = "ase_customer_support_002"
		variants["session"] = v
		v = variants["agent"]
		v.Agent.Key = "agt_sales_assistant"
		variants["agent"] = v
		for name, v := range variants {
			r := Generate(v).Reply
			if other, dup := seen[r]; dup {
				t.Errorf("%s gives the reply of %s: %q", name, other, r)
			}
			seen[r] = name
		}
	})
	t.Run("a reply takes up the input's words and neither thinks nor calls tools", func(t *testing.T) {
		for _, text := range []string{"My SSO login fails with a SAML error", "Where is my refund?", "Please update the billing address on my invoice."} {
			got := Generate(in(text, 1))
			if got.Thinking != "" || got.Tools != nil {
				t.Errorf("%q: thinking %q, tools %v", text, got.Thinking, got.Tools)
			}
			if p := phrases(text); len(p) == 0 || !strings.Contains(got.Reply, p[0]) {
				t.Errorf("%q: reply %q does not take up %q", text, got.Reply, p)
			}
		}
	})
}

func TestPhrases(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"consecutive content words make a phrase", "I'm having trouble with my widget installation.", []string{"widget installation"}},
		{"punctuation ends a phrase", "Refund, invoice and receipt", []string{"refund", "invoice"}},
		{"a phrase keeps at most two words", "update billing address details now", []string{"update billing"}},
		{"capitals are kept for acronyms only", "The SSO Login fails", []string{"SSO login"}},
		{"a repeated phrase counts once", "refund. Refund! invoice", []string{"refund", "invoice"}},
		{"short words, numbers and common words are not content", "hi, is it 42 or 7?", nil},
		{"common verbs end a phrase", "Can you check why my invoice shows a late fee?", []string{"invoice", "late fee"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, phrases(tt.in)); diff != "" {
				t.Errorf("phrases(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestScriptTurnIsSafeForConcurrentUse(t *testing.T) {
	s, err := Compile([]Rule{{Reply: "{{range .History}}{{.}};{{end}}"}})
	if err != nil {
		t.Fatal(err)
	}
	history := make([]string, 6000) // each turn alone is within MaxSteps
	for i := range history {
		history[i] = "h"
	}
	want := strings.Repeat("h;", len(history))
	results := make(chan string)
	for range 4 {
		go func() { results <- s.Turn(in("x", 2, history...)).Reply }()
	}
	for range 4 {
		if got := <-results; got != want {
			t.Errorf("reply of %d bytes, want %d: executions share a step count", len(got), len(want))
		}
	}
}

func TestUsesHistory(t *testing.T) {
	for _, tt := range []struct {
		rules []Rule
		want  bool
	}{
		{nil, false},
		{[]Rule{{Reply: "Hi {{.Session.Name}}"}}, false},
		{[]Rule{{Reply: "Hi"}, {Thinking: "{{len .History}} before"}}, true},
		{[]Rule{{Tools: []Tool{{Name: "t", Configuration: "c", Input: map[string]any{"q": "{{range .History}}{{.}}{{end}}"}}}}}, true},
	} {
		s, err := Compile(tt.rules)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.UsesHistory(); got != tt.want {
			t.Errorf("%+v: UsesHistory %v, want %v", tt.rules, got, tt.want)
		}
	}
}
