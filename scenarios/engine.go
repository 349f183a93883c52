package scenarios

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentmock/agentmock/internal/apierror"
)

// ErrUnknownScenario is returned (wrapped) for a scenario name that the
// engine's catalog does not hold.
var ErrUnknownScenario = errors.New("unknown scenario")

// Engine holds a catalog of scenarios, the activations (one for everyone,
// and one per API key), and the state of scenarios asked for with
// "Prefer: scenario=NAME". It is safe for concurrent use; each Engine owns
// all its state and random sources. Create one with NewEngine.
type Engine struct {
	// scope is nil when nothing is active, so Decide's idle path is one
	// atomic load. It is replaced, never modified, under mu.
	scope atomic.Pointer[scope]

	mu      sync.Mutex
	catalog map[string]Scenario
	named   map[namedKey]*activation
}

type scope struct {
	global *activation
	perKey map[string]*activation
}

type namedKey struct{ name, apiKey string }

// Activation describes one active scenario, for the admin API.
type Activation struct {
	Name string `json:"name"`
	// APIKey is the key this activation is for, "" for everyone. It is the
	// key in clear: redact it before logging.
	APIKey string `json:"api_key,omitempty"`
	// Inline is true for rules given to ActivateRules.
	Inline bool   `json:"inline,omitempty"`
	Seed   uint64 `json:"seed"`
	// Rules counts, for each rule in order, the requests that matched it
	// and the times it fired.
	Rules []RuleCount `json:"rules"`
}

// RuleCount is what one rule of an activation has seen so far.
type RuleCount struct {
	Rule    string `json:"rule"`    // "scenario#N"
	Matched int    `json:"matched"` // requests that reached the rule and matched it
	Fired   int    `json:"fired"`   // requests the rule took
}

// NewEngine returns an engine whose catalog holds the built-in scenarios
// and user, which override built-ins of the same name. Nothing is active.
// user is validated; it is copied, so the caller may reuse it.
func NewEngine(user []Scenario) (*Engine, error) {
	e := &Engine{}
	if err := e.SetCatalog(user); err != nil {
		return nil, err
	}
	return e, nil
}

// SetCatalog replaces the user scenarios (for a reload), all-or-nothing:
// on error the catalog is unchanged. Current activations keep the rules
// and counters they started with; the state of "Prefer: scenario=NAME" is
// cleared, as its definitions may have changed.
func (e *Engine) SetCatalog(user []Scenario) error {
	catalog := map[string]Scenario{}
	for _, s := range BuiltIn() {
		catalog[s.Name] = s
	}
	seen := map[string]bool{}
	for _, s := range user {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("scenario %q: %w", s.Name, err)
		}
		if seen[s.Name] {
			return fmt.Errorf("scenario %q is defined twice", s.Name)
		}
		seen[s.Name] = true
		s.Rules = cloneRules(s.Rules)
		catalog[s.Name] = s
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.catalog = catalog
	e.named = nil
	return nil
}

// Scenarios returns the catalog, sorted by name.
func (e *Engine) Scenarios() []Scenario {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Scenario, 0, len(e.catalog))
	for _, name := range slices.Sorted(maps.Keys(e.catalog)) {
		s := e.catalog[name]
		s.Rules = cloneRules(s.Rules)
		out = append(out, s)
	}
	return out
}

// Activate makes the named scenario active for requests with apiKey, or
// for everyone when apiKey is "". It replaces the previous activation of
// that scope, with fresh counters and a fresh source seeded from the
// scenario's seed. An unknown name is an error wrapping ErrUnknownScenario.
func (e *Engine) Activate(name, apiKey string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.catalog[name]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownScenario, name)
	}
	e.setLocked(apiKey, newActivation(s.Name, s.Seed, s.Rules, apiKey, false))
	return nil
}

// ActivateRules makes rules active like Activate, for inline rules from the
// admin API. name labels the rules in decisions ("inline" when empty); seed
// 0 means DefaultSeed. The rules are validated (errors are *FieldError with
// paths such as "rules[0].respond.status") and copied.
func (e *Engine) ActivateRules(name string, seed uint64, rules []Rule, apiKey string) error {
	if err := ValidateRules(rules); err != nil {
		return err
	}
	if name == "" {
		name = "inline"
	}
	a := newActivation(name, seed, rules, apiKey, true)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setLocked(apiKey, a)
	return nil
}

// Deactivate ends the activation for apiKey, or the one for everyone when
// apiKey is "". Deactivating what is not active does nothing.
func (e *Engine) Deactivate(apiKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setLocked(apiKey, nil)
}

// Reset ends every activation and forgets the state of
// "Prefer: scenario=NAME". The catalog stays.
func (e *Engine) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.scope.Store(nil)
	e.named = nil
}

