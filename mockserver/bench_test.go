package mockserver

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/internal/store"
)

// discard is a ResponseWriter that keeps nothing, so that benchmarks of the
// handler measure the server and not a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func generated(tb testing.TB, n int) *Server {
	tb.Helper()
	s, err := New(WithData(&fixtures.Data{}), WithGenerated("agt_big", n))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// sessionAt returns the id of the i-th session of agt_big.
func sessionAt(tb testing.TB, s *Server, i int) string {
	tb.Helper()
	snap := s.store.Snapshot()
	p := snap.Sessions(snap.Agent("agt_big"), store.Query{Limit: 1, After: fmt.Sprintf("ase_big_%0*d", width(s), i)}, nil)
	if len(p.Items) == 0 {
		tb.Fatalf("no session after %d", i)
	}
	return p.Items[0].ID
}

// width is the digits of agt_big's session numbers.
func width(s *Server) int {
	snap := s.store.Snapshot()
	p := snap.Sessions(snap.Agent("agt_big"), store.Query{Limit: 1}, nil)
	return len(p.Items[0].ID) - len("ase_big_")
}

// BenchmarkPage measures writing a page of 25 sessions.
func BenchmarkPage(b *testing.B) {
	s := generated(b, 1000)
	snap := s.store.Snapshot()
	p := snap.Sessions(snap.Agent("agt_big"), store.Query{Limit: 25}, nil)
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendPage(buf[:0], p)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkHandler measures a whole list request through ServeHTTP: auth on,
// journal on, no scenario, a page of 25 deep in the agent, at 1k and 1M
// sessions: it should cost about the same.
func BenchmarkHandler(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := generated(b, n)
			target := "/v2/agents/agt_big/sessions?limit=25&enabled=true&page_key=" + encodePageKey(sessionAt(b, s, n*9/10))
			r := httptest.NewRequest("GET", target, nil)
			r.Header.Set("X-Api-Key", "key_a")
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				s.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkFilteredWalk measures a page after the first of a walk with
// filter=billing, against the same page with enabled=true, at 1M sessions:
// the filter's scan is paid by the first page only.
func BenchmarkFilteredWalk(b *testing.B) {
	s := generated(b, 1_000_000)
	after := encodePageKey(sessionAt(b, s, 500_000))
	for _, query := range []string{"enabled=true", "filter=billing"} {
		b.Run(query, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/v2/agents/agt_big/sessions?limit=100&"+query+"&page_key="+after, nil)
			r.Header.Set("X-Api-Key", "key_a")
			w := &discard{h: http.Header{}}
			s.ServeHTTP(w, r) // the first page of the walk
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				s.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkWrite measures creates, patches and deletes (each after a create
// of its own) into an agent of 1k and of 1M sessions: with persistent
// indexes, the two should cost about the same.
func BenchmarkWrite(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		s := generated(b, n)
		w := &discard{h: http.Header{}}
		send := func(b *testing.B, method, target, body string) {
			r := httptest.NewRequest(method, target, strings.NewReader(body))
			r.Header.Set("X-Api-Key", "key_a")
			clear(w.h)
			s.ServeHTTP(w, r)
		}
		b.Run(fmt.Sprintf("create/%d", n), func(b *testing.B) {
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				send(b, "POST", "/v2/agents/agt_big/sessions", fmt.Sprintf(`{"key":"k%d","name":"x"}`, i))
			}
		})
		b.Run(fmt.Sprintf("patch/%d", n), func(b *testing.B) {
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				send(b, "PATCH", fmt.Sprintf("/v2/agents/agt_big/sessions/k%d", i%1000+1), `{"description":"changed"}`)
			}
		})
		b.Run(fmt.Sprintf("create+delete/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				send(b, "POST", "/v2/agents/agt_big/sessions", `{"key":"gone","name":"x"}`)
				send(b, "DELETE", "/v2/agents/agt_big/sessions/gone", "")
			}
		})
	}
}

// BenchmarkLoad measures turning 1M generated sessions into a store's data.
func BenchmarkLoad(b *testing.B) {
	d, err := (&fixtures.Data{}).WithGenerated("agt_big", 1_000_000, fixtures.DefaultSeed)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := load(d, fixtures.RateLimit{}); err != nil {
			b.Fatal(err)
		}
	}
}
