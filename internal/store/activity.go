package store

import (
	"sync"
	"time"
)

// activity records when sessions with a tti were last read, since the data
// was loaded or restored. Creates and patches store new sessions, which carry
// their own time.
type activity struct {
	epoch time.Time // when the data was loaded or restored: loaded sessions' first activity

	mu   sync.Mutex
	read map[*Session]time.Time
}

func newActivity(now time.Time) *activity {
	return &activity{epoch: now, read: map[*Session]time.Time{}}
}

func (ac *activity) touch(s *Session, now time.Time) {
	if s.TTIMinutes == 0 {
		return
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	ac.read[s] = now
}

// expired reports whether s has been idle for its tti at now. Its last
// activity is its last read if any, else its create or patch, else, for
// loaded data, the load. The latest event wins even when a test has set the
// clock back in between. The caller holds ac.mu.
func (ac *activity) expired(s *Session, now time.Time) bool {
	last, read := ac.read[s]
	switch {
	case read:
	case s.ActiveAt != 0:
		last = time.Unix(0, s.ActiveAt)
	default:
		last = ac.epoch
	}
	return !now.Before(last.Add(s.TTI()))
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

// each calls f for the expired sessions of a until f returns false.
func (ac *activity) each(a *Agent, now time.Time, f func(*Session) bool) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	a.expiring.each(func(s *Session) bool {
		return !ac.expired(s, now) || f(s)
	})
}

// forget drops what is known of sessions that are gone.
func (ac *activity) forget(gone ...*Session) {
	if len(gone) == 0 {
		return
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	for _, s := range gone {
		delete(ac.read, s)
	}
}
