package mockserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/internal/apierror"
	"github.com/agentmock/agentmock/internal/store"
)

const (
	maxAgentBody    = 1 << 20
	maxAgentNameLen = 50
)

// The defaults of an agent's configuration. The official SDK requires
// first_step.name, which the OpenAPI document leaves optional.
var agentDefaults = map[string]json.RawMessage{
	"model":               json.RawMessage(`{"name":"gpt-4o"}`),
	"first_step":          json.RawMessage(`{"name":"main","type":"conversational","instructions":[],"output_parser":{"type":"default"}}`),
	"tool_configurations": json.RawMessage(`{}`),
}

// defaultIdentity is the identity of an agent that no one has set.
const defaultIdentity = `{"mode":"auto","api_roles":[],"corpus_roles":[],"agent_roles":[]}`

// agentDoc is an agent as the API shows it.
type agentDoc struct {
	key, name, description string
	enabled                bool
	metadata               json.RawMessage // an object
	// config holds the other fields by name: model, first_step,
	// tool_configurations, compaction and any field the mock does not know,
	// as they were sent.
	config               map[string]json.RawMessage
	createdAt, updatedAt time.Time
}

// configOrder is the order of the known configuration fields on the wire,
// as in the official Agent; unknown ones follow, sorted.
var configOrder = []string{"tool_configurations", "model", "first_step", "compaction"}

// encode returns the agent's wire object, without a newline.
func (d *agentDoc) encode() string {
	var o objectWriter
	o.str("key", d.key)
	o.str("name", d.name)
	if d.description != "" {
		o.str("description", d.description)
	}
	o.ordered(d.config, configOrder)
	o.raw("metadata", d.metadata)
	o.raw("enabled", []byte(strconv.FormatBool(d.enabled)))
	o.str("created_at", d.createdAt.UTC().Format(time.RFC3339))
	o.str("updated_at", d.updatedAt.UTC().Format(time.RFC3339))
	return o.done()
}

// info is the store's agent for d.
func (d *agentDoc) info(allowed map[string]bool, identity string) store.Agent {
	return store.Agent{Key: d.key, Name: d.name, Description: d.description, Enabled: d.enabled,
		Allowed: allowed, JSON: d.encode(), Identity: identity}
}

// docOf decodes a stored agent back.
func docOf(a *store.Agent) agentDoc {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader([]byte(a.JSON)))
	if err := dec.Decode(&fields); err != nil {
		panic("mockserver: a stored agent does not decode: " + err.Error())
	}
	d := agentDoc{key: a.Key, name: a.Name, description: a.Description, enabled: a.Enabled,
		metadata: fields["metadata"], config: map[string]json.RawMessage{}}
	for _, name := range []string{"key", "name", "description", "metadata", "enabled"} {
		delete(fields, name)
	}
	d.createdAt, _ = time.Parse(time.RFC3339, unquote(fields["created_at"]))
	d.updatedAt, _ = time.Parse(time.RFC3339, unquote(fields["updated_at"]))
	delete(fields, "created_at")
	delete(fields, "updated_at")
	maps.Copy(d.config, fields)
	return d
}

func unquote(raw json.RawMessage) string {
	var s string
	json.Unmarshal(raw, &s)
	return s
}

// newAgentDoc is the agent of a fixture.
func newAgentDoc(fa *fixtures.Agent) (agentDoc, error) {
	d := agentDoc{key: fa.Key, name: fa.Name, description: fa.Description, enabled: !fa.Disabled,
		config: maps.Clone(fa.Config), createdAt: fa.CreatedAt, updatedAt: fa.UpdatedAt}
	if d.name == "" {
		d.name = fa.Key
	}
	if d.config == nil {
		d.config = map[string]json.RawMessage{}
	}
	d.metadata = json.RawMessage(`{}`)
	if fa.Metadata != nil {
		m, err := json.Marshal(fa.Metadata)
		if err != nil {
			return d, fmt.Errorf("agent %q: metadata: %w", fa.Key, err)
		}
		d.metadata = m
	}
	if d.createdAt.IsZero() {
		d.createdAt = fixtures.Origin()
	}
	if d.updatedAt.IsZero() {
		d.updatedAt = d.createdAt
	}
	if bad := checkConfig(d.config); len(bad) > 0 {
		return d, fmt.Errorf("agent %q: %v", fa.Key, invalidRequest(bad))
	}
	d.fillDefaults()
	return d, nil
}

func (d *agentDoc) fillDefaults() {
	for name, v := range agentDefaults {
		if _, ok := d.config[name]; !ok {
			d.config[name] = v
		}
	}
}

// agentBody says which body an agent call takes.
type agentBody uint8

const (
	createBody  agentBody = iota // POST: key optional, name required
	replaceBody                  // PUT: name required; the key may only repeat
	patchBody                    // PATCH: what is present changes
)

