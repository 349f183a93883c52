package scenarios

import "time"

// BuiltIn returns the built-in scenarios, sorted by name: one per error of
// the API (invalid_request, unauthorized, forbidden, agent_not_found,
// rate_limit_exceeded), plus server_error, slow, flaky and connection_reset.
// Each applies to every request. The slice is new on each call.
func BuiltIn() []Scenario {
	respond := func(status int, retryAfter time.Duration) []Rule {
		return []Rule{{Respond: &Response{Status: status, RetryAfter: Duration(retryAfter)}}}
	}
	return []Scenario{
		{
			Name:        "agent_not_found",
			Description: "Every request gets 404 agent_not_found.",
			Rules:       respond(404, 0),
		},
		{
			Name:        "connection_reset",
			Description: "Every request's connection is reset (TCP RST) before any response.",
			Rules:       []Rule{{Fault: FaultConnectionReset}},
		},
		{
			Name:        "flaky",
			Description: "About 30% of requests get 503 service_unavailable (seed 1, so a sequential run repeats exactly); the rest are normal.",
			Seed:        DefaultSeed,
			Rules:       []Rule{{Probability: 0.3, Respond: &Response{Status: 503}}},
		},
		{
			Name:        "forbidden",
			Description: "Every request gets 403 forbidden.",
			Rules:       respond(403, 0),
		},
		{
			Name:        "invalid_request",
			Description: "Every request gets 400 invalid_request.",
			Rules:       respond(400, 0),
		},
		{
			Name:        "rate_limit_exceeded",
			Description: "Every request gets 429 rate_limit_exceeded with Retry-After: 1.",
			Rules:       respond(429, time.Second),
		},
		{
			Name:        "server_error",
			Description: "Every request gets 500 internal_error.",
			Rules:       respond(500, 0),
		},
		{
			Name:        "slow",
			Description: "Every response is normal but delayed by 2s (cut short when the client goes away).",
			Rules:       []Rule{{Delay: &Delay{Min: Duration(2 * time.Second), Max: Duration(2 * time.Second)}}},
		},
		{
			Name:        "unauthorized",
			Description: "Every request gets 401 unauthorized.",
			Rules:       respond(401, 0),
		},
	}
}
