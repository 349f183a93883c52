package store

import (
	"encoding/binary"
	"errors"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
)

// Session is a stored session: its wire JSON, encoded once so that a page
// is written by concatenation, and the fields lists look at. A Session is
// never modified once stored: a change stores a new one.
type Session struct {
	JSON        string // the wire object, without a newline
	ID          string
	Name        string
	Description string
	ActiveAt    int64 // unix nanoseconds of its last create or patch; 0 for loaded data
	TTIMinutes  int32 // 0: never expires
	Enabled     bool
	head        keyHead // ID's head, set by the store when it takes the session
}

func (s *Session) key() string             { return s.ID }
func (*Session) withKey(k string) *Session { return &Session{ID: k, head: headOf(k)} }
func (s *Session) before(o *Session) bool {
	if s.head != o.head {
		return s.head.before(o.head)
	}
	return s.ID < o.ID
}
func (s *Session) enabled() bool                  { return s.Enabled }
func (s *Session) matches(re *regexp.Regexp) bool { return matchText(re, s.Name, s.Description) }

// TTI is how long the session lives without activity; 0 is for ever.
func (s *Session) TTI() time.Duration { return time.Duration(s.TTIMinutes) * time.Minute }

// Agent is a stored agent with its sessions. An Agent is never modified
// once stored: a change stores a new one, which shares what did not change.
type Agent struct {
	Key         string
	Name        string
	Description string
	Enabled     bool
	// Allowed lists the API keys that may use the agent; nil: every
	// accepted key.
	Allowed map[string]bool
	// JSON is the agent's wire object, and Identity its identity's; "" when
	// the server keeps none.
	JSON     string
	Identity string
	// Behaviour is what the server keeps with the agent beyond its data,
	// such as how it replies.
	Behaviour any

	sessions set[*Session]
	expiring tree[*Session] // the sessions with a tti
	logs     tree[*log]     // the sessions' events, by session key
	// version orders the agents a store publishes: a write stamps each
	// agent it changes with a higher one. Loaded agents have 0.
	version uint64
}

func (a *Agent) key() string                    { return a.Key }
func (a *Agent) before(o *Agent) bool           { return a.Key < o.Key }
func (*Agent) withKey(k string) *Agent          { return &Agent{Key: k} }
func (a *Agent) enabled() bool                  { return a.Enabled }
func (a *Agent) matches(re *regexp.Regexp) bool { return matchText(re, a.Name, a.Description) }

// NewAgent returns an agent made of a's fields and sessions sorted by ID,
// which must be unique.
func NewAgent(a Agent, sessions []*Session) *Agent {
	for _, s := range sessions {
		s.setHead()
	}
	a.sessions = load(sessions)
	a.expiring = newTree[*Session]()
	a.logs = newTree[*log]()
	for _, s := range sessions {
		if s.TTIMinutes > 0 {
			a.expiring.set(s)
		}
	}
	return &a
}

// With returns an agent with the fields of b and the sessions of a.
func (a *Agent) With(b Agent) *Agent {
	// Copies, so that a write that goes on to change the new agent's
	// sessions does not change a's, which readers may hold.
	b.sessions, b.expiring, b.logs = a.sessions.copy(), a.expiring.copy(), a.logs.copy()
	return &b
}

// Session returns the session with id, or nil.
func (a *Agent) Session(id string) *Session {
	s, _ := a.sessions.get(id)
	return s
}

// SessionCount is the number of sessions, expired or not.
func (a *Agent) SessionCount() int { return a.sessions.len() }

// Snapshot is all the data at one moment. It never changes, so a request
// that holds one reads consistent data without a lock.
type Snapshot struct {
	agents   set[*Agent]
	events   uint64 // the sequence number of the last event made
	activity *activity
	filters  *filterCache
}

// Agent returns the agent of key, or nil.
func (s *Snapshot) Agent(key string) *Agent {
	a, _ := s.agents.get(key)
	return a
}

// AgentCount is the number of agents.
func (s *Snapshot) AgentCount() int { return s.agents.len() }

