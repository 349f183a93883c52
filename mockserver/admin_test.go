package mockserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAdminHealth(t *testing.T) {
	w := call(newTestServer(t, WithAdminToken("tok")), "GET", "/__admin/health", "")
	if w.Code != 200 || w.Body.String() != `{"status":"ok"}`+"\n" {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
}

func TestAdminToken(t *testing.T) {
	s := newTestServer(t, WithAdminToken("tok"))
	tests := []struct {
		name   string
		header []string
		want   int
	}{
		{"no token is a 401", nil, 401},
		{"a wrong token is a 401", []string{"Authorization", "Bearer nope"}, 401},
		{"the API key header is not the token", []string{"X-Api-Key", "tok"}, 401},
		{"the token is accepted", []string{"Authorization", "Bearer tok"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w := call(s, "GET", "/__admin/requests", "", tt.header...); w.Code != tt.want {
				t.Errorf("status %d, want %d", w.Code, tt.want)
			}
		})
	}
}

func TestAdminScenarioCalls(t *testing.T) {
	list := func(s *Server) *httptest.ResponseRecorder { return call(s, "GET", "/v2/agents/agt_a/sessions", "") }
	activate := func(t *testing.T, s *Server, body string) {
		t.Helper()
		if w := call(s, "PUT", "/__admin/scenario", body); w.Code != 200 {
			t.Fatalf("activate %s: %d %s", body, w.Code, w.Body)
		}
	}

	t.Run("a built-in scenario activates by name", func(t *testing.T) {
		s := newTestServer(t)
		activate(t, s, `{"name":"server_error"}`)
		if w := list(s); w.Code != 500 {
			t.Errorf("list: %d, want 500", w.Code)
		}
	})
	t.Run("deactivation brings normal responses back", func(t *testing.T) {
		s := newTestServer(t)
		activate(t, s, `{"name":"server_error"}`)
		if w := call(s, "DELETE", "/__admin/scenario", ""); w.Code != 200 {
			t.Fatalf("deactivate: %d %s", w.Code, w.Body)
		}
		if w := list(s); w.Code != 200 {
			t.Errorf("list: %d, want 200", w.Code)
		}
	})
	t.Run("inline rules take durations as strings", func(t *testing.T) {
		s := newTestServer(t)
		activate(t, s, `{"name":"two_429s","rules":[{"times":2,"respond":{"status":429,"retry_after":"3s"}}]}`)
		var got []string
		for range 3 {
			w := list(s)
			got = append(got, w.Header().Get("Retry-After")+"/"+http.StatusText(w.Code))
		}
		if diff := cmp.Diff([]string{"3/Too Many Requests", "3/Too Many Requests", "/OK"}, got); diff != "" {
			t.Errorf("Retry-After/status (-want +got):\n%s", diff)
		}
	})
	t.Run("the listing shows the active scenarios with their keys redacted", func(t *testing.T) {
		s := newTestServer(t)
		activate(t, s, `{"name":"server_error"}`)
		activate(t, s, `{"name":"slow","api_key":"secret_key_9"}`)
		w := call(s, "GET", "/__admin/scenarios", "")
		if strings.Contains(w.Body.String(), "secret_key_9") {
			t.Errorf("the listing shows the key in clear: %s", w.Body)
		}
		var body scenarioList
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Scenarios) < 9 {
			t.Errorf("%d scenarios listed, want the 9 built-in ones at least", len(body.Scenarios))
		}
		type active struct{ Name, APIKey string }
		var got []active
		for _, a := range body.Active {
			got = append(got, active{a.Name, a.APIKey})
		}
		want := []active{{"server_error", ""}, {"slow", KeyFingerprint("secret_key_9")}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("active scenarios (-want +got):\n%s", diff)
		}
	})
	t.Run("deactivation for a key ends only that key's scenario", func(t *testing.T) {
		s := newTestServer(t)
		activate(t, s, `{"name":"server_error","api_key":"secret_key_9"}`)
		activate(t, s, `{"name":"forbidden","api_key":"key_a"}`)
		call(s, "DELETE", "/__admin/scenario?api_key=secret_key_9", "")
		if w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "X-Api-Key", "secret_key_9"); w.Code != 200 {
			t.Errorf("after DELETE ?api_key=, the key's scenario is still active: %d", w.Code)
		}
		if w := list(s); w.Code != 403 {
			t.Errorf("another key's scenario ended too: %d, want 403", w.Code)
		}
	})

	bad := []struct {
		name, body string
		status     int
		field      string
	}{
		{"an unknown scenario is a 404", `{"name":"nope"}`, 404, ""},
		{"no name and no rules is a 400", `{}`, 400, "name"},
		{"an unknown field is a 400", `{"name":"slow","colour":1}`, 400, "body"},
		{"a bad status in a rule is a 400 naming it", `{"rules":[{"respond":{"status":700}}]}`, 400, "rules[0].respond.status"},
		{"a number as a duration is a 400", `{"rules":[{"delay":300}]}`, 400, "rules[0].delay"},
		{"an empty list of rules is a 400", `{"name":"x","rules":[]}`, 400, "rules"},
		{"a bad retry_after is a 400 naming it", `{"rules":[{"respond":{"status":429,"retry_after":"soon"}}]}`, 400, "rules[0].respond.retry_after"},
		{"a method HTTP does not have is a 400", `{"rules":[{"match":{"method":"FETCH"},"fault":"empty_response"}]}`, 400, "rules[0].match.method"},
		{"after_chunks without a stream fault is a 400", `{"rules":[{"fault":"empty_response","after_chunks":2}]}`, 400, "rules[0].after_chunks"},
		{"a body that is not JSON is a 400", `name=slow`, 400, "body"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t)
			w := call(s, "PUT", "/__admin/scenario", tt.body)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; %s", w.Code, tt.status, w.Body)
			}
			if e := decodeError(t, w); tt.field != "" && e.FieldErrors[tt.field] == "" {
				t.Errorf("field_errors %v lack %q", e.FieldErrors, tt.field)
			}
			if w := list(s); w.Code != 200 {
				t.Errorf("a refused activation changed the answers: %d, want 200", w.Code)
			}
		})
	}
}

