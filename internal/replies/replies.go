package replies

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
	"unicode/utf8"
)

// Rule is one scripted reply: when Match matches the input text, the turn
// thinks Thinking, calls Tools in order, and says Reply.
type Rule struct {
	// Match is an RE2 pattern on the input text, at most MaxMatchLength
	// characters; "" matches every input.
	Match string
	// Thinking is a template (see CheckTemplate); "" for no thinking.
	Thinking string
	Tools    []Tool
	// Reply is a template; "" means the generated reply (see Generate).
	Reply string
}

// Tool is one tool call that a rule scripts.
type Tool struct {
	Name          string // tool_name, e.g. corpora_search
	Configuration string // tool_configuration_name, e.g. kb
	// Input holds JSON values (as encoding/json decodes them, or
	// json.Number); its strings, at any depth, are templates.
	Input map[string]any
	// Output holds JSON values, used as given.
	Output map[string]any
	Error  bool
}

// Input is what a turn answers, and the data of the templates: .Input,
// .Turn, .Session, .Agent and .History.
type Input struct {
	Input   string   // this message's text
	Turn    int      // 1 for the first input of the session
	Session Session  // the session the input is in
	Agent   Agent    // the agent that answers
	History []string // the earlier input texts of the session, oldest first
}

// Session is the session of a turn, as templates see it.
type Session struct {
	Key      string
	Name     string
	Metadata map[string]any
}

// Agent is the agent of a turn, as templates see it.
type Agent struct {
	Key  string
	Name string
}

// Turn is what the agent says to one input: zero or one thinking (when
// Thinking is not ""), zero or more tool calls, then Reply, which is never
// empty.
type Turn struct {
	Thinking string
	Tools    []ToolCall
	Reply    string
}

// ToolCall is one tool call of a turn: a Tool with its input templates
// executed. Its maps belong to the caller.
type ToolCall struct {
	Name          string
	Configuration string
	Input         map[string]any
	Output        map[string]any
	Error         bool
}

// MaxMatchLength is the longest Match pattern, in characters.
const MaxMatchLength = 256

// MaxOutput is the most bytes one template may write; a template that
// writes more fails.
const MaxOutput = 64 << 10

// CheckMatch reports whether src is a valid Match: an RE2 pattern of at most
// MaxMatchLength characters.
func CheckMatch(src string) error {
	_, err := compileMatch(src)
	return err
}

func compileMatch(src string) (*regexp.Regexp, error) {
	if n := utf8.RuneCountInString(src); n > MaxMatchLength {
		return nil, fmt.Errorf("pattern is %d characters long; at most %d", n, MaxMatchLength)
	}
	if src == "" {
		return nil, nil
	}
	return regexp.Compile(src)
}

// CheckTemplate reports whether src is a template that a turn can execute.
// It parses src as a Go text/template and executes it once on sample data
// (the first turn of a session without metadata, see Sample), so that a
// misspelt field (.Inptu) is refused as well as a syntax error. A template
// whose execution depends on the data (index .History 0) fails here unless
// it guards itself ({{if .History}}). A template may not write more than
// MaxOutput bytes, nor range more than MaxSteps times, nor define or call
// templates ({{define}}, {{block}}, {{template}}).
func CheckTemplate(src string) error {
	_, err := checkedTemplate(src)
	return err
}

// checkedTemplate parses src and executes it on Sample.
func checkedTemplate(src string) (*tmpl, error) {
	t, err := parseTemplate(src)
	if err != nil {
		return nil, err
	}
	if _, err := t.execute(Sample()); err != nil {
		return nil, err
	}
	return t, nil
}

// Sample is the data CheckTemplate executes templates on: the first turn of
// a session without metadata or history.
func Sample() Input {
	return Input{
		Input:   "Hello, I need some help with my account.",
		Turn:    1,
		Session: Session{Key: "ase_sample", Name: "Sample session"},
		Agent:   Agent{Key: "agt_sample", Name: "Sample agent"},
	}
}

// MaxSteps bounds the work of one execution of a template: each iteration
// of a range counts one step, and an execution that takes more fails. With
// MaxOutput it keeps a template such as {{range 1000000000}}{{end}} from
// taking the time of a load, or of a request.
const MaxSteps = 10_000

// The functions that parseTemplate adds to templates.
const (
	emptyFunc = "_replies_empty" // a missing value prints as ""
	stepFunc  = "_replies_step"  // counts one step of an execution
)

var (
	errTooLong      = fmt.Errorf("writes more than %d bytes", MaxOutput)
	errTooManySteps = fmt.Errorf("takes more than %d range iterations", MaxSteps)
)

