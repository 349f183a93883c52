package mockserver

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentmock/agentmock/internal/apierror"
	"github.com/agentmock/agentmock/internal/store"
)

const (
	eventCursor cursor = "event_id"

	codeEventNotFound     = apierror.EventNotFound
	codeInvalidMessage    = "invalid_message_content"
	codeSessionDisabled   = apierror.SessionDisabled
	maxEventBody          = 1 << 20
	eventIDPrefix         = "aev_"
	summaryKeyPrefix      = "sum_"
	compactionDefaultKeep = 0 // recent turns a compaction without an anchor keeps
)

// The event kinds the server stores.
const (
	kindInput      = "input_message"
	kindThinking   = "thinking"
	kindToolInput  = "tool_input"
	kindToolOutput = "tool_output"
	kindOutput     = "agent_output"
	kindCompaction = "compaction"
)

// eventFieldOrder is the order of the kinds' own fields on the wire;
// unknown ones follow, sorted.
var eventFieldOrder = []string{"messages", "content", "tool_call_id", "tool_configuration_name", "tool_name",
	"tool_input", "tool_output", "error", "turns_compacted", "events_compacted", "summary_text", "summary_key"}

// eventID is the id the server gives the event made seq-th: its Order
// after a prefix, so ids it makes sort in the order they were made.
func eventID(seq uint64) string { return eventIDPrefix + store.OrderOf(seq) }

// seqOf is the sequence number of an id the server made, or 0.
func seqOf(id string) uint64 {
	digits, ok := strings.CutPrefix(id, eventIDPrefix)
	if !ok || len(digits) != store.OrderDigits {
		return 0
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// eventDoc is an event as the API shows it.
type eventDoc struct {
	id, kind, session string
	fields            map[string]json.RawMessage // the kind's own
	createdAt         string                     // RFC 3339
	hidden            bool
}

// stored encodes d as the store's event placed at order.
func (d *eventDoc) stored(order string) *store.Event {
	var o objectWriter
	o.str("id", d.id)
	o.str("type", d.kind)
	o.str("session_key", d.session)
	o.ordered(d.fields, eventFieldOrder)
	o.str("created_at", d.createdAt)
	if d.hidden {
		o.raw("hidden", []byte("true"))
	}
	js := o.done()
	// The id, and the Order in an id the server made, are parts of the JSON
	// ({"id":"...), to spare their memory.
	id := js[len(`{"id":"`):][:len(d.id)]
	if digits := strings.TrimPrefix(id, eventIDPrefix); digits == order {
		order = digits
	}
	return &store.Event{JSON: js, ID: id, Order: order, Input: d.kind == kindInput, Hidden: d.hidden}
}

// kindOf is an event's type, read from its JSON, which stored writes with
// the type second: {"id":"...","type":"...".
func kindOf(e *store.Event) string {
	rest := e.JSON[len(`{"id":"`)+len(e.ID)+len(`","type":"`):]
	return rest[:strings.IndexByte(rest, '"')]
}

// textOf is an input's message text, or an output's content.
func textOf(e *store.Event) string {
	d := docOfEvent(e)
	return d.text()
}

// text is an input's message text, or an output's content.
func (d *eventDoc) text() string {
	switch d.kind {
	case kindInput:
		var messages []struct {
			Content string `json:"content"`
		}
		json.Unmarshal(d.fields["messages"], &messages)
		parts := make([]string, len(messages))
		for i, m := range messages {
			parts[i] = m.Content
		}
		return strings.Join(parts, "\n")
	case kindOutput:
		var content string
		json.Unmarshal(d.fields["content"], &content)
		return content
	}
	return ""
}

// docOfEvent decodes a stored event back.
func docOfEvent(e *store.Event) eventDoc {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(e.JSON), &fields); err != nil {
		panic("mockserver: a stored event does not decode: " + err.Error())
	}
	d := eventDoc{id: e.ID, kind: kindOf(e), hidden: e.Hidden, createdAt: unquote(fields["created_at"]), session: unquote(fields["session_key"])}
	for _, name := range []string{"id", "type", "session_key", "created_at", "hidden"} {
		delete(fields, name)
	}
	d.fields = fields
	return d
}

// rawJSON marshals a value that always marshals.
func rawJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// eventRoute checks the parameters of the routes of one session's events
// (bad adds the route's own), and returns the agent and the session.
func (s *Server) eventRoute(r *request, bad fieldErrors) (*store.Agent, *store.Session, error) {
	key := r.params.ByName("session_key")
	if !validKey(key) {
		bad = bad.with("session_key", msgSessionKey)
	}
	if id := r.params.ByName("event_id"); id != "" && !validKey(id) {
		bad = bad.with("event_id", "event_id must match "+keyRule)
	}
	a, err := s.agent(r, bad)
	if err != nil {
		return nil, nil, err
	}
	sess := a.Session(key)
	if sess == nil {
		return nil, nil, sessionNotFound(a.Key, key)
	}
	return a, sess, nil
}

func eventNotFound(session, id string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeEventNotFound,
		messages: []string{fmt.Sprintf("event %q of session %q does not exist", id, session)}, id: id}
}

