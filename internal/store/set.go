package store

import (
	"regexp"
	"sort"

	"github.com/tidwall/btree"
)

// item is what a set holds: sessions or agents, ordered by key.
type item interface {
	comparable
	key() string
	enabled() bool
	// matches reports whether a list filter takes it.
	matches(*regexp.Regexp) bool
}

// entry keeps the key beside the item, so that comparing two entries, and
// seeking to a key, touches neither the item nor the heap.
type entry[T item] struct {
	key string
	v   T
}

func lessEntry[T item](a, b entry[T]) bool { return a.key < b.key }

// tree is a persistent ordered index: a published tree is never changed
// again, and a change to a copy costs O(log n).
type tree[T item] struct{ t *btree.BTreeG[entry[T]] }

func newTree[T item]() tree[T] {
	return tree[T]{btree.NewBTreeGOptions(lessEntry[T], btree.Options{NoLocks: true})}
}

// copy returns a tree that can change without changing t. It copies t's
// header first, because btree's own Copy writes to the tree it copies, and t
// may be read, and copied, by other goroutines.
func (t tree[T]) copy() tree[T] {
	h := *t.t
	return tree[T]{h.Copy()}
}

func (t tree[T]) len() int { return t.t.Len() }

func (t tree[T]) get(key string) (T, bool) {
	e, ok := t.t.Get(entry[T]{key: key})
	return e.v, ok
}

func (t tree[T]) set(v T) { t.t.Set(entry[T]{v.key(), v}) }

func (t tree[T]) delete(key string) { t.t.Delete(entry[T]{key: key}) }

// after calls f for the items with a key greater than after, in order,
// until f returns false.
func (t tree[T]) after(after string, f func(T) bool) {
	t.t.Ascend(entry[T]{key: after}, func(e entry[T]) bool {
		return e.key == after || f(e.v)
	})
}

// set is the items of one kind with an index per enabled state, so that a
// page costs O(log n + limit) whatever the enabled filter.
type set[T item] struct {
	all, on, off tree[T]
}

func newSet[T item]() set[T] {
	return set[T]{newTree[T](), newTree[T](), newTree[T]()}
}

// load builds a set from items sorted by key, faster than one put each.
func load[T item](items []T) set[T] {
	s := newSet[T]()
	for _, v := range items {
		e := entry[T]{v.key(), v}
		s.all.t.Load(e)
		if v.enabled() {
			s.on.t.Load(e)
		} else {
			s.off.t.Load(e)
		}
	}
	return s
}

func (s set[T]) copy() set[T] {
	return set[T]{s.all.copy(), s.on.copy(), s.off.copy()}
}

// put adds v, or replaces the item of its key. s must be a copy.
func (s set[T]) put(v T) {
	s.remove(v.key())
	s.all.set(v)
	if v.enabled() {
		s.on.set(v)
	} else {
		s.off.set(v)
	}
}

// remove deletes the item of key, if there is one. s must be a copy.
func (s set[T]) remove(key string) (T, bool) {
	old, ok := s.all.get(key)
	if ok {
		s.all.delete(key)
		if old.enabled() {
			s.on.delete(key)
		} else {
			s.off.delete(key)
		}
	}
	return old, ok
}

// Enabled selects items by their enabled flag.
type Enabled uint8

const (
	AnyEnabled Enabled = iota
	OnlyEnabled
	OnlyDisabled
)

// Query is a validated list request.
type Query struct {
	Limit   int
	After   string // the key the previous page ended with; "" for the first page
	Enabled Enabled
	Filter  *regexp.Regexp // nil: no filter
}

// Page is one page of a list.
type Page[T any] struct {
	Items []T
	More  bool // a matching item exists after the last one here
	Total int  // matching items over all pages
}

func (s set[T]) index(e Enabled) tree[T] {
	switch e {
	case OnlyEnabled:
		return s.on
	case OnlyDisabled:
		return s.off
	}
	return s.all
}

// page returns one page without a filter, in O(log n + limit).
func (s set[T]) page(q Query) Page[T] {
	idx := s.index(q.Enabled)
	p := Page[T]{Items: make([]T, 0, q.Limit), Total: idx.len()}
	idx.after(q.After, func(v T) bool {
		if len(p.Items) == q.Limit {
			p.More = true
			return false
		}
		p.Items = append(p.Items, v)
		return true
	})
	return p
}

// matching returns the items of an index that the filter takes, in order:
// the one scan of a filtered walk, which a filterCache keeps.
func (s set[T]) matching(e Enabled, re *regexp.Regexp) []entry[T] {
	var out []entry[T]
	s.index(e).t.Scan(func(en entry[T]) bool {
		if en.v.matches(re) {
			out = append(out, en)
		}
		return true
	})
	return out
}

// pageOf returns one page of a match list, in O(log n + limit).
func pageOf[T item](matches []entry[T], q Query) Page[T] {
	start := sort.Search(len(matches), func(i int) bool { return matches[i].key > q.After })
	end := min(start+q.Limit, len(matches))
	p := Page[T]{Items: make([]T, 0, end-start), More: end < len(matches), Total: len(matches)}
	for _, e := range matches[start:end] {
		p.Items = append(p.Items, e.v)
	}
	return p
}
