package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/internal/store"
)

const (
	maxSessionBody = 1 << 20
	maxNameLen     = 1000
	msgSessionKey  = "session key must match " + keyRule
)

// sessionRoute checks the parameters of the routes of one session, and
// returns its agent and the session key.
func (s *Server) sessionRoute(r *request) (*store.Agent, string, error) {
	key := r.params.ByName("session_key")
	var bad fieldErrors
	if !validKey(key) {
		bad = bad.with("session_key", msgSessionKey)
	}
	a, err := s.agent(r, bad)
	return a, key, err
}

func (s *Server) getSession(w http.ResponseWriter, r *request) error {
	a, key, err := s.sessionRoute(r)
	if err != nil {
		return err
	}
	sess := a.Session(key)
	if sess == nil {
		return sessionNotFound(a.Key, key)
	}
	r.snap.Touch(a, sess, s.clock.now())
	writeJSON(w, http.StatusOK, []byte(sess.JSON+"\n"))
	return nil
}

func (s *Server) deleteSession(w http.ResponseWriter, r *request) error {
	a, key, err := s.sessionRoute(r)
	if err != nil {
		return err
	}
	err = s.write(a.Key, func(tx *store.Tx, a *store.Agent) error {
		old, err := tx.DeleteSession(a.Key, key)
		if err == nil && old == nil {
			err = sessionNotFound(a.Key, key)
		}
		return err
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// write changes the agent of key: change gets the agent as the write sees
// it, with its expired sessions gone. An agent deleted since the request
// looked is a 404.
func (s *Server) write(key string, change func(tx *store.Tx, a *store.Agent) error) error {
	_, err := s.store.Write(s.clock.now(), func(tx *store.Tx) error {
		a := tx.Agent(key)
		if a == nil {
			return agentNotFound(key)
		}
		return change(tx, a)
	})
	return err
}

func (s *Server) createSession(w http.ResponseWriter, r *request) error {
	a, err := s.agent(r, nil)
	if err != nil {
		return err
	}
	fields, err := readFields(w, r, maxSessionBody)
	if err != nil {
		return err
	}
	in, bad := parseCreate(fields)
	fork, forkBad := parseFork(fields["from_session"])
	maps.Copy(bad, forkBad)
	if len(bad) > 0 {
		return invalidRequest(bad)
	}
	var created *store.Session
	err = s.write(a.Key, func(tx *store.Tx, a *store.Agent) error {
		if in.ID == "" {
			in.ID = deriveKey("ase_", "session", in.Name, func(k string) bool { return a.Session(k) != nil })
		} else if a.Session(in.ID) != nil {
			return &apiError{status: http.StatusConflict, code: codeSessionExists,
				messages: []string{fmt.Sprintf("session %q of agent %q already exists", in.ID, a.Key)}, id: in.ID}
		}
		in.Key, in.AgentKey = in.ID, a.Key
		if in.Name == "" {
			in.Name = in.ID
		}
		in.CreatedAt = tx.Now().Format(time.RFC3339)
		var err error
		if created, err = newSession(in, tx.Now()); err != nil {
			return err
		}
		var copies []*store.Event
		if fork != nil { // before the new session exists, which is no source
			if copies, err = s.forkCopies(tx, r, a.Key, created.ID, fork); err != nil {
				return err
			}
		}
		if err := tx.PutSession(a.Key, created); err != nil || fork == nil {
			return err
		}
		return tx.PutEvents(a.Key, created.ID, copies...)
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v2/agents/"+a.Key+"/sessions/"+created.ID)
	writeJSON(w, http.StatusCreated, []byte(created.JSON+"\n"))
	return nil
}

func (s *Server) updateSession(w http.ResponseWriter, r *request) error {
	a, key, err := s.sessionRoute(r)
	if err != nil {
		return err
	}
	fields, err := readFields(w, r, maxSessionBody)
	if err != nil {
		return err
	}
	var updated *store.Session
	err = s.write(a.Key, func(tx *store.Tx, a *store.Agent) error {
		old := a.Session(key)
		if old == nil {
			return sessionNotFound(a.Key, key)
		}
		ws := wireOfStored(old)
		if bad := applyPatch(&ws, fields); len(bad) > 0 {
			return invalidRequest(bad)
		}
		var err error
		if updated, err = newSession(ws, tx.Now()); err != nil {
			return err
		}
		return tx.PutSession(a.Key, updated) // a new session, active now
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, []byte(updated.JSON+"\n"))
	return nil
}

// readFields reads a JSON object body into its fields: 415 for another
// media type, 413 over the cap, 400 for anything but an object.
func readFields(w http.ResponseWriter, r *request, limit int64) (map[string]json.RawMessage, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return nil, &apiError{status: http.StatusUnsupportedMediaType, code: codeUnsupportedMedia,
				messages: []string{fmt.Sprintf("the body must be application/json, not %q", ct)}}
		}
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	// Only white space may follow the object; dec.More misses a stray } or ].
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.InputOffset() != int64(len(bytes.TrimRight(body, " \t\r\n"))) {
		return nil, invalidRequest(fieldErrors{"body": "the body must be one JSON object"})
	}
	// The decoder would quietly turn bad UTF-8 into U+FFFD.
	if !utf8.Valid(body) {
		var bad fieldErrors
		for name, raw := range fields {
			if !utf8.Valid(raw) {
				bad = bad.with(name, name+" is not valid UTF-8")
			}
		}
		return nil, invalidRequest(bad.with("body", "the body is not valid UTF-8"))
	}
	return fields, nil
}

// parseCreate checks a create body. ID is "" when the key is to be derived,
// and Name "" when the name is to be the key.
func parseCreate(fields map[string]json.RawMessage) (wireSession, fieldErrors) {
	ws := wireSession{Enabled: true}
	bad := fieldErrors{}
	for _, name := range slices.Sorted(maps.Keys(fields)) { // the same errors on every run
		raw := fields[name]
		switch name {
		case "key", "id": // id, as sessions show it, is the same as key
			var key string
			if err := decodeField(raw, &key, false); err != nil || !validKey(key) {
				bad[name] = name + " must be a string matching " + keyRule
			} else if ws.ID != "" && ws.ID != key {
				bad[name] = "key and id differ"
			}
			ws.ID = key
		case "name", "description", "metadata", "enabled", "tti_minutes":
			setField(&ws, name, raw, bad)
		case "from_session": // parseFork's
		default:
			bad[name] = "unknown field"
		}
	}
	return ws, bad
}

// applyPatch changes the fields present in a patch body; the identifying
// ones may only repeat their value.
func applyPatch(ws *wireSession, fields map[string]json.RawMessage) fieldErrors {
	bad := fieldErrors{}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		raw := fields[name]
		switch name {
		case "key", "id", "agent_key", "created_at":
			current := map[string]string{"key": ws.Key, "id": ws.ID, "agent_key": ws.AgentKey, "created_at": ws.CreatedAt}[name]
			var v string
			if err := decodeField(raw, &v, false); err != nil || v != current {
				bad[name] = name + " cannot change"
			}
		case "name", "description", "metadata", "enabled", "tti_minutes":
			setField(ws, name, raw, bad)
		default:
			bad[name] = "unknown field"
		}
	}
	return bad
}

// setField decodes one changeable field into ws, or records why not. null
// clears description and metadata.
func setField(ws *wireSession, name string, raw json.RawMessage, bad fieldErrors) {
	var err error
	switch name {
	case "name":
		if err = decodeField(raw, &ws.Name, false); err == nil && (ws.Name == "" || utf8.RuneCountInString(ws.Name) > maxNameLen) {
			err = fmt.Errorf("name must have 1 to %d characters", maxNameLen)
		}
	case "description":
		ws.Description = ""
		err = decodeField(raw, &ws.Description, true)
	case "metadata":
		ws.Metadata = nil
		err = decodeField(raw, &ws.Metadata, true)
	case "enabled":
		err = decodeField(raw, &ws.Enabled, false)
	case "tti_minutes":
		// Not a json.Number: it would take "5", a string, too.
		v, perr := strconv.Atoi(string(raw))
		if perr != nil || v < 0 || v > fixtures.MaxTTIMinutes {
			err = fmt.Errorf("tti_minutes must be a whole number of minutes from 0 to %d", fixtures.MaxTTIMinutes)
		}
		ws.TTIMinutes = v
	}
	if err != nil {
		bad[name] = err.Error()
	}
}

// decodeField decodes one JSON value into v; null is an error unless nullable.
func decodeField(raw json.RawMessage, v any, nullable bool) error {
	if string(raw) == "null" {
		if nullable {
			return nil
		}
		return errors.New("must not be null")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("must be %s, not %s", jsonKind(v), te.Value)
		}
		return err
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case *string:
		return "a string"
	case *bool:
		return "true or false"
	case *json.Number:
		return "a number"
	default:
		return "an object"
	}
}

// deriveKey makes a key from a name, as the server's own keys look: with
// prefix ase_, "Billing inquiry" gives ase_billing_inquiry, then
// ase_billing_inquiry_2 when taken says that one is taken. A name with no
// letter or digit, or none at all, gives prefix+fallback.
func deriveKey(prefix, fallback, name string, taken func(string) bool) string {
	var b strings.Builder
	b.WriteString(prefix)
	sep := false
	for _, r := range strings.ToLower(name) {
		if r < utf8.RuneSelf && ('a' <= r && r <= 'z' || '0' <= r && r <= '9') {
			if sep && b.Len() > len(prefix) {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			sep = false
		} else {
			sep = true
		}
	}
	base := b.String()
	if base == prefix {
		base += fallback
	}
	const maxBase = 50 - 8 // room for a suffix such as _1234567
	base = strings.TrimRight(base[:min(len(base), maxBase)], "_")
	key := base
	for n := 2; taken(key); n++ {
		key = base + "_" + strconv.Itoa(n)
	}
	return key
}
