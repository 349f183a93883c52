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
// It keeps the last status, for benchmarks that check it.
type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(status int)      { d.status = status }

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

// sender sends requests to s through ServeHTTP and checks their status.
func sender(s *Server) func(b *testing.B, method, target, body string, want int) {
	w := &discard{h: http.Header{}}
	return func(b *testing.B, method, target, body string, want int) {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("X-Api-Key", "key_a")
		clear(w.h)
		w.status = 0
		s.ServeHTTP(w, r)
		if w.status != want {
			b.Fatalf("%s %s: status %d, want %d", method, target, w.status, want)
		}
	}
}

// trimEvery is how many creates a write benchmark makes before it deletes
// them again, off the clock, so that the table keeps its size.
const trimEvery = 100

// compareSizes runs each operation at each size, the sizes of one operation
// one after the other, so that their ratio is measured under about the same
// load of the machine.
func compareSizes(b *testing.B, sizes []int, ops []string, run func(b *testing.B, op string, k int)) {
	for _, op := range ops {
		for k, n := range sizes {
			b.Run(fmt.Sprintf("%s/%d", op, n), func(b *testing.B) { run(b, op, k) })
		}
	}
}

// createTrimmed runs creates of keys made by key(i), and deletes them again
// every trimEvery creates, off the clock, so that the table keeps its size.
// *i carries on over the runs of -count, so that keys stay unique.
func createTrimmed(b *testing.B, i *int, create, remove func(b *testing.B, i int)) {
	from := *i
	b.ReportAllocs()
	for b.Loop() {
		*i++
		create(b, *i)
		if (*i-from)%trimEvery == 0 {
			b.StopTimer()
			for j := *i - trimEvery + 1; j <= *i; j++ {
				remove(b, j)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	for j := *i - (*i-from)%trimEvery + 1; j <= *i; j++ {
		remove(b, j)
	}
}

// BenchmarkWrite measures creates, patches and deletes (each after a create
// of its own) into an agent of 1k and of 1M sessions: with persistent
// indexes, the two should cost about the same. Both servers are built first,
// so that both sizes run with the same heap and so the same garbage
// collector pacing: otherwise the small one pays for far more collections.
func BenchmarkWrite(b *testing.B) {
	sizes := []int{1_000, 1_000_000}
	sends := make([]func(*testing.B, string, string, string, int), len(sizes))
	ids := make([][]string, len(sizes)) // sessions to patch, spread over the agent
	next := make([]int, len(sizes))
	for k, n := range sizes {
		s := generated(b, n)
		sends[k] = sender(s)
		ids[k] = make([]string, 1000)
		for j := range ids[k] {
			ids[k][j] = sessionAt(b, s, j*n/len(ids[k]))
		}
	}
	compareSizes(b, sizes, []string{"create", "patch", "create+delete"}, func(b *testing.B, op string, k int) {
		send := sends[k]
		switch op {
		case "create":
			createTrimmed(b, &next[k], func(b *testing.B, i int) {
				send(b, "POST", "/v2/agents/agt_big/sessions", fmt.Sprintf(`{"key":"k%d","name":"x"}`, i), http.StatusCreated)
			}, func(b *testing.B, i int) {
				send(b, "DELETE", fmt.Sprintf("/v2/agents/agt_big/sessions/k%d", i), "", http.StatusNoContent)
			})
		case "patch":
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				send(b, "PATCH", "/v2/agents/agt_big/sessions/"+ids[k][i%len(ids[k])], `{"description":"changed"}`, http.StatusOK)
			}
		case "create+delete":
			b.ReportAllocs()
			for b.Loop() {
				send(b, "POST", "/v2/agents/agt_big/sessions", `{"key":"gone","name":"x"}`, http.StatusCreated)
				send(b, "DELETE", "/v2/agents/agt_big/sessions/gone", "", http.StatusNoContent)
			}
		}
	})
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

// agentTable is a server whose data is n agents with no sessions, agt_000000
// and on.
func agentTable(tb testing.TB, n int) *Server {
	tb.Helper()
	d := &fixtures.Data{Agents: make([]fixtures.Agent, n)}
	for i := range d.Agents {
		d.Agents[i] = fixtures.Agent{Key: fmt.Sprintf("agt_%06d", i), Sessions: []fixtures.Session{}}
	}
	s, err := New(WithData(d))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// BenchmarkAgentWrite measures creates, patches and deletes (each after a
// create of its own) of agents over HTTP, in a table of 100 and of 100,000
// agents: with persistent indexes, the two should cost about the same. As in
// BenchmarkWrite, both tables are built first.
func BenchmarkAgentWrite(b *testing.B) {
	sizes := []int{100, 100_000}
	sends := make([]func(*testing.B, string, string, string, int), len(sizes))
	next := make([]int, len(sizes))
	for k, n := range sizes {
		sends[k] = sender(agentTable(b, n))
	}
	compareSizes(b, sizes, []string{"create", "patch", "create+delete"}, func(b *testing.B, op string, k int) {
		send, n := sends[k], sizes[k]
		switch op {
		case "create":
			createTrimmed(b, &next[k], func(b *testing.B, i int) {
				send(b, "POST", "/v2/agents", fmt.Sprintf(`{"key":"new_%d","name":"New agent"}`, i), http.StatusCreated)
			}, func(b *testing.B, i int) {
				send(b, "DELETE", fmt.Sprintf("/v2/agents/new_%d", i), "", http.StatusNoContent)
			})
		case "patch":
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				send(b, "PATCH", fmt.Sprintf("/v2/agents/agt_%06d", i*7919%n), `{"description":"changed"}`, http.StatusOK)
			}
		case "create+delete":
			b.ReportAllocs()
			for b.Loop() {
				send(b, "POST", "/v2/agents", `{"key":"gone","name":"Gone"}`, http.StatusCreated)
				send(b, "DELETE", "/v2/agents/gone", "", http.StatusNoContent)
			}
		}
	})
}

// BenchmarkAgentList measures a page of 25 agents deep in a table of 100
// and of 100,000 agents, through ServeHTTP: it should cost about the same.
func BenchmarkAgentList(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := agentTable(b, n)
			after := string(agentCursor.append(nil, fmt.Sprintf("agt_%06d", n/2)))
			r := httptest.NewRequest("GET", "/v2/agents?limit=25&page_key="+after, nil)
			r.Header.Set("X-Api-Key", "key_a")
			w := &discard{h: http.Header{}}
			s.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				s.ServeHTTP(w, r)
			}
		})
	}
}
