package scenarios_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/agentmock/agentmock/scenarios"
)

// A rule that slows every create down by 300ms, and one that delays lists
// by 50 to 250ms, drawn from the activation's seeded source.
func ExampleDelayBetween() {
	rules := []scenarios.Rule{
		{Match: scenarios.Match{Route: scenarios.RouteCreate}, Delay: scenarios.DelayOf(300 * time.Millisecond)},
		{Match: scenarios.Match{Route: scenarios.RouteList}, Delay: scenarios.DelayBetween(50*time.Millisecond, 250*time.Millisecond)},
	}
	if err := scenarios.ValidateRules(rules); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := json.Marshal(rules)
	fmt.Println(string(b))
	// Output:
	// [{"match":{"route":"create"},"delay":"300ms"},{"match":{"route":"list"},"delay":{"min":"50ms","max":"250ms"}}]
}
