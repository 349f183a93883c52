package mockserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentmock/agentmock/internal/replies"
	"github.com/agentmock/agentmock/internal/store"
)

// maxMessageLen is the longest message the server takes, in characters.
const maxMessageLen = 100_000

// behaviour is how an agent replies: kept with the agent in the store.
type behaviour struct {
	script *replies.Script // nil: generated replies
	pace   *pace           // nil: the server's
}

// message is one message of an input, its type first, as the official
// examples write it.
type message struct {
	Type    string `json:"type"`
	Content string `json:"content"`
}

// eventInput is a validated body of POST .../events.
type eventInput struct {
	kind   string // input_message or compact
	text   string // the messages' text, joined by newlines
	parts  []string
	stream bool
	anchor string // compact_up_to_event_id
}

func invalidMessage(reason string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeInvalidMessage, messages: []string{reason},
		fieldErrors: fieldErrors{"messages": reason}}
}

// readEventInput reads the body of an input: JSON, or a multipart form with
// a message field.
func readEventInput(w http.ResponseWriter, r *request) (eventInput, error) {
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		return readMultipartInput(w, r, params["boundary"])
	}
	fields, err := readFields(w, r, maxEventBody)
	if err != nil {
		return eventInput{}, err
	}
	var in eventInput
	bad := fieldErrors{}
	if err := decodeField(fields["type"], &in.kind, false); err != nil || in.kind != kindInput && in.kind != "compact" {
		return in, invalidRequest(fieldErrors{"type": "type must be input_message or compact"})
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		raw := fields[name]
		var err error
		switch {
		case name == "type":
		case name == "stream_response":
			err = decodeField(raw, &in.stream, false)
		case name == "messages" && in.kind == kindInput:
			var messages []struct {
				Type    string `json:"type"`
				Content string `json:"content"`
			}
			if err = decodeField(raw, &messages, false); err != nil {
				break
			}
			for i, m := range messages {
				if m.Type != "text" {
					return in, invalidMessage(fmt.Sprintf("messages[%d].type must be text", i))
				}
				in.parts = append(in.parts, m.Content)
			}
		case name == "compact_up_to_event_id" && in.kind == "compact":
			if err = decodeField(raw, &in.anchor, false); err == nil && !validKey(in.anchor) {
				err = errors.New("compact_up_to_event_id must be an event id")
			}
		case name == "compaction_message" && in.kind == "compact", name == "since", name == "behavior":
			// Taken and not modelled.
		default:
			err = errors.New("unknown field")
		}
		if err != nil {
			bad[name] = err.Error()
		}
	}
	if len(bad) > 0 {
		return in, invalidRequest(bad)
	}
	if in.kind == kindInput {
		return in, in.checkMessages()
	}
	return in, nil
}

func (in *eventInput) checkMessages() error {
	if len(in.parts) == 0 {
		return invalidMessage("messages must hold at least one message")
	}
	for i, p := range in.parts {
		switch n := utf8.RuneCountInString(p); {
		case strings.TrimSpace(p) == "":
			return invalidMessage(fmt.Sprintf("messages[%d].content is empty", i))
		case n > maxMessageLen:
			return invalidMessage(fmt.Sprintf("messages[%d].content has %d characters; at most %d", i, n, maxMessageLen))
		}
	}
	in.text = strings.Join(in.parts, "\n")
	return nil
}

// readMultipartInput reads an input sent as a form: message, and
// stream_response. Files are not modelled.
func readMultipartInput(w http.ResponseWriter, r *request, boundary string) (eventInput, error) {
	body, err := readBody(w, r, maxEventBody)
	if err != nil {
		return eventInput{}, err
	}
	in := eventInput{kind: kindInput}
	mr := multipart.NewReader(strings.NewReader(string(body)), boundary)
	bad := fieldErrors{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return in, invalidRequest(fieldErrors{"body": "the multipart body does not read: " + err.Error()})
		}
		v, _ := io.ReadAll(p)
		switch name := p.FormName(); {
		case p.FileName() != "" || name == "files":
			bad[name] = "files are not modelled: send the message as text"
		case name == "message":
			in.parts = append(in.parts, string(v))
		case name == "stream_response":
			if in.stream, err = strconv.ParseBool(string(v)); err != nil {
				bad[name] = "stream_response must be true or false"
			}
		default:
			bad[name] = "unknown field"
		}
	}
	if len(bad) > 0 {
		return in, invalidRequest(bad)
	}
	for _, p := range in.parts {
		if !utf8.ValidString(p) {
			return in, invalidRequest(fieldErrors{"message": "message is not valid UTF-8"})
		}
	}
	return in, in.checkMessages()
}

