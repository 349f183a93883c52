package store

import (
	"sync"
	"time"
)

// activity records when sessions with a tti were last read, since the data
// was loaded or restored. Creates and patches store new sessions, which carry
// their own time.
//
// It also keeps, for each agent, a time before which none of the agent's
// sessions can expire, so that a request to an agent of many sessions with a
// tti does not look at each of them: a look costs one scan when that time
// has passed, and nothing before. A bound belongs to one version of the
// agent, since a write may add a session that expires sooner; a write that
// knows what it put carries the bound on to the agent it makes.
type activity struct {
	epoch time.Time // when the data was loaded or restored: loaded sessions' first activity

	mu     sync.Mutex
	read   map[*Session]time.Time
	bounds map[string]bound // by agent key
}

// bound is a time before which none of agent's sessions expires.
type bound struct {
	agent *Agent
	at    time.Time
}

func newActivity(now time.Time) *activity {
	return &activity{epoch: now, read: map[*Session]time.Time{}, bounds: map[string]bound{}}
}

// touch records a read of s, a session of a, at now.
func (ac *activity) touch(a *Agent, s *Session, now time.Time) {
	if s.TTIMinutes == 0 {
		return
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	ac.read[s] = now
	// A read with the clock set back brings the session's end forward.
	ac.lower(a.Key, now.Add(s.TTI()))
}

// lower brings the bound of the agent of key forward to at, if it is later.
// The caller holds ac.mu.
func (ac *activity) lower(key string, at time.Time) {
	if b, ok := ac.bounds[key]; ok && at.Before(b.at) {
		b.at = at
		ac.bounds[key] = b
	}
}

// deadline is when s expires unless it sees activity first. Its last
// activity is its last read if any, else its create or patch, else, for
// loaded data, the load. The latest event wins even when a test has set the
// clock back in between. The caller holds ac.mu.
func (ac *activity) deadline(s *Session) time.Time {
	last, read := ac.read[s]
	switch {
	case read:
	case s.ActiveAt != 0:
		last = time.Unix(0, s.ActiveAt)
	default:
		last = ac.epoch
	}
	return last.Add(s.TTI())
}

// expiredIn returns the sessions of a that have expired at now.
func (ac *activity) expiredIn(a *Agent, now time.Time) []*Session {
	var out []*Session
	ac.each(a, now, func(s *Session) bool {
		out = append(out, s)
		return true
	})
	return out
}

// anyExpired reports whether a has a session that has expired at now.
func (ac *activity) anyExpired(a *Agent, now time.Time) bool {
	found := false
	ac.each(a, now, func(*Session) bool {
		found = true
		return false
	})
	return found
}

// each calls f for the expired sessions of a until f returns false. Before
// a's bound it looks at none of them; a scan that finds none sets the bound,
// unless a newer version of the agent has one.
func (ac *activity) each(a *Agent, now time.Time, f func(*Session) bool) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	b, ok := ac.bounds[a.Key]
	if ok && b.agent == a && now.Before(b.at) {
		return
	}
	var soonest time.Time
	expired := false
	a.expiring.each(func(s *Session) bool {
		end := ac.deadline(s)
		if !now.Before(end) {
			expired = true
			return f(s)
		}
		if soonest.IsZero() || end.Before(soonest) {
			soonest = end
		}
		return true
	})
	// A reader of an older snapshot leaves a newer version's bound alone.
	if !expired && !soonest.IsZero() && (!ok || b.agent.version <= a.version) {
		ac.bounds[a.Key] = bound{a, soonest}
	}
}

// settle records a published write: gone sessions are forgotten, and the
// bound of an agent that changed by puts and deletes of sessions goes on to
// its new version, brought forward to the end of any session put. Agents
// replaced whole, or deleted, lose theirs.
func (ac *activity) settle(tx *Tx, before *Snapshot) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	for _, s := range tx.gone {
		delete(ac.read, s)
	}
	for key, a := range tx.changed {
		b, ok := ac.bounds[key]
		switch {
		case !ok:
		case a == nil || tx.replaced[key] || b.agent != before.Agent(key):
			delete(ac.bounds, key)
		default:
			b.agent = a
			ac.bounds[key] = b
		}
	}
	for _, p := range tx.put {
		ac.lower(p.agent, ac.deadline(p.session))
	}
}
