package yamlfile

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestNumber(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    json.Number
		notNum  bool   // the scalar is not a number
		wantErr string // the number JSON cannot hold
	}{
		{name: "a small integer stays as written", yaml: "42", want: "42"},
		{name: "an integer past 64 bits keeps its digits", yaml: "123456789012345678901234567890", want: "123456789012345678901234567890"},
		{name: "an integer below int64 keeps its digits", yaml: "-9223372036854775809", want: "-9223372036854775809"},
		{name: "an exponent past float64 stays a number", yaml: "1e400", want: "1e400"},
		{name: "a float keeps its trailing zero", yaml: "0.10", want: "0.10"},
		{name: "negative zero stays negative zero", yaml: "-0.0", want: "-0.0"},
		{name: "a hexadecimal integer is its decimal value", yaml: "0x1F", want: "31"},
		{name: "a hexadecimal integer past 64 bits is its exact decimal value", yaml: "0x1FFFFFFFFFFFFFFFF", want: "36893488147419103231"},
		{name: "an octal integer is its decimal value", yaml: "0o17", want: "15"},
		{name: "a binary integer is its decimal value", yaml: "0b101", want: "5"},
		{name: "underscores are left out", yaml: "1_000_000", want: "1000000"},
		{name: "a plus sign is left out", yaml: "+12", want: "12"},
		{name: "a float without a leading digit gets one", yaml: "-.5", want: "-0.5"},
		{name: "a float with a bare point loses it", yaml: "1.e3", want: "1e3"},
		{name: "an explicit float tag keeps the literal", yaml: "!!float 5", want: "5"},
		{name: "infinity is refused", yaml: "-.inf", wantErr: "-.inf is not a JSON number"},
		{name: "NaN is refused", yaml: ".nan", wantErr: ".nan is not a JSON number"},
		{name: "a quoted number is a string", yaml: `"42"`, notNum: true},
		{name: "an explicit string tag is a string", yaml: "!!str 1e400", notNum: true},
		{name: "a word is a string", yaml: "0xZZ", notNum: true},
		{name: "a word of an underscore and digits is a string", yaml: "_0", notNum: true},
		{name: "a date is not a number", yaml: "2024-01-15", notNum: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.yaml), &doc); err != nil {
				t.Fatal(err)
			}
			got, ok, err := Number(doc.Content[0])
			switch {
			case tt.notNum:
				if ok {
					t.Errorf("Number(%s) = %q, %v; want not a number", tt.yaml, got, err)
				}
			case tt.wantErr != "":
				if !ok || err == nil || err.Error() != tt.wantErr {
					t.Errorf("Number(%s) = %q, %v, %v; want error %q", tt.yaml, got, ok, err, tt.wantErr)
				}
			case !ok || err != nil || got != tt.want:
				t.Errorf("Number(%s) = %q, %v, %v; want %q", tt.yaml, got, ok, err, tt.want)
			}
		})
	}
}

func TestJSONObject(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    string // the object as json.Marshal writes it
		wantErr string
	}{
		{
			name: "numbers are written as the file wrote them",
			src:  "m: {big: 123456789012345678901234567890, low: -9223372036854775809, huge: 1e400, hex: 0x1F, f: 0.10}\n",
			want: `{"big":123456789012345678901234567890,"f":0.10,"hex":31,"huge":1e400,"low":-9223372036854775809}`,
		},
		{
			name: "other scalars, lists and mappings keep their JSON types",
			src:  "m: {s: text, q: \"1\", b: true, n: ~, d: 2024-01-15, l: [1, x], o: {k: v}}\n",
			want: `{"b":true,"d":"2024-01-15","l":[1,"x"],"n":null,"o":{"k":"v"},"q":"1","s":"text"}`,
		},
		{name: "null is no object", src: "m: ~\n", want: "null"},
		{name: "a list is not an object", src: "m: [a]\n", wantErr: "f.yaml:1: m: must be a mapping, got a list"},
		{name: "a key that is not a string is refused", src: "m: {1: a}\n", wantErr: "f.yaml:1: m: key 1 is a !!int, not a string (quote it)"},
		{name: "a repeated key is refused", src: "m:\n  a: 1\n  a: 2\n", wantErr: `f.yaml:3: m.a: duplicate key "a"`},
		{name: "infinity is refused at its field", src: "m: {x: [.inf]}\n", wantErr: "f.yaml:1: m.x[0]: .inf is not a JSON number"},
		{name: "nesting deeper than the bound is refused once", src: "m: {a: {b: {c: 1, d: 2}}}\n", wantErr: "f.yaml:1: m.a.b.c: nests deeper than 2 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("f.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			m := f.JSONObject(f.Root().Content[1], "m", 2)
			if tt.wantErr != "" {
				if err := f.Err(); err == nil || err.Error() != tt.wantErr {
					t.Errorf("JSONObject error\n got: %v\nwant: %s", err, tt.wantErr)
				}
				return
			}
			if err := f.Err(); err != nil {
				t.Fatalf("JSONObject: %v", err)
			}
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			if diff := cmp.Diff(tt.want, string(b)); diff != "" {
				t.Errorf("JSON mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