// tmpl is a parsed template and the step counts of its executions.
type tmpl struct {
	t      *template.Template
	ranges bool // whether it counts steps at all

	mu    sync.Mutex
	steps map[*Input]int // by execution
}

// parseTemplate parses src, then rewrites its tree:
//
//   - Missing map keys are zero values. A missing key of a map[string]any
//     is still a nil interface, which text/template prints as "<no value>"
//     even so (golang.org/issue/24963), so each action that prints pipes
//     its value through emptyFunc: metadata that a session lacks prints as
//     "".
//   - Each range body starts with {{stepFunc $}}, which counts the
//     iterations of an execution ($ is the *Input that execute passes) and
//     stops it after MaxSteps. {{define}} and {{block}} are refused, so
//     that no recursion escapes the count.
func parseTemplate(src string) (*tmpl, error) {
	x := &tmpl{}
	fm := template.FuncMap{
		emptyFunc: func(v any) any {
			if v == nil {
				return ""
			}
			return v
		},
		stepFunc: x.step,
	}
	t, err := template.New("text").Option("missingkey=zero").Funcs(fm).Parse(src)
	if err != nil {
		return nil, err
	}
	if len(t.Templates()) > 1 || strings.Contains(src, "template") && hasTemplateCall(t.Tree.Root) {
		return nil, errors.New("template: text: {{define}}, {{block}} and {{template}} are not supported")
	}
	step := template.Must(template.New("step").Funcs(fm).Parse("{{" + stepFunc + " $}}"))
	x.t = t
	if t.Tree != nil {
		x.rewrite(t.Tree, t.Tree.Root, step.Tree.Root.Nodes[0])
	}
	return x, nil
}

func (x *tmpl) rewrite(tr *parse.Tree, n parse.Node, step parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			x.rewrite(tr, c, step)
		}
	case *parse.ActionNode:
		if len(n.Pipe.Decl) > 0 { // {{$x := ...}} prints nothing
			return
		}
		id := parse.NewIdentifier(emptyFunc).SetTree(tr).SetPos(n.Pos)
		n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Pos, Args: []parse.Node{id}})
	case *parse.IfNode:
		x.rewrite(tr, n.List, step)
		x.rewrite(tr, n.ElseList, step)
	case *parse.WithNode:
		x.rewrite(tr, n.List, step)
		x.rewrite(tr, n.ElseList, step)
	case *parse.RangeNode:
		x.rewrite(tr, n.List, step)
		x.rewrite(tr, n.ElseList, step)
		n.List.Nodes = append([]parse.Node{step.Copy()}, n.List.Nodes...)
		x.ranges = true
	}
}

// hasTemplateCall reports whether a {{template}} action is under n.
func hasTemplateCall(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.ListNode:
		return n != nil && slices.ContainsFunc(n.Nodes, hasTemplateCall)
	case *parse.TemplateNode:
		return true
	case *parse.IfNode:
		return hasTemplateCall(n.List) || hasTemplateCall(n.ElseList)
	case *parse.WithNode:
		return hasTemplateCall(n.List) || hasTemplateCall(n.ElseList)
	case *parse.RangeNode:
		return hasTemplateCall(n.List) || hasTemplateCall(n.ElseList)
	}
	return false
}

func (x *tmpl) step(in *Input) (string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.steps == nil {
		x.steps = map[*Input]int{}
	}
	if x.steps[in]++; x.steps[in] > MaxSteps {
		return "", errTooManySteps
	}
	return "", nil
}

// limitedBuilder is a strings.Builder that refuses to grow past MaxOutput.
type limitedBuilder struct{ strings.Builder }

func (b *limitedBuilder) Write(p []byte) (int, error) {
	if b.Len()+len(p) > MaxOutput {
		return 0, errTooLong
	}
	return b.Builder.Write(p)
}

// execute executes x on in, within MaxOutput and MaxSteps.
func (x *tmpl) execute(in Input) (string, error) {
	p := &in
	if x.ranges {
		defer func() {
			x.mu.Lock()
			delete(x.steps, p)
			x.mu.Unlock()
		}()
	}
	var b limitedBuilder
	if err := x.t.Execute(&b, p); err != nil {
		for _, e := range []error{errTooLong, errTooManySteps} {
			if errors.Is(err, e) {
				return "", fmt.Errorf("template: text: %w", e)
			}
		}
		return "", err
	}
	return b.String(), nil
}

// Script is a compiled list of rules. It is safe for concurrent use, and
// nothing its caller does to the rules after Compile changes it.
type Script struct {
	rules   []rule
	history bool // a template names .History
}

// UsesHistory reports whether a template of the script reads .History, so
// that a caller gathers the earlier inputs only for the scripts that use
// them.
func (s *Script) UsesHistory() bool { return s != nil && s.history }

