package mockserver

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/agentmock/agentmock/fixtures"
)

// session is a stored session: the fields lists filter on, its expiry, and
// its wire JSON encoded once, so that a page is written by concatenation.
// A session is never modified: a change makes a new one.
//
// It is laid out to be small, as a server may hold millions: the strings are
// parts of the JSON where they can be.
type session struct {
	json        string // the wire object, without a newline
	id          string
	name        string
	description string
	activeAt    int64 // unix nanoseconds of its last create or patch; 0 for loaded data
	ttiMinutes  int32 // 0: never expires
	enabled     bool
}

func (s *session) tti() time.Duration { return time.Duration(s.ttiMinutes) * time.Minute }

// agent is one agent's sessions, sorted by id, with an index per enabled
// state, so that a page costs O(log n + limit) whatever the enabled filter.
// An agent is never modified once built: a write makes a changed copy, so
// readers need no lock.
type agent struct {
	key      string
	allowed  map[string]bool // nil: every accepted key
	all      []*session
	enabled  []*session
	disabled []*session
	expiring []*session // those with a tti, in id order
}

// dataset is everything a server serves at one moment. A write builds a new
// dataset and swaps it in whole, so a request sees one dataset from start to
// end. Copies made by writes share the limiter and the activity record.
type dataset struct {
	agents   map[string]*agent
	apiKeys  map[string]bool // nil: any non-empty key
	limiter  *limiter        // nil: no rate limit
	activity *activity
}

func newDataset(d *fixtures.Data, rl fixtures.RateLimit, now time.Time) (*dataset, error) {
	ds := &dataset{
		agents:   make(map[string]*agent, len(d.Agents)),
		apiKeys:  set(d.APIKeys),
		limiter:  newLimiter(rl),
		activity: newActivity(now),
	}
	for _, fa := range d.Agents {
		if !validAgentKey(fa.Key) {
			return nil, fmt.Errorf("agent key %q does not match ^agt_[0-9a-zA-Z_-]+$ with at most 50 characters", fa.Key)
		}
		for _, fs := range fa.Sessions {
			if fs.TTIMinutes < 0 || fs.TTIMinutes > fixtures.MaxTTIMinutes {
				return nil, fmt.Errorf("session %q: tti_minutes %d is not from 0 to %d", fs.ID, fs.TTIMinutes, fixtures.MaxTTIMinutes)
			}
		}
		if ds.agents[fa.Key] != nil {
			return nil, fmt.Errorf("agent %q is given twice", fa.Key)
		}
		all, err := encodeAll(fa.Sessions)
		if err != nil {
			return nil, fmt.Errorf("agent %q: %w", fa.Key, err)
		}
		a := &agent{key: fa.Key, allowed: set(fa.AllowedKeys), all: all}
		a.index()
		ds.agents[a.key] = a
	}
	return ds, nil
}

