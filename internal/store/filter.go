package store

import (
	"regexp"
	"sync"
)

// filterCacheSize bounds the match lists kept: enough for a few clients
// walking with different filters at once.
const filterCacheSize = 16

// filterCache keeps the match lists of recent filtered walks, so that a walk
// scans its index once, for its first page, and each later page costs
// O(log n + limit). A list belongs to one version of one index: a write makes
// new indexes, so a list never goes stale, it just stops being asked for.
type filterCache struct {
	mu      sync.Mutex
	entries []cached // most recently used last
}

type cacheKey struct {
	on, off any // the *btrees the list was made from; nil when not read
	enabled Enabled
	filter  string
}

type cached struct {
	key     cacheKey
	matches any // []T
}

// filtered returns a page of the items of s that q's filter takes.
func filtered[T item[T]](c *filterCache, s set[T], q Query) Page[T] {
	key := cacheKey{enabled: q.Enabled, filter: q.Filter.String()}
	if q.Enabled != OnlyDisabled {
		key.on = s.on.t
	}
	if q.Enabled != OnlyEnabled {
		key.off = s.off.t
	}
	matches, ok := c.get(key).([]T)
	if !ok {
		matches = s.matching(q.Enabled, q.Filter)
		c.put(key, matches)
	}
	return pageOf(matches, q)
}

func (c *filterCache) get(key cacheKey) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.key == key {
			copy(c.entries[i:], c.entries[i+1:])
			c.entries[len(c.entries)-1] = e
			return e.matches
		}
	}
	return nil
}

func (c *filterCache) put(key cacheKey, matches any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == filterCacheSize {
		c.entries = append(c.entries[:0], c.entries[1:]...)
	}
	c.entries = append(c.entries, cached{key, matches})
}

// list returns one page of s, with or without a filter.
func list[T item[T]](c *filterCache, s set[T], q Query, buf []T) Page[T] {
	if q.Filter == nil {
		return s.page(q, buf)
	}
	return filtered(c, s, q)
}

// matchText reports whether re matches name or description.
func matchText(re *regexp.Regexp, name, description string) bool {
	return re.MatchString(name) || re.MatchString(description)
}
