package store

import (
	"regexp"
	"strconv"
	"strings"
)

// Event is a stored event of a session's conversation: its wire JSON and
// what the server looks at. An Event is never modified once stored.
//
// It is laid out to be small, as a server may hold millions: the caller
// makes ID and Order parts of JSON where it can.
type Event struct {
	JSON string // the wire object, without a newline
	ID   string
	// Order places the event in its session: events list in Order, which
	// OrderOf makes from a sequence number, so that ids need not sort. An
	// event whose ID ends with its Order is found by it; others have an
	// index of their own.
	Order  string
	Input  bool // it counts as a turn's input
	Hidden bool
}

func (e *Event) key() string                 { return e.Order }
func (e *Event) before(o *Event) bool        { return e.Order < o.Order }
func (*Event) withKey(k string) *Event       { return &Event{Order: k} }
func (e *Event) enabled() bool               { return !e.Hidden }
func (e *Event) matches(*regexp.Regexp) bool { return true }

// byOrder reports whether e is found by the Order at the end of its ID.
func (e *Event) byOrder() bool { return strings.HasSuffix(e.ID, e.Order) }

// OrderDigits is the length of an Order: decimal digits, zero-padded, so
// that Orders sort as their numbers do.
const OrderDigits = 12

// OrderOf is the Order of the event made n-th.
func OrderOf(n uint64) string {
	d := strconv.FormatUint(n, 10)
	return strings.Repeat("0", max(0, OrderDigits-len(d))) + d
}

// byID indexes the events whose ID does not end with their Order.
type byID struct{ e *Event }

func (b byID) key() string                 { return b.e.ID }
func (b byID) before(o byID) bool          { return b.e.ID < o.e.ID }
func (byID) withKey(k string) byID         { return byID{&Event{ID: k}} }
func (b byID) enabled() bool               { return true }
func (b byID) matches(*regexp.Regexp) bool { return true }

// log is one session's events in order: a set, whose enabled ones are
// the visible ones.
type log struct {
	session string
	events  set[*Event]
	others  tree[byID] // the events not found by their Order
	inputs  int
}

func (l *log) key() string                 { return l.session }
func (l *log) before(o *log) bool          { return l.session < o.session }
func (*log) withKey(k string) *log         { return &log{session: k} }
func (l *log) enabled() bool               { return true }
func (l *log) matches(*regexp.Regexp) bool { return true }

func newLog(session string, events []*Event) *log {
	l := &log{session: session, events: newSet[*Event](), others: newTree[byID]()}
	for _, e := range events {
		l.add(e)
	}
	return l
}

func (l *log) copy() *log {
	return &log{session: l.session, events: l.events.copy(), others: l.others.copy(), inputs: l.inputs}
}

func (l *log) add(e *Event) {
	l.events.put(e)
	if !e.byOrder() {
		l.others.set(byID{e})
	}
	if e.Input {
		l.inputs++
	}
}

func (l *log) remove(e *Event) {
	l.events.remove(e.Order)
	if !e.byOrder() {
		l.others.delete(e.ID)
	}
	if e.Input {
		l.inputs--
	}
}

// get returns the event of id, or nil.
func (l *log) get(id string) *Event {
	if len(id) > OrderDigits {
		if e, ok := l.events.get(id[len(id)-OrderDigits:]); ok && e.ID == id {
			return e
		}
	}
	b, _ := l.others.get(id)
	return b.e
}

// put adds e, or replaces the event of its id. l must be a copy.
func (l *log) put(e *Event) {
	if old := l.get(e.ID); old != nil {
		l.remove(old)
	}
	l.add(e)
}

// Events returns one page of the events of a's session key, in order: the
// visible ones, or with q.Enabled AnyEnabled also the hidden. q.After is
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
	return l.get(id)
}

// Inputs is the number of input events, hidden or not, of a's session key.
func (a *Agent) Inputs(session string) int {
	l, ok := a.logs.get(session)
	if !ok {
		return 0
	}
	return l.inputs
}

// EachEvent calls f for the events of a's session key in order, hidden or
// not, until f returns false.
func (a *Agent) EachEvent(session string, f func(*Event) bool) {
	if l, ok := a.logs.get(session); ok {
		l.events.after(AnyEnabled, "", f)
	}
}

// VisibleEvents returns the visible events of a's session key, in order.
func (a *Agent) VisibleEvents(session string) []*Event {
	var out []*Event
	if l, ok := a.logs.get(session); ok {
		l.events.after(OnlyEnabled, "", func(e *Event) bool {
			out = append(out, e)
			return true
		})
	}
	return out
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
	old := l.get(id)
	if old == nil {
		return nil, nil
	}
	l = l.copy()
	l.remove(old)
	a.logs.set(l)
	return old, nil
}
