package store

import (
	"regexp"
	"sort"

	"github.com/tidwall/btree"
)

// item is what a set holds: sessions, agents or events, ordered by key.
type item[T any] interface {
	comparable
	key() string
	enabled() bool
	// matches reports whether a list filter takes it.
	matches(*regexp.Regexp) bool
	// withKey returns an item with nothing but key, to seek with. It is
	// called on the zero T.
	withKey(key string) T
}

func less[T item[T]](a, b T) bool { return a.key() < b.key() }

// tree is a persistent ordered index: a published tree is never changed
// again, and a change to a copy costs O(log n). It holds the items
// themselves, one word each, and compares their keys.
type tree[T item[T]] struct{ t *btree.BTreeG[T] }

func newTree[T item[T]]() tree[T] {
	return tree[T]{btree.NewBTreeGOptions(less[T], btree.Options{NoLocks: true})}
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
	var zero T
	return t.t.Get(zero.withKey(key))
}

// set adds v, or replaces the item of its key. Load appends to the last
// leaf when v sorts last, as new sessions and events mostly do, which keeps
// the leaves full; otherwise it is Set.
// It returns the item it replaced, if any: one walk down the tree for both.
func (t tree[T]) set(v T) (prev T, replaced bool) { return t.t.Load(v) }

func (t tree[T]) delete(key string) {
	var zero T
	t.t.Delete(zero.withKey(key))
}

// after calls f for the items with a key greater than after, in order,
// until f returns false.
func (t tree[T]) after(after string, f func(T) bool) {
	var zero T
	t.t.Ascend(zero.withKey(after), func(v T) bool {
		return v.key() == after || f(v)
	})
}

// each calls f for every item, in order, until f returns false.
func (t tree[T]) each(f func(T) bool) { t.t.Scan(f) }

// set is the items of one kind with an index per enabled state, so that a
// page costs O(log n + limit) whatever the enabled filter.
type set[T item[T]] struct {
	all, on, off tree[T]
}

func newSet[T item[T]]() set[T] {
	return set[T]{newTree[T](), newTree[T](), newTree[T]()}
}

// load builds a set from items sorted by key, faster than one put each.
func load[T item[T]](items []T) set[T] {
	s := newSet[T]()
	for _, v := range items {
		s.all.set(v)
		if v.enabled() {
			s.on.set(v)
		} else {
			s.off.set(v)
		}
	}
	return s
}

func (s set[T]) copy() set[T] {
	return set[T]{s.all.copy(), s.on.copy(), s.off.copy()}
}

// put adds v, or replaces the item of its key. s must be a copy.
func (s set[T]) put(v T) (old T, replaced bool) {
	old, replaced = s.all.set(v)
	if replaced && old.enabled() != v.enabled() {
		s.index(enabledOf(old)).delete(v.key())
	}
	s.index(enabledOf(v)).set(v)
	return old, replaced
}

func enabledOf[T item[T]](v T) Enabled {
	if v.enabled() {
		return OnlyEnabled
	}
	return OnlyDisabled
}

// add adds v, whose key s does not hold. s must be a copy.
func (s set[T]) add(v T) {
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
func (s set[T]) page(q Query, buf []T) Page[T] {
	idx := s.index(q.Enabled)
	if cap(buf) < q.Limit {
		buf = make([]T, 0, q.Limit)
	}
	p := Page[T]{Items: buf[:0], Total: idx.len()}
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
func (s set[T]) matching(e Enabled, re *regexp.Regexp) []T {
	var out []T
	s.index(e).each(func(v T) bool {
		if v.matches(re) {
			out = append(out, v)
		}
		return true
	})
	return out
}

// pageOf returns one page of a match list, in O(log n + limit).
func pageOf[T item[T]](matches []T, q Query) Page[T] {
	start := sort.Search(len(matches), func(i int) bool { return matches[i].key() > q.After })
	end := min(start+q.Limit, len(matches))
	return Page[T]{Items: matches[start:end:end], More: end < len(matches), Total: len(matches)}
}