type rule struct {
	match    *regexp.Regexp // nil matches every input
	thinking *tmpl
	tools    []tool
	reply    *tmpl // nil: generated
}

type tool struct {
	name, configuration string
	input               map[string]any // strings replaced by *tmpl
	output              map[string]any
	err                 bool
}

// Compile checks and compiles rules, in order. An error names the rule and
// the field, as "replies[2].reply: ...", and lists every bad field.
func Compile(rules []Rule) (*Script, error) {
	s := &Script{rules: make([]rule, 0, len(rules))}
	var errs []error
	fail := func(path string, err error) { errs = append(errs, fmt.Errorf("%s: %w", path, err)) }
	check := func(path, src string) *tmpl {
		if src == "" {
			return nil
		}
		s.history = s.history || strings.Contains(src, "History")
		t, err := checkedTemplate(src)
		if err != nil {
			fail(path, err)
		}
		return t
	}
	for i, r := range rules {
		p := "replies[" + strconv.Itoa(i) + "]"
		var c rule
		var err error
		if c.match, err = compileMatch(r.Match); err != nil {
			fail(p+".match", err)
		}
		c.thinking = check(p+".thinking", r.Thinking)
		c.reply = check(p+".reply", r.Reply)
		for j, t := range r.Tools {
			tp := p + ".tools[" + strconv.Itoa(j) + "]"
			if t.Name == "" {
				fail(tp+".name", errors.New("missing required field"))
			}
			if t.Configuration == "" {
				fail(tp+".configuration", errors.New("missing required field"))
			}
			c.tools = append(c.tools, tool{
				name: t.Name, configuration: t.Configuration, err: t.Error,
				input:  compileValue(tp+".input", t.Input, check).(map[string]any),
				output: cloneMap(t.Output),
			})
		}
		s.rules = append(s.rules, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// compileValue copies the JSON value v (at path), with each string replaced
// by its template.
func compileValue(path string, v any, check func(path, src string) *tmpl) any {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return map[string]any(nil)
		}
		m := make(map[string]any, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) { // errors in a stable order
			m[k] = compileValue(path+"."+k, v[k], check)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = compileValue(path+"["+strconv.Itoa(i)+"]", x, check)
		}
		return s
	case string:
		if t := check(path, v); t != nil {
			return t
		}
		return ""
	}
	return v
}

// renderValue is the JSON value of c, a value of compileValue, for in.
func renderValue(c any, in Input) (any, error) {
	switch c := c.(type) {
	case map[string]any:
		if c == nil {
			return map[string]any(nil), nil
		}
		m := make(map[string]any, len(c))
		for k, x := range c {
			v, err := renderValue(x, in)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	case []any:
		s := make([]any, len(c))
		for i, x := range c {
			v, err := renderValue(x, in)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	case *tmpl:
		return c.execute(in)
	}
	return c, nil
}

// cloneMap deep-copies the maps and lists of a JSON object; other values are
// shared, as they cannot change.
func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneMap(v)
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = cloneValue(x)
		}
		return s
	}
	return v
}

// Turn answers in: the turn of the first rule whose Match matches in.Input,
// else (and for a nil Script) Generate(in). A rule without Reply, or whose
// Reply writes nothing, says the generated reply after its own thinking and
// tools. Turn never fails: a template that fails on in (CheckTemplate
// executes each one once, but some depend on the data, such as an index
// past the end of .History) makes the whole turn Generate(in).
func (s *Script) Turn(in Input) Turn {
	if s == nil {
		return Generate(in)
	}
	for i := range s.rules {
		r := &s.rules[i]
		if r.match != nil && !r.match.MatchString(in.Input) {
			continue
		}
		t, err := r.turn(in)
		if err != nil {
			return Generate(in)
		}
		return t
	}
	return Generate(in)
}

func (r *rule) turn(in Input) (Turn, error) {
	var t Turn
	var err error
	if r.thinking != nil {
		if t.Thinking, err = r.thinking.execute(in); err != nil {
			return Turn{}, err
		}
	}
	if len(r.tools) > 0 {
		t.Tools = make([]ToolCall, len(r.tools))
	}
	for i, c := range r.tools {
		input, err := renderValue(c.input, in)
		if err != nil {
			return Turn{}, err
		}
		t.Tools[i] = ToolCall{Name: c.name, Configuration: c.configuration, Input: input.(map[string]any), Output: cloneMap(c.output), Error: c.err}
	}
	if r.reply != nil {
		if t.Reply, err = r.reply.execute(in); err != nil {
			return Turn{}, err
		}
	}
	if strings.TrimSpace(t.Reply) == "" {
		t.Reply = Generate(in).Reply
	}
	return t, nil
}
