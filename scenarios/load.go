package scenarios

import (
	"errors"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/agentmock/agentmock/internal/yamlfile"
)

// LoadFile reads a scenarios YAML file; see Load.
func LoadFile(path string) ([]Scenario, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, src)
}

// Load parses a scenarios YAML document:
//
//	scenarios:
//	  retry_then_succeed:
//	    description: Two 429s, then normal responses
//	    seed: 7
//	    rules:
//	      - match: {agent_key: agt_customer_support}
//	        times: 2
//	        respond: {status: 429, retry_after: 2s}
//
// It returns the scenarios in file order, every one validated, or an error
// and nothing. Unknown and repeated fields are refused. Each line of an
// error names the file (name), the line and the field, as in
// "scenarios.yaml:7: scenarios.retry_then_succeed.rules[0].respond.status: 700 is not an HTTP error status (400..599)";
// at most 20 lines, then a count of the other problems. Its cost is linear
// in the size of src, whatever src holds. An empty document holds no
// scenarios.
func Load(name string, src []byte) ([]Scenario, error) {
	f, err := yamlfile.Parse(name, src)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Scenarios *yaml.Node `yaml:"scenarios"`
	}
	f.Decode(f.Root(), "", &raw)
	var out []Scenario
	for _, e := range f.Entries(raw.Scenarios, "scenarios") {
		p := yamlfile.Key("scenarios", e.Key)
		if !validName(e.Key) {
			f.Errorf(e.KeyNode, p, "%q is not a scenario name (letters, digits, '_', '-' and '.', at most 100)", e.Key)
			continue
		}
		if s, ok := scenario(f, e.Value, p); ok {
			s.Name = e.Key
			out = append(out, s)
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// The raw types mirror the file format where it differs from the rule
// model: a count given as 0 must be told from one left out, and a delay is
// one duration or a range.
type rawScenario struct {
	Description string       `yaml:"description"`
	Seed        uint64       `yaml:"seed"`
	Rules       []*yaml.Node `yaml:"rules" want:"a list of rules"` // each a rawRule
}

type rawRule struct {
	Match       Match      `yaml:"match"`
	After       int        `yaml:"after"`
	Times       *int       `yaml:"times"`
	Every       *int       `yaml:"every"`
	Probability *float64   `yaml:"probability"`
	Respond     *Response  `yaml:"respond"`
	Delay       *yaml.Node `yaml:"delay"`
	Fault       Fault      `yaml:"fault"`
	AfterChunks int        `yaml:"after_chunks"`
}

// scenario decodes and validates the scenario n at path p, reporting its
// problems to f; ok is false when it has any.
func scenario(f *yamlfile.File, n *yaml.Node, p string) (s Scenario, ok bool) {
	before := f.Problems()
	var rs rawScenario
	f.Decode(n, p, &rs)
	s = Scenario{Description: rs.Description, Seed: rs.Seed}
	if rs.Rules != nil && len(rs.Rules) == 0 {
		f.Errorf(nil, yamlfile.Key(p, "rules"), "%s", emptyRules)
	}
	for i, rn := range rs.Rules {
		// Each rule is decoded alone, so that one that does not decode is
		// not validated too.
		rp := yamlfile.Index(yamlfile.Key(p, "rules"), i)
		var rr rawRule
		start := f.Problems()
		if f.Decode(rn, rp, &rr); f.Problems() > start {
			continue
		}
		if r, ok := rule(f, &rr, rp); ok {
			s.Rules = append(s.Rules, r)
		}
	}
	return s, f.Problems() == before
}

// rule converts and validates one decoded rule at path p.
func rule(f *yamlfile.File, rr *rawRule, p string) (Rule, bool) {
	before := f.Problems()
	r := Rule{
		Match: rr.Match, After: rr.After, Times: deref(rr.Times), Every: deref(rr.Every),
		Probability: deref(rr.Probability), Respond: rr.Respond, Fault: rr.Fault, AfterChunks: rr.AfterChunks,
	}
	if err := checkGiven(rr.Times, rr.Every, rr.Probability); err != nil {
		fieldError(f, p, err)
	}
	r.Delay = delay(f, rr.Delay, yamlfile.Key(p, "delay"))
	if f.Problems() > before {
		return r, false
	}
	if err := r.Validate(); err != nil {
		fieldError(f, p, err)
		return r, false
	}
	return r, true
}

// fieldError reports err, a *FieldError about the rule at path p, at the
// line of its field.
func fieldError(f *yamlfile.File, p string, err error) {
	var fe *FieldError
	errors.As(err, &fe)
	f.Errorf(nil, joinPath(p, fe.Path), "%s", fe.Message)
}

// delay decodes "300ms" or {min: 50ms, max: 250ms}; nil when n is.
func delay(f *yamlfile.File, n *yaml.Node, p string) *Delay {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		var d Duration
		f.Decode(n, p, &d)
		return &Delay{Min: d, Max: d}
	}
	var r struct {
		Min *Duration `yaml:"min"`
		Max *Duration `yaml:"max"`
	}
	before := f.Problems()
	if n.Kind == yaml.MappingNode {
		f.Decode(n, p, &r)
	}
	if r.Min == nil || r.Max == nil {
		if f.Problems() == before {
			f.Errorf(n, p, `must be a duration like "300ms" or a mapping with both min and max`)
		}
		return &Delay{}
	}
	return &Delay{Min: *r.Min, Max: *r.Max}
}
