package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxErrors is how many problems an error from File.Err lists; the rest are
// counted in a last line, so that the message of a thoroughly broken file
// stays readable and costs no more to build than that of a file with one
// problem.
const MaxErrors = 20

// File is one parsed YAML document and the problems found in it so far.
// It is not safe for concurrent use.
type File struct {
	name string
	root *yaml.Node
	errs []string // the first MaxErrors problems, formatted
	n    int      // every problem reported, listed or not
	// structs caches the fields of the struct types decoded into.
	structs map[reflect.Type]*structInfo
	// work counts the nodes and keys visited, for the tests that check
	// that the cost stays linear.
	work int
}

// Parse parses src as exactly one YAML document; name is the file's name in
// error messages. It returns a syntax error placed at its line and field,
// an error for a second document, and an error for aliases that expand past
// MaxAliasNodes nodes or that are inside the node they refer to. A source
// with no document (empty, or only comments) gives a File whose Root is nil.
func Parse(name string, src []byte) (*File, error) {
	return parse(name, src, MaxSyntaxSearch)
}

// parse is Parse with the size up to which syntax errors are placed
// exactly as a parameter, for the tests.
func parse(name string, src []byte, searchLimit int) (*File, error) {
	f := &File{name: name}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		return nil, f.syntaxError(src, err, searchLimit)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, f.syntaxError(src, err, searchLimit)
		}
		return nil, fmt.Errorf("%s:%d: a second YAML document; want exactly one", name, extra.Line)
	}
	if len(doc.Content) == 1 {
		f.root = doc.Content[0]
	}
	if err := f.checkAliases(); err != nil {
		return nil, err
	}
	return f, nil
}

// Root returns the document's top-level node, nil for an empty document.
func (f *File) Root() *yaml.Node { return f.root }

// Errorf reports a problem with the value at path. The line is that of n,
// or, when n is nil, that of the node at path (of its nearest parent when
// the path goes beyond the file), looked up only when the problem is one of
// the first MaxErrors.
func (f *File) Errorf(n *yaml.Node, path, format string, args ...any) {
	f.n++
	if len(f.errs) >= MaxErrors {
		return
	}
	if n == nil {
		n = f.nodeAt(path)
	}
	line := 1
	if n != nil && n.Line > 0 {
		line = n.Line
	}
	if path == "" {
		path = "top level"
	}
	f.errs = append(f.errs, fmt.Sprintf("%s:%d: %s: %s", f.name, line, path, fmt.Sprintf(format, args...)))
}

// Problems returns how many problems have been reported so far, listed or
// not: a caller compares two counts to know whether a step found any.
func (f *File) Problems() int { return f.n }

// Err returns nil when no problem has been reported, else an error with one
// line per problem, in the order reported: at most MaxErrors, then a line
// that counts the others.
func (f *File) Err() error {
	if f.n == 0 {
		return nil
	}
	msgs := f.errs
	if f.n > len(msgs) {
		msgs = append(msgs[:len(msgs):len(msgs)], fmt.Sprintf("%s: ... and %d more errors", f.name, f.n-len(msgs)))
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// Line returns the line of the node at path, or of its nearest parent when
// the path goes beyond the file; 1 when the file is empty.
func (f *File) Line(path string) int {
	if n := f.nodeAt(path); n != nil && n.Line > 0 {
		return n.Line
	}
	return 1
}

// Key returns the path of the field key of the mapping at path, as error
// messages show it: "agents[0]" and "key" give "agents[0].key".
func Key(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index returns the path of item i of the list at path: "agents" and 0 give
// "agents[0]".
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// nodeAt follows path from the root, through aliases and merge keys, and
// returns the last node it reaches. A key that contains '.' or '[' is
// matched whole, the longest key first.
func (f *File) nodeAt(path string) *yaml.Node {
	n := f.root
	for n != nil && path != "" {
		f.work++
		var next *yaml.Node
		rest := path
		if path[0] == '[' {
			end := strings.IndexByte(path, ']')
			i, err := strconv.Atoi(path[1:max(end, 1)])
			if r := resolve(n); end > 0 && err == nil && r.Kind == yaml.SequenceNode && i >= 0 && i < len(r.Content) {
				next, rest = r.Content[i], path[end+1:]
			}
		} else {
			next, rest = f.child(resolve(n), path)
		}
		if next == nil {
			break
		}
		n, path = next, strings.TrimPrefix(rest, ".")
	}
	return n
}

// child finds the value of the longest key of the mapping m that path
// starts with, followed by the end of path, '.' or '['. Keys that m merges
// count when m itself has none.
func (f *File) child(m *yaml.Node, path string) (val *yaml.Node, rest string) {
	if m.Kind != yaml.MappingNode {
		return nil, ""
	}
	best := -1
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		f.work++
		k := resolve(m.Content[i])
		if isMerge(k) {
			merges = append(merges, m.Content[i+1])
			continue
		}
		if k.Kind != yaml.ScalarNode || !strings.HasPrefix(path, k.Value) {
			continue
		}
		if l := len(k.Value); (l == len(path) || path[l] == '.' || path[l] == '[') && (best < 0 || l > len(m.Content[best].Value)) {
			best = i
		}
	}
	if best >= 0 {
		return m.Content[best+1], path[len(resolve(m.Content[best]).Value):]
	}
	for _, src := range merges {
		for _, s := range mergeSources(src) {
			if v, rest := f.child(s, path); v != nil {
				return v, rest
			}
		}
	}
	return nil, ""
}

// resolve follows n when it is an alias.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// isNull reports whether n stands for no value: null, ~ or nothing.
func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// isMerge reports whether the key k is the merge key <<.
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// mergeSources returns the mappings that the value of a merge key merges:
// the mapping itself, or each mapping of a list; nil when it is neither.
func mergeSources(v *yaml.Node) []*yaml.Node {
	v = resolve(v)
	switch v.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{v}
	case yaml.SequenceNode:
		out := make([]*yaml.Node, 0, len(v.Content))
		for _, s := range v.Content {
			if s = resolve(s); s.Kind != yaml.MappingNode {
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	return nil
}

// Describe names what n holds, for messages such as "must be a list, got
// a mapping": "a mapping", "a list", or the scalar's text quoted, cut after
// 40 characters.
func Describe(n *yaml.Node) string {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	s, runes := n.Value, 0
	for i := range s {
		if runes++; runes > 40 {
			s = s[:i] + "..."
			break
		}
	}
	return strconv.Quote(s)
}
