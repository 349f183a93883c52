package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

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
// Each try parses up to the problem again, so a file over searchLimit
// bytes (MaxSyntaxSearch) gets yaml.v3's N instead, which the problem is never above.
func (f *File) syntaxError(src []byte, err error, searchLimit int) error {
	m := yamlPrefix.FindStringSubmatch(err.Error())
	problem := strings.TrimPrefix(err.Error(), m[0])
	if len(src) > searchLimit {
		line, _ := strconv.Atoi(m[1])
		return fmt.Errorf("%s:%d: (syntax): %s (at or after this line)", f.name, max(line, 1), problem)
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
		return fmt.Errorf("%s: (syntax): %s", f.name, problem)
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
	return fmt.Errorf("%s:%d: %s: %s", f.name, n+1, field, problem)
}

// MaxSyntaxSearch is the largest file whose syntax errors are placed
// exactly: the search parses up to the problem about log2(lines) times,
// some 50 parses of the whole file at this size. Larger files get the line
// that yaml.v3 gives, which the problem is never above.
const MaxSyntaxSearch = 256 << 10

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
	last string    // a mapping's last key
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
		p, dashes = Index(p, b.next), dashes-1
	case b.kind == yaml.SequenceNode && key == "" && dashes == 0 && col > b.col:
		p = Index(p, b.next-1) // the continuation of the last item
	case b.kind == yaml.MappingNode && key == "" && dashes == 0 && col > b.col:
		p = Key(p, b.last) // the continuation of the last value
	}
	for range dashes {
		p = Index(p, 0)
	}
	if key != "" {
		p = Key(p, key)
	}
	return p
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
			p = Key(p, k.Value)
		case yaml.SequenceNode:
			b = openBlock{col: n.Column - 1, kind: n.Kind, path: p, next: len(n.Content)}
			p = Index(p, len(n.Content)-1)
		default:
			return open
		}
		open = append(open, b)
		n = n.Content[len(n.Content)-1]
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
