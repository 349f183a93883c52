package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"github.com/agentmock/agentmock/fixtures"
)

const (
	codeSessionNotFound     = "session_not_found"
	codeSessionExists       = "session_exists"
	codeUnsupportedMedia    = "unsupported_media_type"
	maxSessionBody          = 1 << 20
	maxNameLen              = 1000
	msgSessionKey           = "session key must match ^[0-9a-zA-Z_-]+$ and have at most 50 characters"
	derivedKeyPrefix        = "ase_"
	derivedKeyFallbackStart = "session"
)

// live returns the dataset with the agent's expired sessions removed. Expiry
// is lazy: it happens when a request looks at the agent.
func (s *Server) live(agentKey string) *dataset {
	ds := s.data.Load()
	a := ds.agents[agentKey]
	if a == nil || len(a.expiring) == 0 || len(ds.expiredIn(a, s.clock.now())) == 0 {
		return ds
	}
	ds, _ = s.write(agentKey, func(_ *dataset, a *agent, _ time.Time) (*agent, error) { return a, nil })
	return ds
}

// write changes one agent: change gets the agent, with its expired sessions
// already gone, and returns the changed copy. Writes are serialised, and each
// swaps in a new dataset, so readers never see half of one.
func (s *Server) write(agentKey string, change func(ds *dataset, a *agent, now time.Time) (*agent, error)) (*dataset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.data.Load()
	a := ds.agents[agentKey]
	if a == nil {
		return ds, errNoAgent
	}
	now := s.clock.now()
	if gone := ds.expiredIn(a, now); len(gone) > 0 {
		ids := make([]string, len(gone))
		for i, g := range gone {
			ids[i] = g.id
		}
		a = a.without(ids...)
		ds.activity.forget(gone...)
	}
	changed, err := change(ds, a, now)
	if err != nil {
		return ds, err
	}
	ds = ds.withAgent(changed)
	s.data.Store(ds)
	return ds, nil
}

var errNoAgent = errors.New("no such agent")

// itemRoute runs the checks of the routes of one session and returns the
// agent and the session key, or nil when it has written an error.
func (s *Server) itemRoute(w http.ResponseWriter, r *http.Request, ps httprouter.Params) (*dataset, *agent, string) {
	if !s.authenticated(w, r) {
		return nil, nil, ""
	}
	key := ps.ByName("session_key")
	var bad map[string]string
	if !validSessionKey(key) {
		bad = map[string]string{"session_key": msgSessionKey}
	}
	ds, a := s.reach(w, r, ps.ByName("agent_key"), bad)
	return ds, a, key
}