func TestAdminRequests(t *testing.T) {
	s := newTestServer(t)
	call(s, "GET", "/v2/agents/agt_a/sessions?limit=1", "")
	call(s, "GET", "/v2/agents/agt_nobody/sessions", "")
	call(s, "GET", "/v2/agents/agt_a/sessions?limit=2", "", "X-Api-Key", "secret_key_7")
	call(s, "GET", "/__admin/health", "")

	read := func(t *testing.T, query string) (queries []string) {
		t.Helper()
		w := call(s, "GET", "/__admin/requests"+query, "")
		if strings.Contains(w.Body.String(), "secret_key_7") {
			t.Errorf("the journal shows a key in clear: %s", w.Body)
		}
		var body requestList
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		for _, r := range body.Requests {
			queries = append(queries, r.AgentKey+"?"+r.Query)
		}
		return queries
	}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"all are listed, oldest first, without admin calls", "", []string{"agt_a?limit=1", "agt_nobody?", "agt_a?limit=2"}},
		{"agent_key keeps one agent's", "?agent_key=agt_a", []string{"agt_a?limit=1", "agt_a?limit=2"}},
		{"status keeps one status", "?status=404", []string{"agt_nobody?"}},
		{"limit keeps the newest few", "?limit=2", []string{"agt_nobody?", "agt_a?limit=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, read(t, tt.query)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
	if w := call(s, "GET", "/__admin/requests?status=many", ""); w.Code != 400 {
		t.Errorf("a bad status filter: %d, want 400", w.Code)
	}
	call(s, "DELETE", "/__admin/requests", "")
	if got := read(t, ""); len(got) != 0 {
		t.Errorf("after DELETE, the journal holds %v", got)
	}
}

func TestAdminFixtures(t *testing.T) {
	const good = "agents:\n  - key: agt_new\n    generate: {count: 3}\n"
	replace := func(t *testing.T, s *Server) {
		t.Helper()
		w := call(s, "PUT", "/__admin/fixtures", good)
		if w.Code != 200 || w.Body.String() != `{"agents":1,"sessions":3}`+"\n" {
			t.Fatalf("got %d %s", w.Code, w.Body)
		}
	}
	t.Run("a good body replaces the data", func(t *testing.T) {
		s := newTestServer(t)
		replace(t, s)
		if w := call(s, "GET", "/v2/agents/agt_new/sessions", ""); w.Code != 200 {
			t.Errorf("agt_new: %d", w.Code)
		}
		if w := call(s, "GET", "/v2/agents/agt_a/sessions", ""); w.Code != 404 {
			t.Errorf("agt_a of the old data: %d, want 404", w.Code)
		}
	})
	t.Run("a bad body is a 400 naming the line and keeps the data", func(t *testing.T) {
		s := newTestServer(t)
		replace(t, s)
		w := call(s, "PUT", "/__admin/fixtures", "agents:\n  - key: agt_other\n    colour: blue\n")
		if w.Code != 400 || !strings.Contains(w.Body.String(), "request body:3") {
			t.Errorf("got %d %s, want a 400 naming request body:3", w.Code, w.Body)
		}
		if w := call(s, "GET", "/v2/agents/agt_new/sessions", ""); w.Code != 200 {
			t.Errorf("agt_new after a bad body: %d", w.Code)
		}
	})
	t.Run("an oversized body is a 413", func(t *testing.T) {
		s := newTestServer(t)
		w := call(s, "PUT", "/__admin/fixtures", "agents: []\n#"+strings.Repeat("x", maxFixturesBody))
		if w.Code != 413 || decodeError(t, w).Code != codePayloadTooLarge {
			t.Errorf("got %d %s", w.Code, w.Body)
		}
		if w := call(s, "GET", "/v2/agents/agt_a/sessions", ""); w.Code != 200 {
			t.Errorf("agt_a after an oversized body: %d", w.Code)
		}
	})
	t.Run("a reset goes back to the data loaded at start", func(t *testing.T) {
		s := newTestServer(t)
		replace(t, s)
		if w := call(s, "POST", "/__admin/reset", ""); w.Code != 200 {
			t.Fatalf("reset: %d", w.Code)
		}
		if call(s, "GET", "/v2/agents/agt_new/sessions", "").Code != 404 || call(s, "GET", "/v2/agents/agt_a/sessions", "").Code != 200 {
			t.Error("the reset did not restore the data loaded at start")
		}
	})
}

func TestResetClearsScenarioAndJournal(t *testing.T) {
	s := newTestServer(t)
	call(s, "PUT", "/__admin/scenario", `{"name":"server_error"}`)
	call(s, "GET", "/v2/agents/agt_a/sessions", "")
	call(s, "POST", "/__admin/reset", "")
	if n := len(s.Requests()); n != 0 {
		t.Errorf("the journal holds %d entries after a reset", n)
	}
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", ""); w.Code != 200 {
		t.Errorf("the scenario is still active after a reset: %d", w.Code)
	}
}

func TestResetRestartsTheStartScenario(t *testing.T) {
	s := newTestServer(t, WithScenarios(), WithScenario("rate_limit_exceeded"))
	s.DeactivateScenario("")
	s.Reset()
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", ""); w.Code != 429 {
		t.Errorf("after a reset: %d, want the start scenario's 429", w.Code)
	}
}

func TestAdminIsNotAnAgentRoute(t *testing.T) {
	tests := []struct{ name, target string }{
		{"__admin as an agent key is no admin call", "/v2/agents/__admin/sessions"},
		{"a traversal to the admin API is no admin call", "/v2/agents/agt_a/sessions/../../../__admin/reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t)
			if w := call(s, "GET", tt.target, ""); w.Code == 200 {
				t.Errorf("%s: 200", tt.target)
			}
			// An API request is journaled; an admin call is not.
			if n := len(s.Requests()); n != 1 {
				t.Errorf("%d journal entries, want the request's 1", n)
			}
		})
	}
}
