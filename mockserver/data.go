package mockserver

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentmock/agentmock/fixtures"
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
		agents = append(agents, store.NewAgent(doc.info(set(fa.AllowedKeys), defaultIdentity), sessions))
	}
	slices.SortFunc(agents, func(a, b *store.Agent) int { return strings.Compare(a.Key, b.Key) })
	l := &loaded{data: store.NewData(agents, 0), apiKeys: set(d.APIKeys), limiter: newLimiter(rl), oauthClients: d.OAuthClients}
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
