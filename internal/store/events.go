package store

import (
	"regexp"
	"strconv"
	"strings"
)

// Event is a stored event of a session's conversation: its wire JSON and
// what the server looks at. An Event is never modified once stored.
type Event struct {
	JSON string // the wire object, without a newline
	ID   string
	// Order places the event in its session: events list in Order, which
	// OrderOf makes from a sequence number, so that ids need not sort.
	Order  string
	Kind   string // the event type, such as input_message
	Hidden bool
}

func (e *Event) key() string                 { return e.Order }
func (*Event) withKey(k string) *Event       { return &Event{Order: k} }
func (e *Event) enabled() bool               { return !e.Hidden }
func (e *Event) matches(*regexp.Regexp) bool { return true }

// OrderDigits is the length of an Order: decimal digits, zero-padded, so
// that Orders sort as their numbers do.
const OrderDigits = 12

// OrderOf is the Order of the event made n-th.
func OrderOf(n uint64) string {
	d := strconv.FormatUint(n, 10)
	return strings.Repeat("0", max(0, OrderDigits-len(d))) + d
}

// byID indexes a log's events by id.
type byID struct{ e *Event }

func (b byID) key() string                 { return b.e.ID }
func (byID) withKey(k string) byID         { return byID{&Event{ID: k}} }
func (b byID) enabled() bool               { return true }
func (b byID) matches(*regexp.Regexp) bool { return true }

// log is one session's events: in order, with an index of the visible
// ones (enabled, to the set) and one by id.
type log struct {
	session string
	events  set[*Event]
	ids     tree[byID]
	inputs  int // of Kind InputKind
}

// InputKind is the Kind of the events that count as a turn's input.
const InputKind = "input_message"

func (l *log) key() string                 { return l.session }
func (*log) withKey(k string) *log         { return &log{session: k} }
func (l *log) enabled() bool               { return true }
func (l *log) matches(*regexp.Regexp) bool { return true }

func newLog(session string, events []*Event) *log {
	l := &log{session: session, events: load(events), ids: newTree[byID]()}
	for _, e := range events {
		l.ids.set(byID{e})
		l.count(e, 1)
	}
	return l
}

func (l *log) copy() *log {
	return &log{session: l.session, events: l.events.copy(), ids: l.ids.copy(), inputs: l.inputs}
}

func (l *log) count(e *Event, n int) {
	if e.Kind == InputKind {
		l.inputs += n
	}
}

// put adds e, or replaces the event of its id. l must be a copy.
func (l *log) put(e *Event) {
	if old, ok := l.ids.get(e.ID); ok {
		l.events.remove(old.e.Order)
		l.count(old.e, -1)
	}
	l.events.put(e)
	l.ids.set(byID{e})
	l.count(e, 1)
}

// Events returns one page of the events of a's session key, in order:
// the visible ones, or with q.Enabled AnyEnabled also the hidden. q.After is
// the Order of the last event of the previous page. A page costs O(log n +
// limit).
func (s *Snapshot) Events(a *Agent, session string, q Query) Page[*Event] {
	l, ok := a.logs.get(session)
	if !ok {
		return Page[*Event]{Items: []*Event{}}
	}
	return l.events.page(q, nil)
}

// LoadEvents gives the session key of a, a new agent not yet stored, its
// events, in order.
func (a *Agent) LoadEvents(session string, events []*Event) {
	a.logs.set(newLog(session, events))
}

// Event returns the event of id in a's session key, hidden or not, or nil.
func (a *Agent) Event(session, id string) *Event {
	l, ok := a.logs.get(session)
	if !ok {
		return nil
	}
	e, _ := l.ids.get(id)
	return e.e
}

// Inputs is the number of input events, hidden or not, of a's session key.
func (a *Agent) Inputs(session string) int {
	l, ok := a.logs.get(session)
	if !ok {
		return 0
	}
	return l.inputs
}

// EventCount is the number of events, hidden or not, of a's session key.
func (a *Agent) EventCount(session string) int {
	l, ok := a.logs.get(session)
	if !ok {
		return 0
	}
	return l.events.all.len()
}

// EachEvent calls f for the events of a's session key in order, hidden or
// not, until f returns false.
func (a *Agent) EachEvent(session string, f func(*Event) bool) {
	l, ok := a.logs.get(session)
	if !ok {
		return
	}
	l.events.all.each(f)
}

// NextEvent returns the sequence number of the next event the write makes;
// numbers are never reused while the data is served, and start again where
// the loaded data left them on a restore.
func (tx *Tx) NextEvent() uint64 {
	tx.snap.events++
	return tx.snap.events
}

// PutEvents appends events, or replaces those of their ids, in the session
// key of the agent agentKey. The session must exist.
func (tx *Tx) PutEvents(agentKey, session string, events ...*Event) error {
	a, err := tx.mutable(agentKey)
	if err != nil {
		return err
	}
	l, ok := a.logs.get(session)
	if ok {
		l = l.copy()
	} else {
		l = newLog(session, nil)
	}
	for _, e := range events {
		l.put(e)
	}
	a.logs.set(l)
	return nil
}

// DeleteEvent removes the event of id from a session and returns it, or nil
// when there is none.
func (tx *Tx) DeleteEvent(agentKey, session, id string) (*Event, error) {
	a, err := tx.mutable(agentKey)
	if err != nil {
		return nil, err
	}
	l, ok := a.logs.get(session)
	if !ok {
		return nil, nil
	}
	old, ok := l.ids.get(id)
	if !ok {
		return nil, nil
	}
	l = l.copy()
	l.events.remove(old.e.Order)
	l.ids.delete(id)
	l.count(old.e, -1)
	a.logs.set(l)
	return old.e, nil
}
