package mockserver

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// DefaultJournalSize is how many requests the journal keeps by default.
const DefaultJournalSize = 1000

// Request is one entry of the request journal: a request to the API (admin
// calls are not recorded) and what the server did with it.
type Request struct {
	Time      time.Time     `json:"time"`
	Method    string        `json:"method"`
	Path      string        `json:"path"`
	Query     string        `json:"query,omitempty"`
	Route     string        `json:"route,omitempty"` // the route name, as scenarios.Routes gives them
	AgentKey  string        `json:"agent_key,omitempty"`
	APIKey    string        `json:"api_key,omitempty"` // KeyFingerprint of the key, never the key
	Status    int           `json:"status"`            // 0 when a fault left no status
	ErrorCode string        `json:"error_code,omitempty"`
	RequestID string        `json:"request_id,omitempty"` // the request_id of an error's body
	Rule      string        `json:"rule,omitempty"`       // the scenario rule that fired
	Fault     string        `json:"fault,omitempty"`      // the fault it injected
	Duration  time.Duration `json:"duration_ns"`
}

// KeyFingerprint is how the journal and the logs show an API key: a short
// hash that tells keys apart without revealing them.
func KeyFingerprint(key string) string {
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:4])
}

// journal is a bounded ring of the latest requests.
type journal struct {
	mu           sync.Mutex
	entries      []Request // ring storage, len == cap once full
	next         int       // where the next entry goes once full
	size         int
	fingerprints map[string]string // a cache of KeyFingerprint, bounded
}

// maxFingerprints bounds the fingerprint cache against clients that send a
// new key with every request.
const maxFingerprints = 1024

func newJournal(size int) *journal {
	return &journal{size: size, fingerprints: map[string]string{}}
}

// add records e, with the fingerprint of key as its APIKey.
func (j *journal) add(e Request, key string) {
	if j.size <= 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if key != "" {
		fp, ok := j.fingerprints[key]
		if !ok {
			if len(j.fingerprints) >= maxFingerprints {
				clear(j.fingerprints)
			}
			fp = KeyFingerprint(key)
			j.fingerprints[key] = fp
		}
		e.APIKey = fp
	}
	if len(j.entries) < j.size {
		j.entries = append(j.entries, e)
		return
	}
	j.entries[j.next] = e
	j.next = (j.next + 1) % j.size
}

// list returns the entries that keep says to keep, oldest first, at most the
// newest limit of them (limit <= 0: all).
func (j *journal) list(keep func(*Request) bool, limit int) []Request {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := []Request{}
	n := len(j.entries)
	for i := range n {
		e := &j.entries[(j.next+i)%n]
		if keep == nil || keep(e) {
			out = append(out, *e)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}

func (j *journal) clear() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries, j.next = nil, 0
}
