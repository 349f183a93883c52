package mockserver

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/internal/store"
)

// conversation returns a server whose session agt_c/s holds n events (n/2
// turns), added through the API.
func conversation(tb testing.TB, n int) *Server {
	tb.Helper()
	s, err := New(WithData(&fixtures.Data{Agents: []fixtures.Agent{{Key: "agt_c", Sessions: []fixtures.Session{
		{ID: "s", AgentKey: "agt_c", Enabled: true, CreatedAt: fixtures.Origin()}}}}}))
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n / 2 {
		sendTurn(s, fmt.Sprint("question number ", i), false)
	}
	return s
}

var eventsTarget = "/v2/agents/agt_c/sessions/s/events"

func sendTurn(s *Server, text string, stream bool) {
	r := httptest.NewRequest("POST", eventsTarget, strings.NewReader(input(text, stream)))
	r.Header.Set("X-Api-Key", "k")
	s.ServeHTTP(&discard{h: http.Header{}}, r)
}

// eventAt returns the id of the i-th event of agt_c/s.
func eventAt(s *Server, i int) string {
	var id string
	n := 0
	s.store.Snapshot().Agent("agt_c").EachEvent("s", func(e *store.Event) bool {
		id = e.ID
		n++
		return n <= i
	})
	return id
}

// BenchmarkEventsPage measures a page of 25 events deep in a session of 100
// and of 100,000 events: the two should cost about the same.
func BenchmarkEventsPage(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := conversation(b, n)
			key := string(eventCursor.append(nil, eventAt(s, n*9/10-25)))
			r := httptest.NewRequest("GET", eventsTarget+"?limit=25&page_key="+key, nil)
			r.Header.Set("X-Api-Key", "k")
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				s.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkTurn measures a turn, not streamed and streamed without pace,
// into a session of 100 and of 100,000 events. A stream writes and flushes
// each frame; the rest of the work is the same.
func BenchmarkTurn(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		for _, stream := range []bool{false, true} {
			b.Run(fmt.Sprintf("stream=%v/%d", stream, n), func(b *testing.B) {
				s := conversation(b, n)
				b.ReportAllocs()
				for b.Loop() {
					sendTurn(s, "Where is my refund for the order I placed last week?", stream)
				}
			})
		}
	}
}

// BenchmarkEventMemory reports the heap that stored events hold, per event
// and as a multiple of their JSON, for 100,000 events made by the API.
func BenchmarkEventMemory(b *testing.B) {
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := conversation(b, 100_000)
		runtime.GC()
		runtime.ReadMemStats(&after)
		jsonBytes, events := 0, 0
		s.store.Snapshot().Agent("agt_c").EachEvent("s", func(e *store.Event) bool {
			jsonBytes += len(e.JSON)
			events++
			return true
		})
		heap := float64(after.HeapAlloc - before.HeapAlloc)
		b.ReportMetric(heap/float64(events), "B/event")
		b.ReportMetric(heap/float64(jsonBytes), "heap/JSON")
		runtime.KeepAlive(s)
	}
}

// BenchmarkTurnOverHTTP measures turns over a loopback connection, not
// streamed and streamed without pace, where a stream pays a write and a
// flush per frame.
func BenchmarkTurnOverHTTP(b *testing.B) {
	for _, stream := range []bool{false, true} {
		b.Run(fmt.Sprintf("stream=%v", stream), func(b *testing.B) {
			s := conversation(b, 100)
			ts := httptest.NewServer(s)
			defer ts.Close()
			body := input("Where is my refund for the order I placed last week?", stream)
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest("POST", ts.URL+eventsTarget, strings.NewReader(body))
				req.Header.Set("X-Api-Key", "k")
				req.Header.Set("Content-Type", "application/json")
				resp, err := ts.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