func (s *Server) listEvents(w http.ResponseWriter, r *request) error {
	q, bad := parseListQuery(r.URL.RawQuery, eventCursor)
	a, sess, err := s.eventRoute(r, bad)
	if err != nil {
		return err
	}
	if q.After != "" {
		if e := a.Event(sess.ID, q.After); e != nil {
			q.After = e.Order
		} else if seq := seqOf(q.After); seq > 0 { // deleted since: keyset paging goes on after it
			q.After = store.OrderOf(seq)
		} else {
			return invalidRequest(fieldErrors{"page_key": "page_key names no event of this session"})
		}
	}
	p := r.snap.Events(a, sess.ID, q)
	buf := s.buffers.Get().(*[]byte)
	b := append((*buf)[:0], `{"events":[`...)
	for i, e := range p.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.JSON...)
	}
	*buf = appendListMetadata(b, p.More, eventCursor, lastKey(p.Items, func(e *store.Event) string { return e.ID }), p.Total)
	writeJSON(w, http.StatusOK, *buf)
	s.buffers.Put(buf)
	return nil
}

func (s *Server) getEvent(w http.ResponseWriter, r *request) error {
	a, sess, err := s.eventRoute(r, nil)
	if err != nil {
		return err
	}
	id := r.params.ByName("event_id")
	e := a.Event(sess.ID, id)
	if e == nil {
		return eventNotFound(sess.ID, id)
	}
	writeJSON(w, http.StatusOK, []byte(e.JSON+"\n"))
	return nil
}

