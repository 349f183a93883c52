package store

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// testData is agt_a with n sessions s000.. whose even ones are enabled and
// whose every third is about billing.
func testData(n int) *Data {
	sessions := make([]*Session, n)
	for i := range sessions {
		name := "Password reset"
		if i%3 == 0 {
			name = "Billing inquiry"
		}
		sessions[i] = &Session{ID: fmt.Sprintf("s%03d", i), Name: name, Enabled: i%2 == 0}
	}
	return NewData([]*Agent{
		NewAgent(Agent{Key: "agt_a", Enabled: true}, sessions),
		NewAgent(Agent{Key: "agt_b", Name: "Billing bot", Enabled: false}, nil),
	}, 0)
}

func ids(p Page[*Session]) []string {
	out := []string{}
	for _, s := range p.Items {
		out = append(out, s.ID)
	}
	return out
}

// walk follows a list from its first page to its last, limit at a time.
func walk(snap *Snapshot, a *Agent, q Query) []string {
	var out []string
	for {
		p := snap.Sessions(a, q, nil)
		out = append(out, ids(p)...)
		if !p.More {
			return out
		}
		q.After = p.Items[len(p.Items)-1].ID
	}
}

// brute is what a walk should give: every session in order that q takes.
func brute(snap *Snapshot, a *Agent, q Query) []string {
	var out []string
	for _, id := range walk(snap, a, Query{Limit: 100}) {
		s := a.Session(id)
		if q.Enabled == OnlyEnabled && !s.Enabled || q.Enabled == OnlyDisabled && s.Enabled {
			continue
		}
		if q.Filter != nil && !s.matches(q.Filter) {
			continue
		}
		out = append(out, id)
	}
	return out
}

func TestWalksSeeEveryMatchingSessionOnce(t *testing.T) {
	st := New(testData(50), epoch)
	snap := st.Snapshot()
	a := snap.Agent("agt_a")
	for _, e := range []Enabled{AnyEnabled, OnlyEnabled, OnlyDisabled} {
		for _, filter := range []string{"", "(?i)billing", "nothing matches this"} {
			q := Query{Limit: 7, Enabled: e}
			if filter != "" {
				q.Filter = regexp.MustCompile(filter)
			}
			t.Run(fmt.Sprintf("enabled %d filter %q", e, filter), func(t *testing.T) {
				want := brute(snap, a, q)
				if diff := cmp.Diff(want, walk(snap, a, q)); diff != "" {
					t.Errorf("walk (-want +got):\n%s", diff)
				}
				if total := snap.Sessions(a, q, nil).Total; total != len(want) {
					t.Errorf("total %d, want %d", total, len(want))
				}
			})
		}
	}
}

