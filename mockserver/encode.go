package mockserver

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/internal/store"
)

// wireSession is the session object of the API. `key` repeats `id` because
// the official clients require `key`, and the seed's example shows `id`.
type wireSession struct {
	ID          string         `json:"id"`
	Key         string         `json:"key"`
	AgentKey    string         `json:"agent_key"`
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Metadata    map[string]any `json:"metadata,omitzero"` // {} is kept, nil is left out
	Enabled     bool           `json:"enabled"`
	TTIMinutes  int            `json:"tti_minutes,omitempty"`
	CreatedAt   string         `json:"created_at"`
}

func wireOf(fs *fixtures.Session) wireSession {
	name := fs.Name
	if name == "" {
		name = fs.ID
	}
	return wireSession{
		ID:          fs.ID,
		Key:         fs.ID,
		AgentKey:    fs.AgentKey,
		Name:        name,
		Description: fs.Description,
		Metadata:    fs.Metadata,
		Enabled:     fs.Enabled,
		TTIMinutes:  fs.TTIMinutes,
		CreatedAt:   fs.CreatedAt.UTC().Format(time.RFC3339),
	}
}

// span is where a string value sits in a session's JSON; from < 0 when the
// JSON had to escape it, so that it is not the value itself.
type span struct{ from, to int }

// appendSession appends the JSON of w, byte for byte what json.Marshal
// writes, and says where the values of id, name and description are. It is
// faster than json.Marshal, and the spans let a session keep those strings
// as parts of its JSON instead of copies.
func appendSession(b []byte, w *wireSession) (_ []byte, id, name, desc span, err error) {
	b = append(b, `{"id":`...)
	b, id = appendString(b, w.ID)
	b = append(b, `,"key":`...)
	b, _ = appendString(b, w.Key)
	b = append(b, `,"agent_key":`...)
	b, _ = appendString(b, w.AgentKey)
	b = append(b, `,"name":`...)
	b, name = appendString(b, w.Name)
	desc = span{-1, -1}
	if w.Description != "" {
		b = append(b, `,"description":`...)
		b, desc = appendString(b, w.Description)
	}
	if w.Metadata != nil {
		b = append(b, `,"metadata":`...)
		if b, err = appendMetadata(b, w.Metadata); err != nil {
			return nil, id, name, desc, err
		}
	}
	b = append(b, `,"enabled":`...)
	b = strconv.AppendBool(b, w.Enabled)
	if w.TTIMinutes != 0 {
		b = append(b, `,"tti_minutes":`...)
		b = strconv.AppendInt(b, int64(w.TTIMinutes), 10)
	}
	b = append(b, `,"created_at":`...)
	b, _ = appendString(b, w.CreatedAt)
	return append(b, '}'), id, name, desc, nil
}

// appendString appends s as a JSON string, as json.Marshal does (HTML
// characters escaped), and the span of s when it needed no escaping.
func appendString(b []byte, s string) ([]byte, span) {
	if !plainJSON(s) {
		q, _ := json.Marshal(s) // a string always marshals
		return append(b, q...), span{-1, -1}
	}
	b = append(b, '"')
	from := len(b)
	b = append(b, s...)
	return append(b, '"'), span{from, from + len(s)}
}

// plainJSON reports whether json.Marshal writes s unchanged between quotes:
// printable ASCII without '"', '\\' and the HTML characters.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendMetadata appends m as json.Marshal does: keys sorted. Maps of
// strings, the common case, skip reflection.
func appendMetadata(b []byte, m map[string]any) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if _, ok := v.(string); !ok {
			j, err := json.Marshal(m)
			return append(b, j...), err
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b, _ = appendString(b, k)
		b = append(b, ':')
		b, _ = appendString(b, m[k].(string))
	}
	return append(b, '}'), nil
}

// slab encodes many sessions into shared strings of about slabSize bytes,
// so that a million sessions are a few hundred allocations rather than a
// million, and their id, name and description point into the same bytes.
type slab struct {
	buf     []byte
	pending []pending
}

// slabSize trades the waste at the end of a slab for fewer allocations.
const slabSize = 1 << 20

type pending struct {
	s              *store.Session
	from, to       int
	id, name, desc span
}

// add encodes w into s, whose strings are set by the next flush.
func (sl *slab) add(s *store.Session, w *wireSession, activeAt time.Time) error {
	from := len(sl.buf)
	var err error
	var id, name, desc span
	if sl.buf, id, name, desc, err = appendSession(sl.buf, w); err != nil {
		sl.buf = sl.buf[:from]
		return err
	}
	*s = store.Session{
		ID:          w.ID,
		Name:        w.Name,
		Description: w.Description,
		Enabled:     w.Enabled,
		TTIMinutes:  int32(w.TTIMinutes),
	}
	if !activeAt.IsZero() {
		s.ActiveAt = activeAt.UnixNano()
	}
	sl.pending = append(sl.pending, pending{s, from, len(sl.buf), id, name, desc})
	if len(sl.buf) >= slabSize {
		sl.flush()
	}
	return nil
}

// flush turns the buffer into one string and points the pending sessions
// at their parts of it.
func (sl *slab) flush() {
	str := string(sl.buf)
	at := func(sp span, fallback string) string {
		if sp.from < 0 {
			return fallback
		}
		return str[sp.from:sp.to]
	}
	for _, p := range sl.pending {
		p.s.JSON = str[p.from:p.to]
		p.s.ID = at(p.id, p.s.ID)
		p.s.Name = at(p.name, p.s.Name)
		p.s.Description = at(p.desc, p.s.Description)
	}
	sl.buf, sl.pending = sl.buf[:0], sl.pending[:0]
}

// newSession encodes one session, for the writes of the API.
func newSession(w wireSession, activeAt time.Time) (*store.Session, error) {
	var sl slab
	s := new(store.Session)
	if err := sl.add(s, &w, activeAt); err != nil {
		return nil, err
	}
	sl.flush()
	return s, nil
}

// wireOfStored decodes a stored session back, keeping metadata numbers
// exactly as they were written.
func wireOfStored(s *store.Session) wireSession {
	var w wireSession
	dec := json.NewDecoder(strings.NewReader(s.JSON))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		panic("mockserver: a stored session does not decode: " + err.Error())
	}
	return w
}

// objectWriter writes a JSON object field by field, in the order written,
// for the agents and events the server stores as JSON.
type objectWriter struct{ b bytes.Buffer }

// raw writes a field whose value is JSON already; a value that is not is a
// bug (values are decoded or made here).
func (o *objectWriter) raw(name string, v []byte) {
	if o.b.Len() == 0 {
		o.b.WriteByte('{')
	} else {
		o.b.WriteByte(',')
	}
	q, _ := json.Marshal(name) // a string always marshals
	o.b.Write(q)
	o.b.WriteByte(':')
	if err := json.Compact(&o.b, v); err != nil {
		panic("mockserver: a stored value is not JSON: " + err.Error())
	}
}

func (o *objectWriter) str(name, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	o.raw(name, q)
}

// ordered writes the fields, those named in order first, in that order,
// then the others, sorted.
func (o *objectWriter) ordered(fields map[string]json.RawMessage, order []string) {
	for _, name := range order {
		if v, ok := fields[name]; ok {
			o.raw(name, v)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if !slices.Contains(order, name) {
			o.raw(name, fields[name])
		}
	}
}

// done closes the object and returns it.
func (o *objectWriter) done() string {
	o.b.WriteByte('}')
	return o.b.String()
}
