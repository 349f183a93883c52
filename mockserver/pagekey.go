package mockserver

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// maxPageKeyLen bounds the work a hostile page_key can cause. A real token
// for a 50-character id is 96 characters.
const maxPageKeyLen = 512

// encodePageKey returns the token of a page that ends with sessionID: standard
// base64 of {"session_id":"<id>"}. Session ids are restricted to
// [0-9a-zA-Z_-], so they need no JSON escaping.
func encodePageKey(sessionID string) string {
	return base64.StdEncoding.EncodeToString([]byte(`{"session_id":"` + sessionID + `"}`))
}

var errBadPageKey = errors.New("page_key is not a token from a previous response")

// decodePageKey returns the session id a token points after. It forgives
// transport damage: either base64 alphabet, with or without padding, and a
// space where a '+' was sent unescaped in a query string.
func decodePageKey(token string) (string, error) {
	if len(token) > maxPageKeyLen {
		return "", errBadPageKey
	}
	t := strings.NewReplacer(" ", "+", "-", "+", "_", "/").Replace(token)
	t = strings.TrimRight(t, "=")
	raw, err := base64.RawStdEncoding.DecodeString(t)
	if err != nil {
		return "", errBadPageKey
	}
	var key struct {
		SessionID *string `json:"session_id"`
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&key); err != nil || key.SessionID == nil || dec.More() {
		return "", errBadPageKey
	}
	if !validSessionKey(*key.SessionID) {
		return "", errBadPageKey
	}
	return *key.SessionID, nil
}

// validSessionKey reports whether s matches ^[0-9a-zA-Z_-]+$ with at most 50
// characters, the official session key pattern.
func validSessionKey(s string) bool {
	return validKey(s, "")
}

// validAgentKey reports whether s matches ^agt_[0-9a-zA-Z_-]+$ with at most
// 50 characters.
func validAgentKey(s string) bool {
	return validKey(s, "agt_")
}

func validKey(s, prefix string) bool {
	if len(s) > 50 || len(s) <= len(prefix) || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
