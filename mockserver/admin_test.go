package mockserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
	s := newTestServer(t)
	list := func() *httptest.ResponseRecorder { return call(s, "GET", "/v2/agents/agt_a/sessions", "") }

	t.Run("a built-in scenario activates by name", func(t *testing.T) {
		if w := call(s, "PUT", "/__admin/scenario", `{"name":"server_error"}`); w.Code != 200 {
			t.Fatalf("activate: %d %s", w.Code, w.Body)
		}
		if w := list(); w.Code != 500 {
			t.Errorf("list: %d, want 500", w.Code)
		}
	})
	t.Run("deactivation brings normal responses back", func(t *testing.T) {
		if w := call(s, "DELETE", "/__admin/scenario", ""); w.Code != 200 {
			t.Fatalf("deactivate: %d %s", w.Code, w.Body)
		}
		if w := list(); w.Code != 200 {
			t.Errorf("list: %d, want 200", w.Code)
		}
	})
	t.Run("inline rules take durations as strings", func(t *testing.T) {
		w := call(s, "PUT", "/__admin/scenario", `{"name":"two_429s","rules":[{"times":2,"respond":{"status":429,"retry_after":"3s"}}]}`)
		if w.Code != 200 {
			t.Fatalf("activate: %d %s", w.Code, w.Body)
		}
		var got []string
		for range 3 {
			w := list()
			got = append(got, w.Header().Get("Retry-After")+"/"+http.StatusText(w.Code))
		}
		if want := []string{"3/Too Many Requests", "3/Too Many Requests", "/OK"}; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("the listing shows the active scenario with its key redacted", func(t *testing.T) {
		if w := call(s, "PUT", "/__admin/scenario", `{"name":"slow","api_key":"secret_key_9"}`); w.Code != 200 {
			t.Fatalf("activate: %d %s", w.Code, w.Body)
		}
		w := call(s, "GET", "/__admin/scenarios", "")
		var body scenarioList
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Scenarios) < 9 || len(body.Active) != 2 || body.Active[1].Name != "slow" ||
			body.Active[1].APIKey != KeyFingerprint("secret_key_9") || strings.Contains(w.Body.String(), "secret_key_9") {
			t.Errorf("listing %s", w.Body)
		}
		call(s, "DELETE", "/__admin/scenario?api_key=secret_key_9", "")
		if w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "X-Api-Key", "secret_key_9"); w.Code != 200 {
			t.Errorf("after DELETE ?api_key=, the key's scenario is still active: %d", w.Code)
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
		{"a body that is not JSON is a 400", `name=slow`, 400, "body"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			w := call(s, "PUT", "/__admin/scenario", tt.body)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; %s", w.Code, tt.status, w.Body)
			}
			if e := decodeError(t, w); tt.field != "" && e.FieldErrors[tt.field] == "" {
				t.Errorf("field_errors %v lack %q", e.FieldErrors, tt.field)
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

	read := func(query string) (queries []string) {
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
	tests := []struct{ name, query, want string }{
		{"all, oldest first, without admin calls", "", "agt_a?limit=1 agt_nobody? agt_a?limit=2"},
		{"by agent", "?agent_key=agt_a", "agt_a?limit=1 agt_a?limit=2"},
		{"by status", "?status=404", "agt_nobody?"},
		{"the newest few", "?limit=2", "agt_nobody? agt_a?limit=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(read(tt.query), " "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if w := call(s, "GET", "/__admin/requests?status=many", ""); w.Code != 400 {
		t.Errorf("a bad status filter: %d, want 400", w.Code)
	}
	call(s, "DELETE", "/__admin/requests", "")
	if got := read(""); len(got) != 0 {
		t.Errorf("after DELETE, the journal holds %v", got)
	}
}

func TestAdminFixtures(t *testing.T) {
	s := newTestServer(t)
	t.Run("a good body replaces the data", func(t *testing.T) {
		w := call(s, "PUT", "/__admin/fixtures", "agents:\n  - key: agt_new\n    generate: {count: 3}\n")
		if w.Code != 200 || w.Body.String() != `{"agents":1,"sessions":3}`+"\n" {
			t.Fatalf("got %d %s", w.Code, w.Body)
		}
		if w := call(s, "GET", "/v2/agents/agt_new/sessions", ""); w.Code != 200 {
			t.Errorf("agt_new: %d", w.Code)
		}
	})
	t.Run("a bad body is a 400 naming the line and keeps the data", func(t *testing.T) {
		w := call(s, "PUT", "/__admin/fixtures", "agents:\n  - key: agt_other\n    colour: blue\n")
		if w.Code != 400 || !strings.Contains(w.Body.String(), "request body:3") {
			t.Errorf("got %d %s, want a 400 naming request body:3", w.Code, w.Body)
		}
		if w := call(s, "GET", "/v2/agents/agt_new/sessions", ""); w.Code != 200 {
			t.Errorf("agt_new after a bad body: %d", w.Code)
		}
	})
	t.Run("an oversized body is a 413", func(t *testing.T) {
		w := call(s, "PUT", "/__admin/fixtures", "agents: []\n#"+strings.Repeat("x", maxFixturesBody))
		if w.Code != 413 || decodeError(t, w).Code != codePayloadTooLarge {
			t.Errorf("got %d %s", w.Code, w.Body)
		}
	})
	t.Run("a reset goes back to the data loaded at start", func(t *testing.T) {
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
	s := newTestServer(t)
	for _, target := range []string{"/v2/agents/__admin/sessions", "/v2/agents/agt_a/sessions/../../../__admin/reset"} {
		if w := call(s, "GET", target, ""); w.Code == 200 {
			t.Errorf("%s: 200", target)
		}
	}
	if n := len(s.Requests()); n > 2 {
		t.Errorf("%d journal entries", n)
	}
}
