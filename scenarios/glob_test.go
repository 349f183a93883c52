package scenarios

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"", "", true},
		{"", "a", false},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
		{"*", "", true},
		{"*", "a/b/c", true},
		{"a*", "a/b", true},
		{"*b", "a/b", true},
		{"a*b*c", "a/x/b/y/c", true},
		{"a*b*c", "a/x/b/y/d", false},
		{"a**c", "abc", true},
		{"*a*a*a*a*b", strings.Repeat("a", 100), false},
		{"?", "/", true},
		{"?", "é", true},
		{"a?c", "a/c", true},
		{"a?c", "ac", false},
		{"[abc]", "b", true},
		{"[abc]", "d", false},
		{"[a-c0-9]x", "7x", true},
		{"[+-0]x", "/x", true}, // "/" (0x2F) is between "+" and "0"
		{"[+-0]x", "1x", false},
		{"[^a-c]", "d", true},
		{"[^a-c]", "b", false},
		{"[!a-c]", "/", true},
		{"[!a-c]", "a", false},
		{"[^/]*", "a/b", true},
		{"[^/]*", "/a", false},
		{"[α-ω]", "λ", true},
		{`[\]\-\\]`, "]", true},
		{`[\]\-\\]`, "-", true},
		{`[\]\-\\]`, `\`, true},
		{`[\]\-\\]`, "a", false},
		{`\*`, "*", true},
		{`\*`, "a", false},
		{`a\?`, "a?", true},
		{`\[x]`, "[x]", true},
		{"a/b", "a\x00b", false}, // NUL does not stand for "/"
		{"a\x00b", "a/b", false},
		{"a\x00b", "a\x00b", true},
		{"?", "\xff", true}, // an invalid byte is one character
		{"??", "\xff", false},
		{"curl/*", "curl/8.5.0", true},
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.pattern)
		if err != nil {
			t.Errorf("compileGlob(%q): %v", tt.pattern, err)
			continue
		}
		if got := g.match(tt.value); got != tt.want {
			t.Errorf("glob %q matches %q: %v, want %v", tt.pattern, tt.value, got, tt.want)
		}
	}
}

func TestCompileGlobRefusesBadPatterns(t *testing.T) {
	tests := []struct {
		pattern, want string
	}{
		{"[", "a [ is not closed by ]"},
		{"[abc", "a [ is not closed by ]"},
		{`[a\`, "a [ is not closed by ]"},
		{"[a-", "a [ is not closed by ]"},
		{"[]", "a [class] is empty"},
		{"[^]", "a [class] is empty"},
		{"[]a]", "a [class] is empty"},
		{"[-a]", `an unescaped '-' where a character of a [class] belongs`},
		{"[a-]", `an unescaped ']' where a character of a [class] belongs`},
		{"[a--]", `an unescaped '-' where a character of a [class] belongs`},
		{"[z-a]", "the range z-a is backwards"},
		{`a\`, `it ends with a lone \`},
		{"a\xffb", "it is not valid UTF-8"},
	}
	for _, tt := range tests {
		_, err := compileGlob(tt.pattern)
		if err == nil || err.Error() != tt.want {
			t.Errorf("compileGlob(%q) = %v, want %q", tt.pattern, err, tt.want)
		}
	}
}

// TestRulesMatchGlobsWithoutPathRules checks the globs of Match through the
// engine: "/" is an ordinary character, and NUL does not stand for it.
func TestRulesMatchGlobsWithoutPathRules(t *testing.T) {
	tests := []struct {
		name  string
		match Match
		req   Request
		want  bool
	}{
		{"a header class matches a slash", Match{Headers: map[string]string{"X-Path": "[+-0]x"}},
			Request{Header: http.Header{"X-Path": {"/x"}}}, true},
		{"a negated class refuses a slash", Match{Headers: map[string]string{"X-Path": "[^/]x"}},
			Request{Header: http.Header{"X-Path": {"/x"}}}, false},
		{"a query value with NUL does not match a pattern with a slash", Match{Query: map[string]string{"q": "a/b"}},
			Request{Query: url.Values{"q": {"a\x00b"}}}, false},
		{"a query value with a slash does not match a pattern with NUL", Match{Query: map[string]string{"q": "a\x00b"}},
			Request{Query: url.Values{"q": {"a/b"}}}, false},
		{"an agent_key glob with a class", Match{AgentKey: "agt_[a-c]*"},
			Request{AgentKey: "agt_billing"}, true},
		{"an escaped star is literal", Match{AgentKey: `agt_\*`},
			Request{AgentKey: "agt_x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t)
			activateRules(t, e, 0, "", Rule{Match: tt.match, Respond: &Response{Status: 500}})
			if got := !e.Decide(tt.req).IsZero(); got != tt.want {
				t.Errorf("rule took the request: %v, want %v", got, tt.want)
			}
		})
	}
}
