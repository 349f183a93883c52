package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The routes, as Request.Route and Match.Route name them.
const (
	// RouteList is GET or HEAD /v2/agents/{agent_key}/sessions.
	RouteList = "list"
	// RouteCreate is POST /v2/agents/{agent_key}/sessions.
	RouteCreate = "create"
	// RouteGet is GET /v2/agents/{agent_key}/sessions/{session_key}.
	RouteGet = "get"
	// RouteUpdate is PATCH /v2/agents/{agent_key}/sessions/{session_key}.
	RouteUpdate = "update"
	// RouteDelete is DELETE /v2/agents/{agent_key}/sessions/{session_key}.
	RouteDelete = "delete"

	// RouteCreateAgent is POST /v2/agents.
	RouteCreateAgent = "create_agent"
	// RouteListAgents is GET or HEAD /v2/agents.
	RouteListAgents = "list_agents"
	// RouteGetAgent is GET /v2/agents/{agent_key}.
	RouteGetAgent = "get_agent"
	// RouteUpdateAgent is PATCH /v2/agents/{agent_key}.
	RouteUpdateAgent = "update_agent"
	// RouteReplaceAgent is PUT /v2/agents/{agent_key}.
	RouteReplaceAgent = "replace_agent"
	// RouteDeleteAgent is DELETE /v2/agents/{agent_key}.
	RouteDeleteAgent = "delete_agent"
	// RouteGetIdentity is GET /v2/agents/{agent_key}/identity.
	RouteGetIdentity = "get_identity"
	// RouteUpdateIdentity is PATCH /v2/agents/{agent_key}/identity.
	RouteUpdateIdentity = "update_identity"
	// RouteToken is POST /oauth2/token (and /oauth/token).
	RouteToken = "token"

	// RouteCreateEvent is POST .../sessions/{session_key}/events.
	RouteCreateEvent = "create_event"
	// RouteListEvents is GET or HEAD .../sessions/{session_key}/events.
	RouteListEvents = "list_events"
	// RouteGetEvent is GET .../events/{event_id}.
	RouteGetEvent = "get_event"
	// RouteDeleteEvent is DELETE .../events/{event_id}.
	RouteDeleteEvent = "delete_event"
	// RouteHideEvent is POST .../events/{event_id}/hide.
	RouteHideEvent = "hide_event"
	// RouteUnhideEvent is POST .../events/{event_id}/unhide.
	RouteUnhideEvent = "unhide_event"
)

// Routes returns every route name, as Match.Route takes them.
func Routes() []string {
	return []string{RouteList, RouteCreate, RouteGet, RouteUpdate, RouteDelete,
		RouteCreateAgent, RouteListAgents, RouteGetAgent, RouteUpdateAgent, RouteReplaceAgent, RouteDeleteAgent,
		RouteGetIdentity, RouteUpdateIdentity, RouteToken,
		RouteCreateEvent, RouteListEvents, RouteGetEvent, RouteDeleteEvent, RouteHideEvent, RouteUnhideEvent}
}

// DefaultSeed seeds a scenario's random source when the scenario gives no
// seed (or seed 0).
const DefaultSeed uint64 = 1

// DefaultRetryAfter is the Retry-After of a 429 whose rule gives no retry_after.
const DefaultRetryAfter = time.Second

// DefaultSlowBody is how long a slow_body fault dribbles the body out when
// its rule gives no delay.
const DefaultSlowBody = 2 * time.Second

// Request is what the engine needs to know about one HTTP request.
type Request struct {
	Method   string // "GET", "POST", ...
	Route    string // one of the Route constants, "" for other routes
	AgentKey string // "" when the route has none
	Query    url.Values
	Header   http.Header
	APIKey   string // "" when the request carries none
}

// Fault is a transport-level failure that replaces the normal response.
type Fault string

// The faults a rule can ask for.
const (
	// FaultConnectionReset closes the connection with a TCP RST.
	FaultConnectionReset Fault = "connection_reset"
	// FaultEmptyResponse closes the connection without writing a byte.
	FaultEmptyResponse Fault = "empty_response"
	// FaultTruncatedBody writes the status line, the headers and half the
	// body, then closes the connection.
	FaultTruncatedBody Fault = "truncated_body"
	// FaultSlowBody writes the normal response with its body dribbled out
	// over Decision.Delay.
	FaultSlowBody Fault = "slow_body"
	// FaultStreamError ends a streamed reply after Decision.AfterChunks
	// chunks with an error frame, then the end frame. A reply that is not
	// streamed is normal.
	FaultStreamError Fault = "stream_error"
	// FaultStreamCut closes the connection of a streamed reply after
	// Decision.AfterChunks chunks, with no end frame. A reply that is not
	// streamed is normal.
	FaultStreamCut Fault = "stream_cut"
)

