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
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

func newLimiter(rl fixtures.RateLimit) *limiter {
	if rl.PerSecond <= 0 {
		return nil
	}
	return &limiter{rate: rl.PerSecond, burst: float64(rl.Burst), buckets: map[string]*bucket{}}
}

// take spends a token of key's bucket if there is one. It returns whether it
// did, the whole tokens left, and how long until the bucket is full again
// (or, when refused, until a token is there).
func (l *limiter) take(key string, now time.Time) (ok bool, remaining int, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		b.at = now
	}
	if b.tokens < 1 {
		return false, 0, seconds((1 - b.tokens) / l.rate)
	}
	b.tokens--
	return true, int(b.tokens), seconds((l.burst - b.tokens) / l.rate)
}

func (l *limiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.buckets)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// ceilSeconds renders d in whole seconds, rounded up, as Retry-After wants.
func ceilSeconds(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}

// setRateHeaders writes the X-RateLimit-* headers. Reset is in seconds from
// now until the bucket is full, as in the IETF RateLimit header draft.
func (l *limiter) setRateHeaders(h http.Header, remaining int, untilFull time.Duration) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(int(l.burst)))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", ceilSeconds(untilFull))
}