// Agents returns one page of the agents.
func (s *Snapshot) Agents(q Query) Page[*Agent] {
	return list(s.filters, s.agents, q, nil)
}

// Sessions returns one page of a's sessions, in buf's memory when it has
// room. Without a filter it costs O(log n + limit); a walk with a filter
// scans the agent once, for its first page, while the data does not change.
func (s *Snapshot) Sessions(a *Agent, q Query, buf []*Session) Page[*Session] {
	return list(s.filters, a.sessions, q, buf)
}

// Touch records a read of sess, a session of a, as activity, which keeps it
// from expiring.
func (s *Snapshot) Touch(a *Agent, sess *Session, now time.Time) {
	s.activity.touch(a, sess, now)
}

// Data is a loaded data set, before it is served: a Store can start from it,
// and go back to it, any number of times, and Stores can share it.
type Data struct {
	agents set[*Agent]
	events uint64
}

// NewData returns the data of agents, sorted by key, which must be unique.
// events is the sequence number of the last of their events.
func NewData(agents []*Agent, events uint64) *Data {
	return &Data{agents: load(agents), events: events}
}

// Store holds the data a server serves. Readers take a Snapshot and never
// lock; writes are serialised, and each publishes a new snapshot that shares
// what it did not change, so a write costs O(log n).
type Store struct {
	mu       sync.Mutex // serialises writes
	current  atomic.Pointer[Snapshot]
	filters  filterCache
	versions uint64 // the last agent version stamped; under mu
}

// New returns a store that serves d, with no activity before now.
func New(d *Data, now time.Time) *Store {
	st := &Store{}
	st.Restore(d, now)
	return st
}

// Restore serves d again, as it was loaded, with no activity before now.
func (st *Store) Restore(d *Data, now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.current.Store(&Snapshot{agents: d.agents, events: d.events, activity: newActivity(now), filters: &st.filters})
}

// Snapshot returns the data as it is now.
func (st *Store) Snapshot() *Snapshot { return st.current.Load() }

// Live returns the data as it is at now, and the agent of key in it (nil
// when there is none), with the agent's expired sessions gone. Expiry is
// lazy: it happens when a request looks at the agent.
func (st *Store) Live(key string, now time.Time) (*Snapshot, *Agent) {
	snap := st.current.Load()
	a := snap.Agent(key)
	if a == nil || a.expiring.len() == 0 || !snap.activity.anyExpired(a, now) {
		return snap, a
	}
	snap, _ = st.Write(now, func(tx *Tx) error {
		tx.Agent(key) // which drops the expired sessions
		return nil
	})
	return snap, snap.Agent(key)
}

// Write runs change on a copy of the data and publishes the copy when change
// returns nil; on an error nothing changes. It returns the data as it is
// after the write.
func (st *Store) Write(now time.Time, change func(*Tx) error) (*Snapshot, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	cur := st.current.Load()
	next := *cur
	tx := &Tx{snap: &next, now: now, changed: map[string]*Agent{}, replaced: map[string]bool{}}
	next.agents = cur.agents.copy()
	if err := change(tx); err != nil {
		return cur, err
	}
	for _, a := range tx.changed {
		if a == nil {
			continue
		}
		st.versions++
		a.version = st.versions // a is the write's own, not yet published
		next.agents.put(a)
	}
	next.activity.settle(tx, cur)
	st.current.Store(&next)
	return &next, nil
}

// ErrNoAgent is the error of a write to an agent that does not exist.
var ErrNoAgent = errors.New("no such agent")

// Tx is a write in progress. Its changes are seen by its own reads, and by
// other requests only once the write is published.
type Tx struct {
	snap    *Snapshot
	now     time.Time
	changed map[string]*Agent // agents changed so far; nil: deleted
	// replaced are the agents put whole, rather than changed by puts and
	// deletes of their sessions.
	replaced map[string]bool
	put      []putSession // sessions with a tti put so far
	gone     []*Session   // sessions whose activity is to be forgotten
}

type putSession struct {
	agent   string
	session *Session
}

// Now is the time of the write.
func (tx *Tx) Now() time.Time { return tx.now }

