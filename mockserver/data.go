package mockserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/internal/replies"
	"github.com/agentmock/agentmock/internal/store"
)

// loaded is what one load of fixtures gives: the data, and the settings
// that came with it.
type loaded struct {
	data      *store.Data
	apiKeys   map[string]bool // nil: any non-empty key
	limiter   *limiter        // nil: no rate limit
	clientKey string          // the first of the fixtures' api_keys
	// oauthClients may log in; nil: any non-empty client id and secret.
	oauthClients []fixtures.OAuthClient
}

// load checks and encodes d. rl is the rate limit in force.
func load(d *fixtures.Data, rl fixtures.RateLimit) (*loaded, error) {
	agents := make([]*store.Agent, 0, len(d.Agents))
	seen := make(map[string]bool, len(d.Agents))
	ev := eventLoader{ids: map[string]bool{}}
	for _, fa := range d.Agents {
		if !validKey(fa.Key) {
			return nil, fmt.Errorf("agent key %q does not match %s", fa.Key, keyRule)
		}
		if seen[fa.Key] {
			return nil, fmt.Errorf("agent %q is given twice", fa.Key)
		}
		seen[fa.Key] = true
		for _, fs := range fa.Sessions {
			if fs.TTIMinutes < 0 || fs.TTIMinutes > fixtures.MaxTTIMinutes {
				return nil, fmt.Errorf("session %q: tti_minutes %d is not from 0 to %d", fs.ID, fs.TTIMinutes, fixtures.MaxTTIMinutes)
			}
		}
		sessions, err := encodeAll(fa.Sessions)
		if err != nil {
			return nil, fmt.Errorf("agent %q: %w", fa.Key, err)
		}
		doc, err := newAgentDoc(&fa)
		if err != nil {
			return nil, err
		}
		info := doc.info(set(fa.AllowedKeys), defaultIdentity)
		if info.Behaviour, err = behaviourOf(&fa); err != nil {
			return nil, fmt.Errorf("agent %q: %w", fa.Key, err)
		}
		a := store.NewAgent(info, sessions)
		for _, fs := range fa.Sessions {
			if len(fs.Events) == 0 {
				continue
			}
			events, err := ev.encode(&fs)
			if err != nil {
				return nil, fmt.Errorf("agent %q: session %q: %w", fa.Key, fs.ID, err)
			}
			a.LoadEvents(fs.ID, events)
		}
		agents = append(agents, a)
	}
	slices.SortFunc(agents, func(a, b *store.Agent) int { return strings.Compare(a.Key, b.Key) })
	l := &loaded{data: store.NewData(agents, ev.seq), apiKeys: set(d.APIKeys), limiter: newLimiter(rl), oauthClients: d.OAuthClients}
	if len(d.APIKeys) > 0 {
		l.clientKey = d.APIKeys[0]
	}
	return l, nil
}

// encodeAll encodes sessions in parallel parts, and returns them sorted by
// id. Fixtures come sorted; data built by hand is sorted here.
func encodeAll(sessions []fixtures.Session) ([]*store.Session, error) {
	const part = 1 << 16
	all := make([]*store.Session, len(sessions))
	errs := make([]error, (len(sessions)+part-1)/part)
	var wg sync.WaitGroup
	limit := make(chan struct{}, runtime.GOMAXPROCS(0))
	for p := range errs {
		wg.Go(func() {
			limit <- struct{}{}
			defer func() { <-limit }()
			from, to := p*part, min((p+1)*part, len(sessions))
			block := make([]store.Session, to-from) // one allocation for the part
			var sl slab
			for i := from; i < to; i++ {
				w := wireOf(&sessions[i])
				if !validKey(w.ID) {
					errs[p] = fmt.Errorf("session id %q does not match %s", w.ID, keyRule)
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
	bySessionID := func(a, b *store.Session) int { return strings.Compare(a.ID, b.ID) }
	if !slices.IsSortedFunc(all, bySessionID) {
		slices.SortFunc(all, bySessionID)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID == all[i-1].ID {
			return nil, fmt.Errorf("session %q is given twice", all[i].ID)
		}
	}
	return all, nil
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

// behaviourOf is how a fixture's agent replies.
func behaviourOf(fa *fixtures.Agent) (*behaviour, error) {
	b := &behaviour{}
	if len(fa.Replies) > 0 {
		rules := make([]replies.Rule, len(fa.Replies))
		for i, r := range fa.Replies {
			rules[i] = replies.Rule{Match: r.Match, Thinking: r.Thinking, Reply: r.Reply}
			for _, t := range r.Tools {
				rules[i].Tools = append(rules[i].Tools, replies.Tool(t))
			}
		}
		var err error
		if b.script, err = replies.Compile(rules); err != nil {
			return nil, err
		}
	}
	if p := fa.Stream; p != nil {
		b.pace = &pace{first: p.FirstToken, perSecond: p.TokensPerSecond}
	}
	return b, nil
}

// eventLoader encodes the events of fixtures, numbering them across the
// whole data in order, as the server numbers those it makes.
type eventLoader struct {
	seq uint64
	ids map[string]bool
}

func (l *eventLoader) encode(fs *fixtures.Session) ([]*store.Event, error) {
	events := make([]*store.Event, 0, len(fs.Events))
	for i, fe := range fs.Events {
		l.seq++
		d := eventDoc{id: fe.ID, kind: fe.Type, session: fs.ID, hidden: fe.Hidden, fields: map[string]json.RawMessage{}}
		if d.id == "" {
			d.id = eventID(l.seq)
		}
		switch {
		case fe.ID != "" && seqOf(fe.ID) > 0:
			return nil, fmt.Errorf("event %q: ids of the form aev_ and twelve digits are the server's", fe.ID)
		case !validKey(d.id) || l.ids[d.id]:
			return nil, fmt.Errorf("event %q: the id is not a key, or is given twice", d.id)
		}
		l.ids[d.id] = true
		at := fe.CreatedAt
		if at.IsZero() {
			at = fs.CreatedAt.Add(time.Duration(i+1) * time.Second)
		}
		d.createdAt = at.UTC().Format(time.RFC3339)
		for name, v := range fe.Fields {
			if name == "messages" { // in the order the server writes them
				var ms []message
				if b, err := json.Marshal(v); err == nil && json.Unmarshal(b, &ms) == nil {
					v = ms
				}
			}
			raw, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("event %q: %s: %w", d.id, name, err)
			}
			d.fields[name] = raw
		}
		events = append(events, d.stored(store.OrderOf(l.seq)))
	}
	return events, nil
}