// applyAgent checks an agent body and applies it to d.
func applyAgent(d *agentDoc, fields map[string]json.RawMessage, kind agentBody) fieldErrors {
	bad := fieldErrors{}
	for _, name := range slices.Sorted(maps.Keys(fields)) { // the same errors on every run
		raw := fields[name]
		var err error
		switch name {
		case "key":
			var key string
			err = decodeField(raw, &key, false)
			switch {
			case err != nil || !validKey(key):
				err = fmt.Errorf("key must be a string matching %s", keyRule)
			case kind == createBody:
				d.key = key
			case key != d.key:
				err = fmt.Errorf("key cannot change")
			}
		case "name":
			if err = decodeField(raw, &d.name, false); err == nil && (d.name == "" || utf8.RuneCountInString(d.name) > maxAgentNameLen) {
				err = fmt.Errorf("name must have 1 to %d characters", maxAgentNameLen)
			}
		case "description":
			d.description = ""
			err = decodeField(raw, &d.description, true)
		case "enabled":
			err = decodeField(raw, &d.enabled, false)
		case "metadata":
			d.metadata = json.RawMessage(`{}`)
			if string(raw) != "null" {
				if err = checkKind(raw, '{'); err == nil {
					d.metadata = raw
				}
			}
		case "created_at", "updated_at":
			if kind == createBody {
				err = fmt.Errorf("%s is set by the server", name)
			} // on a replace or patch, the server's own value stands
		default:
			d.config[name] = raw
		}
		if err != nil {
			bad[name] = err.Error()
		}
	}
	maps.Copy(bad, checkConfig(d.config))
	if _, ok := fields["name"]; !ok && kind != patchBody {
		bad["name"] = "name is required"
	}
	return bad
}

// checkConfig checks the types of the configuration fields the mock names;
// it stores them, and any other, as they are.
func checkConfig(config map[string]json.RawMessage) fieldErrors {
	bad := fieldErrors{}
	for _, name := range []string{"model", "first_step", "tool_configurations"} {
		if raw, ok := config[name]; ok {
			if err := checkKind(raw, '{'); err != nil {
				bad[name] = err.Error()
			}
		}
	}
	if raw, ok := config["compaction"]; ok {
		for field, reason := range checkCompaction(raw) {
			bad[strings.TrimSuffix("compaction."+field, ".")] = reason
		}
	}
	return bad
}

// checkCompaction checks the types of the compaction settings the mock
// reads; it keeps the others as they are.
func checkCompaction(raw json.RawMessage) fieldErrors {
	bad := fieldErrors{}
	var fields map[string]json.RawMessage
	if checkKind(raw, '{') != nil || json.Unmarshal(raw, &fields) != nil {
		return bad.with("", "compaction must be an object")
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		v := fields[name]
		var err error
		var b bool
		var n int
		var str string
		switch name {
		case "enabled":
			err = decodeField(v, &b, false)
		case "threshold_percent":
			if err = decodeField(v, &n, false); err == nil && (n < 50 || n > 95) {
				err = fmt.Errorf("threshold_percent must be from 50 to 95")
			}
		case "keep_recent_inputs":
			if err = decodeField(v, &n, false); err == nil && n < 0 {
				err = fmt.Errorf("keep_recent_inputs cannot be negative")
			}
		case "compaction_message", "tool_event_policy":
			err = decodeField(v, &str, false)
		}
		if err != nil {
			bad[name] = err.Error()
		}
	}
	return bad
}

// checkKind checks that raw is a JSON value of the kind its first byte shows:
// '{' for an object, '[' for an array.
func checkKind(raw json.RawMessage, kind byte) error {
	if len(raw) > 0 && raw[0] == kind {
		return nil
	}
	if kind == '[' {
		return fmt.Errorf("must be an array")
	}
	return fmt.Errorf("must be an object")
}

func writeAgent(w http.ResponseWriter, status int, a *store.Agent) {
	writeJSON(w, status, []byte(a.JSON+"\n"))
}