// setLocked installs a (nil: removes) as the activation for apiKey by
// copying the scope, so that Decide never takes e.mu.
func (e *Engine) setLocked(apiKey string, a *activation) {
	next := &scope{}
	if old := e.scope.Load(); old != nil {
		next.global, next.perKey = old.global, maps.Clone(old.perKey)
	}
	switch {
	case apiKey == "":
		next.global = a
	case a == nil:
		delete(next.perKey, apiKey)
	default:
		if next.perKey == nil {
			next.perKey = map[string]*activation{}
		}
		next.perKey[apiKey] = a
	}
	if next.global == nil && len(next.perKey) == 0 {
		next = nil
	}
	e.scope.Store(next)
}

// Active lists the activations: the one for everyone first, then the
// per-key ones sorted by key.
func (e *Engine) Active() []Activation {
	s := e.scope.Load()
	if s == nil {
		return nil
	}
	var out []Activation
	if s.global != nil {
		out = append(out, s.global.describe())
	}
	for _, k := range slices.Sorted(maps.Keys(s.perKey)) {
		out = append(out, s.perKey[k].describe())
	}
	return out
}

// Decide evaluates the active scenario for r. An activation for r.APIKey
// takes precedence over the one for everyone (the latter is then not
// consulted at all). When nothing is active it returns the zero Decision
// at once, without locking or allocating.
func (e *Engine) Decide(r Request) Decision {
	s := e.scope.Load()
	if s == nil {
		return Decision{}
	}
	a := s.perKey[r.APIKey]
	if a == nil {
		a = s.global
	}
	if a == nil {
		return Decision{}
	}
	return a.decide(&r)
}

// Idle reports whether no scenario is active, so that a caller can skip
// building a Request. Prefer-driven scenarios do not count.
func (e *Engine) Idle() bool { return e.scope.Load() == nil }

// MaxNamedStates bounds the counters that DecideNamed keeps: past it, all
// are dropped and start afresh, so that clients sending a new API key with
// every request cannot grow them without bound.
const MaxNamedStates = 4096

// DecideNamed evaluates the named scenario for r, for
// "Prefer: scenario=NAME". Its counters and seeded source persist between
// calls, per scenario name and API key (so parallel suites with different
// keys do not share them), until Reset or SetCatalog. An unknown name is an
// error wrapping ErrUnknownScenario.
func (e *Engine) DecideNamed(name string, r Request) (Decision, error) {
	k := namedKey{name, r.APIKey}
	e.mu.Lock()
	a := e.named[k]
	if a == nil {
		s, ok := e.catalog[name]
		if !ok {
			e.mu.Unlock()
			return Decision{}, fmt.Errorf("%w %q", ErrUnknownScenario, name)
		}
		a = newActivation(s.Name, s.Seed, s.Rules, r.APIKey, false)
		if e.named == nil || len(e.named) >= MaxNamedStates {
			e.named = map[namedKey]*activation{} // forget all rather than grow without bound
		}
		e.named[k] = a
	}
	e.mu.Unlock()
	return a.decide(&r), nil
}

// ForStatus returns the decision for "Prefer: code=NNN": an error response
// with the API's code for status, a default message, and for a 429
// DefaultRetryAfter. The codes are the server's own: 400 invalid_request,
// 401 unauthorized, 403 forbidden, 404 agent_not_found, 405
// method_not_allowed, 409 session_exists, 413 payload_too_large, 415
// unsupported_media_type, 429 rate_limit_exceeded, 500 internal_error, 502
// bad_gateway, 503 service_unavailable, 504 gateway_timeout, and "error"
// for other statuses. A status outside 400..599 gives the zero Decision (normal
// behaviour), as Prism serves the documented success for code=200.
func ForStatus(status int) Decision {
	if status < 400 || status > 599 {
		return Decision{}
	}
	d := Decision{
		Rule:    "prefer:code=" + strconv.Itoa(status),
		Status:  status,
		Code:    apierror.CodeFor(status),
		Message: messageFor(status, apierror.CodeFor(status), ""),
	}
	if status == http.StatusTooManyRequests {
		d.RetryAfter = DefaultRetryAfter
	}
	return d
}

// messageFor is the default message of a rule's code; an agent_not_found
// names the agent.
func messageFor(status int, code, agentKey string) string {
	if code == apierror.AgentNotFound && agentKey != "" {
		return fmt.Sprintf("agent %q does not exist", agentKey)
	}
	return apierror.Message(code, status)
}

// activation is one scenario in use: its rules and their counters, behind
// one mutex so that counts are exact under concurrency.
type activation struct {
	name, apiKey string
	seed         uint64
	inline       bool
	rules        []compiledRule

	mu     sync.Mutex
	rng    *rand.Rand
	counts []RuleCount
}

