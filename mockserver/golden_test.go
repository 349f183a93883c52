package mockserver

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestGoldenResponses pins whole response bodies byte for byte. The seed page
// must also carry the seed's page_key and total_count (checked in
// TestSeedPage, so that -update cannot bless a wrong token).
func TestGoldenResponses(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ file, target string }{
		{"seed_page.json", "/v2/agents/agt_customer_support/sessions?limit=3"},
		{"enabled_page.json", "/v2/agents/agt_customer_support/sessions?limit=5&enabled=true&page_key=eyJzZXNzaW9uX2lkIjoiYXNlX2N1c3RvbWVyX3N1cHBvcnRfMDAzIn0="},
		{"bad_limit.json", "/v2/agents/agt_customer_support/sessions?limit=500"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := call(s, "GET", tt.target, "").Body.Bytes()
			path := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.target, diff)
			}
		})
	}
}

func TestSeedPage(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	b := decodeList(t, call(s, "GET", "/v2/agents/agt_customer_support/sessions?limit=3", ""))
	const seedKey = "eyJzZXNzaW9uX2lkIjoiYXNlX2N1c3RvbWVyX3N1cHBvcnRfMDAzIn0="
	if b.Metadata.PageKey != seedKey || b.Metadata.TotalCount != 127 {
		t.Errorf("metadata %+v, want the seed's page_key %s and total_count 127", b.Metadata, seedKey)
	}
	var got []string
	for _, s := range b.Sessions {
		got = append(got, s.ID)
	}
	want := []string{"ase_customer_support_001", "ase_customer_support_002", "ase_customer_support_003"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}