func (s *Server) sessionNotFound(w http.ResponseWriter, agentKey, key string) {
	s.writeError(w, &apiError{status: http.StatusNotFound, code: codeSessionNotFound,
		messages: []string{fmt.Sprintf("session %q of agent %q does not exist", key, agentKey)}, id: key})
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	ds, a, key := s.itemRoute(w, r, ps)
	if a == nil {
		return
	}
	sess := a.find(key)
	if sess == nil {
		s.sessionNotFound(w, a.key, key)
		return
	}
	ds.activity.touch(sess, s.clock.now())
	writeJSON(w, http.StatusOK, []byte(sess.json+"\n"))
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	_, a, key := s.itemRoute(w, r, ps)
	if a == nil {
		return
	}
	_, err := s.write(a.key, func(ds *dataset, a *agent, _ time.Time) (*agent, error) {
		old := a.find(key)
		if old == nil {
			return nil, errNoSession
		}
		ds.activity.forget(old)
		return a.without(key), nil
	})
	if err != nil {
		s.writeStoreError(w, err, a.key, key)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

var errNoSession = errors.New("no such session")

// errConflict is a create of a key that exists.
type errConflict string

func (e errConflict) Error() string { return string(e) }

func (s *Server) writeStoreError(w http.ResponseWriter, err error, agentKey, key string) {
	var conflict errConflict
	switch {
	case errors.Is(err, errNoAgent): // deleted by a reload since reach looked
		s.writeError(w, &apiError{status: http.StatusNotFound, code: codeAgentNotFound,
			messages: []string{fmt.Sprintf("agent %q does not exist", agentKey)}, id: agentKey})
	case errors.Is(err, errNoSession):
		s.sessionNotFound(w, agentKey, key)
	case errors.As(err, &conflict):
		s.writeError(w, &apiError{status: http.StatusConflict, code: codeSessionExists,
			messages: []string{fmt.Sprintf("session %q of agent %q already exists", key, agentKey)}, id: key})
	default:
		var bad badFields
		if errors.As(err, &bad) {
			s.writeError(w, invalidRequest(bad))
			return
		}
		panic(err) // a session that does not encode: a bug
	}
}

// badFields is a 400's field_errors as an error.
type badFields map[string]string

func (b badFields) Error() string { return "invalid fields" }

func (s *Server) createSession(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	if !s.authenticated(w, r) {
		return
	}
	_, a := s.reach(w, r, ps.ByName("agent_key"), nil)
	if a == nil {
		return
	}
	fields, e := readFields(w, r)
	if e != nil {
		s.writeError(w, e)
		return
	}
	in, bad := parseCreate(fields)
	if len(bad) > 0 {
		s.writeError(w, invalidRequest(bad))
		return
	}
	var created *session
	_, err := s.write(a.key, func(_ *dataset, a *agent, now time.Time) (*agent, error) {
		if in.ID == "" {
			in.ID = deriveKey(a, in.Name)
		} else if a.find(in.ID) != nil {
			return nil, errConflict(in.ID)
		}
		in.Key, in.AgentKey = in.ID, a.key
		in.CreatedAt = now.Format(time.RFC3339)
		var err error
		if created, err = newSession(in, now); err != nil {
			return nil, err
		}
		return a.with(created), nil
	})
	if err != nil {
		s.writeStoreError(w, err, a.key, in.ID)
		return
	}
	w.Header().Set("Location", "/v2/agents/"+a.key+"/sessions/"+created.id)
	writeJSON(w, http.StatusCreated, []byte(created.json+"\n"))
}

func (s *Server) updateSession(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	_, a, key := s.itemRoute(w, r, ps)
	if a == nil {
		return
	}
	fields, e := readFields(w, r)
	if e != nil {
		s.writeError(w, e)
		return
	}
	var updated *session
	_, err := s.write(a.key, func(ds *dataset, a *agent, now time.Time) (*agent, error) {
		old := a.find(key)
		if old == nil {
			return nil, errNoSession
		}
		ws := old.wire()
		if bad := applyPatch(&ws, fields); len(bad) > 0 {
			return nil, bad
		}
		var err error
		if updated, err = newSession(ws, now); err != nil {
			return nil, err
		}
		ds.activity.forget(old) // the patched session is a new one, active now
		return a.with(updated), nil
	})
	if err != nil {
		s.writeStoreError(w, err, a.key, key)
		return
	}
	writeJSON(w, http.StatusOK, []byte(updated.json+"\n"))
}

// readFields reads a JSON object body into its fields: 415 for another
// media type, 413 over the cap, 400 for anything but an object.
func readFields(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, *apiError) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return nil, &apiError{status: http.StatusUnsupportedMediaType, code: codeUnsupportedMedia,
				messages: []string{fmt.Sprintf("the body must be application/json, not %q", ct)}}
		}
	}
	body, e := readBody(w, r, maxSessionBody)
	if e != nil {
		return nil, e
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	// Only white space may follow the object; dec.More misses a stray } or ].
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.InputOffset() != int64(len(bytes.TrimRight(body, " \t\r\n"))) {
		return nil, invalidRequest(map[string]string{"body": "the body must be one JSON object"})
	}
	return fields, nil
}

// parseCreate checks a create body. ID is "" when the key is to be derived.
func parseCreate(fields map[string]json.RawMessage) (wireSession, badFields) {
	ws := wireSession{Enabled: true}
	bad := badFields{}
	for name, raw := range fields {
		switch name {
		case "key", "id": // id, as sessions show it, is the same as key
			var key string
			if err := decodeField(raw, &key, false); err != nil || !validSessionKey(key) {
				bad[name] = name + " must be a string matching ^[0-9a-zA-Z_-]+$ with at most 50 characters"
			} else if ws.ID != "" && ws.ID != key {
				bad[name] = "key and id differ"
			}
			ws.ID = key
		case "name", "description", "metadata", "enabled", "tti_minutes":
			setField(&ws, name, raw, bad)
		default:
			bad[name] = "unknown field"
		}
	}
	if _, ok := fields["name"]; !ok {
		bad["name"] = "name is required"
	}
	return ws, bad
}

// applyPatch changes the fields present in a patch body; the identifying
// ones may only repeat their value.
func applyPatch(ws *wireSession, fields map[string]json.RawMessage) badFields {
	bad := badFields{}
	for name, raw := range fields {
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
func setField(ws *wireSession, name string, raw json.RawMessage, bad badFields) {
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

// deriveKey makes a key from a name, as the server's own keys look:
// "Billing inquiry" gives ase_billing_inquiry, then ase_billing_inquiry_2.
func deriveKey(a *agent, name string) string {
	var b strings.Builder
	b.WriteString(derivedKeyPrefix)
	sep := false
	for _, r := range strings.ToLower(name) {
		if r < utf8.RuneSelf && ('a' <= r && r <= 'z' || '0' <= r && r <= '9') {
			if sep && b.Len() > len(derivedKeyPrefix) {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			sep = false
		} else {
			sep = true
		}
	}
	base := b.String()
	if base == derivedKeyPrefix {
		base += derivedKeyFallbackStart
	}
	const maxBase = 50 - 8 // room for a suffix such as _1234567
	base = strings.TrimRight(base[:min(len(base), maxBase)], "_")
	key := base
	for n := 2; a.find(key) != nil; n++ {
		key = base + "_" + strconv.Itoa(n)
	}
	return key
}
