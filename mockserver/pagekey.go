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

// cursor is the kind of a page token: which list it pages, by the name of
// the field it holds. Tokens are standard base64 of {"<field>":"<id of the
// last item of the page>"}; ids are restricted to [0-9a-zA-Z_-], so they
// need no JSON escaping.
type cursor string

const (
	sessionCursor cursor = "session_id"
	agentCursor   cursor = "agent_key"
)

// appendPageKey appends the token of a page of sessions that ends with id.
func appendPageKey(b []byte, id string) []byte { return sessionCursor.append(b, id) }

func encodePageKey(id string) string { return string(appendPageKey(nil, id)) }

// decodePageKey returns the session id a token of a page of sessions points
// after.
func decodePageKey(token string) (string, error) { return sessionCursor.decode(token) }

// append appends the token of a page that ends with id.
func (c cursor) append(b []byte, id string) []byte {
	var raw [64 + 50]byte
	j := append(append(append(append(append(raw[:0], `{"`...), c...), `":"`...), id...), `"}`...)
	return base64.StdEncoding.AppendEncode(b, j)
}

var errBadPageKey = errors.New("page_key is not a token from a previous response")

// decode returns the id a token points after. It forgives transport damage:
// either base64 alphabet, with or without padding, and a space where a '+'
// was sent unescaped in a query string.
func (c cursor) decode(token string) (string, error) {
	if len(token) > maxPageKeyLen {
		return "", errBadPageKey
	}
	var norm, raw [maxPageKeyLen]byte
	n := 0
	for i := 0; i < len(token); i++ {
		ch := token[i]
		switch ch {
		case ' ', '-':
			ch = '+'
		case '_':
			ch = '/'
		case '=':
			continue // padding is optional, so it is ignored wherever it is
		}
		norm[n] = ch
		n++
	}
	m, err := base64.RawStdEncoding.Decode(raw[:], norm[:n])
	if err != nil {
		return "", errBadPageKey
	}
	j := raw[:m]
	var id string
	if plain, ok := c.plainID(j); ok {
		id = string(plain)
	} else if id, err = c.decodeJSON(j); err != nil {
		return "", err
	}
	if !validKey(id) {
		return "", errBadPageKey
	}
	return id, nil
}

// plainID returns the id of a token's JSON as this server writes it.
func (c cursor) plainID(j []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(j, []byte(`{"`))
	if ok {
		rest, ok = bytes.CutPrefix(rest, []byte(c))
	}
	if ok {
		rest, ok = bytes.CutPrefix(rest, []byte(`":"`))
	}
	if ok {
		rest, ok = bytes.CutSuffix(rest, []byte(`"}`))
	}
	return rest, ok
}

// decodeJSON reads a token's JSON written by hand, with spaces, in full;
// the tokens this server writes never get here.
func (c cursor) decodeJSON(j []byte) (string, error) {
	var key map[string]*string
	dec := json.NewDecoder(bytes.NewReader(j))
	// Only white space may follow the object; dec.More misses a stray } or ].
	if err := dec.Decode(&key); err != nil || len(key) != 1 || key[string(c)] == nil || dec.InputOffset() != int64(len(bytes.TrimRight(j, " \t\r\n"))) {
		return "", errBadPageKey
	}
	return *key[string(c)], nil
}

// keyRule is the official pattern of agent, session and event keys, as
// messages show it. agt_, ase_ and aev_ are the prefixes of the keys the
// server makes, not rules.
const keyRule = "^[0-9a-zA-Z_-]+$ with at most 50 characters"

// validKey reports whether s matches keyRule.
func validKey(s string) bool {
	if len(s) == 0 || len(s) > 50 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
