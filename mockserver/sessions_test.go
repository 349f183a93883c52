package mockserver

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/scenarios"
)

func decodeSession(t *testing.T, w *httptest.ResponseRecorder, wantStatus int) wireSession {
	t.Helper()
	if w.Code != wantStatus {
		t.Fatalf("status %d, want %d; %s", w.Code, wantStatus, w.Body)
	}
	var ws wireSession
	if err := json.Unmarshal(w.Body.Bytes(), &ws); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	return ws
}

var start = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func TestCreateSession(t *testing.T) {
	const url = "/v2/agents/agt_a/sessions"
	server := func(t *testing.T) *Server {
		s := newTestServer(t)
		s.SetClock(start)
		return s
	}

	t.Run("a name alone makes an enabled session with a derived key", func(t *testing.T) {
		w := call(server(t), "POST", url, `{"name":"Billing inquiry"}`)
		got := decodeSession(t, w, 201)
		want := wireSession{ID: "ase_billing_inquiry", Key: "ase_billing_inquiry", AgentKey: "agt_a", Name: "Billing inquiry",
			Enabled: true, CreatedAt: "2025-01-01T12:00:00Z"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if loc := w.Header().Get("Location"); loc != url+"/ase_billing_inquiry" {
			t.Errorf("Location %q", loc)
		}
	})
	t.Run("the same name again gets a unique key", func(t *testing.T) {
		s := server(t)
		decodeSession(t, call(s, "POST", url, `{"name":"Billing inquiry"}`), 201)
		if got := decodeSession(t, call(s, "POST", url, `{"name":"Billing  inquiry!"}`), 201); got.ID != "ase_billing_inquiry_2" {
			t.Errorf("key %q, want ase_billing_inquiry_2", got.ID)
		}
	})
	t.Run("a name without letters or digits still gets a key", func(t *testing.T) {
		if got := decodeSession(t, call(server(t), "POST", url, `{"name":"¿?"}`), 201); got.ID != "ase_session" {
			t.Errorf("key %q, want ase_session", got.ID)
		}
	})
	t.Run("every field is kept", func(t *testing.T) {
		got := decodeSession(t, call(server(t), "POST", url,
			`{"key":"my-key_1","name":"N","description":"D","metadata":{"n":12345678901234567890,"o":{"x":[1]}},"enabled":false,"tti_minutes":30}`), 201)
		want := wireSession{ID: "my-key_1", Key: "my-key_1", AgentKey: "agt_a", Name: "N", Description: "D",
			Metadata:   map[string]any{"n": 1.2345678901234567e+19, "o": map[string]any{"x": []any{1.0}}},
			TTIMinutes: 30, CreatedAt: "2025-01-01T12:00:00Z"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("an existing key is a 409", func(t *testing.T) {
		w := call(server(t), "POST", url, `{"key":"ase_a_001","name":"x"}`)
		if w.Code != 409 || decodeError(t, w).Code != codeSessionExists {
			t.Errorf("got %d %s", w.Code, w.Body)
		}
	})
	t.Run("the list sees the new sessions at once", func(t *testing.T) {
		s := server(t)
		for _, body := range []string{`{"name":"one"}`, `{"name":"two"}`, `{"name":"three"}`, `{"name":"four","enabled":false}`} {
			decodeSession(t, call(s, "POST", url, body), 201)
		}
		b := decodeList(t, call(s, "GET", url+"?limit=100", ""))
		if b.Metadata.TotalCount != 14 {
			t.Errorf("total_count %d, want 10 + 4", b.Metadata.TotalCount)
		}
		dis := decodeList(t, call(s, "GET", url+"?enabled=false", ""))
		if dis.Metadata.TotalCount != 6 {
			t.Errorf("disabled total_count %d, want 5 + 1", dis.Metadata.TotalCount)
		}
	})
}

func TestCreateSessionErrors(t *testing.T) {
	tests := []struct {
		name       string
		agent      string
		body       string
		headers    []string
		wantStatus int
		wantCode   string
		wantFields []string
	}{
		{"an empty name is a 400", "agt_a", `{"name":""}`, nil, 400, codeInvalidRequest, []string{"name"}},
		{"a number as name is a 400", "agt_a", `{"name":5}`, nil, 400, codeInvalidRequest, []string{"name"}},
		{"a bad key is a 400", "agt_a", `{"name":"x","key":"a b"}`, nil, 400, codeInvalidRequest, []string{"key"}},
		{"a 51-character key is a 400", "agt_a", `{"name":"x","key":"` + strings.Repeat("k", 51) + `"}`, nil, 400, codeInvalidRequest, []string{"key"}},
		{"an unknown field is a 400", "agt_a", `{"name":"x","colour":"blue"}`, nil, 400, codeInvalidRequest, []string{"colour"}},
		{"created_at cannot be given", "agt_a", `{"name":"x","created_at":"2024-01-01T00:00:00Z"}`, nil, 400, codeInvalidRequest, []string{"created_at"}},
		{"enabled as a string is a 400", "agt_a", `{"name":"x","enabled":"yes"}`, nil, 400, codeInvalidRequest, []string{"enabled"}},
		{"a negative tti is a 400", "agt_a", `{"name":"x","tti_minutes":-1}`, nil, 400, codeInvalidRequest, []string{"tti_minutes"}},
		{"a fractional tti is a 400", "agt_a", `{"name":"x","tti_minutes":1.5}`, nil, 400, codeInvalidRequest, []string{"tti_minutes"}},
		{"metadata as an array is a 400", "agt_a", `{"name":"x","metadata":[1]}`, nil, 400, codeInvalidRequest, []string{"metadata"}},
		{"every bad field is named", "agt_a", `{"name":1,"enabled":1}`, nil, 400, codeInvalidRequest, []string{"enabled", "name"}},
		{"a JSON array is a 400", "agt_a", `[{"name":"x"}]`, nil, 400, codeInvalidRequest, []string{"body"}},
		{"two objects are a 400", "agt_a", `{"name":"x"}{"name":"y"}`, nil, 400, codeInvalidRequest, []string{"body"}},
		{"broken JSON is a 400", "agt_a", `{"name":`, nil, 400, codeInvalidRequest, []string{"body"}},
		{"null is a 400", "agt_a", `null`, nil, 400, codeInvalidRequest, []string{"body"}},
		{"text/plain is a 415", "agt_a", `{"name":"x"}`, []string{"Content-Type", "text/plain"}, 415, codeUnsupportedMedia, nil},
		{"an oversized body is a 413", "agt_a", `{"name":"` + strings.Repeat("x", maxSessionBody) + `"}`, nil, 413, codePayloadTooLarge, nil},
		{"an unknown agent is a 404", "agt_nobody", `{"name":"x"}`, nil, 404, codeAgentNotFound, nil},
		{"a bad agent key is a 400", "no%20pe", `{"name":"x"}`, nil, 400, codeInvalidRequest, []string{"agent_key"}},
		{"a well-formed key of no agent is a 404", "nope", `{"name":"x"}`, nil, 404, codeAgentNotFound, nil},
		{"a key the agent does not allow is a 403", "agt_locked", `{"name":"x"}`, []string{"X-Api-Key", "key_b"}, 403, codeForbidden, nil},
		{"no API key is a 401", "agt_a", `{"name":"x"}`, []string{"X-Api-Key", ""}, 401, codeUnauthorized, nil},
	}
	s := newTestServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(s, "POST", "/v2/agents/"+tt.agent+"/sessions", tt.body, tt.headers...)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; %s", w.Code, tt.wantStatus, w.Body)
			}
			e := decodeError(t, w)
			if e.Code != tt.wantCode {
				t.Errorf("code %q, want %q", e.Code, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantFields, slices.Sorted(maps.Keys(e.FieldErrors))); diff != "" {
				t.Errorf("field_errors keys (-want +got):\n%s\n%v", diff, e.FieldErrors)
			}
		})
	}
	if b := decodeList(t, call(s, "GET", "/v2/agents/agt_a/sessions", "")); b.Metadata.TotalCount != 10 {
		t.Errorf("refused creates changed the data: total_count %d", b.Metadata.TotalCount)
	}
}

func TestGetPatchDelete(t *testing.T) {
	s := newTestServer(t)
	const item = "/v2/agents/agt_a/sessions/ase_a_002"

	t.Run("get returns the session", func(t *testing.T) {
		if got := decodeSession(t, call(s, "GET", item, ""), 200); got.ID != "ase_a_002" || got.Enabled {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("patch changes only the fields present", func(t *testing.T) {
		got := decodeSession(t, call(s, "PATCH", item, `{"enabled":true,"metadata":{"k":"v"},"key":"ase_a_002"}`), 200)
		want := wireSession{ID: "ase_a_002", Key: "ase_a_002", AgentKey: "agt_a", Name: "Billing inquiry", Description: "Support session number 2",
			Metadata: map[string]any{"k": "v"}, Enabled: true, CreatedAt: "2024-01-15T10:02:00Z"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if b := decodeList(t, call(s, "GET", "/v2/agents/agt_a/sessions?enabled=true&limit=100", "")); b.Metadata.TotalCount != 6 || b.Sessions[1].ID != "ase_a_002" {
			t.Errorf("the enabled index did not follow the patch: %+v", b)
		}
	})
	t.Run("null clears the description", func(t *testing.T) {
		if got := decodeSession(t, call(s, "PATCH", item, `{"description":null}`), 200); got.Description != "" {
			t.Errorf("description %q", got.Description)
		}
	})
	bad := []struct{ name, body, field string }{
		{"a new key is a 400", `{"key":"other"}`, "key"},
		{"a new agent_key is a 400", `{"agent_key":"agt_b"}`, "agent_key"},
		{"a new created_at is a 400", `{"created_at":"2020-01-01T00:00:00Z"}`, "created_at"},
		{"an unknown field is a 400", `{"colour":"red"}`, "colour"},
		{"a null name is a 400", `{"name":null}`, "name"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			w := call(s, "PATCH", item, tt.body)
			if e := decodeError(t, w); w.Code != 400 || e.FieldErrors[tt.field] == "" {
				t.Errorf("got %d %s, want a 400 naming %s", w.Code, w.Body, tt.field)
			}
		})
	}
	t.Run("delete answers 204 and the session is gone", func(t *testing.T) {
		if w := call(s, "DELETE", item, ""); w.Code != 204 || w.Body.Len() != 0 {
			t.Fatalf("got %d %q", w.Code, w.Body)
		}
		for _, method := range []string{"GET", "DELETE", "PATCH"} {
			w := call(s, method, item, `{}`)
			if w.Code != 404 || decodeError(t, w).Code != codeSessionNotFound {
				t.Errorf("%s after delete: %d %s", method, w.Code, w.Body)
			}
		}
		if b := decodeList(t, call(s, "GET", "/v2/agents/agt_a/sessions", "")); b.Metadata.TotalCount != 9 {
			t.Errorf("total_count %d, want 9", b.Metadata.TotalCount)
		}
	})
	t.Run("a bad session key is a 400", func(t *testing.T) {
		w := call(s, "GET", "/v2/agents/agt_a/sessions/"+strings.Repeat("x", 51), "")
		if e := decodeError(t, w); w.Code != 400 || e.FieldErrors["session_key"] == "" {
			t.Errorf("got %d %s", w.Code, w.Body)
		}
	})
	t.Run("an unknown agent is agent_not_found", func(t *testing.T) {
		w := call(s, "GET", "/v2/agents/agt_nobody/sessions/ase_a_001", "")
		if w.Code != 404 || decodeError(t, w).Code != codeAgentNotFound {
			t.Errorf("got %d %s", w.Code, w.Body)
		}
	})
}

func TestExpiry(t *testing.T) {
	s := newTestServer(t)
	s.SetClock(start)
	const url = "/v2/agents/agt_a/sessions"
	decodeSession(t, call(s, "POST", url, `{"key":"short","name":"x","tti_minutes":60}`), 201)
	count := func() int { return decodeList(t, call(s, "GET", url, "")).Metadata.TotalCount }

	s.AdvanceClock(59 * time.Minute)
	if w := call(s, "GET", url+"/short", ""); w.Code != 200 {
		t.Fatalf("after 59 minutes: %d", w.Code)
	}
	s.AdvanceClock(59 * time.Minute) // 118 minutes after create, 59 after the get
	if n := count(); n != 11 {
		t.Errorf("a get did not keep the session alive: total_count %d, want 11", n)
	}
	s.AdvanceClock(time.Minute) // 60 minutes idle
	if n := count(); n != 10 {
		t.Errorf("an expired session still lists: total_count %d, want 10", n)
	}
	if w := call(s, "GET", url+"/short", ""); w.Code != 404 {
		t.Errorf("get of an expired session: %d, want 404", w.Code)
	}
	if w := call(s, "POST", url, `{"key":"short","name":"again"}`); w.Code != 201 {
		t.Errorf("the key of an expired session is not free again: %d %s", w.Code, w.Body)
	}
}

func TestLoadedSessionsExpireFromTheLoadTime(t *testing.T) {
	s := newTestServer(t)
	s.SetClock(start)
	d := tinyData()
	d.Agents[0].Sessions[0].TTIMinutes = 10
	if err := s.Replace(d); err != nil {
		t.Fatal(err)
	}
	s.AdvanceClock(9 * time.Minute)
	if w := call(s, "GET", "/v2/agents/agt_a/sessions/ase_a_001", ""); w.Code != 200 {
		t.Fatalf("9 minutes after the load: %d", w.Code)
	}
	s.AdvanceClock(10 * time.Minute)
	if w := call(s, "GET", "/v2/agents/agt_a/sessions/ase_a_001", ""); w.Code != 404 {
		t.Errorf("10 minutes after the last get: %d, want 404", w.Code)
	}
}

func TestAdminClock(t *testing.T) {
	s := newTestServer(t)
	read := func(w *httptest.ResponseRecorder) clockState {
		t.Helper()
		var c clockState
		if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil || w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		return c
	}
	if diff := cmp.Diff(clockState{Now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Frozen: true},
		read(call(s, "POST", "/__admin/clock", `{"set":"2025-01-01T00:00:00Z"}`))); diff != "" {
		t.Errorf("after set (-want +got):\n%s", diff)
	}
	advanced := clockState{Now: time.Date(2025, 1, 1, 1, 30, 0, 0, time.UTC), Frozen: true}
	if diff := cmp.Diff(advanced, read(call(s, "POST", "/__admin/clock", `{"advance":"90m"}`))); diff != "" {
		t.Errorf("after advance (-want +got):\n%s", diff)
	}
	bad := []struct{ name, body string }{
		{"an empty change is a 400", `{}`},
		{"both advance and set is a 400", `{"advance":"90m","set":"2025-01-01T00:00:00Z"}`},
		{"a negative advance is a 400", `{"advance":"-1m"}`},
		{"an advance that is no duration is a 400", `{"advance":"soon"}`},
		{"a set that is no time is a 400", `{"set":"tomorrow"}`},
		{"an unknown field is a 400", `{"speed":2}`},
	}
	for _, tt := range bad {
		t.Run(tt.name+" and changes nothing", func(t *testing.T) {
			if w := call(s, "POST", "/__admin/clock", tt.body); w.Code != 400 {
				t.Errorf("%s: %d, want 400", tt.body, w.Code)
			}
			if diff := cmp.Diff(advanced, read(call(s, "GET", "/__admin/clock", ""))); diff != "" {
				t.Errorf("a bad call changed the clock (-want +got):\n%s", diff)
			}
		})
	}
	call(s, "POST", "/__admin/reset", "")
	if c := read(call(s, "GET", "/__admin/clock", "")); c.Frozen || time.Since(c.Now) > time.Hour {
		t.Errorf("a reset did not bring the real clock back: %+v", c)
	}
}

func TestResetUndoesWrites(t *testing.T) {
	s := newTestServer(t)
	call(s, "POST", "/v2/agents/agt_a/sessions", `{"name":"new"}`)
	call(s, "DELETE", "/v2/agents/agt_a/sessions/ase_a_001", "")
	s.Reset()
	b := decodeList(t, call(s, "GET", "/v2/agents/agt_a/sessions?limit=100", ""))
	if b.Metadata.TotalCount != 10 || b.Sessions[0].ID != "ase_a_001" {
		t.Errorf("after a reset: %+v", b)
	}
}

func TestScenarioMatchesRouteAndMethod(t *testing.T) {
	s := newTestServer(t)
	mustActivate(t, s, "", scenarios.Rule{Match: scenarios.Match{Route: scenarios.RouteCreate}, Respond: &scenarios.Response{Status: 503}})
	if w := call(s, "POST", "/v2/agents/agt_a/sessions", `{"name":"x"}`); w.Code != 503 {
		t.Errorf("create: %d, want 503", w.Code)
	}
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", ""); w.Code != 200 {
		t.Errorf("list: %d, want 200", w.Code)
	}
	mustActivate(t, s, "", scenarios.Rule{Match: scenarios.Match{Method: "DELETE"}, Respond: &scenarios.Response{Status: 500}})
	if w := call(s, "DELETE", "/v2/agents/agt_a/sessions/ase_a_001", ""); w.Code != 500 {
		t.Errorf("delete: %d, want 500", w.Code)
	}
	var routes []string
	for _, r := range s.Requests() {
		routes = append(routes, r.Route)
	}
	if diff := cmp.Diff([]string{"create", "list", "delete"}, routes); diff != "" {
		t.Errorf("journal routes (-want +got):\n%s", diff)
	}
}

// TestWalksDuringWrites pages through an agent while writers create and
// delete sessions. Every walk must see each session that existed for the
// whole walk exactly once, and never a duplicate.
func TestWalksDuringWrites(t *testing.T) {
	d := &fixtures.Data{Agents: []fixtures.Agent{{Key: "agt_w"}}}
	for i := range 300 {
		d.Agents[0].Sessions = append(d.Agents[0].Sessions, fixtures.Session{ID: fmt.Sprintf("stable_%04d", i*2), AgentKey: "agt_w", Enabled: i%3 > 0})
	}
	s, err := New(WithData(d))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for wr := range 4 {
		writers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("stable_%04d_w%d", (i*37)%600, wr) // interleaves with the stable ids
				if w := call(s, "POST", "/v2/agents/agt_w/sessions", `{"key":"`+key+`","name":"x","enabled":`+fmt.Sprint(i%2 == 0)+`}`); w.Code != 201 && w.Code != 409 {
					t.Errorf("create: %d %s", w.Code, w.Body)
					return
				}
				if w := call(s, "DELETE", "/v2/agents/agt_w/sessions/"+key, ""); w.Code != 204 {
					t.Errorf("delete: %d %s", w.Code, w.Body)
					return
				}
			}
		})
	}
	var walkers sync.WaitGroup
	for wk := range 8 {
		walkers.Go(func() {
			filter := []string{"", "&enabled=true", "&enabled=false"}[wk%3]
			for range 5 {
				seen := map[string]bool{}
				pageKey := ""
				for {
					w := call(s, "GET", "/v2/agents/agt_w/sessions?limit=7"+filter+"&page_key="+pageKey, "")
					var b listBody
					if err := json.Unmarshal(w.Body.Bytes(), &b); w.Code != 200 || err != nil {
						t.Errorf("list: %d %v %s", w.Code, err, w.Body)
						return
					}
					for _, ss := range b.Sessions {
						if seen[ss.ID] {
							t.Errorf("walk saw %s twice", ss.ID)
						}
						seen[ss.ID] = true
					}
					if pageKey = b.Metadata.PageKey; pageKey == "" {
						break
					}
				}
				for _, fs := range d.Agents[0].Sessions {
					if (filter == "&enabled=true" && !fs.Enabled) || (filter == "&enabled=false" && fs.Enabled) {
						continue
					}
					if !seen[fs.ID] {
						t.Errorf("walk missed %s", fs.ID)
					}
				}
			}
		})
	}
	walkers.Wait()
	close(stop)
	writers.Wait()
}

func TestCreateSessionWithoutName(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // keys of the sessions made, in order
	}{
		{"an empty body makes ase_session, then ase_session_2", `{}`, []string{"ase_session", "ase_session_2"}},
		{"a key without a name is also the name", `{"key":"kk"}`, []string{"kk"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t)
			for _, want := range tt.want {
				got := decodeSession(t, call(s, "POST", "/v2/agents/agt_a/sessions", tt.body), 201)
				if got.Key != want || got.Name != want || !got.Enabled {
					t.Errorf("created %+v, want key and name %s, enabled", got, want)
				}
			}
		})
	}
}
