package yamlfile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		wantErr  string // "" when it parses
		wantRoot bool
	}{
		{name: "a document parses", src: "a: 1\n", wantRoot: true},
		{name: "a file of comments has no root", src: "# nothing\n"},
		{name: "an empty file has no root", src: ""},
		{name: "a second document is refused at its line", src: "a: 1\n---\nb: 2\n", wantErr: "f.yaml:2: a second YAML document; want exactly one"},
		{name: "a syntax error is placed at its line and field", src: "a:\n  b: [1,\n  c: 2\n", wantErr: "f.yaml:3: a.b: did not find expected ',' or ']'"},
		{name: "an alias inside its own anchor is refused", src: "a: &a [*a]\n", wantErr: "f.yaml:1: a[0]: alias *a is inside the node it refers to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("f.yaml", []byte(tt.src))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || f != nil {
					t.Fatalf("Parse = %v, %v; want no file and error %q", f, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := f.Root() != nil; got != tt.wantRoot {
				t.Errorf("Root() != nil is %v, want %v", got, tt.wantRoot)
			}
		})
	}
}

func TestParseGivesYAMLsLineForSyntaxErrorsOfLargeFiles(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"a badly indented key", "agents:\n  - key: agt_a\n   sessions: []\n", "f.yaml:1: (syntax): did not find expected '-' indicator (at or after this line)"},
		{"a badly indented mapping", "scenarios:\n  x: {description: a}\n   y: {}\n", "f.yaml:1: (syntax): did not find expected key (at or after this line)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("f.yaml", []byte(tt.src), 10)
			if err == nil || err.Error() != tt.want {
				t.Errorf("parse error\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}

// TestParsePlacesSyntaxErrorsExactlyInFilesUpTo256KiB checks where exact
// placement of a syntax error, which parses the file again some 50 times,
// gives way to yaml.v3's line.
func TestParsePlacesSyntaxErrorsExactlyInFilesUpTo256KiB(t *testing.T) {
	// Items of 50 bytes a line; the last one opens a list it never closes.
	// yaml.v3 names that line too, but no field.
	file := func(size int) (src string, lastLine int) {
		var b strings.Builder
		b.WriteString("top:\n  x:\n    items:\n")
		lines := 3
		for b.Len() < size-100 {
			fmt.Fprintf(&b, "      - {respond: {status: 500, code: c%07d}}\n", lines)
			lines++
		}
		b.WriteString("      - {respond: {status: 500}, fault: [\n")
		return b.String(), lines + 1
	}
	tests := []struct {
		name  string
		size  int
		exact bool
	}{
		{"a small file", 1 << 10, true},
		{"a file just under 256 KiB", MaxSyntaxSearch - 50, true},
		{"a file just over 256 KiB", MaxSyntaxSearch + 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, last := file(tt.size)
			_, err := Parse("s.yaml", []byte(src))
			want := fmt.Sprintf("s.yaml:%d: top.x.items[%d]: did not find expected node content", last, last-4)
			if !tt.exact {
				want = fmt.Sprintf("s.yaml:%d: (syntax): did not find expected node content (at or after this line)", last)
			}
			if err == nil || err.Error() != want {
				t.Errorf("Parse of %d bytes: error\n got: %v\nwant: %s", len(src), err, want)
			}
		})
	}
}

type testDuration string

func (d *testDuration) UnmarshalText(b []byte) error {
	if !strings.HasSuffix(string(b), "s") {
		return fmt.Errorf("%q is not a duration", b)
	}
	*d = testDuration(b)
	return nil
}

type testItem struct {
	Name  string            `yaml:"name"`
	Count *int              `yaml:"count"`
	Ratio float64           `json:"ratio"`
	On    bool              `yaml:"on"`
	Wait  testDuration      `yaml:"wait"`
	Tags  map[string]string `yaml:"tags"`
	Raw   *yaml.Node        `yaml:"raw"`
}

type testFile struct {
	Items []testItem `yaml:"items" want:"a list of items"`
	Seed  uint64     `yaml:"seed"`
}

func TestDecode(t *testing.T) {
	three := 3
	tests := []struct {
		name    string
		src     string
		want    testFile
		wantErr string
	}{
		{
			name: "every kind of field decodes",
			src:  "seed: 7\nitems:\n  - {name: a, count: 3, ratio: 0.5, on: true, wait: 2s, tags: {x: y}}\n  - name: b\n",
			want: testFile{Seed: 7, Items: []testItem{
				{Name: "a", Count: &three, Ratio: 0.5, On: true, Wait: "2s", Tags: map[string]string{"x": "y"}},
				{Name: "b"},
			}},
		},
		{
			name: "null leaves a field as it is",
			src:  "seed: ~\nitems:\n  - {name: ~, count: ~, tags: ~}\n",
			want: testFile{Items: []testItem{{}}},
		},
		{
			name: "a merge key merges what the mapping does not set",
			src:  "items:\n  - &t {name: t, count: 3, on: true}\n  - {<<: *t, name: u}\n",
			want: testFile{Items: []testItem{{Name: "t", Count: &three, On: true}, {Name: "u", Count: &three, On: true}}},
		},
		{
			name:    "an unknown field is named with the fields known",
			src:     "items:\n  - name: a\n    colour: red\n",
			wantErr: `f.yaml:3: items[0].colour: unknown field "colour" (expected one of name, count, ratio, on, wait, tags, raw)`,
		},
		{
			name:    "a repeated key is reported where it repeats",
			src:     "seed: 1\nitems: []\nseed: 2\n",
			wantErr: `f.yaml:3: seed: duplicate key "seed" (first at line 1)`,
		},
		{
			name:    "a list given as a mapping says what the list holds",
			src:     "items: {name: a}\n",
			wantErr: "f.yaml:1: items: must be a list of items, got a mapping",
		},
		{
			name:    "a scalar of the wrong type is quoted",
			src:     "seed: -3\nitems:\n  - {count: many, on: maybe, ratio: [1]}\n",
			wantErr: "f.yaml:1: seed: must be a non-negative integer, got \"-3\"\nf.yaml:3: items[0].count: must be an integer, got \"many\"\nf.yaml:3: items[0].on: must be true or false, got \"maybe\"\nf.yaml:3: items[0].ratio: must be a number, got a list",
		},
		{
			name:    "a fraction is not an integer",
			src:     "seed: 2.0\nitems:\n  - {count: 1.5}\n  - {count: 1e3}\n",
			wantErr: "f.yaml:1: seed: must be a non-negative integer, got \"2.0\"\nf.yaml:3: items[0].count: must be an integer, got \"1.5\"\nf.yaml:4: items[1].count: must be an integer, got \"1e3\"",
		},
		{
			name:    "a text unmarshaler's error is placed at its field",
			src:     "items:\n  - wait: soon\n",
			wantErr: `f.yaml:2: items[0].wait: "soon" is not a duration`,
		},
		{
			name:    "a top level that is not a mapping is named so",
			src:     "- a\n",
			wantErr: "f.yaml:1: top level: must be a mapping, got a list",
		},
		{
			name:    "a merge of something other than mappings is refused",
			src:     "items:\n  - {<<: 1, name: u}\n",
			wantErr: `f.yaml:2: items[0].<<: must be a mapping or a list of mappings, got "1"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("f.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			var got testFile
			f.Decode(f.Root(), "", &got)
			if tt.wantErr != "" {
				if err := f.Err(); err == nil || err.Error() != tt.wantErr {
					t.Errorf("Decode error\n got: %v\nwant: %s", err, tt.wantErr)
				}
				return
			}
			if err := f.Err(); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorfPlacesPathsThatGoBeyondTheFile(t *testing.T) {
	src := "agents:\n  - key: a\n  - sessions:\n      - id: s1\n    generate:\n      seed: 3\n"
	tests := []struct {
		name string
		path string
		want string
	}{
		{"a field that exists is placed at its value", "agents[1].sessions[0].id", "f.yaml:4: agents[1].sessions[0].id: x"},
		{"a missing field is placed at its parent", "agents[1].key", "f.yaml:3: agents[1].key: x"},
		{"a missing field of a block mapping is placed where the mapping starts", "agents[1].generate.count", "f.yaml:6: agents[1].generate.count: x"},
		{"an index past the end is placed at the list", "agents[7]", "f.yaml:2: agents[7]: x"},
		{"the top level is named so", "", "f.yaml:1: top level: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("f.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			f.Errorf(nil, tt.path, "x")
			if err := f.Err(); err == nil || err.Error() != tt.want {
				t.Errorf("Err() = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestErrAfterManyProblems(t *testing.T) {
	f, err := Parse("f.yaml", []byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		f.Errorf(nil, "a", "problem %d", i)
	}
	lines := strings.Split(f.Err().Error(), "\n")
	want := []string{"f.yaml:1: a: problem 19", "f.yaml: ... and 5 more errors"}
	if diff := cmp.Diff(want, lines[MaxErrors-1:]); len(lines) != MaxErrors+1 || diff != "" {
		t.Errorf("%d lines, ending (-want +got):\n%s", len(lines), diff)
	}
	if f.Problems() != 25 {
		t.Errorf("Problems() = %d, want 25", f.Problems())
	}
}

// TestDecodeWorkIsLinear checks that the work of decoding a file, and of
// placing its problems, is bounded by a small multiple of its nodes whatever
// the file holds: the number of steps is counted, not timed.
func TestDecodeWorkIsLinear(t *testing.T) {
	many := func(line func(b *strings.Builder, i int)) string {
		var b strings.Builder
		for i := range 40000 {
			line(&b, i)
		}
		return b.String()
	}
	tests := []struct {
		name  string
		src   string
		place func(f *File, got *testFile) // reports more problems, by path
		// factor bounds the steps per node: placing a problem by path
		// may read a whole mapping, which only the first MaxErrors do.
		factor int
	}{
		{name: "40,000 unknown keys in one mapping", src: "items: []\n" + many(func(b *strings.Builder, i int) { fmt.Fprintf(b, "k%d: x\n", i) }), factor: 3},
		{name: "40,000 repeated keys", src: "seed: 1\n" + many(func(b *strings.Builder, _ int) { b.WriteString("seed: 2\n") }), factor: 3},
		{name: "40,000 wrong types on one line", src: "items: [" + many(func(b *strings.Builder, _ int) { b.WriteString("{count: x}, ") }) + "]\n", factor: 3},
		{
			name: "40,000 problems placed by the path of a list item",
			src:  "items:\n" + many(func(b *strings.Builder, i int) { fmt.Fprintf(b, "  - {name: n%d}\n", i) }),
			place: func(f *File, got *testFile) {
				for i := range got.Items {
					f.Errorf(nil, Key(Index("items", i), "name"), "bad")
				}
			},
			factor: 3,
		},
		{
			name: "40,000 problems placed by the path of a key in one mapping",
			src:  "items:\n  - tags:\n" + many(func(b *strings.Builder, i int) { fmt.Fprintf(b, "      k%d: v\n", i) }),
			place: func(f *File, got *testFile) {
				for k := range got.Items[0].Tags {
					f.Errorf(nil, Key(Key(Index("items", 0), "tags"), k), "bad")
				}
			},
			factor: MaxErrors + 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("f.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			nodes := countNodes(f.Root())
			var got testFile
			f.Decode(f.Root(), "", &got)
			if tt.place != nil {
				tt.place(f, &got)
			}
			if f.work > tt.factor*nodes {
				t.Errorf("%d steps for %d nodes; want at most %d", f.work, nodes, tt.factor*nodes)
			}
			if lines := strings.Count(f.Err().Error(), "\n") + 1; lines != MaxErrors+1 {
				t.Errorf("the error has %d lines, want %d", lines, MaxErrors+1)
			}
		})
	}
}

func countNodes(n *yaml.Node) int {
	total := 1
	for _, c := range n.Content {
		total += countNodes(c)
	}
	return total
}