func (f Fault) valid() bool {
	switch f {
	case FaultConnectionReset, FaultEmptyResponse, FaultTruncatedBody, FaultSlowBody, FaultStreamError, FaultStreamCut:
		return true
	}
	return false
}

// Stream reports whether f is a fault of streamed replies.
func (f Fault) Stream() bool { return f == FaultStreamError || f == FaultStreamCut }

// Decision is what an active rule asks of one request. The zero Decision
// means "normal behaviour".
//
// The server applies it in this order: wait Delay (cut short when the client
// goes away), then write the Fault, or the error Status, or the normal
// response. The one exception is FaultSlowBody, for which Delay is not
// waited first but is the time over which the normal body is dribbled out.
type Decision struct {
	// Rule names the rule that fired, as "scenario#N" (N counts from 1),
	// for the journal. It is set whenever a rule fired, even one that only
	// delays.
	Rule string
	// Status is the HTTP error status to write; 0 means the normal response.
	Status int
	// Code is the error code for Status: the rule's own, or the one the API
	// uses for that status (see ForStatus).
	Code string
	// Message is the rule's message, or a default for Code.
	Message string
	// Headers are extra response headers. They are shared with the rule:
	// read them, do not modify them.
	Headers map[string]string
	// RetryAfter is the Retry-After to send (in whole seconds, rounded up):
	// the rule's retry_after, else DefaultRetryAfter for a 429, else 0 (no
	// header).
	RetryAfter time.Duration
	// Delay is how long to wait, already drawn from the rule's range with
	// the activation's seeded source.
	Delay time.Duration
	// Fault is the transport failure to produce, "" for none.
	Fault Fault
	// AfterChunks is how many chunks a stream fault lets through first.
	AfterChunks int
}

// IsZero reports whether d asks for the normal behaviour: no rule fired.
func (d Decision) IsZero() bool {
	return d.Rule == "" && d.Status == 0 && d.Delay == 0 && d.Fault == "" && d.Headers == nil
}

// Scenario is a named, ordered list of rules. The first rule that matches a
// request and still has uses left decides; a request that no rule takes
// gets the normal behaviour.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Seed seeds the activation's random source (probability and delay
	// ranges). 0 means DefaultSeed.
	Seed  uint64 `json:"seed,omitempty"`
	Rules []Rule `json:"rules"`
}

// Rule is one rule of a scenario: which requests it takes (Match, After,
// Every, Probability), how often (Times), and what it does to them (Respond,
// Delay, Fault; at least one).
//
// A rule counts the requests that reach it and match. It skips the first
// After of them; of the rest it takes every Every-th (0 or 1: each one);
// of those it takes each with the given Probability (0 means always), drawn
// from the activation's seeded source. After Times firings (0: unlimited)
// the rule is spent. A request the rule does not take goes on to the next
// rule.
//
// In Go, 0 leaves Times, Every and Probability out. Scenario files (Load)
// and JSON (ParseRules) refuse an explicit 0 for them, which a reader could
// take to switch the rule off: there, they are left out instead.
type Rule struct {
	Match       Match     `json:"match,omitzero"`
	After       int       `json:"after,omitempty"`
	Times       int       `json:"times,omitempty"`
	Every       int       `json:"every,omitempty"`
	Probability float64   `json:"probability,omitempty"`
	Respond     *Response `json:"respond,omitempty"`
	// Delay delays whatever the rule does; alone, it delays the normal
	// response. For FaultSlowBody it is the dribble time instead
	// (DefaultSlowBody when nil).
	Delay *Delay `json:"delay,omitempty"`
	// Fault replaces the response; it cannot be combined with Respond.
	Fault Fault `json:"fault,omitempty"`
	// AfterChunks is how many streamed chunks a stream_error or stream_cut
	// lets through before it strikes (0: before the first).
	AfterChunks int `json:"after_chunks,omitempty"`
}

