package yamlfile

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decode decodes n, the node at path, into out, a non-nil pointer, and
// reports every problem it finds with Errorf: an unknown field, a repeated
// key, a value of the wrong kind or type. What decodes is set even when
// something else does not.
//
// It decodes:
//   - structs from mappings, by field name: the yaml tag, else the json
//     tag, else the field's name in lower case; a `want:"a list of agents"`
//     tag says what the field holds in messages ("must be a list of
//     agents, got a mapping") instead of the one its type gives;
//   - maps with string keys from mappings, slices from lists, pointers
//     (nil for a null), and *yaml.Node (the node itself, null or not);
//   - types that implement encoding.TextUnmarshaler, from a scalar's text;
//   - strings, booleans and numbers from scalars, as yaml.v3 decodes them.
//
// A null leaves the value as it is. Merge keys (<<) merge as yaml.v3 merges
// them. Each node is visited once (what an alias stands for, once per use:
// Parse bounds that): unlike yaml.v3's own decoder, whose
// check for repeated keys is quadratic in the keys of a mapping and whose
// errors give a line but no field.
func (f *File) Decode(n *yaml.Node, path string, out any) {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		panic(fmt.Sprintf("yamlfile: Decode into %T, not a non-nil pointer", out))
	}
	if n == nil {
		return
	}
	f.decode(n, path, v.Elem(), "")
}

var (
	nodePtrType     = reflect.TypeFor[*yaml.Node]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (f *File) decode(n *yaml.Node, path string, v reflect.Value, want string) {
	f.work++
	if v.Type() == nodePtrType {
		v.Set(reflect.ValueOf(n))
		return
	}
	n = resolve(n)
	if isNull(n) {
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		f.decode(n, path, v.Elem(), want)
		return
	}
	if want == "" {
		want = wantOf(v.Type())
	}
	if reflect.PointerTo(v.Type()).Implements(textUnmarshaler) {
		if n.Kind != yaml.ScalarNode {
			f.Errorf(n, path, "must be %s, got %s", want, Describe(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			f.Errorf(n, path, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			f.Errorf(n, path, "must be %s, got %s", want, Describe(n))
			return
		}
		info := f.structInfo(v.Type())
		for _, e := range f.Entries(n, path) {
			p := Key(path, e.Key)
			i, ok := info.byName[e.Key]
			if !ok {
				f.Errorf(e.KeyNode, p, "unknown field %q (expected one of %s)", e.Key, info.known)
				continue
			}
			fi := info.fields[i]
			f.decode(e.Value, p, v.Field(fi.index), fi.want)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode || v.Type().Key().Kind() != reflect.String {
			f.Errorf(n, path, "must be %s, got %s", want, Describe(n))
			return
		}
		entries := f.Entries(n, path)
		m := reflect.MakeMapWithSize(v.Type(), len(entries))
		for _, e := range entries {
			ev := reflect.New(v.Type().Elem()).Elem()
			f.decode(e.Value, Key(path, e.Key), ev, "")
			m.SetMapIndex(reflect.ValueOf(e.Key).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			f.Errorf(n, path, "must be %s, got %s", want, Describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			f.decode(item, Index(path, i), s.Index(i), "")
		}
		v.Set(s)
	default:
		switch {
		case n.Kind != yaml.ScalarNode:
			f.Errorf(n, path, "must be %s, got %s", want, Describe(n))
		case v.Kind() == reflect.String && n.ShortTag() == "!!str":
			v.SetString(n.Value) // the common case, without yaml.v3's decoder
		case v.CanInt() || v.CanUint():
			// yaml.v3 would quietly turn 1.5 into 1.
			if n.ShortTag() != "!!int" || n.Decode(v.Addr().Interface()) != nil {
				f.Errorf(n, path, "must be %s, got %s", want, Describe(n))
			}
		case n.Decode(v.Addr().Interface()) != nil:
			f.Errorf(n, path, "must be %s, got %s", want, Describe(n))
		}
	}
}

// Entry is one key and value of a mapping.
type Entry struct {
	Key     string     // the key's text ("" for a null key)
	KeyNode *yaml.Node // where the key is written, for messages
	Value   *yaml.Node // as written: an alias is not followed
}

// Entries returns the keys and values of the mapping n, the node at path,
// in file order, then those that merge keys (<<) add and the mapping does
// not set itself. It reports a repeated key (and leaves it out), a key that
// is not a scalar, and n when it is not a mapping; a nil or null n has no
// entries.
func (f *File) Entries(n *yaml.Node, path string) []Entry {
	if n == nil {
		return nil
	}
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		f.Errorf(n, path, "must be a mapping, got %s", Describe(n))
		return nil
	}
	out := make([]Entry, 0, len(n.Content)/2)
	first := make(map[string]int, len(n.Content)/2) // key -> line
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		f.work++
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			merges = append(merges, v)
			continue
		}
		rk := resolve(k)
		if rk.Kind != yaml.ScalarNode {
			f.Errorf(k, path, "a key must be a string, got %s", Describe(rk))
			continue
		}
		key := rk.Value
		if isNull(rk) {
			key = ""
		}
		if line, dup := first[key]; dup {
			f.Errorf(k, Key(path, key), "duplicate key %q (first at line %d)", key, line)
			continue
		}
		first[key] = k.Line
		out = append(out, Entry{Key: key, KeyNode: k, Value: v})
	}
	for _, m := range merges {
		sources := mergeSources(m)
		if sources == nil {
			f.Errorf(m, Key(path, "<<"), "must be a mapping or a list of mappings, got %s", Describe(m))
			continue
		}
		for _, s := range sources {
			for _, e := range f.Entries(s, path) {
				if _, set := first[e.Key]; !set {
					first[e.Key] = e.KeyNode.Line
					out = append(out, e)
				}
			}
		}
	}
	return out
}

// structInfo is what Decode needs to know about a struct type.
type structInfo struct {
	fields []fieldInfo
	byName map[string]int // index in fields
	known  string         // the field names, for messages
}

type fieldInfo struct {
	name  string
	index int
	want  string // from the want tag, or ""
}

func (f *File) structInfo(t reflect.Type) *structInfo {
	if info, ok := f.structs[t]; ok {
		return info
	}
	info := &structInfo{byName: map[string]int{}}
	var names []string
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" {
			name, _, _ = strings.Cut(sf.Tag.Get("json"), ",")
		}
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		info.byName[name] = len(info.fields)
		info.fields = append(info.fields, fieldInfo{name: name, index: i, want: sf.Tag.Get("want")})
		names = append(names, name)
	}
	info.known = strings.Join(names, ", ")
	if f.structs == nil {
		f.structs = map[reflect.Type]*structInfo{}
	}
	f.structs[t] = info
	return info
}

// wantOf says what a value of type t is written as, for messages.
func wantOf(t reflect.Type) string {
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.String()
}
