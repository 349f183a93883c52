package mockserver

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentmock/agentmock/fixtures"
)

// discard is a ResponseWriter that keeps nothing, so that benchmarks of the
// handler measure the server and not a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func generated(tb testing.TB, n int) *Server {
	tb.Helper()
	d, err := (&fixtures.Data{}).WithGenerated("agt_big", n, fixtures.DefaultSeed)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(WithData(d))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// BenchmarkPage measures writing a page of 25 sessions.
func BenchmarkPage(b *testing.B) {
	s := generated(b, 1000)
	p := s.data.Load().agents["agt_big"].list(listQuery{limit: 25})
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendPage(buf[:0], p)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkSeek measures finding a page deep inside an agent, with enabled=true,
// at 1k and 1M sessions: it should cost about the same.
func BenchmarkSeek(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			a := generated(b, n).data.Load().agents["agt_big"]
			q := listQuery{limit: 25, enabled: onlyEnabled, after: a.all[n*9/10].id}
			b.ReportAllocs()
			for b.Loop() {
				if p := a.list(q); len(p.sessions) != 25 {
					b.Fatal(len(p.sessions))
				}
			}
		})
	}
}

// BenchmarkHandler measures a whole list request through ServeHTTP: auth on,
// journal on, no scenario, a page of 25.
func BenchmarkHandler(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := generated(b, n)
			a := s.data.Load().agents["agt_big"]
			target := "/v2/agents/agt_big/sessions?limit=25&enabled=true&page_key=" + encodePageKey(a.all[n*9/10].id)
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

// BenchmarkCreate measures creates into an agent of 100,000 sessions.
func BenchmarkCreate(b *testing.B) {
	s := generated(b, 100_000)
	w := &discard{h: http.Header{}}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		r := httptest.NewRequest("POST", "/v2/agents/agt_big/sessions", strings.NewReader(fmt.Sprintf(`{"key":"k%d","name":"x"}`, i)))
		r.Header.Set("X-Api-Key", "key_a")
		s.ServeHTTP(w, r)
	}
}

// BenchmarkBuild measures turning 1M generated sessions into a dataset.
func BenchmarkBuild(b *testing.B) {
	d, err := (&fixtures.Data{}).WithGenerated("agt_big", 1_000_000, fixtures.DefaultSeed)
	if err != nil {
		b.Fatal(err)
	}
	s := generated(b, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.build(d); err != nil {
			b.Fatal(err)
		}
	}
}
