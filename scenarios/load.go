package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
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
// and nothing. Unknown and repeated fields are refused. An error names the
// file (name), the line and the field, as in
// "scenarios.yaml:7: scenarios.retry_then_succeed.rules[0].respond.status: 700 is not an HTTP error status (400..599)".
// An empty document holds no scenarios.
func Load(name string, src []byte) ([]Scenario, error) {
	l := &loader{file: name, lines: map[string]int{}}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, l.syntaxError(src, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, l.syntaxError(src, err)
		}
		return nil, l.errorf(extra.Line, "", "only one YAML document is allowed")
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	if err := l.checkAliases(doc.Content[0]); err != nil {
		return nil, err
	}
	var out []Scenario
	err := l.fields(doc.Content[0], "", []string{"scenarios"}, func(_ string, v *yaml.Node, p string) error {
		seen := map[string]bool{}
		return l.fields(v, p, nil, func(name string, v *yaml.Node, p string) error {
			if !validName(name) {
				return l.errorf(l.lines[p], p, "%q is not a scenario name (letters, digits, '_', '-' and '.', at most 100)", name)
			}
			if seen[name] {
				return l.errorf(l.lines[p], p, "scenario defined twice")
			}
			seen[name] = true
			s, err := l.scenario(v, p)
			s.Name = name
			out = append(out, s)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// loader walks the yaml.Node tree by hand, because yaml.v3 forgets
// KnownFields inside custom unmarshalers and its errors do not name the
// field path.
type loader struct {
	file string
	// lines maps the path of each field seen to the line of its key, to
	// place the errors that validation finds after decoding.
	lines map[string]int
}

// maxAliasNodes bounds the nodes that YAML aliases add to a file once
// expanded (each alias counts every node it stands for, the aliases within
// it expanded too), so that a few lines ("billion laughs") cannot take the
// memory and time of billions of fields. A file without aliases is bounded
// by its own size.
const maxAliasNodes = 100_000

// checkAliases refuses a document whose aliases expand past maxAliasNodes
// nodes, or that holds an alias inside the node it refers to. It reads each
// node once, in document order, and never follows an alias: YAML defines an
// anchor before its aliases, so the expanded size of the node an alias
// refers to is known when the alias is reached, unless the alias is inside
// that node.
func (l *loader) checkAliases(root *yaml.Node) error {
	sizes := make(map[*yaml.Node]int) // expanded sizes of anchored nodes
	added := 0
	var culprit *yaml.Node
	var cyclic bool
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if culprit != nil {
			return 0
		}
		if n.Kind == yaml.AliasNode {
			s, done := sizes[n.Alias]
			if !done {
				culprit, cyclic = n, true
				return 0
			}
			if added += s; added > maxAliasNodes {
				culprit = n
			}
			return s
		}
		total := 1
		for _, c := range n.Content {
			total = min(total+size(c), maxAliasNodes+1)
		}
		if n.Anchor != "" {
			sizes[n] = total
		}
		return total
	}
	size(root)
	if culprit == nil {
		return nil
	}
	p, _ := pathOf(root, culprit, "")
	if cyclic {
		return l.errorf(culprit.Line, p, "alias *%s is inside the node it refers to", culprit.Value)
	}
	return l.errorf(culprit.Line, p, "aliases expand the file by more than %d nodes", maxAliasNodes)
}

// pathOf returns the path of target, n or a node below it (n at path p),
// without following aliases; the path of its mapping when target is a key.
func pathOf(n, target *yaml.Node, p string) (string, bool) {
	if n == target {
		return p, true
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k == target {
				return p, true
			}
			if q, ok := pathOf(v, target, joinPath(p, k.Value)); ok {
				return q, true
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			if q, ok := pathOf(v, target, fmt.Sprintf("%s[%d]", p, i)); ok {
				return q, true
			}
		}
	}
	return "", false
}

// syntaxError reports err, a syntax error that yaml.v3 found in src, at the
// line to fix and the nearest field.
//
// yaml.v3 keeps the problem mark to itself: its "line N" is the line of the
// context mark (where the collection or scalar being parsed starts) when
// that is not on line 1, else of the problem mark; it is counted from 0 for
// parser errors ("did not find expected ..."), from 1 for scanner errors,
// and left out for line 1. So the line is found by asking yaml.v3 again: it
// is the first line L such that lines 1..L alone already fail with the same
// error (for an unclosed [ or {, the last line it was left open on). The
// field is that of the first line that does not parse, placed by its
// indentation among the block collections still open above it.
//
// Each try parses up to the problem again, so a file over maxSyntaxSearch
// bytes gets yaml.v3's N instead, which the problem is never above.
func (l *loader) syntaxError(src []byte, err error) error {
	m := yamlPrefix.FindStringSubmatch(err.Error())
	problem := strings.TrimPrefix(err.Error(), m[0])
	if len(src) > maxSyntaxSearch {
		line, _ := strconv.Atoi(m[1])
		return l.errorf(max(line, 1), "(syntax)", "%s (at or after this line)", problem)
	}
	var ends []int // the offset after each line
	for i, c := range src {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(src) > 0 && src[len(src)-1] != '\n' {
		ends = append(ends, len(src))
	}
	n := sort.Search(len(ends), func(i int) bool {
		_, e := decodeAll(src[:ends[i]])
		return e != nil && e.Error() == err.Error()
	})
	if n == len(ends) { // cannot happen: src itself fails so
		return fmt.Errorf("%s: (syntax): %s", l.file, problem)
	}
	// The field is that of line i, the first after lines that parse: line n
	// itself, or the line that opened what line n leaves open.
	field := "(syntax)"
	for i := n; i >= 0 && i >= n-maxSyntaxBackoff; i-- {
		start := 0
		if i > 0 {
			start = ends[i-1]
		}
		root, e := decodeAll(src[:start])
		if e != nil {
			continue
		}
		if p := fieldAt(root, string(src[start:ends[i]])); p != "" {
			field = p
		}
		break
	}
	return l.errorf(n+1, field, "%s", problem)
}

// maxSyntaxSearch is the largest file whose syntax errors are placed
// exactly: the search parses up to the problem about log2(lines) times,
// some 50 parses of the whole file at this size. A variable for the tests.
var maxSyntaxSearch = 256 << 10

// maxSyntaxBackoff bounds how far up syntaxError looks for lines that parse,
// to name the field.
const maxSyntaxBackoff = 32

var (
	yamlPrefix = regexp.MustCompile(`^(?:yaml: )?(?:line (\d+): )?`)
	// lineKey matches a mapping key at the start of a line's content.
	lineKey = regexp.MustCompile(`^("[^"]*"|'[^']*'|[^\s#"'\[\]{},:?&*!|>%@\x60][^#]*?)[ \t]*:(?:[ \t]|$)`)
)

// decodeAll decodes every document of src and returns the last one, or the
// first error.
func decodeAll(src []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var last *yaml.Node
	for {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			return last, nil
		} else if err != nil {
			return nil, err
		}
		last = &n
	}
}

// openBlock is a block collection left open at the end of a document: a
// line below it continues it if it starts near col (0-based; the column of
// a mapping's keys or a list's dashes). An empty value (kind 0) is open to
// any line indented beyond col.
type openBlock struct {
	col  int
	kind yaml.Kind // MappingNode, SequenceNode or 0
	path string    // of the collection, or of the empty value
	last string    // a mapping's last key, a list's last index as "[i]"
	next int       // a list's length
}

// fieldAt guesses the path of the field that line, placed right after the
// document root, belongs to. It returns "" when it cannot tell.
func fieldAt(root *yaml.Node, line string) string {
	open := openBlocks(root)
	line = strings.TrimRight(line, "\r\n")
	rest := strings.TrimLeft(line, " \t")
	col := utf8.RuneCountInString(line[:len(line)-len(rest)])
	dashes := 0
	for rest == "-" || strings.HasPrefix(rest, "- ") || strings.HasPrefix(rest, "-\t") {
		dashes++
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	var key string
	if m := lineKey.FindStringSubmatch(rest); m != nil {
		key = strings.TrimSpace(m[1])
		if len(key) >= 2 && (key[0] == '"' || key[0] == '\'') { // TrimSpace may leave "" or a lone quote
			key = key[1 : len(key)-1]
		}
	}

	best, bestDist := -1, 0
	for i, b := range open {
		if b.kind != 0 && (dashes > 0 && b.kind != yaml.SequenceNode || dashes == 0 && key != "" && b.kind != yaml.MappingNode) {
			continue
		}
		dist := max(col-b.col, b.col-col)
		if b.kind == 0 {
			dist = max(0, b.col+1-col)
		}
		if best < 0 || dist <= bestDist { // the deeper one on a tie
			best, bestDist = i, dist
		}
	}
	if best < 0 {
		return ""
	}
	b := open[best]
	p := b.path
	switch {
	case b.kind == yaml.SequenceNode && dashes > 0:
		p, dashes = fmt.Sprintf("%s[%d]", p, b.next), dashes-1
	case b.kind != 0 && key == "" && dashes == 0 && col > b.col:
		p = joinPath(p, b.last) // the continuation of the last value
	}
	p += strings.Repeat("[0]", dashes)
	return joinPath(p, key)
}

// openBlocks lists the block collections open at the end of the document
// root, outermost first.
func openBlocks(root *yaml.Node) []openBlock {
	var open []openBlock
	n, p := root, ""
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n == nil || n.Kind == yaml.DocumentNode || isEmpty(n) {
		return []openBlock{{col: -1}} // an empty document takes anything
	}
	for n.Style&yaml.FlowStyle == 0 && len(n.Content) > 0 {
		var b openBlock
		switch n.Kind {
		case yaml.MappingNode:
			k := n.Content[len(n.Content)-2]
			b = openBlock{col: k.Column - 1, kind: n.Kind, path: p, last: k.Value}
		case yaml.SequenceNode:
			b = openBlock{col: n.Column - 1, kind: n.Kind, path: p, last: fmt.Sprintf("[%d]", len(n.Content)-1), next: len(n.Content)}
		default:
			return open
		}
		open = append(open, b)
		n, p = n.Content[len(n.Content)-1], joinPath(p, b.last)
		if isEmpty(n) {
			return append(open, openBlock{col: b.col, path: p})
		}
	}
	return open
}

// isEmpty reports whether n is a value left out, as in "key:".
func isEmpty(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == ""
}

func (l *loader) errorf(line int, path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if path == "" {
		return fmt.Errorf("%s:%d: %s", l.file, line, msg)
	}
	return fmt.Errorf("%s:%d: %s: %s", l.file, line, path, msg)
}

// lineOf finds the line of path, or of its nearest recorded parent.
func (l *loader) lineOf(path string) int {
	for path != "" {
		if line, ok := l.lines[path]; ok {
			return line
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// fields calls f for each key of the mapping n, in order, refusing repeated
// keys and, unless known is nil, keys not in known. A null n has no keys.
func (l *loader) fields(n *yaml.Node, path string, known []string, f func(key string, v *yaml.Node, path string) error) error {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return l.errorf(n.Line, path, "must be a mapping, got %s", describe(n))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		p := joinPath(path, k.Value)
		if known != nil && !slices.Contains(known, k.Value) {
			return l.errorf(k.Line, p, "unknown field (expected one of %s)", strings.Join(known, ", "))
		}
		if first, ok := seen[k.Value]; ok {
			return l.errorf(k.Line, p, "repeated (first at line %d)", first)
		}
		seen[k.Value] = k.Line
		l.lines[p] = k.Line
		if err := f(k.Value, v, p); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) scalar(n *yaml.Node, path, want string, out any) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.ScalarNode || n.Decode(out) != nil {
		return l.errorf(n.Line, path, "must be %s, got %s", want, describe(n))
	}
	return nil
}

// nonZero decodes the scalar n into out like scalar, and refuses an
// explicit 0 for field (see Rule).
func nonZero[T int | float64](l *loader, n *yaml.Node, path, field, want string, out *T) error {
	if err := l.scalar(n, path, want, out); err != nil {
		return err
	}
	if *out == 0 && !isNull(n) {
		return l.errorf(n.Line, path, "%s", zeroMessage(field))
	}
	return nil
}

func (l *loader) str(n *yaml.Node, path string) (string, error) {
	var s string
	return s, l.scalar(n, path, "a string", &s)
}

func (l *loader) duration(n *yaml.Node, path string) (Duration, error) {
	s, err := l.str(n, path)
	if err != nil || s == "" {
		return 0, err
	}
	d, err := parseDuration(s)
	if err != nil {
		return 0, l.errorf(n.Line, path, "%s", err)
	}
	return d, nil
}

func (l *loader) stringMap(n *yaml.Node, path string) (map[string]string, error) {
	m := map[string]string{}
	err := l.fields(n, path, nil, func(k string, v *yaml.Node, p string) error {
		s, err := l.str(v, p)
		m[k] = s
		return err
	})
	return m, err
}

func (l *loader) scenario(n *yaml.Node, path string) (Scenario, error) {
	var s Scenario
	err := l.fields(n, path, []string{"description", "seed", "rules"}, func(k string, v *yaml.Node, p string) error {
		switch k {
		case "description":
			return l.scalar(v, p, "a string", &s.Description)
		case "seed":
			return l.scalar(v, p, "a non-negative integer", &s.Seed)
		}
		if isNull(v) {
			return nil
		}
		if v.Kind != yaml.SequenceNode {
			return l.errorf(v.Line, p, "must be a list of rules, got %s", describe(v))
		}
		for i, rn := range v.Content {
			rp := fmt.Sprintf("%s[%d]", p, i)
			rn = resolve(rn)
			l.lines[rp] = rn.Line
			r, err := l.rule(rn, rp)
			if err != nil {
				return err
			}
			s.Rules = append(s.Rules, r)
		}
		return nil
	})
	return s, err
}

func (l *loader) rule(n *yaml.Node, path string) (Rule, error) {
	var r Rule
	known := []string{"match", "after", "times", "every", "probability", "respond", "delay", "fault"}
	err := l.fields(n, path, known, func(k string, v *yaml.Node, p string) (err error) {
		switch k {
		case "match":
			return l.match(v, p, &r.Match)
		case "after":
			return l.scalar(v, p, "an integer", &r.After)
		case "times":
			return nonZero(l, v, p, k, "an integer", &r.Times)
		case "every":
			return nonZero(l, v, p, k, "an integer", &r.Every)
		case "probability":
			return nonZero(l, v, p, k, "a number", &r.Probability)
		case "respond":
			r.Respond = new(Response)
			return l.respond(v, p, r.Respond)
		case "delay":
			r.Delay, err = l.delay(v, p)
			return err
		}
		s, err := l.str(v, p)
		r.Fault = Fault(s)
		return err
	})
	if err != nil {
		return r, err
	}
	if err := r.Validate(); err != nil {
		var fe *FieldError
		errors.As(err, &fe)
		p := joinPath(path, fe.Path)
		return r, l.errorf(l.lineOf(p), p, "%s", fe.Message)
	}
	return r, nil
}

func (l *loader) match(n *yaml.Node, path string, m *Match) error {
	known := []string{"agent_key", "method", "route", "query", "headers", "api_key"}
	return l.fields(n, path, known, func(k string, v *yaml.Node, p string) (err error) {
		switch k {
		case "agent_key":
			m.AgentKey, err = l.str(v, p)
		case "method":
			m.Method, err = l.str(v, p)
		case "route":
			m.Route, err = l.str(v, p)
		case "query":
			m.Query, err = l.stringMap(v, p)
		case "headers":
			m.Headers, err = l.stringMap(v, p)
		case "api_key":
			m.APIKey, err = l.str(v, p)
		}
		return err
	})
}

func (l *loader) respond(n *yaml.Node, path string, r *Response) error {
	known := []string{"status", "code", "message", "headers", "retry_after"}
	return l.fields(n, path, known, func(k string, v *yaml.Node, p string) (err error) {
		switch k {
		case "status":
			err = l.scalar(v, p, "an integer", &r.Status)
		case "code":
			r.Code, err = l.str(v, p)
		case "message":
			r.Message, err = l.str(v, p)
		case "headers":
			r.Headers, err = l.stringMap(v, p)
		case "retry_after":
			r.RetryAfter, err = l.duration(v, p)
		}
		return err
	})
}

func (l *loader) delay(n *yaml.Node, path string) (*Delay, error) {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		d, err := l.duration(n, path)
		return &Delay{Min: d, Max: d}, err
	}
	var d Delay
	var seen int
	err := l.fields(n, path, []string{"min", "max"}, func(k string, v *yaml.Node, p string) (err error) {
		seen++
		if k == "min" {
			d.Min, err = l.duration(v, p)
		} else {
			d.Max, err = l.duration(v, p)
		}
		return err
	})
	if err == nil && seen != 2 {
		err = l.errorf(n.Line, path, `must be a duration like "300ms" or a mapping with both min and max`)
	}
	return &d, err
}
