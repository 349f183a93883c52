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
	// before reports whether its key sorts before that of other.
	before(other T) bool
	enabled() bool
	// matches reports whether a list filter takes it.
	matches(*regexp.Regexp) bool
	// withKey returns an item with nothing but key, to seek with. It is
	// called on the zero T.
	withKey(key string) T
}

func less[T item[T]](a, b T) bool { return a.before(b) }

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

// set adds v, or replaces the item of its key. When v sorts last, as new
// sessions and events mostly do, Load appends it to the last leaf, which
// keeps the leaves full. Otherwise it is Set: Load would copy the path to
// the last leaf before it falls back to Set, so a write in the middle of a
// large tree would copy two paths instead of one.
// It returns the item it replaced, if any: one walk down the tree for both.
func (t tree[T]) set(v T) (prev T, replaced bool) {
	if last, ok := t.t.Max(); ok && !less(last, v) {
		return t.t.Set(v)
	}
	return t.t.Load(v)
}

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

// set is the items of one kind in two indexes, the enabled and the
// disabled ones, so that each item costs one entry, a change that keeps an
// item's flag walks one tree, and a page costs O(log n + limit) whatever
// the enabled filter: a page of both merges the two.
type set[T item[T]] struct {
	on, off tree[T]
}

func newSet[T item[T]]() set[T] {
	return set[T]{newTree[T](), newTree[T]()}
}

// load builds a set from items sorted by key, faster than one put each.
func load[T item[T]](items []T) set[T] {
	s := newSet[T]()
	for _, v := range items {
		s.index(enabledOf(v)).t.Load(v)
	}
	return s
}

func (s set[T]) copy() set[T] {
	return set[T]{s.on.copy(), s.off.copy()}
}

func (s set[T]) len() int { return s.on.len() + s.off.len() }

func (s set[T]) get(key string) (T, bool) {
	if v, ok := s.on.get(key); ok {
		return v, true
	}
	return s.off.get(key)
}

// put adds v, or replaces the item of its key. s must be a copy.
func (s set[T]) put(v T) (old T, replaced bool) {
	own, other := s.on, s.off
	if !v.enabled() {
		own, other = other, own
	}
	if old, replaced = own.set(v); replaced {
		return old, true
	}
	if old, replaced = other.get(v.key()); replaced {
		other.delete(v.key())
	}
	return old, replaced
}

func enabledOf[T item[T]](v T) Enabled {
	if v.enabled() {
		return OnlyEnabled
	}
	return OnlyDisabled
}

// remove deletes the item of key, if there is one. s must be a copy.
func (s set[T]) remove(key string) (T, bool) {
	old, ok := s.get(key)
	if ok {
		s.index(enabledOf(old)).delete(key)
	}
	return old, ok
}

// after calls f for the items e selects with a key greater than after, in
// order, until f returns false: for AnyEnabled, the two trees merged.
func (s set[T]) after(e Enabled, after string, f func(T) bool) {
	switch {
	case e == OnlyEnabled || e == AnyEnabled && s.off.len() == 0:
		s.on.after(after, f)
		return
	case e == OnlyDisabled || s.on.len() == 0:
		s.off.after(after, f)
		return
	}
	var zero T
	on, off := s.on.t.Iter(), s.off.t.Iter()
	defer on.Release()
	defer off.Release()
	seek := func(it *btree.IterG[T]) bool {
		ok := it.Seek(zero.withKey(after))
		for ok && it.Item().key() == after {
			ok = it.Next()
		}
		return ok
	}
	onOK, offOK := seek(&on), seek(&off)
	for onOK || offOK {
		var v T
		if offOK && (!onOK || off.Item().key() < on.Item().key()) {
			v, offOK = off.Item(), off.Next()
		} else {
			v, onOK = on.Item(), on.Next()
		}
		if !f(v) {
			return
		}
	}
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

// index is the tree of the items whose flag is e, which must not be
// AnyEnabled.
func (s set[T]) index(e Enabled) tree[T] {
	if e == OnlyDisabled {
		return s.off
	}
	return s.on
}

// count is the number of items e selects.
func (s set[T]) count(e Enabled) int {
	switch e {
	case OnlyEnabled:
		return s.on.len()
	case OnlyDisabled:
		return s.off.len()
	}
	return s.len()
}

// pageRoom is the largest page, as the API allows it, that page merges
// without an allocation.
const pageRoom = 100

// page returns one page without a filter, in O(log n + limit).
func (s set[T]) page(q Query, buf []T) Page[T] {
	if cap(buf) < q.Limit {
		buf = make([]T, 0, q.Limit)
	}
	p := Page[T]{Items: buf[:0], Total: s.count(q.Enabled)}
	take := func(v T) bool {
		if len(p.Items) == q.Limit {
			p.More = true
			return false
		}
		p.Items = append(p.Items, v)
		return true
	}
	if q.Enabled != AnyEnabled || s.on.len() == 0 || s.off.len() == 0 {
		s.after(q.Enabled, q.After, take)
		return p
	}
	// A page of both trees needs no more than its limit and one of each:
	// those are gathered from each tree and merged, which is cheaper than
	// after's two iterators (and spares their allocations).
	var zero T
	pivot := zero.withKey(q.After)
	var onRoom, offRoom [pageRoom + 2]T // and one that may be the pivot's own
	on := s.on.gather(pivot, onRoom[:0], q.Limit+2)
	off := s.off.gather(pivot, offRoom[:0], q.Limit+2)
	for len(p.Items) < q.Limit && len(on)+len(off) > 0 {
		if len(off) > 0 && (len(on) == 0 || off[0].key() < on[0].key()) {
			p.Items, off = append(p.Items, off[0]), off[1:]
		} else {
			p.Items, on = append(p.Items, on[0]), on[1:]
		}
	}
	p.More = len(on)+len(off) > 0
	return p
}

// gather appends up to n items from the key of pivot on, its own included,
// to into.
func (t tree[T]) gather(pivot T, into []T, n int) []T {
	t.t.Ascend(pivot, func(v T) bool {
		into = append(into, v)
		return len(into) < n
	})
	if len(into) > 0 && into[0].key() == pivot.key() {
		into = into[1:]
	}
	return into
}

// matching returns the items of an index that the filter takes, in order:
// the one scan of a filtered walk, which a filterCache keeps.
func (s set[T]) matching(e Enabled, re *regexp.Regexp) []T {
	var out []T
	s.after(e, "", func(v T) bool {
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