func (s *Server) createEvent(w http.ResponseWriter, r *request) error {
	a, sess, err := s.eventRoute(r, nil)
	if err != nil {
		return err
	}
	in, err := readEventInput(w, r)
	if err != nil {
		return err
	}
	if _, err := inputSession(a, sess.ID); err != nil {
		return err
	}
	r.snap.Touch(a, sess, s.clock.now()) // every input is activity
	if in.kind == "compact" {
		return s.compact(w, a, sess, in.anchor)
	}
	var events []*store.Event
	var turn replies.Turn
	err = s.write(a.Key, func(tx *store.Tx, a *store.Agent) error {
		sess, err := inputSession(a, sess.ID)
		if err != nil {
			return err
		}
		turn = s.turnOf(a, sess, in.text)
		events = turnEvents(tx, sess.ID, in.parts, turn)
		return tx.PutEvents(a.Key, sess.ID, events...)
	})
	if err != nil {
		return err
	}
	if !in.stream {
		writeAgentResponse(w, sess.ID, events)
		return nil
	}
	s.stream(w, r, events, turn, s.paceOf(a))
	return nil
}

// inputSession is the session of id in a, if it takes input: a 404 when it
// is gone, a 409 when it is disabled. An input checks it on the request's
// data, to fail before it touches the session, and again in its write, which
// a concurrent patch or delete may have overtaken.
func inputSession(a *store.Agent, id string) (*store.Session, error) {
	sess := a.Session(id)
	switch {
	case sess == nil:
		return nil, sessionNotFound(a.Key, id)
	case !sess.Enabled:
		return nil, &apiError{status: http.StatusConflict, code: codeSessionDisabled,
			messages: []string{fmt.Sprintf("session %q is disabled and takes no input", id)}, id: id}
	}
	return sess, nil
}

// turnOf is the agent's reply to text in sess.
func (s *Server) turnOf(a *store.Agent, sess *store.Session, text string) replies.Turn {
	b, _ := a.Behaviour.(*behaviour)
	ws := wireOfStored(sess)
	in := replies.Input{
		Input:   text,
		Turn:    a.Inputs(sess.ID) + 1,
		Session: replies.Session{Key: sess.ID, Name: sess.Name, Metadata: ws.Metadata},
		Agent:   replies.Agent{Key: a.Key, Name: a.Name},
	}
	if b == nil || b.script == nil {
		return replies.Generate(in)
	}
	if b.script.UsesHistory() { // a scan of the session, only for templates that ask
		a.EachEvent(sess.ID, func(e *store.Event) bool {
			if e.Input {
				in.History = append(in.History, textOf(e))
			}
			return true
		})
	}
	return b.script.Turn(in)
}

// turnEvents makes the events of a turn: the input, then the reply's
// thinking, tool calls and output, in order.
func turnEvents(tx *store.Tx, session string, parts []string, turn replies.Turn) []*store.Event {
	now := tx.Now().UTC().Format(time.RFC3339)
	var events []*store.Event
	add := func(seq uint64, kind string, fields map[string]json.RawMessage) {
		d := eventDoc{id: eventID(seq), kind: kind, session: session, createdAt: now, fields: fields}
		events = append(events, d.stored(store.OrderOf(seq)))
	}
	messages := make([]message, len(parts))
	for i, p := range parts {
		messages[i] = message{"text", p}
	}
	add(tx.NextEvent(), kindInput, map[string]json.RawMessage{"messages": rawJSON(messages)})
	if turn.Thinking != "" {
		add(tx.NextEvent(), kindThinking, map[string]json.RawMessage{"content": rawJSON(turn.Thinking)})
	}
	for _, t := range turn.Tools {
		seq := tx.NextEvent()
		call := "call_" + strconv.FormatUint(seq, 10)
		common := func() map[string]json.RawMessage {
			return map[string]json.RawMessage{"tool_call_id": rawJSON(call), "tool_configuration_name": rawJSON(t.Configuration),
				"tool_name": rawJSON(t.Name)}
		}
		input := common()
		input["tool_input"] = rawJSON(orEmpty(t.Input))
		add(seq, kindToolInput, input)
		output := common()
		output["tool_output"] = rawJSON(orEmpty(t.Output))
		output["error"] = rawJSON(t.Error)
		add(tx.NextEvent(), kindToolOutput, output)
	}
	add(tx.NextEvent(), kindOutput, map[string]json.RawMessage{"content": rawJSON(turn.Reply)})
	return events
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
