package store

import (
	"fmt"
	"testing"
	"time"
)

func bigData(n int) *Data {
	sessions := make([]*Session, n)
	for i := range sessions {
		sessions[i] = &Session{ID: fmt.Sprintf("s%07d", i*2), Enabled: i%5 != 0}
	}
	return NewData([]*Agent{NewAgent(Agent{Key: "agt_big"}, sessions)}, 0)
}

// BenchmarkPutSession measures a write of one new session into an agent of
// 1k and of 1M sessions: the two should cost about the same. Both stores
// are built first, so that both sizes run with the same heap, and so with
// the same garbage collector pacing.
func BenchmarkPutSession(b *testing.B) {
	sizes := []int{1_000, 1_000_000}
	stores := make([]*Store, len(sizes))
	for k, n := range sizes {
		stores[k] = New(bigData(n), epoch)
	}
	for k, n := range sizes {
		st := stores[k]
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				s := &Session{ID: fmt.Sprintf("s%07d", (i*7919)%n*2+1), Enabled: true}
				st.Write(epoch, func(tx *Tx) error { return tx.PutSession("agt_big", s) })
			}
		})
	}
}

// BenchmarkPage measures a page of 25 deep in an agent of 1k and of 1M.
func BenchmarkPage(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			snap := New(bigData(n), epoch).Snapshot()
			a := snap.Agent("agt_big")
			q := Query{Limit: 25, Enabled: OnlyEnabled, After: fmt.Sprintf("s%07d", n*9/10*2)}
			b.ReportAllocs()
			for b.Loop() {
				if p := snap.Sessions(a, q, nil); len(p.Items) != 25 {
					b.Fatal(len(p.Items))
				}
			}
		})
	}
}

// BenchmarkReplaceSession measures a patch's part in the store: a lookup and
// a replace of a session spread over an agent of 1k and of 1M sessions.
func BenchmarkReplaceSession(b *testing.B) {
	sizes := []int{1_000, 1_000_000}
	stores := make([]*Store, len(sizes))
	for k, n := range sizes {
		stores[k] = New(bigData(n), epoch)
	}
	for k, n := range sizes {
		st := stores[k]
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				id := fmt.Sprintf("s%07d", (i*7919)%n*2)
				st.Write(epoch, func(tx *Tx) error {
					old := tx.Agent("agt_big").Session(id)
					return tx.PutSession("agt_big", &Session{ID: id, Enabled: old.Enabled})
				})
			}
		})
	}
}

// BenchmarkLive measures a request's look at an agent whose 1k or 100k
// sessions all have a tti, none of them expired: it should cost the same.
func BenchmarkLive(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			sessions := make([]*Session, n)
			for i := range sessions {
				sessions[i] = &Session{ID: fmt.Sprintf("s%07d", i), TTIMinutes: int32(60 + i%60)}
			}
			st := New(NewData([]*Agent{NewAgent(Agent{Key: "agt_big"}, sessions)}, 0), epoch)
			b.ReportAllocs()
			for b.Loop() {
				if _, a := st.Live("agt_big", epoch.Add(time.Minute)); a.SessionCount() != n {
					b.Fatal(a.SessionCount())
				}
			}
		})
	}
}