// Match selects requests. Empty fields match everything; all the given
// fields must match.
//
// AgentKey, and the values of Query and Headers, are glob patterns: * for
// any characters, ? for one, [a-z0-9] and [^0-9] (or [!0-9]) for one of a
// class, and \ to escape any of these. No character is special to them: *
// and ? match "/" too (header values such as User-Agent contain it). A
// query parameter or header that a Match names must be present, and one of
// its values must match. Header names and Method are case-insensitive;
// Route and APIKey are exact.
type Match struct {
	AgentKey string            `json:"agent_key,omitempty"`
	Method   string            `json:"method,omitempty"`
	Route    string            `json:"route,omitempty"`
	Query    map[string]string `json:"query,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	APIKey   string            `json:"api_key,omitempty"`
}

// Response is an error response that a rule writes instead of the normal one.
type Response struct {
	// Status is an HTTP error status, 400..599.
	Status int `json:"status"`
	// Code defaults to the API's code for Status (see ForStatus).
	Code string `json:"code,omitempty"`
	// Message defaults to a sentence for Code.
	Message string            `json:"message,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// RetryAfter defaults to DefaultRetryAfter for a 429; other statuses
	// send Retry-After only when it is given.
	RetryAfter Duration `json:"retry_after,omitempty"`
}

// Delay is a wait, drawn uniformly from [Min, Max]. In YAML and JSON it is
// either one duration ("300ms": Min = Max) or an object with both "min" and
// "max".
type Delay struct {
	Min Duration `json:"min"`
	Max Duration `json:"max"`
}

// Duration is a time.Duration written in scenario files (see Load) and in
// JSON as a string that time.ParseDuration accepts ("300ms", "2s").
// Negative durations are refused.
type Duration time.Duration

// String returns the duration as time.Duration writes it.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the duration as a string such as "300ms".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a string such as "300ms", as scenario files write
// durations. Negative durations are refused.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes the duration as a string such as "300ms".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a string such as "300ms". Numbers are refused, as
// their unit would be a guess.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"300ms\", got %s", b)
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like \"300ms\" or \"2s\")", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return Duration(v), nil
}

// MarshalJSON writes a fixed delay as one string and a range as an object.
func (d Delay) MarshalJSON() ([]byte, error) {
	if d.Min == d.Max {
		return d.Min.MarshalJSON()
	}
	type plain Delay
	return json.Marshal(plain(d))
}

// UnmarshalJSON reads "300ms" or {"min": "50ms", "max": "250ms"} (both
// required, no other field).
func (d *Delay) UnmarshalJSON(b []byte) error {
	v, err := decodeDelay(b)
	if err != nil {
		return fmt.Errorf("delay: %w", err)
	}
	*d = v
	return nil
}

