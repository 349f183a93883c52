package mockserver

import (
	"sync"
	"time"
)

// clock is a server's time for created_at and tti expiry: the real clock,
// until a test sets or advances it; from then on it stands still until the
// next change or a reset.
type clock struct {
	mu    sync.Mutex
	fixed *time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fixed != nil {
		return *c.fixed
	}
	return time.Now().UTC()
}

func (c *clock) set(t time.Time) {
	t = t.UTC()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fixed = &t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := time.Now().UTC()
	if c.fixed != nil {
		t = *c.fixed
	}
	t = t.Add(d)
	c.fixed = &t
}

func (c *clock) real() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fixed = nil
}

// frozen reports whether a test has taken the clock over.
func (c *clock) frozen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fixed != nil
}