func (s *Server) createAgent(w http.ResponseWriter, r *request) error {
	fields, err := readFields(w, r, maxAgentBody)
	if err != nil {
		return err
	}
	d := agentDoc{enabled: true, metadata: json.RawMessage(`{}`), config: map[string]json.RawMessage{}}
	if bad := applyAgent(&d, fields, createBody); len(bad) > 0 {
		return invalidRequest(bad)
	}
	d.fillDefaults()
	var created *store.Agent
	_, err = s.store.Write(s.clock.now(), func(tx *store.Tx) error {
		if d.key == "" {
			d.key = deriveKey("agt_", "agent", d.name, func(k string) bool { return tx.Agent(k) != nil })
		} else if tx.Agent(d.key) != nil {
			return &apiError{status: http.StatusConflict, code: apierror.AgentExists,
				messages: []string{fmt.Sprintf("agent %q already exists", d.key)}, id: d.key}
		}
		d.createdAt, d.updatedAt = tx.Now(), tx.Now()
		created = store.NewAgent(d.info(nil, defaultIdentity), nil)
		tx.PutAgent(created)
		return nil
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v2/agents/"+created.Key)
	writeAgent(w, http.StatusCreated, created)
	return nil
}

func (s *Server) getAgent(w http.ResponseWriter, r *request) error {
	a, err := s.agent(r, nil)
	if err != nil {
		return err
	}
	writeAgent(w, http.StatusOK, a)
	return nil
}

// changeAgent runs a PATCH or PUT of an agent.
func (s *Server) changeAgent(w http.ResponseWriter, r *request, kind agentBody) error {
	a, err := s.agent(r, nil)
	if err != nil {
		return err
	}
	fields, err := readFields(w, r, maxAgentBody)
	if err != nil {
		return err
	}
	var changed *store.Agent
	err = s.write(a.Key, func(tx *store.Tx, a *store.Agent) error {
		d := docOf(a)
		if kind == replaceBody {
			d = agentDoc{key: d.key, enabled: true, metadata: json.RawMessage(`{}`), config: map[string]json.RawMessage{},
				createdAt: d.createdAt}
		}
		if bad := applyAgent(&d, fields, kind); len(bad) > 0 {
			return invalidRequest(bad)
		}
		d.fillDefaults()
		d.updatedAt = tx.Now()
		info := d.info(a.Allowed, a.Identity)
		info.Behaviour = a.Behaviour // a change of its fields keeps how it replies
		changed = a.With(info)
		tx.PutAgent(changed)
		return nil
	})
	if err != nil {
		return err
	}
	writeAgent(w, http.StatusOK, changed)
	return nil
}

func (s *Server) updateAgent(w http.ResponseWriter, r *request) error {
	return s.changeAgent(w, r, patchBody)
}

func (s *Server) replaceAgent(w http.ResponseWriter, r *request) error {
	return s.changeAgent(w, r, replaceBody)
}

func (s *Server) deleteAgent(w http.ResponseWriter, r *request) error {
	a, err := s.agent(r, nil)
	if err != nil {
		return err
	}
	err = s.write(a.Key, func(tx *store.Tx, a *store.Agent) error {
		tx.DeleteAgent(a.Key)
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listAgents(w http.ResponseWriter, r *request) error {
	q, bad := parseListQuery(r.URL.RawQuery, agentCursor)
	if bad != nil {
		return invalidRequest(bad)
	}
	p := s.store.Snapshot().Agents(q)
	buf := s.buffers.Get().(*[]byte)
	b := append((*buf)[:0], `{"agents":[`...)
	for i, a := range p.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, a.JSON...)
	}
	b = appendListMetadata(b, p.More, agentCursor, lastKey(p.Items, func(a *store.Agent) string { return a.Key }), p.Total)
	*buf = b
	writeJSON(w, http.StatusOK, b)
	s.buffers.Put(buf)
	return nil
}

func (s *Server) getIdentity(w http.ResponseWriter, r *request) error {
	a, err := s.agent(r, nil)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, []byte(a.Identity+"\n"))
	return nil
}

// identity is an agent's identity on the wire.
type identity struct {
	Mode        string            `json:"mode"`
	APIRoles    []json.RawMessage `json:"api_roles"`
	CorpusRoles []json.RawMessage `json:"corpus_roles"`
	AgentRoles  []json.RawMessage `json:"agent_roles"`
}

func (s *Server) updateIdentity(w http.ResponseWriter, r *request) error {
	a, err := s.agent(r, nil)
	if err != nil {
		return err
	}
	fields, err := readFields(w, r, maxAgentBody)
	if err != nil {
		return err
	}
	var changed *store.Agent
	err = s.write(a.Key, func(tx *store.Tx, a *store.Agent) error {
		var id identity
		json.Unmarshal([]byte(a.Identity), &id)
		bad := fieldErrors{}
		for _, name := range slices.Sorted(maps.Keys(fields)) {
			raw := fields[name]
			var err error
			switch name {
			case "mode":
				if err = decodeField(raw, &id.Mode, false); err == nil && id.Mode != "auto" && id.Mode != "manual" {
					err = fmt.Errorf("mode must be auto or manual")
				}
			case "api_roles", "corpus_roles", "agent_roles":
				// api_roles are names; the others are objects such as
				// {"corpus_key": ..., "role": ...}.
				roles := map[string]*[]json.RawMessage{"api_roles": &id.APIRoles, "corpus_roles": &id.CorpusRoles, "agent_roles": &id.AgentRoles}[name]
				kind := map[string]byte{"api_roles": '"', "corpus_roles": '{', "agent_roles": '{'}[name]
				var list []json.RawMessage
				if err = checkKind(raw, '['); err == nil {
					json.Unmarshal(raw, &list)
					for _, v := range list {
						if v[0] != kind {
							err = fmt.Errorf("%s must be a list of %s", name, map[byte]string{'"': "strings", '{': "objects"}[kind])
						}
					}
					*roles = list
				}
			default:
				err = fmt.Errorf("unknown field")
			}
			if err != nil {
				bad[name] = err.Error()
			}
		}
		if len(bad) > 0 {
			return invalidRequest(bad)
		}
		b, err := json.Marshal(id)
		if err != nil {
			return err
		}
		info := *a
		info.Identity = string(b)
		changed = a.With(info)
		tx.PutAgent(changed)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, []byte(changed.Identity+"\n"))
	return nil
}
