package mockserver

import (
	"encoding/json"
	"regexp"
	"sort"
	"time"

	"github.com/agentmock/agentmock/fixtures"
)

// session is a stored session: the fields lists filter on, and its wire JSON
// encoded once, so that a page is written by concatenation.
type session struct {
	id          string
	name        string
	description string
	enabled     bool
	json        []byte
}

// agent is one agent's sessions, sorted by id, with an index per enabled
// state, so that a page costs O(log n + limit) whatever the enabled filter.
// An agent is never modified once built: readers need no lock.
type agent struct {
	key      string
	allowed  map[string]bool // nil: every accepted key
	all      []*session
	enabled  []*session
	disabled []*session
}

// dataset is everything a server serves at one moment. A reload builds a new
// dataset and swaps it in whole, so a request sees one dataset from start to end.
type dataset struct {
	source  *fixtures.Data
	agents  map[string]*agent
	apiKeys map[string]bool // nil: any non-empty key
	limiter *limiter        // nil: no rate limit
}

func newDataset(d *fixtures.Data, rl fixtures.RateLimit) (*dataset, error) {
	ds := &dataset{source: d, agents: make(map[string]*agent, len(d.Agents)), apiKeys: set(d.APIKeys), limiter: newLimiter(rl)}
	for _, fa := range d.Agents {
		a := &agent{key: fa.Key, allowed: set(fa.AllowedKeys), all: make([]*session, 0, len(fa.Sessions))}
		for i := range fa.Sessions {
			s, err := newSession(&fa.Sessions[i])
			if err != nil {
				return nil, err
			}
			a.all = append(a.all, s)
		}
		sort.Slice(a.all, func(i, j int) bool { return a.all[i].id < a.all[j].id })
		a.index()
		ds.agents[a.key] = a
	}
	return ds, nil
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

// index rebuilds the enabled and disabled indexes from all.
func (a *agent) index() {
	a.enabled, a.disabled = nil, nil
	for _, s := range a.all {
		if s.enabled {
			a.enabled = append(a.enabled, s)
		} else {
			a.disabled = append(a.disabled, s)
		}
	}
}

// wireSession is the session object of the API. `key` repeats `id` because
// the official clients require `key`, and the seed's example shows `id`.
type wireSession struct {
	ID          string         `json:"id"`
	Key         string         `json:"key"`
	AgentKey    string         `json:"agent_key"`
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	Enabled     bool           `json:"enabled"`
	TTIMinutes  int            `json:"tti_minutes,omitempty"`
	CreatedAt   string         `json:"created_at"`
}

func newSession(fs *fixtures.Session) (*session, error) {
	name := fs.Name
	if name == "" {
		name = fs.ID
	}
	b, err := json.Marshal(wireSession{
		ID:          fs.ID,
		Key:         fs.ID,
		AgentKey:    fs.AgentKey,
		Name:        name,
		Description: fs.Description,
		Metadata:    fs.Metadata,
		Enabled:     fs.Enabled,
		TTIMinutes:  fs.TTIMinutes,
		CreatedAt:   fs.CreatedAt.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return nil, err
	}
	return &session{id: fs.ID, name: name, description: fs.Description, enabled: fs.Enabled, json: b}, nil
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
