package replies

import (
	"encoding/json"
	"testing"
)

// BenchmarkTurn answers a scripted turn (thinking, one tool call with
// templates in its input, a reply) and a generated one.
//
//	go test ./internal/replies -run '^$' -bench . -benchmem
func BenchmarkTurn(b *testing.B) {
	s, err := Compile([]Rule{
		{Match: "(?i)password|log ?in", Reply: "never taken"},
		{
			Match:    "(?i)refund",
			Thinking: "The customer asks about a refund.",
			Tools:    []Tool{{Name: "corpora_search", Configuration: "kb", Input: map[string]any{"query": "{{.Input}}", "limit": json.Number("5")}, Output: map[string]any{"results": []any{}}}},
			Reply:    "Refunds take 5 days, {{.Session.Metadata.customer_name}}.",
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, text string }{
		{"scripted", "Where is my refund? I returned the order two weeks ago."},
		{"generated", "How do I change the billing address on my invoices?"},
	} {
		b.Run(c.name, func(b *testing.B) {
			i := in(c.text, 2, "hello")
			for b.Loop() {
				s.Turn(i)
			}
		})
	}
}

func BenchmarkGenerate(b *testing.B) {
	i := in("I'm having trouble with my widget installation. The configuration wizard keeps failing at step 3.", 1)
	for b.Loop() {
		Generate(i)
	}
}