// Agent returns the agent of key as the write sees it, with its expired
// sessions gone, or nil.
func (tx *Tx) Agent(key string) *Agent {
	if a, ok := tx.changed[key]; ok {
		return a
	}
	a := tx.snap.Agent(key)
	if a == nil {
		return nil
	}
	if gone := tx.snap.activity.expiredIn(a, tx.now); len(gone) > 0 {
		a = a.copy()
		for _, s := range gone {
			a.removeSession(s.ID)
			a.logs.delete(s.ID)
		}
		tx.gone = append(tx.gone, gone...)
		tx.changed[key] = a
	}
	return a
}

// mutable returns the agent of key as a copy the write may change.
func (tx *Tx) mutable(key string) (*Agent, error) {
	a := tx.Agent(key)
	if a == nil {
		return nil, ErrNoAgent
	}
	if tx.changed[key] != a {
		a = a.copy()
		tx.changed[key] = a
	}
	return a, nil
}

// PutSession stores s in the agent of key, in place of the session of its ID
// if there is one. The store owns s from then on.
func (tx *Tx) PutSession(key string, s *Session) error {
	a, err := tx.mutable(key)
	if err != nil {
		return err
	}
	s.setHead()
	old, replaced := a.sessions.put(s)
	if replaced {
		tx.gone = append(tx.gone, old)
		if old.TTIMinutes > 0 && s.TTIMinutes == 0 {
			a.expiring.delete(s.ID)
		}
	}
	if s.TTIMinutes > 0 {
		a.expiring.set(s)
		tx.put = append(tx.put, putSession{key, s})
	}
	return nil
}

// DeleteSession removes the session of id from the agent of key and returns
// it, or nil when there is none.
func (tx *Tx) DeleteSession(key, id string) (*Session, error) {
	a, err := tx.mutable(key)
	if err != nil {
		return nil, err
	}
	old := a.removeSession(id)
	if old != nil {
		tx.gone = append(tx.gone, old)
		a.logs.delete(id) // its events go with it
	}
	return old, nil
}

// PutAgent stores a, in place of the agent of its key if there is one. a
// must be new, as NewAgent and With make them: no snapshot may hold it yet.
func (tx *Tx) PutAgent(a *Agent) {
	tx.changed[a.Key] = a
	tx.replaced[a.Key] = true
}

// DeleteAgent removes the agent of key, with its sessions, and returns it, or
// nil when there is none.
func (tx *Tx) DeleteAgent(key string) *Agent {
	a := tx.Agent(key)
	if a == nil {
		return nil
	}
	tx.changed[key] = nil
	tx.snap.agents.remove(key)
	a.expiring.each(func(s *Session) bool {
		tx.gone = append(tx.gone, s)
		return true
	})
	return a
}

// copy returns an agent that can change without changing a.
func (a *Agent) copy() *Agent {
	c := *a
	c.sessions = a.sessions.copy()
	c.expiring = a.expiring.copy()
	c.logs = a.logs.copy()
	return &c
}

// removeSession deletes the session of id from a, which must be a copy, and
// returns it, or nil.
func (a *Agent) removeSession(id string) *Session {
	old, ok := a.sessions.remove(id)
	if !ok {
		return nil
	}
	if old.TTIMinutes > 0 {
		a.expiring.delete(id)
	}
	return old
}

// keyHead is the first 16 bytes of a key, zero padded, as two big-endian
// numbers. A session keeps its id's head, so that a comparison in a tree
// reads the session and not also, in another cache line and often another
// page, its id's bytes: at a million sessions that halves the cache misses
// of a lookup. Keys whose heads differ sort as their heads do; only keys
// whose heads are the same need the whole key compared.
type keyHead [2]uint64

// setHead sets s's head from its ID. It writes only a session that lacks
// it, so that a session the store already holds, and readers compare, may
// be put again.
func (s *Session) setHead() {
	if h := headOf(s.ID); s.head != h {
		s.head = h
	}
}

func headOf(key string) keyHead {
	var b [16]byte
	copy(b[:], key)
	return keyHead{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (h keyHead) before(o keyHead) bool {
	return h[0] < o[0] || h[0] == o[0] && h[1] < o[1]
}
