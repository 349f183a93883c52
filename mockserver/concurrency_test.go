package mockserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentmock/agentmock/fixtures"
)

// checkGoroutinesSettle fails the test unless the number of goroutines comes
// back to at most before within a few seconds: nothing the test started, on
// either side of the connections, is left behind.
func checkGoroutinesSettle(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			var dump bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&dump, 1)
			t.Fatalf("%d goroutines left behind (%d before):\n%.6000s", runtime.NumGoroutine()-before, before, dump.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// setYAML is a data set whose every session names the set: agt_c has n
// sessions called "set <name>" with ids <prefix>_000 and up.
func setYAML(name string, n int) string {
	var b strings.Builder
	b.WriteString("agents:\n  - key: agt_c\n    sessions:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - {id: %s_%03d, name: set %s, enabled: %v}\n", strings.ToLower(name), i, name, i%3 != 0)
	}
	b.WriteString("  - key: agt_empty\n")
	return b.String()
}

// The two data sets that the admin API swaps: they differ in every id,
// every name and in size.
var swapSets = map[string]struct {
	yaml           string
	total, enabled int // sessions of agt_c, all and enabled
}{
	"A": {setYAML("A", 40), 40, 40 - 14},
	"B": {setYAML("B", 57), 57, 57 - 19},
}

// pageSet returns the data set that one page comes from, or an error when
// the page mixes sets or its total_count is not its set's (of enabled
// sessions, for a list of those).
func pageSet(b listBody, enabled bool) (string, error) {
	total := func(set string) int {
		if enabled {
			return swapSets[set].enabled
		}
		return swapSets[set].total
	}
	set := ""
	for _, s := range b.Sessions {
		name, ok := strings.CutPrefix(s.Name, "set ")
		if !ok || swapSets[name].total == 0 || !strings.HasPrefix(s.ID, strings.ToLower(name)+"_") {
			return "", fmt.Errorf("session %+v belongs to no set", s)
		}
		if set != "" && name != set {
			return "", fmt.Errorf("one page has sessions of sets %s and %s", set, name)
		}
		set = name
	}
	if set == "" { // an empty page: the total alone tells
		for name := range swapSets {
			if total(name) == b.Metadata.TotalCount {
				return name, nil
			}
		}
		return "", fmt.Errorf("an empty page with total_count %d, which is no set's", b.Metadata.TotalCount)
	}
	if want := total(set); b.Metadata.TotalCount != want {
		return "", fmt.Errorf("a page of set %s with total_count %d, want %d", set, b.Metadata.TotalCount, want)
	}
	return set, nil
}

// injected is what an injected error of the scenarios that the tests
// activate looks like: its status and its code.
var injected = map[int]string{
	418: "error",
	429: "rate_limit_exceeded",
	503: "service_unavailable",
}