// decodeDelay reads the JSON of a Delay, with messages that leave the
// field's name to the caller.
func decodeDelay(b []byte) (Delay, error) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		var v Duration
		if err := v.UnmarshalJSON(b); err != nil {
			return Delay{}, err
		}
		return Delay{Min: v, Max: v}, nil
	case len(b) > 0 && b[0] == '{':
		var v struct {
			Min *Duration `json:"min"`
			Max *Duration `json:"max"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			return Delay{}, errors.New(strings.TrimPrefix(err.Error(), "json: "))
		}
		if v.Min == nil || v.Max == nil {
			return Delay{}, errors.New(`needs both "min" and "max"`)
		}
		return Delay{Min: *v.Min, Max: *v.Max}, nil
	}
	return Delay{}, fmt.Errorf(`must be a duration like "300ms" or {"min": "50ms", "max": "250ms"}, got %s`, b)
}

// DelayOf returns a delay of exactly d, for Rule.Delay:
//
//	scenarios.Rule{Delay: scenarios.DelayOf(300 * time.Millisecond)}
func DelayOf(d time.Duration) *Delay {
	return &Delay{Min: Duration(d), Max: Duration(d)}
}

// DelayBetween returns a delay drawn uniformly from min to max (both
// included) each time its rule fires, for Rule.Delay. Validation refuses
// it when min is greater than max, or either is negative.
func DelayBetween(min, max time.Duration) *Delay {
	return &Delay{Min: Duration(min), Max: Duration(max)}
}

// FieldError is a validation error about one field. Path names the field
// from the value validated, such as "rules[0].respond.status"; it is empty
// when the error is about the value as a whole.
type FieldError struct {
	Path    string
	Message string
}

// Error returns "path: message".
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// prefixed returns err with prefix joined in front of its path.
func prefixed(prefix string, err error) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return &FieldError{Path: prefix, Message: err.Error()}
	}
	return &FieldError{Path: joinPath(prefix, fe.Path), Message: fe.Message}
}

func joinPath(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	case b[0] == '[':
		return a + b
	}
	return a + "." + b
}

// leftOut says what leaving out each field that refuses an explicit 0 in
// files and JSON means.
var leftOut = map[string]string{"times": "unlimited", "every": "each match", "probability": "always"}

// zeroMessage is the problem with an explicit 0 for field, one of leftOut's.
func zeroMessage(field string) string {
	return fmt.Sprintf("must be more than 0 (leave it out for %s)", leftOut[field])
}

func fieldErrorf(path, format string, args ...any) error {
	return &FieldError{Path: path, Message: fmt.Sprintf(format, args...)}
}

// Validate reports the first problem with s, as a *FieldError.
func (s Scenario) Validate() error {
	if !validName(s.Name) {
		return fieldErrorf("name", "%q is not a scenario name (letters, digits, '_', '-' and '.', at most 100)", s.Name)
	}
	return ValidateRules(s.Rules)
}

func validName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// ValidateRules reports the first problem with rules, as a *FieldError whose
// path starts with "rules[i]".
func ValidateRules(rules []Rule) error {
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			return prefixed(fmt.Sprintf("rules[%d]", i), err)
		}
	}
	return nil
}

// Validate reports the first problem with r, as a *FieldError whose path is
// relative to the rule (such as "respond.status").
func (r Rule) Validate() error {
	if r.Respond == nil && r.Delay == nil && r.Fault == "" {
		return fieldErrorf("", "a rule needs at least one of respond, delay or fault")
	}
	if err := r.Match.validate(); err != nil {
		return prefixed("match", err)
	}
	for _, c := range []struct {
		name string
		n    int
	}{{"after", r.After}, {"times", r.Times}, {"every", r.Every}} {
		if c.n < 0 {
			return fieldErrorf(c.name, "%d is negative", c.n)
		}
	}
	if math.IsNaN(r.Probability) || r.Probability < 0 || r.Probability > 1 {
		return fieldErrorf("probability", "%v is not between 0 and 1", r.Probability)
	}
	if r.Respond != nil {
		if err := r.Respond.validate(); err != nil {
			return prefixed("respond", err)
		}
	}
	if r.Delay != nil {
		switch {
		case r.Delay.Min < 0 || r.Delay.Max < 0:
			return fieldErrorf("delay", "is negative")
		case r.Delay.Min > r.Delay.Max:
			return fieldErrorf("delay", "min %v is greater than max %v", r.Delay.Min, r.Delay.Max)
		}
	}
	switch {
	case r.AfterChunks < 0:
		return fieldErrorf("after_chunks", "is negative")
	case r.AfterChunks > 0 && !r.Fault.Stream():
		return fieldErrorf("after_chunks", "goes with a stream_error or stream_cut fault")
	}
	if r.Fault != "" {
		if !r.Fault.valid() {
			return fieldErrorf("fault", "%q is not a fault (connection_reset, empty_response, truncated_body, slow_body, stream_error or stream_cut)", r.Fault)
		}
		if r.Respond != nil {
			return fieldErrorf("fault", "cannot be combined with respond: a fault replaces the response")
		}
	}
	return nil
}

// httpMethod reports whether m, in any case, is a method that a Match can
// name: one the server answers.
func httpMethod(m string) bool {
	switch strings.ToUpper(m) {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return true
	}
	return false
}

func (m Match) validate() error {
	if err := checkGlob("agent_key", m.AgentKey); err != nil {
		return err
	}
	if m.Method != "" && !httpMethod(m.Method) {
		return fieldErrorf("method", "%q is not an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)", m.Method)
	}
	if m.Route != "" && !slices.Contains(Routes(), m.Route) {
		return fieldErrorf("route", "%q is not a route (%s)", m.Route, strings.Join(Routes(), ", "))
	}
	for _, k := range slices.Sorted(maps.Keys(m.Query)) {
		v := m.Query[k]
		if k == "" {
			return fieldErrorf("query", "a parameter name is empty")
		}
		if err := checkGlob("query."+k, v); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
		v := m.Headers[k]
		if !validToken(k) {
			return fieldErrorf("headers."+k, "is not a header name")
		}
		if err := checkGlob("headers."+k, v); err != nil {
			return err
		}
	}
	return nil
}

func checkGlob(field, pattern string) error {
	if _, err := compileGlob(pattern); err != nil {
		return fieldErrorf(field, "%q is not a valid glob pattern: %v", pattern, err)
	}
	return nil
}

func (r Response) validate() error {
	switch {
	case r.Status == 0:
		return fieldErrorf("status", "is required (an HTTP error status, 400..599)")
	case r.Status < 400 || r.Status > 599:
		return fieldErrorf("status", "%d is not an HTTP error status (400..599)", r.Status)
	case r.RetryAfter < 0:
		return fieldErrorf("retry_after", "is negative")
	}
	for _, k := range slices.Sorted(maps.Keys(r.Headers)) {
		v, p := r.Headers[k], "headers."+k
		if !validToken(k) {
			return fieldErrorf(p, "is not a header name")
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return fieldErrorf(p, "the value contains a line break or NUL")
		}
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Transfer-Encoding", "Connection":
			return fieldErrorf(p, "is set by the server")
		}
	}
	return nil
}

// validToken reports whether s is an RFC 9110 token, the syntax of header
// names and methods.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// emptyRules is the problem with a list of rules that holds none: a
// scenario that activates without rules would change nothing, silently.
const emptyRules = "must hold at least one rule"

// jsonRule is a rule as ParseRules reads it: the counts that refuse an
// explicit 0 as pointers, to tell them from fields left out, and the
// durations as raw JSON, so that their errors name their own path.
type jsonRule struct {
	Rule
	Times       *int            `json:"times"`
	Every       *int            `json:"every"`
	Probability *float64        `json:"probability"`
	Respond     *jsonResponse   `json:"respond"`
	Delay       json.RawMessage `json:"delay"`
}

type jsonResponse struct {
	Response
	RetryAfter json.RawMessage `json:"retry_after"`
}

// ParseRules reads a JSON array of rules, as the admin API takes them, and
// validates them. The array must hold at least one rule. Unknown fields are
// refused, and so is an explicit 0 for times, every or probability (see
// Rule). Errors are *FieldError with paths such as
// "rules[0].respond.status", "rules[0].delay" or "rules" for the array.
func ParseRules(data []byte) ([]Rule, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, &FieldError{Path: "rules", Message: jsonMessage(err)}
	}
	if len(raws) == 0 {
		return nil, &FieldError{Path: "rules", Message: emptyRules}
	}
	rules := make([]Rule, len(raws))
	for i, raw := range raws {
		p := fmt.Sprintf("rules[%d]", i)
		r, err := parseRule(raw)
		if err != nil {
			return nil, prefixed(p, err)
		}
		rules[i] = r
	}
	if err := ValidateRules(rules); err != nil {
		return nil, err
	}
	return rules, nil
}

// parseRule reads the JSON of one rule; errors are *FieldError with paths
// relative to the rule.
func parseRule(raw []byte) (Rule, error) {
	var jr jsonRule
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jr); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Rule{}, fieldErrorf(jsonFieldPath(te.Field), "cannot use a JSON %s as %s", te.Value, te.Type)
		}
		return Rule{}, &FieldError{Message: jsonMessage(err)}
	}
	r := jr.Rule
	r.Times, r.Every, r.Probability = deref(jr.Times), deref(jr.Every), deref(jr.Probability)
	if err := checkGiven(jr.Times, jr.Every, jr.Probability); err != nil {
		return Rule{}, err
	}
	if jr.Respond != nil {
		resp := jr.Respond.Response
		if given(jr.Respond.RetryAfter) {
			if err := resp.RetryAfter.UnmarshalJSON(jr.Respond.RetryAfter); err != nil {
				return Rule{}, fieldErrorf("respond.retry_after", "%v", err)
			}
		}
		r.Respond = &resp
	}
	if given(jr.Delay) {
		d, err := decodeDelay(jr.Delay)
		if err != nil {
			return Rule{}, fieldErrorf("delay", "%v", err)
		}
		r.Delay = &d
	}
	return r, nil
}

// jsonFieldPath is the path of a field that encoding/json names, without
// the names of the structs that jsonRule and jsonResponse embed.
func jsonFieldPath(field string) string {
	parts := strings.Split(field, ".")
	parts = slices.DeleteFunc(parts, func(s string) bool { return s == "Rule" || s == "Response" })
	return strings.Join(parts, ".")
}

// checkGiven refuses an explicit 0 for times, every or probability, given
// as pointers that are nil when the field is left out (see Rule). The error
// is a *FieldError naming the first such field.
func checkGiven(times, every *int, probability *float64) error {
	for _, c := range []struct {
		name string
		zero bool
	}{
		{"times", times != nil && *times == 0},
		{"every", every != nil && *every == 0},
		{"probability", probability != nil && *probability == 0},
	} {
		if c.zero {
			return fieldErrorf(c.name, "%s", zeroMessage(c.name))
		}
	}
	return nil
}

// given reports whether a field decoded as raw JSON was there and not null.
func given(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// deref returns *p, or the zero value when p is nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func jsonMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field == "" {
		return fmt.Sprintf("must be a JSON array of rules, got a JSON %s", te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