func (s *Server) deleteEvent(w http.ResponseWriter, r *request) error {
	a, sess, err := s.eventRoute(r, nil)
	if err != nil {
		return err
	}
	id := r.params.ByName("event_id")
	err = s.write(a.Key, func(tx *store.Tx, a *store.Agent) error {
		if a.Session(sess.ID) == nil {
			return sessionNotFound(a.Key, sess.ID)
		}
		old, err := tx.DeleteEvent(a.Key, sess.ID, id)
		if err == nil && old == nil {
			err = eventNotFound(sess.ID, id)
		}
		return err
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) hideEvent(w http.ResponseWriter, r *request) error { return s.setHidden(w, r, true) }
func (s *Server) unhideEvent(w http.ResponseWriter, r *request) error {
	return s.setHidden(w, r, false)
}

func (s *Server) setHidden(w http.ResponseWriter, r *request, hidden bool) error {
	a, sess, err := s.eventRoute(r, nil)
	if err != nil {
		return err
	}
	id := r.params.ByName("event_id")
	var changed *store.Event
	err = s.write(a.Key, func(tx *store.Tx, a *store.Agent) error {
		e := a.Event(sess.ID, id)
		if e == nil {
			return eventNotFound(sess.ID, id)
		}
		d := docOfEvent(e)
		d.hidden = hidden
		changed = d.stored(e.Order)
		return tx.PutEvents(a.Key, sess.ID, changed)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, []byte(changed.JSON+"\n"))
	return nil
}

// indexOf returns the index of the event of id in events, or -1.
func indexOf(events []*store.Event, id string) int {
	return slices.IndexFunc(events, func(e *store.Event) bool { return e.ID == id })
}

// compaction makes the compaction event that stands for events.
func compactionOf(tx *store.Tx, session string, events []*store.Event, now time.Time) *store.Event {
	turns := 0
	var inputs []string
	for _, e := range events {
		if e.Input {
			turns++
			inputs = append(inputs, textOf(e))
		}
	}
	seq := tx.NextEvent()
	noun := "turns"
	if turns == 1 {
		noun = "turn"
	}
	summary := fmt.Sprintf("Summary of %d earlier %s.", turns, noun)
	if len(inputs) > 0 { // a fork's cut may hold no input
		summary = fmt.Sprintf("Summary of %d earlier %s; the user asked: %s", turns, noun, strings.Join(inputs, " / "))
	}
	d := eventDoc{id: eventID(seq), kind: kindCompaction, session: session, createdAt: now.UTC().Format(time.RFC3339),
		fields: map[string]json.RawMessage{
			"turns_compacted":  rawJSON(turns),
			"events_compacted": rawJSON(len(events)),
			"summary_text":     rawJSON(summary),
			"summary_key":      rawJSON(summaryKeyPrefix + strconv.FormatUint(seq, 10)),
		}}
	return d.stored(store.OrderOf(seq))
}

// hasTurn reports whether events hold a complete turn: an input answered by
// an output.
func hasTurn(events []*store.Event) bool {
	input := false
	for _, e := range events {
		switch {
		case e.Input:
			input = true
		case input && kindOf(e) == kindOutput:
			return true
		}
	}
	return false
}

// compact hides the events up to anchor, or all but the agent's most recent
// keep_recent_inputs turns, and appends a compaction event.
func (s *Server) compact(w http.ResponseWriter, a *store.Agent, sess *store.Session, anchor string) error {
	var made *store.Event
	err := s.write(a.Key, func(tx *store.Tx, a *store.Agent) error {
		if _, err := inputSession(a, sess.ID); err != nil {
			return err
		}
		events := a.VisibleEvents(sess.ID)
		var cut []*store.Event
		if anchor != "" {
			i := indexOf(events, anchor)
			if i < 0 {
				return invalidRequest(fieldErrors{"compact_up_to_event_id": "compact_up_to_event_id names no visible event of this session"})
			}
			cut = events[:i+1]
		} else {
			cut = events[:recentTurnsStart(events, keepRecentInputs(a))]
		}
		if !hasTurn(cut) {
			return invalidRequest(fieldErrors{"type": "the session has no complete turn to compact"})
		}
		hidden := make([]*store.Event, 0, len(cut)+1)
		for _, e := range cut {
			d := docOfEvent(e)
			d.hidden = true
			hidden = append(hidden, d.stored(e.Order))
		}
		made = compactionOf(tx, sess.ID, cut, tx.Now())
		return tx.PutEvents(a.Key, sess.ID, append(hidden, made)...)
	})
	if err != nil {
		return err
	}
	writeAgentResponse(w, sess.ID, []*store.Event{made})
	return nil
}

// recentTurnsStart is the index in events where the keep most recent turns
// start: len(events) when keep is 0.
func recentTurnsStart(events []*store.Event, keep int) int {
	start := len(events)
	for i := len(events) - 1; i >= 0 && keep > 0; i-- {
		if events[i].Input {
			start = i
			keep--
		}
	}
	return start
}

// keepRecentInputs is the agent's compaction.keep_recent_inputs.
func keepRecentInputs(a *store.Agent) int {
	var agent struct {
		Compaction struct {
			KeepRecentInputs *int `json:"keep_recent_inputs"`
		} `json:"compaction"`
	}
	json.Unmarshal([]byte(a.JSON), &agent)
	if k := agent.Compaction.KeepRecentInputs; k != nil {
		return *k
	}
	return compactionDefaultKeep
}

// writeAgentResponse writes the official AgentResponse.
func writeAgentResponse(w http.ResponseWriter, session string, events []*store.Event) {
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for i, e := range events {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(e.JSON)
	}
	b.WriteString(`],"session_key":`)
	b.WriteString(strconv.Quote(session)) // keys are plain ASCII
	b.WriteString("}\n")
	writeJSON(w, http.StatusCreated, b.Bytes())
}

// fork is a validated from_session of a session create.
type fork struct {
	session, agent    string
	upTo, compactUpTo string // event ids; at most one is set
}

// parseFork checks a from_session, nil when there is none.
func parseFork(raw json.RawMessage) (*fork, fieldErrors) {
	if raw == nil {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := decodeField(raw, &fields, false); err != nil {
		return nil, fieldErrors{"from_session": "from_session must be an object with session_key"}
	}
	f := &fork{}
	bad := fieldErrors{}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		target := map[string]*string{"session_key": &f.session, "agent_key": &f.agent,
			"include_up_to_event_id": &f.upTo, "compact_up_to_event_id": &f.compactUpTo}[name]
		path := "from_session." + name
		switch {
		case target == nil:
			bad[path] = "unknown field"
		case decodeField(fields[name], target, false) != nil || !validKey(*target):
			bad[path] = path + " must be a string matching " + keyRule
		}
	}
	if _, ok := fields["session_key"]; !ok {
		bad["from_session.session_key"] = "from_session.session_key is required"
	}
	if f.upTo != "" && f.compactUpTo != "" {
		bad["from_session.compact_up_to_event_id"] = "give include_up_to_event_id or compact_up_to_event_id, not both"
	}
	return f, bad
}

// forkCopies makes, for the new session key of agentKey, copies of the
// visible events of f's source, up to its cut; with compact_up_to_event_id,
// the events up to the anchor become one compaction event.
func (s *Server) forkCopies(tx *store.Tx, r *request, agentKey, key string, f *fork) ([]*store.Event, error) {
	srcKey := cmp.Or(f.agent, agentKey)
	src := tx.Agent(srcKey)
	if src == nil {
		return nil, agentNotFound(srcKey)
	}
	if err := s.allowed(r, src); err != nil {
		return nil, err
	}
	if src.Session(f.session) == nil {
		return nil, sessionNotFound(srcKey, f.session)
	}
	events := src.VisibleEvents(f.session)
	var compacted []*store.Event
	for _, cut := range []struct{ id, field string }{{f.upTo, "include_up_to_event_id"}, {f.compactUpTo, "compact_up_to_event_id"}} {
		if cut.id == "" {
			continue
		}
		i := indexOf(events, cut.id)
		if i < 0 {
			return nil, invalidRequest(fieldErrors{"from_session." + cut.field: "the source session has no visible event " + cut.id})
		}
		if cut.id == f.upTo {
			events = events[:i+1]
		} else {
			compacted, events = events[:i+1], events[i+1:]
		}
	}
	var copies []*store.Event
	if compacted != nil {
		copies = append(copies, compactionOf(tx, key, compacted, tx.Now()))
	}
	for _, e := range events {
		seq := tx.NextEvent()
		d := docOfEvent(e)
		d.id, d.session = eventID(seq), key
		copies = append(copies, d.stored(store.OrderOf(seq)))
	}
	return copies, nil
}