// TestWalksWhileTheAdminAPISwapsData has ten clients walk agt_c page by
// page, over HTTP, while the admin API swaps two data sets in and out,
// switches scenarios for everyone and for one key, and resets. Every
// response is a 200 or an injected error; every page comes whole from one
// data set, with that set's total_count; every admin call succeeds; and no
// goroutine is left behind.
func TestWalksWhileTheAdminAPISwapsData(t *testing.T) {
	before := runtime.NumGoroutine()
	start, err := fixtures.Load("A", []byte(swapSets["A"].yaml), 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(WithData(start))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	call := func(method, path, key, body string) (int, []byte, error) {
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}

	var stop atomic.Bool
	var pages, errs atomic.Int64
	seen := [2]atomic.Int64{}          // pages of set A, of set B
	progress := make(chan struct{}, 1) // a walker read a page
	var walkers sync.WaitGroup
	for w := range 10 {
		walkers.Go(func() {
			key := fmt.Sprintf("walker_%d", w)
			query := []string{"limit=7", "limit=3&enabled=true", "limit=100&filter=" + "set%20[AB]", "limit=1"}[w%4]
			for !stop.Load() {
				pageKey := ""
				for range 100 {
					status, body, err := call("GET", "/v2/agents/agt_c/sessions?"+query+"&page_key="+pageKey, key, "")
					if err != nil {
						t.Errorf("walker %d: %v", w, err)
						return
					}
					if status != 200 {
						var e errorBody
						if json.Unmarshal(body, &e) != nil || injected[status] == "" || injected[status] != e.Code {
							t.Errorf("walker %d: status %d %s, want 200 or an injected error", w, status, body)
							return
						}
						errs.Add(1)
						break
					}
					var b listBody
					if err := json.Unmarshal(body, &b); err != nil {
						t.Errorf("walker %d: %v: %s", w, err, body)
						return
					}
					set, err := pageSet(b, strings.Contains(query, "enabled=true"))
					if err != nil {
						t.Errorf("walker %d, %s: %v", w, query, err)
						return
					}
					pages.Add(1)
					select {
					case progress <- struct{}{}:
					default:
					}
					seen[map[string]int{"A": 0, "B": 1}[set]].Add(1)
					if pageKey = b.Metadata.PageKey; pageKey == "" {
						break
					}
				}
			}
		})
	}

	admin := []struct{ method, path, body string }{
		{"PUT", "/__admin/fixtures", swapSets["B"].yaml},
		{"PUT", "/__admin/scenario", `{"name":"teapot","rules":[{"match":{"route":"list"},"probability":0.2,"respond":{"status":418}}]}`},
		{"PUT", "/__admin/fixtures", swapSets["A"].yaml},
		{"PUT", "/__admin/scenario", `{"name":"flaky"}`},
		{"PUT", "/__admin/fixtures", swapSets["B"].yaml},
		{"PUT", "/__admin/scenario", `{"name":"rate_limit_exceeded","api_key":"walker_3"}`},
		{"DELETE", "/__admin/scenario", ""},
		{"POST", "/__admin/reset", ""},
		{"PUT", "/__admin/fixtures", swapSets["B"].yaml},
		{"DELETE", "/__admin/scenario?api_key=walker_3", ""},
		{"GET", "/__admin/requests?limit=5", ""},
		{"POST", "/__admin/reset", ""},
	}
	for i := range 40 * len(admin) {
		a := admin[i%len(admin)]
		status, body, err := call(a.method, a.path, "", a.body)
		if err != nil || status != 200 {
			t.Errorf("admin %s %s: %d %v %.200s", a.method, a.path, status, err, body)
			break
		}
		if i%len(admin) == 0 {
			// Let the walkers see this state: wait for a page read after it.
			select {
			case <-progress: // a page of an earlier state
			default:
			}
			select {
			case <-progress:
			case <-time.After(10 * time.Second):
				t.Errorf("no walker read a page in 10s")
			}
			if t.Failed() {
				break
			}
		}
	}
	stop.Store(true)
	walkers.Wait()
	ts.Close()
	tr.CloseIdleConnections()

	t.Logf("%d consistent pages (%d of A, %d of B), %d injected errors", pages.Load(), seen[0].Load(), seen[1].Load(), errs.Load())
	if !t.Failed() && (seen[0].Load() == 0 || seen[1].Load() == 0) {
		t.Errorf("the walkers saw %d pages of A and %d of B; the swaps did not interleave with them", seen[0].Load(), seen[1].Load())
	}
	checkGoroutinesSettle(t, before)
}

// TestSwapsDuringWritesKeepOneDataSet writes to agt_c while the data sets
// are swapped and reset underneath: a write lands in whichever set serves
// at that moment, so every list shows one whole set plus the writes in
// flight, never a mix of sets.
func TestSwapsDuringWritesKeepOneDataSet(t *testing.T) {
	before := runtime.NumGoroutine()
	start, err := fixtures.Load("A", []byte(swapSets["A"].yaml), 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(WithData(start))
	if err != nil {
		t.Fatal(err)
	}
	const writers = 4
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("w%d_%d", w, i) // sorts after every id of the sets
				rec := call(s, "POST", "/v2/agents/agt_c/sessions", `{"key":"`+id+`","name":"write"}`, "Content-Type", "application/json")
				if rec.Code != 201 {
					t.Errorf("create: %d %s", rec.Code, rec.Body)
					return
				}
				if rec := call(s, "PATCH", "/v2/agents/agt_c/sessions/"+id, `{"enabled":false}`, "Content-Type", "application/json"); rec.Code != 200 && rec.Code != 404 {
					t.Errorf("patch: %d %s", rec.Code, rec.Body)
					return
				}
				if rec := call(s, "DELETE", "/v2/agents/agt_c/sessions/"+id, ""); rec.Code != 204 && rec.Code != 404 {
					t.Errorf("delete: %d %s", rec.Code, rec.Body)
					return
				}
			}
		})
	}
	for r := range 4 {
		wg.Go(func() {
			for !stop.Load() {
				rec := call(s, "GET", "/v2/agents/agt_c/sessions?limit=100", "")
				var b listBody
				if err := json.Unmarshal(rec.Body.Bytes(), &b); rec.Code != 200 || err != nil {
					t.Errorf("reader %d: %d %s", r, rec.Code, rec.Body)
					return
				}
				counts := map[string]int{}
				for _, ss := range b.Sessions {
					counts[ss.Name]++
				}
				writes := counts["write"]
				delete(counts, "write")
				if len(counts) != 1 || writes > writers || b.Metadata.PageKey != "" {
					t.Errorf("reader %d: one list holds %v and %d writes", r, counts, writes)
					return
				}
				for name, n := range counts {
					set := strings.TrimPrefix(name, "set ")
					if n != swapSets[set].total || b.Metadata.TotalCount != n+writes {
						t.Errorf("reader %d: %d sessions of %q and %d writes with total_count %d; the set has %d", r, n, name, writes, b.Metadata.TotalCount, swapSets[set].total)
						return
					}
				}
			}
		})
	}
	for i := range 120 {
		var rec *httptest.ResponseRecorder
		if i%3 == 2 {
			rec = call(s, "POST", "/__admin/reset", "")
		} else {
			rec = call(s, "PUT", "/__admin/fixtures", swapSets[[]string{"A", "B"}[i%2]].yaml)
		}
		if rec.Code != 200 {
			t.Errorf("admin: %d %s", rec.Code, rec.Body)
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	checkGoroutinesSettle(t, before)
}
