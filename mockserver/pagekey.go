package mockserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// maxPageKeyLen bounds the work a hostile page_key can cause. A real token
// for a 50-character id is 96 characters.
const maxPageKeyLen = 512

// The JSON of a token, around the session id. Session ids are restricted to
// [0-9a-zA-Z_-], so they need no JSON escaping.
const (
	pageKeyPrefix = `{"session_id":"`
	pageKeySuffix = `"}`
)

// appendPageKey appends the token of a page that ends with sessionID:
// standard base64 of {"session_id":"<id>"}.
func appendPageKey(b []byte, sessionID string) []byte {
	var raw [len(pageKeyPrefix) + 50 + len(pageKeySuffix)]byte
	j := append(append(append(raw[:0], pageKeyPrefix...), sessionID...), pageKeySuffix...)
	return base64.StdEncoding.AppendEncode(b, j)
}

func encodePageKey(sessionID string) string {
	return string(appendPageKey(nil, sessionID))
}

var errBadPageKey = errors.New("page_key is not a token from a previous response")

// decodePageKey returns the session id a token points after. It forgives
// transport damage: either base64 alphabet, with or without padding, and a
// space where a '+' was sent unescaped in a query string.
func decodePageKey(token string) (string, error) {
	if len(token) > maxPageKeyLen {
		return "", errBadPageKey
	}
	var norm, raw [maxPageKeyLen]byte
	n := 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch c {
		case ' ', '-':
			c = '+'
		case '_':
			c = '/'
		case '=':
			continue // padding is optional, so it is ignored wherever it is
		}
		norm[n] = c
		n++
	}
	m, err := base64.RawStdEncoding.Decode(raw[:], norm[:n])
	if err != nil {
		return "", errBadPageKey
	}
	j := raw[:m]
	var id string
	if len(j) >= len(pageKeyPrefix)+len(pageKeySuffix) && bytes.HasPrefix(j, []byte(pageKeyPrefix)) && bytes.HasSuffix(j, []byte(pageKeySuffix)) {
		id = string(j[len(pageKeyPrefix) : len(j)-len(pageKeySuffix)])
	} else if id, err = decodePageKeyJSON(j); err != nil {
		return "", err
	}
	if !validSessionKey(id) {
		return "", errBadPageKey
	}
	return id, nil
}

// decodePageKeyJSON reads a token's JSON written by hand, with spaces, in
// full; the tokens this server writes never get here.
func decodePageKeyJSON(j []byte) (string, error) {
	var key struct {
		SessionID *string `json:"session_id"`
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	// Only white space may follow the object; dec.More misses a stray } or ].
	if err := dec.Decode(&key); err != nil || key.SessionID == nil || dec.InputOffset() != int64(len(bytes.TrimRight(j, " \t\r\n"))) {
		return "", errBadPageKey
	}
	return *key.SessionID, nil
}

// The key rules, as messages show them.
const (
	agentKeyRule   = "^agt_[0-9a-zA-Z_-]+$ with at most 50 characters"
	sessionKeyRule = "^[0-9a-zA-Z_-]+$ with at most 50 characters"
)

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
	if len(s) > 50 || len(s) <= len(prefix) || s[:len(prefix)] != prefix {
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
