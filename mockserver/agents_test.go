package mockserver

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/scenarios"
)

// decodeObject decodes a JSON object response after checking its status.
func decodeObject(t *testing.T, w *httptest.ResponseRecorder, wantStatus int) map[string]any {
	t.Helper()
	if w.Code != wantStatus {
		t.Fatalf("status %d, want %d; %s", w.Code, wantStatus, w.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	return m
}

func TestCreateAgent(t *testing.T) {
	t.Run("a name alone gets a key from the name and the defaults", func(t *testing.T) {
		s := newTestServer(t)
		s.SetClock(start)
		w := call(s, "POST", "/v2/agents", `{"name":"Support Bot"}`)
		got := decodeObject(t, w, 201)
		want := map[string]any{
			"key": "agt_support_bot", "name": "Support Bot", "enabled": true, "metadata": map[string]any{},
			"model":               map[string]any{"name": "gpt-4o"},
			"first_step":          map[string]any{"name": "main", "type": "conversational", "instructions": []any{}, "output_parser": map[string]any{"type": "default"}},
			"tool_configurations": map[string]any{},
			"created_at":          "2025-01-01T12:00:00Z", "updated_at": "2025-01-01T12:00:00Z",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if loc := w.Header().Get("Location"); loc != "/v2/agents/agt_support_bot" {
			t.Errorf("Location %q", loc)
		}
		if again := decodeObject(t, call(s, "POST", "/v2/agents", `{"name":"Support  bot!"}`), 201); again["key"] != "agt_support_bot_2" {
			t.Errorf("the same name again got key %v", again["key"])
		}
	})
	t.Run("what the mock does not interpret is kept as sent", func(t *testing.T) {
		s := newTestServer(t)
		body := `{"key":"support-agent","name":"S","description":"D","enabled":false,"metadata":{"n":12345678901234567890},` +
			`"model":{"name":"gpt-4","parameters":{"temperature":0.1}},"tool_configurations":{"kb":{"type":"corpora_search","query_configuration":{}}},` +
			`"first_step":{"type":"conversational","instructions":[{"type":"inline","name":"n","template":"t"}],"output_parser":{"type":"default"}},` +
			`"compaction":{"enabled":true,"threshold_percent":60},"skills":["a"]}`
		w := call(s, "POST", "/v2/agents", body)
		if w.Code != 201 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		for _, part := range []string{`"metadata":{"n":12345678901234567890}`, `"skills":["a"]`, `"compaction":{"enabled":true,"threshold_percent":60}`,
			`"model":{"name":"gpt-4","parameters":{"temperature":0.1}}`, `"instructions":[{"type":"inline","name":"n","template":"t"}]`} {
			if !strings.Contains(w.Body.String(), part) {
				t.Errorf("the agent lacks %s: %s", part, w.Body)
			}
		}
		if get := call(s, "GET", "/v2/agents/support-agent", ""); get.Body.String() != w.Body.String() {
			t.Errorf("get differs from create:\n%s\n%s", get.Body, w.Body)
		}
	})
}

func TestAgentErrors(t *testing.T) {
	tests := []struct {
		name, method, target, body string
		status                     int
		code                       string
		fields                     string // keys of field_errors, sorted, space-separated
	}{
		{"a create without a name is a 400", "POST", "/v2/agents", `{}`, 400, codeInvalidRequest, "name"},
		{"a name over 50 characters is a 400", "POST", "/v2/agents", `{"name":"` + strings.Repeat("x", 51) + `"}`, 400, codeInvalidRequest, "name"},
		{"a bad key is a 400", "POST", "/v2/agents", `{"name":"x","key":"a b"}`, 400, codeInvalidRequest, "key"},
		{"a model that is no object is a 400", "POST", "/v2/agents", `{"name":"x","model":"gpt-4"}`, 400, codeInvalidRequest, "model"},
		{"a bad compaction threshold is a 400", "POST", "/v2/agents", `{"name":"x","compaction":{"threshold_percent":10}}`, 400, codeInvalidRequest, "compaction.threshold_percent"},
		{"created_at on a create is a 400", "POST", "/v2/agents", `{"name":"x","created_at":"2024-01-01T00:00:00Z"}`, 400, codeInvalidRequest, "created_at"},
		{"an existing key is a 409", "POST", "/v2/agents", `{"name":"x","key":"agt_a"}`, 409, "agent_exists", ""},
		{"a body of another type is a 415", "POST", "/v2/agents", `name=x`, 415, codeUnsupportedMedia, ""},
		{"an unknown agent is a 404", "GET", "/v2/agents/nope", ``, 404, codeAgentNotFound, ""},
		{"a bad agent key in the path is a 400", "GET", "/v2/agents/a.b", ``, 400, codeInvalidRequest, "agent_key"},
		{"a key that may not use the agent is a 403", "GET", "/v2/agents/agt_locked", ``, 403, codeForbidden, ""},
		{"a patch that changes the key is a 400", "PATCH", "/v2/agents/agt_a", `{"key":"other"}`, 400, codeInvalidRequest, "key"},
		{"a put without a name is a 400", "PUT", "/v2/agents/agt_a", `{"description":"d"}`, 400, codeInvalidRequest, "name"},
		{"a delete of an unknown agent is a 404", "DELETE", "/v2/agents/nope", ``, 404, codeAgentNotFound, ""},
		{"a bad identity mode is a 400", "PATCH", "/v2/agents/agt_a/identity", `{"mode":"sometimes"}`, 400, codeInvalidRequest, "mode"},
		{"an unknown identity field is a 400", "PATCH", "/v2/agents/agt_a/identity", `{"roles":[]}`, 400, codeInvalidRequest, "roles"},
		{"a bad list limit is a 400", "GET", "/v2/agents?limit=0", ``, 400, codeInvalidRequest, "limit"},
		{"a page_key of sessions does not page agents", "GET", "/v2/agents?page_key=" + encodePageKey("ase_a_001"), ``, 400, codeInvalidRequest, "page_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t)
			before := call(s, "GET", "/v2/agents?limit=100", "").Body.String()
			headers := map[string][]string{
				codeUnsupportedMedia: {"Content-Type", "application/x-www-form-urlencoded"},
				codeForbidden:        {"X-Api-Key", "key_b"},
			}[tt.code]
			w := call(s, tt.method, tt.target, tt.body, headers...)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; %s", w.Code, tt.status, w.Body)
			}
			e := decodeError(t, w)
			if e.Code != tt.code {
				t.Errorf("code %q, want %q", e.Code, tt.code)
			}
			var fields []string
			for k := range e.FieldErrors {
				fields = append(fields, k)
			}
			if got := strings.Join(fields, " "); tt.fields != "" && got != tt.fields {
				t.Errorf("field_errors %v, want %q", e.FieldErrors, tt.fields)
			}
			if tt.status == 404 && e.ID == "" {
				t.Errorf("a 404 without id: %s", w.Body)
			}
			if after := call(s, "GET", "/v2/agents?limit=100", "").Body.String(); after != before {
				t.Errorf("a refused call changed the agents")
			}
		})
	}
}

func TestChangeAgent(t *testing.T) {
	s := newTestServer(t)
	s.SetClock(start)
	created := decodeObject(t, call(s, "POST", "/v2/agents", `{"key":"bot","name":"Bot","description":"D","metadata":{"a":1},"model":{"name":"m1"}}`), 201)
	s.AdvanceClock(time.Hour)

	t.Run("a patch changes only what it names", func(t *testing.T) {
		got := decodeObject(t, call(s, "PATCH", "/v2/agents/bot", `{"name":"Bot 2","enabled":false}`), 200)
		if got["name"] != "Bot 2" || got["enabled"] != false || got["description"] != "D" || got["created_at"] != created["created_at"] ||
			got["updated_at"] != "2025-01-01T13:00:00Z" || fmt.Sprint(got["model"]) != "map[name:m1]" {
			t.Errorf("after the patch: %v", got)
		}
	})
	t.Run("a put replaces the whole agent but its key and created_at", func(t *testing.T) {
		got := decodeObject(t, call(s, "PUT", "/v2/agents/bot", `{"name":"New"}`), 200)
		if got["name"] != "New" || got["description"] != nil || got["enabled"] != true || fmt.Sprint(got["metadata"]) != "map[]" ||
			fmt.Sprint(got["model"]) != "map[name:gpt-4o]" || got["created_at"] != created["created_at"] {
			t.Errorf("after the put: %v", got)
		}
	})
	t.Run("the identity has defaults and takes a patch", func(t *testing.T) {
		if got := call(s, "GET", "/v2/agents/bot/identity", "").Body.String(); got != defaultIdentity+"\n" {
			t.Errorf("identity %s", got)
		}
		got := call(s, "PATCH", "/v2/agents/bot/identity", `{"mode":"manual","api_roles":["reader"]}`).Body.String()
		if want := `{"mode":"manual","api_roles":["reader"],"corpus_roles":[],"agent_roles":[]}` + "\n"; got != want {
			t.Errorf("identity after a patch %s, want %s", got, want)
		}
		if decodeObject(t, call(s, "PATCH", "/v2/agents/bot", `{"name":"Again"}`), 200)["name"] != "Again" ||
			!strings.Contains(call(s, "GET", "/v2/agents/bot/identity", "").Body.String(), "manual") {
			t.Error("a patch of the agent lost its identity")
		}
	})
}

func TestDeleteAgentRemovesItsSessions(t *testing.T) {
	s := newTestServer(t)
	if w := call(s, "DELETE", "/v2/agents/agt_a", ""); w.Code != 204 {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	for _, target := range []string{"/v2/agents/agt_a", "/v2/agents/agt_a/sessions", "/v2/agents/agt_a/sessions/ase_a_001"} {
		if w := call(s, "GET", target, ""); w.Code != 404 || decodeError(t, w).Code != codeAgentNotFound {
			t.Errorf("GET %s after the delete: %d %s", target, w.Code, w.Body)
		}
	}
	decodeObject(t, call(s, "POST", "/v2/agents", `{"key":"agt_a","name":"again"}`), 201)
	if b := decodeList(t, call(s, "GET", "/v2/agents/agt_a/sessions", "")); b.Metadata.TotalCount != 0 {
		t.Errorf("a new agent of the same key has %d sessions", b.Metadata.TotalCount)
	}
	s.Reset()
	if b := decodeList(t, call(s, "GET", "/v2/agents/agt_a/sessions", "")); b.Metadata.TotalCount != 10 {
		t.Errorf("after a reset, %d sessions, want the loaded 10", b.Metadata.TotalCount)
	}
}

func TestResetForgetsCreatedAgents(t *testing.T) {
	s := newTestServer(t)
	decodeObject(t, call(s, "POST", "/v2/agents", `{"key":"temp","name":"T"}`), 201)
	s.Reset()
	if w := call(s, "GET", "/v2/agents/temp", ""); w.Code != 404 {
		t.Errorf("an agent created before a reset: %d", w.Code)
	}
}

// agentList is the body of GET /v2/agents.
type agentList struct {
	Agents []struct {
		Key string `json:"key"`
	} `json:"agents"`
	Metadata struct {
		PageKey    string `json:"page_key"`
		TotalCount int    `json:"total_count"`
	} `json:"metadata"`
}

func TestListAgents(t *testing.T) {
	d := &fixtures.Data{}
	for i := range 25 {
		d.Agents = append(d.Agents, fixtures.Agent{Key: fmt.Sprintf("bot_%02d", i), Name: fmt.Sprint("Bot ", i),
			Description: []string{"sales", "support"}[i%2], Disabled: i%5 == 0})
	}
	s, err := New(WithData(d))
	if err != nil {
		t.Fatal(err)
	}
	walk := func(query string) ([]string, int) {
		var keys []string
		total := 0
		for page := ""; ; {
			var l agentList
			w := call(s, "GET", "/v2/agents?limit=4&"+query+page, "")
			if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil || w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			for _, a := range l.Agents {
				keys = append(keys, a.Key)
			}
			total = l.Metadata.TotalCount
			if l.Metadata.PageKey == "" {
				return keys, total
			}
			page = "&page_key=" + l.Metadata.PageKey
		}
	}
	tests := []struct {
		query string
		want  int
	}{{"", 25}, {"enabled=true", 20}, {"enabled=false", 5}, {"filter=support", 12}, {"filter=support&enabled=false", 2}}
	for _, tt := range tests {
		t.Run("a walk with "+tt.query+" sees each match once", func(t *testing.T) {
			keys, total := walk(tt.query)
			seen := map[string]bool{}
			for _, k := range keys {
				if seen[k] {
					t.Errorf("%s twice", k)
				}
				seen[k] = true
			}
			if len(keys) != tt.want || total != tt.want {
				t.Errorf("%d agents, total_count %d, want %d", len(keys), total, tt.want)
			}
		})
	}
	t.Run("the page key is base64 of the last agent key", func(t *testing.T) {
		var l agentList
		json.Unmarshal(call(s, "GET", "/v2/agents?limit=2", "").Body.Bytes(), &l)
		raw, _ := base64.StdEncoding.DecodeString(l.Metadata.PageKey)
		if string(raw) != `{"agent_key":"bot_01"}` {
			t.Errorf("page_key %s", raw)
		}
	})
}

func TestAgentRoutesInScenariosAndJournal(t *testing.T) {
	s := newTestServer(t, WithScenarios(scenarios.Scenario{Name: "no_agents", Rules: []scenarios.Rule{
		{Match: scenarios.Match{Route: scenarios.RouteCreateAgent}, Respond: &scenarios.Response{Status: 503}},
	}}), WithScenario("no_agents"))
	if w := call(s, "POST", "/v2/agents", `{"name":"x"}`); w.Code != 503 {
		t.Errorf("create_agent under the scenario: %d", w.Code)
	}
	if w := call(s, "GET", "/v2/agents/agt_a", ""); w.Code != 200 {
		t.Errorf("get_agent under the scenario: %d", w.Code)
	}
	var routes []string
	for _, e := range s.Requests() {
		routes = append(routes, e.Route)
	}
	if diff := cmp.Diff([]string{"create_agent", "get_agent"}, routes); diff != "" {
		t.Errorf("journal routes (-want +got):\n%s", diff)
	}
}
