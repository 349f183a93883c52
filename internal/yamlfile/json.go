package yamlfile

import (
	"encoding/json"
	"math/big"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// JSONObject converts the mapping n, the node at path, into the value
// encoding/json writes as the same object: a map[string]any whose values
// are string, bool, nil, json.Number, []any or map[string]any. Numbers keep
// the digits the file wrote (see Number). It returns nil for a null n, and
// reports with Errorf a node that is not a mapping, a key that is not a
// string, a repeated key, a number JSON cannot hold, and nesting deeper
// than maxDepth levels below n.
func (f *File) JSONObject(n *yaml.Node, path string, maxDepth int) map[string]any {
	r := resolve(n)
	switch {
	case r.Kind == 0 || isNull(r):
		return nil
	case r.Kind != yaml.MappingNode:
		f.Errorf(r, path, "must be a mapping, got %s", Describe(r))
		return nil
	}
	c := jsonConverter{f: f, maxDepth: maxDepth}
	m, _ := c.value(n, path, 0).(map[string]any)
	return m
}

type jsonConverter struct {
	f        *File
	maxDepth int
	tooDeep  bool // reported once
}

// value converts n at depth levels below the object; checkAliases has
// bounded what its aliases expand to.
func (c *jsonConverter) value(n *yaml.Node, path string, depth int) any {
	c.f.work++
	n = resolve(n)
	if depth > c.maxDepth {
		if !c.tooDeep {
			c.tooDeep = true
			c.f.Errorf(n, path, "nests deeper than %d levels", c.maxDepth)
		}
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				c.f.Errorf(k, path, "key %s is a %s, not a string (quote it)", k.Value, k.ShortTag())
				continue
			}
			if _, dup := m[k.Value]; dup {
				c.f.Errorf(k, Key(path, k.Value), "duplicate key %q", k.Value)
				continue
			}
			m[k.Value] = c.value(v, Key(path, k.Value), depth+1)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, v := range n.Content {
			s[i] = c.value(v, Index(path, i), depth+1)
		}
		return s
	}
	if num, ok, err := Number(n); ok {
		if err != nil {
			c.f.Errorf(n, path, "%v", err)
			return nil
		}
		return num
	}
	// A timestamp keeps the text the file wrote, as JSON would show it;
	// decoding it would turn 2024-01-01 into 2024-01-01T00:00:00Z.
	if n.ShortTag() == "!!timestamp" {
		return n.Value
	}
	var v any
	if err := n.Decode(&v); err != nil {
		c.f.Errorf(n, path, "%v", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	return v
}

var (
	// jsonNumber is the grammar of a JSON number.
	jsonNumber = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$`)
	// yamlInt is an integer as yaml.v3 reads one (underscores removed):
	// decimal, 0b, 0o, 0x, or 0 then octal digits.
	yamlInt = regexp.MustCompile(`^[-+]?(?:[0-9]+|0[bB][01]+|0[oO][0-7]+|0[xX][0-9a-fA-F]+)$`)
	// yamlFloat is a float as yaml.v3 reads one (underscores removed).
	yamlFloat = regexp.MustCompile(`^([-+]?)(\.[0-9]+|[0-9]+(?:\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)
)

// numberError is a number that JSON cannot hold.
type numberError struct{ literal string }

func (e numberError) Error() string { return e.literal + " is not a JSON number" }

// Number reports whether the scalar n is a YAML number, and if so returns
// it as a json.Number with exactly its value: the literal itself when it
// is already a JSON number ("123456789012345678901234567890", "1e400"
// and "0.10" stay as written), else its decimal spelling ("0x1F" is 31,
// "1_000" is 1000, "+.5" is 0.5). A YAML number is a scalar that yaml.v3
// resolves as !!int or !!float, or a plain scalar written like one that it
// leaves a string because a float64 cannot hold it (1e400). It returns an
// error for .inf and .nan, and for a tagged number that is not one.
func Number(n *yaml.Node) (num json.Number, ok bool, err error) {
	tag := n.ShortTag()
	s := strings.ReplaceAll(n.Value, "_", "")
	// yaml.v3 reads a plain scalar as a number only when it starts so.
	plain := n.Kind == yaml.ScalarNode && n.Style == 0 && tag == "!!str" &&
		n.Value != "" && strings.IndexByte("+-.0123456789", n.Value[0]) >= 0
	if tag != "!!int" && tag != "!!float" && !(plain && (yamlInt.MatchString(s) || yamlFloat.MatchString(s))) {
		return "", false, nil
	}
	if jsonNumber.MatchString(n.Value) {
		return json.Number(n.Value), true, nil
	}
	if yamlInt.MatchString(s) {
		if i, ok := new(big.Int).SetString(s, 0); ok {
			return json.Number(i.String()), true, nil
		}
	}
	if m := yamlFloat.FindStringSubmatch(s); m != nil {
		// Only the spelling changes: no sign '+', a digit on each side of
		// the point, no leading zeros.
		mantissa, exp := m[2], m[3]
		whole, frac, _ := strings.Cut(mantissa, ".")
		whole = strings.TrimLeft(whole, "0")
		if whole == "" {
			whole = "0"
		}
		sign := strings.TrimPrefix(m[1], "+")
		if frac != "" {
			return json.Number(sign + whole + "." + frac + exp), true, nil
		}
		return json.Number(sign + whole + exp), true, nil
	}
	return "", true, numberError{n.Value}
}
