package mockserver

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// soakFixtures is what the chaos client swaps in: agt_a and agt_empty stay,
// with other sessions.
const soakFixtures = `agents:
  - key: agt_a
    generate: {count: 25, seed: 3}
  - key: agt_empty
`

// TestSoak is a short soak: eight clients, each with its own API key, mix
// reads, writes, scenario switches and admin calls over HTTP for a few
// seconds (one with -short), one of them under faults that reset and
// truncate its connections, and one of them resetting the server, swapping
// its data and switching scenarios for everyone. Every response must be one
// that its call may get, or an error that a scenario injected; the journal
// stays within its bound; and once the clients stop, no goroutine is left.
//
// The long soak is the wrk recipe in the README.
func TestSoak(t *testing.T) {
	duration := 3 * time.Second
	if testing.Short() {
		duration = time.Second
	}
	before := runtime.NumGoroutine()
	s := newTestServer(t, WithJournalSize(100))
	ts := httptest.NewServer(s)
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	type result struct {
		status int
		body   []byte
		err    error
	}
	do := func(method, path, key, body string, headers ...string) result {
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if err != nil {
			return result{err: err}
		}
		req.Header.Set("X-Api-Key", key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return result{err: err}
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return result{resp.StatusCode, b, err}
	}

	var calls, injectedErrs, faults atomic.Int64
	progress := make(chan struct{}, 1) // a client other than the chaos one made a call
	// check reports whether r is one of want or an injected error.
	check := func(client int, what string, r result, want ...int) bool {
		calls.Add(1)
		if client != 7 {
			select {
			case progress <- struct{}{}:
			default:
			}
		}
		if r.err != nil {
			t.Errorf("client %d, %s: %v", client, what, r.err)
			return false
		}
		if containsInt(want, r.status) {
			if r.status != 204 && len(r.body) > 0 && !json.Valid(r.body) {
				t.Errorf("client %d, %s: %d with a body that is not JSON: %.200s", client, what, r.status, r.body)
				return false
			}
			return true
		}
		var e errorBody
		if code, ok := injected[r.status]; ok && json.Unmarshal(r.body, &e) == nil && e.Code == code {
			injectedErrs.Add(1)
			return true
		}
		t.Errorf("client %d, %s: status %d %.300s, want one of %v", client, what, r.status, r.body, want)
		return false
	}

	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			key := fmt.Sprintf("soak_key_%d", c)
			var mine []string // sessions this client created
			pageKey := ""
			for n := 0; time.Now().Before(deadline); n++ {
				switch c {
				case 6: // under faults, for its key only
					if n%20 == 0 {
						r := do("PUT", "/__admin/scenario", key, `{"name":"faults","seed":`+fmt.Sprint(n)+`,"api_key":"`+key+`","rules":[
							{"probability":0.15,"fault":"connection_reset"},
							{"probability":0.15,"fault":"truncated_body"},
							{"probability":0.15,"fault":"empty_response"},
							{"probability":0.15,"fault":"slow_body","delay":"4ms"},
							{"delay":{"min":"0s","max":"2ms"}}]}`)
						if !check(c, "activate faults", r, 200) {
							return
						}
					}
					r := do("GET", "/v2/agents/agt_a/sessions?limit=5", key, "")
					if r.err != nil { // a fault: the connection broke, as it should
						faults.Add(1)
						continue
					}
					if !check(c, "list under faults", r, 200) {
						return
					}
					continue
				case 7: // chaos, for everyone
					var r result
					what := ""
					switch n % 8 {
					case 0:
						what, r = "reset", do("POST", "/__admin/reset", key, "")
					case 1:
						what, r = "swap fixtures", do("PUT", "/__admin/fixtures", key, soakFixtures)
					case 2:
						what, r = "flaky for everyone", do("PUT", "/__admin/scenario", key, `{"name":"flaky"}`)
					case 3:
						what, r = "teapot for everyone", do("PUT", "/__admin/scenario", key, `{"name":"teapot","rules":[{"probability":0.1,"respond":{"status":418}}]}`)
					case 4:
						what, r = "deactivate", do("DELETE", "/__admin/scenario", key, "")
					case 5:
						what, r = "journal", do("GET", "/__admin/requests?limit=10", key, "")
					case 6:
						what, r = "scenarios", do("GET", "/__admin/scenarios", key, "")
					case 7:
						what, r = "clock", do("GET", "/__admin/clock", key, "")
					}
					if !check(c, what, r, 200) {
						return
					}
					// Pace the chaos: the others make calls between two of its own.
					for range 8 {
						select {
						case <-progress:
						case <-time.After(time.Until(deadline)):
						}
					}
					continue
				}
				var ok bool
				switch op := rng.IntN(12); op {
				case 0, 1, 2:
					q := fmt.Sprintf("limit=%d&page_key=%s", 1+rng.IntN(10), pageKey)
					if op == 2 {
						q += "&enabled=true&filter=(?i)" + []string{"billing", "reset", "x"}[rng.IntN(3)]
					}
					r := do("GET", "/v2/agents/agt_a/sessions?"+q, key, "")
					if ok = check(c, "list", r, 200); ok && r.status == 200 {
						var b listBody
						json.Unmarshal(r.body, &b)
						pageKey = b.Metadata.PageKey
					}
				case 3:
					ok = check(c, "head", do("HEAD", "/v2/agents/agt_a/sessions", key, ""), 200, 418, 503) // no body to tell an injected error by
				case 4:
					ok = check(c, "bad list", do("GET", "/v2/agents/agt_a/sessions?limit=0", key, ""), 400)
				case 5:
					ok = check(c, "empty agent", do("GET", "/v2/agents/agt_empty/sessions", key, ""), 200)
				case 6:
					id := fmt.Sprintf("soak_%d_%d", c, n)
					r := do("POST", "/v2/agents/agt_a/sessions", key, `{"key":"`+id+`","name":"Soak `+id+`","tti_minutes":5}`)
					if ok = check(c, "create", r, 201, 409); ok && r.status == 201 {
						mine = append(mine, id)
					}
				case 7, 8:
					if len(mine) == 0 {
						continue
					}
					id := mine[rng.IntN(len(mine))]
					if op == 7 {
						ok = check(c, "get", do("GET", "/v2/agents/agt_a/sessions/"+id, key, ""), 200, 404)
					} else {
						ok = check(c, "patch", do("PATCH", "/v2/agents/agt_a/sessions/"+id, key, `{"enabled":false,"metadata":{"n":`+fmt.Sprint(n)+`}}`), 200, 404)
					}
				case 9:
					if len(mine) == 0 {
						continue
					}
					i := rng.IntN(len(mine))
					ok = check(c, "delete", do("DELETE", "/v2/agents/agt_a/sessions/"+mine[i], key, ""), 204, 404)
					mine = append(mine[:i], mine[i+1:]...)
				case 10:
					ok = check(c, "prefer 429", do("GET", "/v2/agents/agt_a/sessions", key, "", "Prefer", "code=429"), 429)
				case 11:
					if rng.IntN(2) == 0 {
						ok = check(c, "own scenario", do("PUT", "/__admin/scenario", key, `{"name":"slow","api_key":"`+key+`","rules":[{"match":{"route":"get"},"delay":"1ms"}]}`), 200)
					} else {
						ok = check(c, "own deactivation", do("DELETE", "/__admin/scenario?api_key="+key, key, ""), 200)
					}
				}
				if !ok {
					return
				}
			}
		})
	}
	wg.Wait()
	if n := len(s.Requests()); n > 100 {
		t.Errorf("the journal holds %d entries, over its bound of 100", n)
	}
	ts.Close()
	tr.CloseIdleConnections()
	t.Logf("%d calls in %v, %d injected errors, %d faults", calls.Load(), duration, injectedErrs.Load(), faults.Load())
	if faults.Load() == 0 && !t.Failed() {
		t.Error("the client under faults saw none")
	}
	checkGoroutinesSettle(t, before)
}