func TestASnapshotDoesNotSeeLaterWrites(t *testing.T) {
	st := New(testData(10), epoch)
	before := st.Snapshot()
	after, err := st.Write(epoch, func(tx *Tx) error {
		if _, err := tx.DeleteSession("agt_a", "s003"); err != nil {
			return err
		}
		return tx.PutSession("agt_a", &Session{ID: "s010", Enabled: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := before.Agent("agt_a").SessionCount(); got != 10 {
		t.Errorf("the old snapshot has %d sessions, want 10", got)
	}
	if before.Agent("agt_a").Session("s003") == nil || before.Agent("agt_a").Session("s010") != nil {
		t.Error("the old snapshot sees the write")
	}
	a := after.Agent("agt_a")
	if a.Session("s003") != nil || a.Session("s010") == nil || a.SessionCount() != 10 {
		t.Error("the new snapshot does not see the write")
	}
	if st.Snapshot() != after {
		t.Error("Write did not publish the snapshot it returned")
	}
}

func TestAFailedWriteChangesNothing(t *testing.T) {
	st := New(testData(10), epoch)
	before := st.Snapshot()
	boom := errors.New("boom")
	got, err := st.Write(epoch, func(tx *Tx) error {
		tx.DeleteSession("agt_a", "s001")
		tx.DeleteAgent("agt_b")
		return boom
	})
	if err != boom || got != before || st.Snapshot() != before {
		t.Fatalf("a failed write gave %v and a new snapshot", err)
	}
	if before.Agent("agt_a").Session("s001") == nil || before.Agent("agt_b") == nil {
		t.Error("a failed write changed the data")
	}
}

func TestAWriteSeesItsOwnChanges(t *testing.T) {
	st := New(testData(3), epoch)
	_, err := st.Write(epoch, func(tx *Tx) error {
		tx.PutSession("agt_a", &Session{ID: "new"})
		if tx.Agent("agt_a").Session("new") == nil {
			t.Error("a put is not seen by the same write")
		}
		tx.DeleteAgent("agt_b")
		if tx.Agent("agt_b") != nil {
			t.Error("a deleted agent is seen by the same write")
		}
		if err := tx.PutSession("agt_b", &Session{ID: "x"}); !errors.Is(err, ErrNoAgent) {
			t.Errorf("a put into a deleted agent: %v", err)
		}
		tx.PutAgent(NewAgent(Agent{Key: "agt_c"}, nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	snap := st.Snapshot()
	if snap.Agent("agt_b") != nil || snap.Agent("agt_c") == nil || snap.AgentCount() != 2 {
		t.Errorf("agents after the write: b %v, c %v, %d in all", snap.Agent("agt_b"), snap.Agent("agt_c"), snap.AgentCount())
	}
}

func TestAPatchMovesASessionBetweenIndexes(t *testing.T) {
	st := New(testData(4), epoch)
	st.Write(epoch, func(tx *Tx) error {
		return tx.PutSession("agt_a", &Session{ID: "s000", Enabled: false})
	})
	snap := st.Snapshot()
	a := snap.Agent("agt_a")
	on := ids(snap.Sessions(a, Query{Limit: 10, Enabled: OnlyEnabled}, nil))
	off := ids(snap.Sessions(a, Query{Limit: 10, Enabled: OnlyDisabled}, nil))
	if diff := cmp.Diff([]string{"s002"}, on); diff != "" {
		t.Errorf("enabled (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"s000", "s001", "s003"}, off); diff != "" {
		t.Errorf("disabled (-want +got):\n%s", diff)
	}
}

func TestFilteredListsFollowWrites(t *testing.T) {
	st := New(testData(30), epoch)
	q := Query{Limit: 3, Filter: regexp.MustCompile("Billing")}
	first := st.Snapshot()
	if got := first.Sessions(first.Agent("agt_a"), q, nil).Total; got != 10 {
		t.Fatalf("total %d, want 10", got)
	}
	st.Write(epoch, func(tx *Tx) error {
		return tx.PutSession("agt_a", &Session{ID: "s001", Name: "Billing again"})
	})
	second := st.Snapshot()
	if got := second.Sessions(second.Agent("agt_a"), q, nil).Total; got != 11 {
		t.Errorf("after a write, total %d, want 11", got)
	}
	if got := first.Sessions(first.Agent("agt_a"), q, nil).Total; got != 10 {
		t.Errorf("the old snapshot's total became %d", got)
	}
}

func TestAgentsPageLikeSessions(t *testing.T) {
	var agents []*Agent
	for i := range 25 {
		agents = append(agents, NewAgent(Agent{Key: fmt.Sprintf("a%02d", i), Name: fmt.Sprint("bot ", i), Enabled: i%5 != 0}, nil))
	}
	snap := New(NewData(agents, 0), epoch).Snapshot()
	p := snap.Agents(Query{Limit: 10, After: "a09", Enabled: OnlyEnabled})
	var got []string
	for _, a := range p.Items {
		got = append(got, a.Key)
	}
	want := []string{"a11", "a12", "a13", "a14", "a16", "a17", "a18", "a19", "a21", "a22"}
	if diff := cmp.Diff(want, got); diff != "" || !p.More || p.Total != 20 {
		t.Errorf("page (-want +got):\n%s more %v total %d", diff, p.More, p.Total)
	}
	if got := snap.Agents(Query{Limit: 100, Filter: regexp.MustCompile(`bot 1\d`)}).Total; got != 10 {
		t.Errorf("filtered total %d, want 10", got)
	}
}

func TestIdleSessionsExpire(t *testing.T) {
	d := NewData([]*Agent{NewAgent(Agent{Key: "agt_a"}, []*Session{
		{ID: "forever"}, {ID: "short", TTIMinutes: 10}, {ID: "long", TTIMinutes: 60},
	})}, 0)
	st := New(d, epoch)
	live := func(at time.Duration) *Agent {
		_, a := st.Live("agt_a", epoch.Add(at))
		return a
	}
	if got := live(9 * time.Minute).SessionCount(); got != 3 {
		t.Fatalf("%d sessions before any tti", got)
	}
	snap := st.Snapshot()
	snap.Touch(snap.Agent("agt_a"), snap.Agent("agt_a").Session("long"), epoch.Add(30*time.Minute))
	a := live(80 * time.Minute)
	if a.Session("short") != nil || a.Session("long") == nil || a.Session("forever") == nil {
		t.Errorf("at 80m: short %v, long %v, forever %v", a.Session("short"), a.Session("long"), a.Session("forever"))
	}
	if a := live(90 * time.Minute); a.Session("long") != nil {
		t.Error("a read 60 minutes ago did not expire")
	}
}

// TestExpiryBoundsFollowWritesAndReads checks that the time before which an
// agent's sessions are not looked at never hides an expiry: a put of a
// session that ends sooner, an agent put whole, and a read with the clock
// set back all bring it forward.
func TestExpiryBoundsFollowWritesAndReads(t *testing.T) {
	d := NewData([]*Agent{
		NewAgent(Agent{Key: "agt_a"}, []*Session{{ID: "long", TTIMinutes: 60}}),
		NewAgent(Agent{Key: "agt_b"}, []*Session{{ID: "read", TTIMinutes: 60}}),
	}, 0)
	st := New(d, epoch)
	live := func(key string, at time.Duration) *Agent {
		_, a := st.Live(key, epoch.Add(at))
		return a
	}
	live("agt_a", time.Minute) // a scan: nothing ends before 60m
	short := &Session{ID: "short", TTIMinutes: 1, ActiveAt: epoch.Add(time.Minute).UnixNano()}
	st.Write(epoch.Add(time.Minute), func(tx *Tx) error { return tx.PutSession("agt_a", short) })
	if live("agt_a", 3*time.Minute).Session("short") != nil {
		t.Error("a session put with a tti of 1 minute is there 2 minutes later")
	}
	live("agt_a", 4*time.Minute)
	st.Write(epoch.Add(4*time.Minute), func(tx *Tx) error {
		tx.PutAgent(NewAgent(Agent{Key: "agt_a"}, []*Session{{ID: "new", TTIMinutes: 1}}))
		return nil
	})
	if live("agt_a", 5*time.Minute).Session("new") != nil {
		t.Error("a session of an agent put whole outlived its tti from the load")
	}
	live("agt_b", time.Minute)
	snap := st.Snapshot()
	snap.Touch(snap.Agent("agt_b"), snap.Agent("agt_b").Session("read"), epoch.Add(-30*time.Minute))
	if live("agt_b", 31*time.Minute).Session("read") != nil {
		t.Error("a read with the clock set back 30 minutes did not bring the end forward")
	}
}

func TestReadsOfGoneSessionsAreForgotten(t *testing.T) {
	st := New(testData(0), epoch)
	for i := range 20 {
		s := &Session{ID: fmt.Sprint("s", i), TTIMinutes: 5}
		st.Write(epoch, func(tx *Tx) error { return tx.PutSession("agt_a", s) })
		st.Snapshot().Touch(st.Snapshot().Agent("agt_a"), s, epoch)
		patched := &Session{ID: s.ID, TTIMinutes: 5}
		st.Write(epoch, func(tx *Tx) error { return tx.PutSession("agt_a", patched) })
		st.Snapshot().Touch(st.Snapshot().Agent("agt_a"), patched, epoch)
		st.Write(epoch, func(tx *Tx) error {
			_, err := tx.DeleteSession("agt_a", s.ID)
			return err
		})
	}
	ac := st.Snapshot().activity
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if n := len(ac.read); n != 0 {
		t.Errorf("%d reads of deleted sessions are still held", n)
	}
}

// TestStoresShareTheirData runs writers on two stores made from the same
// data at once, with readers of the data itself: under -race this shows
// that a write never changes what it started from.
func TestStoresShareTheirData(t *testing.T) {
	d := testData(200)
	var wg sync.WaitGroup
	for w := range 2 {
		st := New(d, epoch)
		wg.Go(func() {
			for i := range 200 {
				st.Write(epoch, func(tx *Tx) error {
					tx.DeleteSession("agt_a", fmt.Sprintf("s%03d", i))
					return tx.PutSession("agt_a", &Session{ID: fmt.Sprintf("w%d_%03d", w, i)})
				})
			}
		})
	}
	fresh := New(d, epoch)
	wg.Go(func() {
		for range 200 {
			snap := fresh.Snapshot()
			if n := len(walk(snap, snap.Agent("agt_a"), Query{Limit: 50})); n != 200 {
				t.Errorf("the shared data changed: %d sessions", n)
				return
			}
		}
	})
	wg.Wait()
}

func TestEventLogs(t *testing.T) {
	var events []*Event
	for i := 1; i <= 9; i++ {
		id := "aev_" + OrderOf(uint64(i)) // found by its order
		if i%3 == 0 {
			id = fmt.Sprint("aev_custom_", i) // found by its own index
		}
		events = append(events, &Event{ID: id, Order: OrderOf(uint64(i)), Hidden: i%2 == 0, Input: i%4 == 1})
	}
	a := NewAgent(Agent{Key: "agt_a"}, []*Session{{ID: "s"}})
	a.LoadEvents("s", events)
	snap := New(NewData([]*Agent{a}, 9), epoch).Snapshot()
	a = snap.Agent("agt_a")
	walk := func(e Enabled) []string {
		var got []string
		for q := (Query{Limit: 2, Enabled: e}); ; {
			p := snap.Events(a, "s", q)
			for _, ev := range p.Items {
				got = append(got, ev.ID)
			}
			if !p.More {
				return got
			}
			q.After = p.Items[len(p.Items)-1].Order
		}
	}
	var all, visible []string
	for _, e := range events {
		all = append(all, e.ID)
		if !e.Hidden {
			visible = append(visible, e.ID)
		}
	}
	if diff := cmp.Diff(all, walk(AnyEnabled)); diff != "" {
		t.Errorf("all, hidden ones merged in (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(visible, walk(OnlyEnabled)); diff != "" {
		t.Errorf("visible (-want +got):\n%s", diff)
	}
	for _, e := range events {
		if got := a.Event("s", e.ID); got != e {
			t.Errorf("Event(%s) = %v", e.ID, got)
		}
	}
	if a.Event("s", "aev_"+OrderOf(3)) != nil || a.Inputs("s") != 3 {
		t.Errorf("an id that is not the event's found %v; inputs %d", a.Event("s", "aev_"+OrderOf(3)), a.Inputs("s"))
	}
}

func TestAWriteNeverChangesWhatReadersHold(t *testing.T) {
	st := New(testData(5), epoch)
	before := st.Snapshot()
	st.Write(epoch, func(tx *Tx) error {
		tx.PutAgent(tx.Agent("agt_a").With(Agent{Key: "agt_a", Enabled: true}))
		return tx.PutSession("agt_a", &Session{ID: "s999", Enabled: true})
	})
	if a := before.Agent("agt_a"); a.SessionCount() != 5 || a.Session("s999") != nil {
		t.Errorf("the snapshot before the write sees it: %d sessions", a.SessionCount())
	}
}

// TestWritesMatchAModel makes random creates, patches that keep or flip the
// enabled flag, and deletes, and checks every kind of walk against a plain
// map of what should be there.
func TestWritesMatchAModel(t *testing.T) {
	st := New(testData(200), epoch)
	model := map[string]bool{} // id: enabled
	for i := range 200 {
		model[fmt.Sprintf("s%03d", i)] = i%2 == 0
	}
	// Ids of all lengths, some of them prefixes of others, and some that
	// share their first 16 bytes.
	idOf := func(n int) string {
		switch n % 3 {
		case 0:
			return fmt.Sprintf("s%03d", n)
		case 1:
			return fmt.Sprint("s", n)
		}
		return fmt.Sprintf("ase_customer_support_%03d", n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 2000 {
		id := idOf(rng.IntN(300))
		_, err := st.Write(epoch, func(tx *Tx) error {
			if rng.IntN(4) == 0 {
				_, err := tx.DeleteSession("agt_a", id)
				delete(model, id)
				return err
			}
			on := rng.IntN(2) == 0
			model[id] = on
			return tx.PutSession("agt_a", &Session{ID: id, Enabled: on})
		})
		if err != nil {
			t.Fatal(err)
		}
		if step%100 != 99 {
			continue
		}
		snap := st.Snapshot()
		a := snap.Agent("agt_a")
		for _, e := range []Enabled{AnyEnabled, OnlyEnabled, OnlyDisabled} {
			var want []string
			for _, id := range slices.Sorted(maps.Keys(model)) {
				if e == AnyEnabled || model[id] == (e == OnlyEnabled) {
					want = append(want, id)
				}
			}
			q := Query{Limit: 1 + rng.IntN(30), Enabled: e}
			if diff := cmp.Diff(want, walk(snap, a, q)); diff != "" {
				t.Fatalf("step %d, enabled %d, limit %d (-want +got):\n%s", step, e, q.Limit, diff)
			}
			if got := snap.Sessions(a, q, nil).Total; got != len(want) {
				t.Fatalf("step %d, enabled %d: total %d, want %d", step, e, got, len(want))
			}
		}
		if a.SessionCount() != len(model) {
			t.Fatalf("step %d: %d sessions, want %d", step, a.SessionCount(), len(model))
		}
	}
}

// TestASessionMayBePutAgain puts sessions the store already holds while
// readers walk them: under -race this shows the put writes nothing that
// readers compare.
func TestASessionMayBePutAgain(t *testing.T) {
	st := New(testData(100), epoch)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 200 {
			snap := st.Snapshot()
			walk(snap, snap.Agent("agt_a"), Query{Limit: 7})
		}
	})
	for i := range 200 {
		id := fmt.Sprintf("s%03d", i%100)
		st.Write(epoch, func(tx *Tx) error { return tx.PutSession("agt_a", tx.Agent("agt_a").Session(id)) })
	}
	wg.Wait()
	if n := st.Snapshot().Agent("agt_a").SessionCount(); n != 100 {
		t.Errorf("%d sessions, want 100", n)
	}
}

// TestAnOlderReaderLeavesTheBoundAlone has a reader of the data before a
// write look at the agent after the current version has set its bound: the
// bound stays the current version's, so the next look costs nothing.
func TestAnOlderReaderLeavesTheBoundAlone(t *testing.T) {
	st := New(NewData([]*Agent{NewAgent(Agent{Key: "agt_a"}, []*Session{{ID: "s", TTIMinutes: 60}})}, 0), epoch)
	before := st.Snapshot()
	st.Write(epoch, func(tx *Tx) error { return tx.PutSession("agt_a", &Session{ID: "t"}) })
	_, current := st.Live("agt_a", epoch.Add(time.Minute)) // sets the bound
	ac := before.activity
	ac.anyExpired(before.Agent("agt_a"), epoch.Add(time.Minute))
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if b := ac.bounds["agt_a"]; b.agent != current {
		t.Errorf("the bound is for version %d, want the current %d", b.agent.version, current.version)
	}
}
