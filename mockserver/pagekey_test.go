package mockserver

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestPageKeyRoundTrip(t *testing.T) {
	for _, id := range []string{"a", "ase_customer_support_003", strings.Repeat("Z", 50), "x-y_z"} {
		got, err := decodePageKey(encodePageKey(id))
		if err != nil || got != id {
			t.Errorf("decode(encode(%q)) = %q, %v", id, got, err)
		}
	}
}

func TestPageKeyMatchesTheSeed(t *testing.T) {
	const seed = "eyJzZXNzaW9uX2lkIjoiYXNlX2N1c3RvbWVyX3N1cHBvcnRfMDAzIn0="
	if got := encodePageKey("ase_customer_support_003"); got != seed {
		t.Errorf("got %s, want the seed's %s", got, seed)
	}
}

func TestPageKeyForgivesTransportDamage(t *testing.T) {
	std := encodePageKey("ase_customer_support_003")
	tests := map[string]string{
		"unpadded":                   strings.TrimRight(std, "="),
		"URL-safe alphabet":          base64.URLEncoding.EncodeToString([]byte(`{"session_id":"ase_customer_support_003"}`)),
		"URL-safe without padding":   base64.RawURLEncoding.EncodeToString([]byte(`{"session_id":"ase_customer_support_003"}`)),
		"standard with padding kept": std,
	}
	for name, token := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := decodePageKey(token); err != nil {
				t.Errorf("%q: %v", token, err)
			}
		})
	}
}

func TestPageKeyRejects(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString
	tests := map[string]string{
		"not base64":                   "!!!",
		"base64 of text":               enc([]byte("hello")),
		"a JSON array":                 enc([]byte(`["ase_1"]`)),
		"a number as session_id":       enc([]byte(`{"session_id":3}`)),
		"an empty session_id":          enc([]byte(`{"session_id":""}`)),
		"no session_id":                enc([]byte(`{}`)),
		"an unknown field":             enc([]byte(`{"session_id":"a","x":1}`)),
		"trailing data":                enc([]byte(`{"session_id":"a"}{}`)),
		"an id outside the pattern":    enc([]byte(`{"session_id":"../etc"}`)),
		"an oversized token":           strings.Repeat("A", maxPageKeyLen+4),
		"a null session_id":            enc([]byte(`{"session_id":null}`)),
		"a NUL byte in the session id": enc([]byte("{\"session_id\":\"a\\u0000\"}")),
	}
	for name, token := range tests {
		t.Run(name, func(t *testing.T) {
			if id, err := decodePageKey(token); err == nil {
				t.Errorf("%q decoded to %q, want an error", token, id)
			}
		})
	}
}