// encodeAll encodes sessions in parallel parts, and returns them sorted by
// id. Fixtures come sorted; data built by hand is sorted here.
func encodeAll(sessions []fixtures.Session) ([]*session, error) {
	const part = 1 << 16
	all := make([]*session, len(sessions))
	errs := make([]error, (len(sessions)+part-1)/part)
	var wg sync.WaitGroup
	limit := make(chan struct{}, runtime.GOMAXPROCS(0))
	for p := range errs {
		wg.Go(func() {
			limit <- struct{}{}
			defer func() { <-limit }()
			from, to := p*part, min((p+1)*part, len(sessions))
			block := make([]session, to-from) // one allocation for the part
			var sl slab
			for i := from; i < to; i++ {
				w := wireOf(&sessions[i])
				if !validSessionKey(w.ID) {
					errs[p] = fmt.Errorf("session id %q does not match ^[0-9a-zA-Z_-]+$ with at most 50 characters", w.ID)
					return
				}
				if errs[p] = sl.add(&block[i-from], &w, time.Time{}); errs[p] != nil {
					return
				}
				all[i] = &block[i-from]
			}
			sl.flush()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !slices.IsSortedFunc(all, compareSessions) {
		slices.SortFunc(all, compareSessions)
	}
	for i := 1; i < len(all); i++ {
		if all[i].id == all[i-1].id {
			return nil, fmt.Errorf("session %q is given twice", all[i].id)
		}
	}
	return all, nil
}

func compareSessions(a, b *session) int { return strings.Compare(a.id, b.id) }

// withAgent returns a copy of ds in which a replaces the agent of its key.
func (ds *dataset) withAgent(a *agent) *dataset {
	c := *ds
	c.agents = maps.Clone(ds.agents)
	c.agents[a.key] = a
	return &c
}

func set(keys []string) map[string]bool {
	if len(keys) == 0 {
		return nil
	}
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// index builds the other indexes from all.
func (a *agent) index() {
	a.enabled, a.disabled, a.expiring = nil, nil, nil
	for _, s := range a.all {
		if s.enabled {
			a.enabled = append(a.enabled, s)
		} else {
			a.disabled = append(a.disabled, s)
		}
		if s.ttiMinutes > 0 {
			a.expiring = append(a.expiring, s)
		}
	}
}

// find returns the session with id, or nil.
func (a *agent) find(id string) *session {
	i, ok := slices.BinarySearchFunc(a.all, id, bySessionID)
	if !ok {
		return nil
	}
	return a.all[i]
}

func bySessionID(s *session, id string) int { return strings.Compare(s.id, id) }

// with returns a copy of a holding s, in place of the session with its id if
// there is one. It costs one copy of each index it touches.
func (a *agent) with(s *session) *agent {
	c := a.without(s.id)
	c.all = inserted(c.all, s)
	if s.enabled {
		c.enabled = inserted(c.enabled, s)
	} else {
		c.disabled = inserted(c.disabled, s)
	}
	if s.ttiMinutes > 0 {
		c.expiring = inserted(c.expiring, s)
	}
	return c
}

// without returns a copy of a without the sessions with the given ids.
func (a *agent) without(ids ...string) *agent {
	c := *a
	for _, id := range ids {
		c.all = removed(c.all, id)
		c.enabled = removed(c.enabled, id)
		c.disabled = removed(c.disabled, id)
		c.expiring = removed(c.expiring, id)
	}
	return &c
}

// inserted returns a new sorted slice: idx with s inserted.
func inserted(idx []*session, s *session) []*session {
	i, _ := slices.BinarySearchFunc(idx, s.id, bySessionID)
	out := make([]*session, 0, len(idx)+1)
	out = append(out, idx[:i]...)
	out = append(out, s)
	return append(out, idx[i:]...)
}

// removed returns idx without the session with id: idx itself when it has
// none, else a new slice, so that older datasets keep theirs.
func removed(idx []*session, id string) []*session {
	i, ok := slices.BinarySearchFunc(idx, id, bySessionID)
	if !ok {
		return idx
	}
	out := make([]*session, 0, len(idx)-1)
	out = append(out, idx[:i]...)
	return append(out, idx[i+1:]...)
}

// activity records when sessions with a tti were last read, since the data
// was loaded or reset. Creates and patches make new sessions, which carry
// their own time.
type activity struct {
	epoch time.Time // when the data was loaded or reset: loaded sessions' first activity

	mu   sync.Mutex
	read map[*session]time.Time
}

func newActivity(now time.Time) *activity {
	return &activity{epoch: now, read: map[*session]time.Time{}}
}

func (ac *activity) touch(s *session, now time.Time) {
	if s.ttiMinutes == 0 {
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
func (ac *activity) expired(s *session, now time.Time) bool {
	if s.ttiMinutes == 0 {
		return false
	}
	last, read := ac.read[s]
	switch {
	case read:
	case s.activeAt != 0:
		last = time.Unix(0, s.activeAt)
	default:
		last = ac.epoch
	}
	return !now.Before(last.Add(s.tti()))
}

// forget drops what is known of sessions that are gone.
func (ac *activity) forget(gone ...*session) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	for _, s := range gone {
		delete(ac.read, s)
	}
}

// expiredIn returns the sessions of a that have expired at now.
func (ds *dataset) expiredIn(a *agent, now time.Time) []*session {
	var out []*session
	ds.activity.mu.Lock()
	defer ds.activity.mu.Unlock()
	for _, s := range a.expiring {
		if ds.activity.expired(s, now) {
			out = append(out, s)
		}
	}
	return out
}

// enabledFilter selects sessions by their enabled flag.
type enabledFilter uint8

const (
	anyEnabled enabledFilter = iota
	onlyEnabled
	onlyDisabled
)

// listQuery is a validated list request.
type listQuery struct {
	limit   int
	after   string // the page_key's session id; "" for the first page
	enabled enabledFilter
	filter  *regexp.Regexp // nil: no filter
}

// page is one page of a list.
type page struct {
	sessions []*session
	more     bool // a matching session exists after the last one here
	total    int  // matching sessions over all pages
}

// list returns one page. Without a filter it costs O(log n + limit); a filter
// has to look at every session to count them.
func (a *agent) list(q listQuery) page {
	idx := a.all
	switch q.enabled {
	case onlyEnabled:
		idx = a.enabled
	case onlyDisabled:
		idx = a.disabled
	}
	start := 0
	if q.after != "" {
		start = sort.Search(len(idx), func(i int) bool { return idx[i].id > q.after })
	}
	if q.filter == nil {
		end := min(start+q.limit, len(idx))
		return page{sessions: idx[start:end], more: end < len(idx), total: len(idx)}
	}
	var p page
	for i, s := range idx {
		if !q.filter.MatchString(s.name) && !q.filter.MatchString(s.description) {
			continue
		}
		p.total++
		if i < start {
			continue
		}
		if len(p.sessions) < q.limit {
			p.sessions = append(p.sessions, s)
		} else {
			p.more = true
		}
	}
	return p
}
