package mockserver

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/agentmock/agentmock/fixtures"
)

// limiter is a token bucket per API key.
type limiter struct {
	rate  float64 // tokens per second
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
	sweepAt int // the number of buckets at which full ones are dropped
}

// minSweep is the fewest buckets worth a sweep.
const minSweep = 1024

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

func newLimiter(rl fixtures.RateLimit) *limiter {
	if rl.PerSecond <= 0 {
		return nil
	}
	return &limiter{rate: rl.PerSecond, burst: float64(rl.Burst), buckets: map[string]*bucket{}, sweepAt: minSweep}
}

// quota is the outcome of one take.
type quota struct {
	ok         bool
	remaining  int           // whole tokens left
	retryAfter time.Duration // when refused: until a token is there
	reset      time.Duration // until the bucket is full again
}

// take spends a token of key's bucket if there is one.
func (l *limiter) take(key string, now time.Time) quota {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.sweepAt {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		b.at = now
	}
	q := quota{ok: b.tokens >= 1}
	if q.ok {
		b.tokens--
	} else {
		q.retryAfter = seconds((1 - b.tokens) / l.rate)
	}
	q.remaining = int(b.tokens)
	q.reset = seconds((l.burst - b.tokens) / l.rate)
	return q
}

// sweep drops the buckets that have refilled: a full bucket is the same as
// none, so keys that come and go cost no memory for long. Sweeping again
// only when the map has doubled keeps the cost per request constant.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	l.sweepAt = max(minSweep, 2*len(l.buckets))
}

func (l *limiter) reset() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.buckets)
}

// seconds converts to a Duration, capped at a year so that a very slow rate
// cannot overflow it.
func seconds(s float64) time.Duration {
	const year = 365 * 24 * time.Hour
	return time.Duration(math.Min(s, year.Seconds()) * float64(time.Second))
}

// ceilSeconds renders d in whole seconds, rounded up, as Retry-After wants.
func ceilSeconds(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}

// limit applies the rate limit to r's key: it writes the X-RateLimit-*
// headers, and returns the 429 when the bucket is empty.
func (s *Server) limit(w http.ResponseWriter, r *request) error {
	l := r.loaded.limiter
	if l == nil {
		return nil
	}
	q := l.take(r.apiKey, time.Now())
	h := w.Header()
	// Reset is in seconds from now until the bucket is full, as in the IETF
	// RateLimit header draft.
	h.Set("X-RateLimit-Limit", strconv.Itoa(int(l.burst)))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(q.remaining))
	h.Set("X-RateLimit-Reset", ceilSeconds(q.reset))
	if q.ok {
		return nil
	}
	h.Set("Retry-After", ceilSeconds(q.retryAfter))
	return &apiError{status: http.StatusTooManyRequests, code: codeRateLimited,
		messages: []string{"rate limit exceeded: retry after " + ceilSeconds(q.retryAfter) + "s"}}
}