type compiledRule struct {
	Rule
	code string
	// The globs of Match, header names canonical.
	agentKey glob
	query    map[string]glob
	headers  map[string]glob
}

func newActivation(name string, seed uint64, rules []Rule, apiKey string, inline bool) *activation {
	if seed == 0 {
		seed = DefaultSeed
	}
	a := &activation{
		name: name, apiKey: apiKey, seed: seed, inline: inline,
		rng:    rand.New(rand.NewPCG(seed, seed)),
		rules:  make([]compiledRule, len(rules)),
		counts: make([]RuleCount, len(rules)),
	}
	for i, r := range cloneRules(rules) {
		// The rules are valid, so their globs compile.
		c := compiledRule{Rule: r}
		c.agentKey, _ = compileGlob(r.Match.AgentKey)
		if r.Respond != nil {
			c.code = r.Respond.Code
			if c.code == "" {
				c.code = apierror.CodeFor(r.Respond.Status)
			}
		}
		if len(r.Match.Query) > 0 {
			c.query = map[string]glob{}
			for k, v := range r.Match.Query {
				c.query[k], _ = compileGlob(v)
			}
		}
		if len(r.Match.Headers) > 0 {
			c.headers = map[string]glob{}
			for k, v := range r.Match.Headers {
				c.headers[http.CanonicalHeaderKey(k)], _ = compileGlob(v)
			}
		}
		a.rules[i] = c
		a.counts[i].Rule = name + "#" + strconv.Itoa(i+1)
	}
	return a
}

func (a *activation) describe() Activation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return Activation{Name: a.name, APIKey: a.apiKey, Inline: a.inline, Seed: a.seed, Rules: slices.Clone(a.counts)}
}

func (a *activation) decide(r *Request) Decision {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.rules {
		c, n := &a.rules[i], &a.counts[i]
		if c.Times > 0 && n.Fired >= c.Times || !c.matches(r) {
			continue
		}
		n.Matched++
		k := n.Matched - c.After
		if k <= 0 || c.Every > 1 && k%c.Every != 0 {
			continue
		}
		if c.Probability > 0 && c.Probability < 1 && a.rng.Float64() >= c.Probability {
			continue
		}
		n.Fired++
		return a.fire(c, n.Rule, r)
	}
	return Decision{}
}

func (a *activation) fire(c *compiledRule, id string, r *Request) Decision {
	d := Decision{Rule: id, Fault: c.Fault, AfterChunks: c.AfterChunks}
	if p := c.Respond; p != nil {
		d.Status, d.Code, d.Message, d.Headers = p.Status, c.code, p.Message, p.Headers
		if d.Message == "" {
			d.Message = messageFor(p.Status, c.code, r.AgentKey)
		}
		d.RetryAfter = time.Duration(p.RetryAfter)
		if d.RetryAfter == 0 && p.Status == http.StatusTooManyRequests {
			d.RetryAfter = DefaultRetryAfter
		}
	}
	switch {
	case c.Delay != nil:
		d.Delay = time.Duration(c.Delay.Min)
		if c.Delay.Max > c.Delay.Min {
			d.Delay += time.Duration(a.rng.Uint64N(uint64(c.Delay.Max-c.Delay.Min) + 1))
		}
	case c.Fault == FaultSlowBody:
		d.Delay = DefaultSlowBody
	}
	return d
}

func (c *compiledRule) matches(r *Request) bool {
	m := &c.Match
	if m.Method != "" && !strings.EqualFold(m.Method, r.Method) ||
		m.Route != "" && m.Route != r.Route ||
		m.APIKey != "" && m.APIKey != r.APIKey ||
		m.AgentKey != "" && !c.agentKey.match(r.AgentKey) {
		return false
	}
	for k, g := range c.query {
		if !g.matchAny(r.Query[k]) {
			return false
		}
	}
	for k, g := range c.headers {
		if !g.matchAny(r.Header[k]) {
			return false
		}
	}
	return true
}

// cloneRules deep-copies rules, so that no caller shares maps with an engine.
func cloneRules(rules []Rule) []Rule {
	if rules == nil {
		return nil
	}
	out := make([]Rule, len(rules))
	for i, r := range rules {
		r.Match.Query = maps.Clone(r.Match.Query)
		r.Match.Headers = maps.Clone(r.Match.Headers)
		if r.Respond != nil {
			p := *r.Respond
			p.Headers = maps.Clone(p.Headers)
			r.Respond = &p
		}
		if r.Delay != nil {
			d := *r.Delay
			r.Delay = &d
		}
		out[i] = r
	}
	return out
}
