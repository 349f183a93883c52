package mockserver

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/julienschmidt/httprouter"

	"github.com/agentmock/agentmock/fixtures"
)

// tinyData is a small hand-built data set: agt_a has ten sessions, odd ones
// enabled; agt_locked allows only key_a; agt_empty has none.
func tinyData() *fixtures.Data {
	a := fixtures.Agent{Key: "agt_a"}
	for i := 1; i <= 10; i++ {
		a.Sessions = append(a.Sessions, fixtures.Session{
			ID:          fmt.Sprintf("ase_a_%03d", i),
			AgentKey:    "agt_a",
			Name:        []string{"Billing inquiry", "Password reset"}[i%2],
			Description: fmt.Sprintf("Support session number %d", i),
			Enabled:     i%2 == 1,
			CreatedAt:   time.Date(2024, 1, 15, 10, i, 0, 0, time.UTC),
		})
	}
	return &fixtures.Data{Agents: []fixtures.Agent{
		a,
		{Key: "agt_empty"},
		{Key: "agt_locked", AllowedKeys: []string{"key_a"}, Sessions: []fixtures.Session{
			{ID: "ase_locked_001", AgentKey: "agt_locked", Enabled: true, CreatedAt: time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC)},
		}},
	}}
}

func newTestServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s, err := New(append([]Option{WithData(tinyData())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// call sends one request through the handler, with the key key_a and, with
// a body, Content-Type application/json, unless headers say otherwise (an
// empty value removes a header).
func call(s http.Handler, method, target, body string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("X-Api-Key", "key_a")
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			r.Header.Del(headers[i])
		} else {
			r.Header.Set(headers[i], headers[i+1])
		}
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

type listBody struct {
	Sessions []struct {
		ID      string `json:"id"`
		Key     string `json:"key"`
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
	} `json:"sessions"`
	Metadata struct {
		PageKey    string `json:"page_key"`
		TotalCount int    `json:"total_count"`
	} `json:"metadata"`
}

func decodeList(t *testing.T, w *httptest.ResponseRecorder) listBody {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", w.Code, w.Body)
	}
	var b listBody
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, w.Body)
	}
	return b
}

func decodeError(t *testing.T, w *httptest.ResponseRecorder) errorBody {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body is not JSON: %v\n%s", err, w.Body)
	}
	if e.Code == "" || len(e.Messages) == 0 || !strings.HasPrefix(e.RequestID, "req_") {
		t.Errorf("error body lacks code, messages or request_id: %s", w.Body)
	}
	return e
}

func TestListErrors(t *testing.T) {
	long := "agt_" + strings.Repeat("x", 47)
	tests := []struct {
		name       string
		method     string
		target     string
		headers    []string
		wantStatus int
		wantCode   string
		wantFields []string // keys of field_errors
	}{
		{"a bad agent key is a 400", "GET", "/v2/agents/customer.support/sessions", nil, 400, codeInvalidRequest, []string{"agent_key"}},
		{"a well-formed key of no agent is a 404, with or without agt_", "GET", "/v2/agents/customer_support/sessions", nil, 404, codeAgentNotFound, nil},
		{"a 51-character agent key is a 400", "GET", "/v2/agents/" + long + "/sessions", nil, 400, codeInvalidRequest, []string{"agent_key"}},
		{"a limit of 0 is a 400", "GET", "/v2/agents/agt_a/sessions?limit=0", nil, 400, codeInvalidRequest, []string{"limit"}},
		{"a limit of 101 is a 400, not clamped", "GET", "/v2/agents/agt_a/sessions?limit=101", nil, 400, codeInvalidRequest, []string{"limit"}},
		{"a limit that is no number is a 400", "GET", "/v2/agents/agt_a/sessions?limit=ten", nil, 400, codeInvalidRequest, []string{"limit"}},
		{"an empty limit is a 400", "GET", "/v2/agents/agt_a/sessions?limit=", nil, 400, codeInvalidRequest, []string{"limit"}},
		{"a repeated limit is a 400", "GET", "/v2/agents/agt_a/sessions?limit=1&limit=2", nil, 400, codeInvalidRequest, []string{"limit"}},
		{"a garbage page_key is a 400", "GET", "/v2/agents/agt_a/sessions?page_key=garbage!", nil, 400, codeInvalidRequest, []string{"page_key"}},
		{"enabled=yes is a 400", "GET", "/v2/agents/agt_a/sessions?enabled=yes", nil, 400, codeInvalidRequest, []string{"enabled"}},
		{"a bad regular expression is a 400", "GET", "/v2/agents/agt_a/sessions?filter=%28", nil, 400, codeInvalidRequest, []string{"filter"}},
		{"a 257-character filter is a 400", "GET", "/v2/agents/agt_a/sessions?filter=" + strings.Repeat("a", 257), nil, 400, codeInvalidRequest, []string{"filter"}},
		{"every bad parameter is named at once", "GET", "/v2/agents/agt_a/sessions?limit=0&enabled=maybe", nil, 400, codeInvalidRequest, []string{"enabled", "limit"}},
		{"a malformed escape in a known parameter is a 400", "GET", "/v2/agents/agt_a/sessions?limit=%zz", nil, 400, codeInvalidRequest, []string{"limit"}},
		{"no key is a 401", "GET", "/v2/agents/agt_a/sessions", []string{"X-Api-Key", ""}, 401, codeUnauthorized, nil},
		{"an empty bearer token is a 401", "GET", "/v2/agents/agt_a/sessions", []string{"X-Api-Key", "", "Authorization", "Bearer "}, 401, codeUnauthorized, nil},
		{"a key the agent does not allow is a 403", "GET", "/v2/agents/agt_locked/sessions", []string{"X-Api-Key", "key_b"}, 403, codeForbidden, nil},
		{"an unknown agent is a 404", "GET", "/v2/agents/agt_nobody/sessions", nil, 404, codeAgentNotFound, nil},
		{"an unknown route is a 404 not_found", "GET", "/v2/corpora", nil, 404, codeNotFound, nil},
		{"a trailing slash is an unknown route", "GET", "/v2/agents/agt_a/sessions/", nil, 404, codeNotFound, nil},
		{"a wrong method is a 405", "DELETE", "/v2/agents/agt_a/sessions", nil, 405, codeMethodNotAllowed, nil},
	}
	s := newTestServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(s, tt.method, tt.target, "", tt.headers...)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			e := decodeError(t, w)
			if e.Code != tt.wantCode {
				t.Errorf("code %q, want %q", e.Code, tt.wantCode)
			}
			var fields []string
			for _, k := range slices.Sorted(maps.Keys(e.FieldErrors)) {
				fields = append(fields, k)
			}
			if diff := cmp.Diff(tt.wantFields, fields); diff != "" {
				t.Errorf("field_errors keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotFoundNamesTheAgent(t *testing.T) {
	e := decodeError(t, call(newTestServer(t), "GET", "/v2/agents/agt_nobody/sessions", ""))
	if e.ID != "agt_nobody" || !strings.Contains(e.Messages[0], `"agt_nobody"`) {
		t.Errorf("404 body %+v does not name agt_nobody", e)
	}
}

func TestMethodNotAllowedSetsAllow(t *testing.T) {
	w := call(newTestServer(t), "PUT", "/v2/agents/agt_a/sessions", "")
	if allow := w.Header().Get("Allow"); !strings.Contains(allow, "GET") {
		t.Errorf("Allow %q, want it to list GET", allow)
	}
}

func TestAuthentication(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		headers []string
		want    int
	}{
		{"any non-empty key is accepted by default", nil, []string{"X-Api-Key", "whatever"}, 200},
		{"a bearer token is read as the key", nil, []string{"X-Api-Key", "", "Authorization", "Bearer whatever"}, 200},
		{"the bearer scheme is case-insensitive", nil, []string{"X-Api-Key", "", "Authorization", "bearer whatever"}, 200},
		{"a configured key is accepted", []Option{WithAPIKeys("k1", "k2")}, []string{"X-Api-Key", "k2"}, 200},
		{"another key is refused when keys are configured", []Option{WithAPIKeys("k1")}, []string{"X-Api-Key", "k3"}, 401},
		{"basic auth is not a key", nil, []string{"X-Api-Key", "", "Authorization", "Basic a2V5Og=="}, 401},
		{"no key is fine without auth", []Option{WithoutAuth()}, []string{"X-Api-Key", ""}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(newTestServer(t, tt.opts...), "GET", "/v2/agents/agt_a/sessions", "", tt.headers...)
			if w.Code != tt.want {
				t.Errorf("status %d, want %d; body %s", w.Code, tt.want, w.Body)
			}
		})
	}
}

func TestFixtureKeysAreAccepted(t *testing.T) {
	d := tinyData()
	d.APIKeys = []string{"from_file"}
	s, err := New(WithData(d), WithAPIKeys("from_flag"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key string
		want      int
	}{
		{"a key of the fixtures is accepted", "from_file", 200},
		{"a key of the options is accepted", "from_flag", 200},
		{"another key is refused", "key_a", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "X-Api-Key", tt.key); w.Code != tt.want {
				t.Errorf("key %s: status %d, want %d", tt.key, w.Code, tt.want)
			}
		})
	}
}

func TestAllowedKeysDoNotApplyWithoutAuth(t *testing.T) {
	w := call(newTestServer(t, WithoutAuth()), "GET", "/v2/agents/agt_locked/sessions", "", "X-Api-Key", "key_b")
	if w.Code != 200 {
		t.Errorf("status %d, want 200", w.Code)
	}
}

func TestListPages(t *testing.T) {
	tests := []struct {
		name      string
		query     string
		wantIDs   []string
		wantTotal int
		wantMore  bool
	}{
		{"the default limit is 10", "", ids(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 10, false},
		{"limit cuts the page and sets page_key", "limit=3", ids(1, 2, 3), 10, true},
		{"enabled=true keeps the enabled ones", "enabled=true&limit=2", ids(1, 3), 5, true},
		{"enabled=false keeps the others", "enabled=0", ids(2, 4, 6, 8, 10), 5, false},
		{"filter matches the name", "filter=^Password", ids(1, 3, 5, 7, 9), 5, false},
		{"filter matches the description", "filter=number+1%24", ids(1), 1, false},
		{"filter and enabled combine", "filter=Billing&enabled=true", nil, 0, false},
		{"page_key continues after its session", "limit=2&page_key=" + encodePageKey("ase_a_004"), ids(5, 6), 10, true},
		{"page_key of a missing id continues after it", "page_key=" + encodePageKey("ase_a_0045"), ids(5, 6, 7, 8, 9, 10), 10, false},
		{"an empty page_key is the first page", "limit=1&page_key=", ids(1), 10, true},
		{"unknown parameters are ignored", "limit=1&colour=blue", ids(1), 10, true},
		{"unknown parameters are ignored even when malformed", "limit=1&bogus=%zz&%zz=1&a;b", ids(1), 10, true},
		{"an escaped parameter name counts", "%6Cimit=1", ids(1), 10, true},
	}
	s := newTestServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := decodeList(t, call(s, "GET", "/v2/agents/agt_a/sessions?"+tt.query, ""))
			var got []string
			for _, s := range b.Sessions {
				got = append(got, s.ID)
				if s.Key != s.ID {
					t.Errorf("session key %q differs from id %q", s.Key, s.ID)
				}
			}
			if diff := cmp.Diff(tt.wantIDs, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if b.Metadata.TotalCount != tt.wantTotal {
				t.Errorf("total_count %d, want %d", b.Metadata.TotalCount, tt.wantTotal)
			}
			if more := b.Metadata.PageKey != ""; more != tt.wantMore {
				t.Errorf("page_key present %v, want %v", more, tt.wantMore)
			}
		})
	}
}

func ids(n ...int) []string {
	var out []string
	for _, i := range n {
		out = append(out, fmt.Sprintf("ase_a_%03d", i))
	}
	return out
}

func TestEmptyAgentListsAnEmptyArray(t *testing.T) {
	w := call(newTestServer(t), "GET", "/v2/agents/agt_empty/sessions", "")
	want := `{"sessions":[],"metadata":{"total_count":0}}` + "\n"
	if w.Code != 200 || w.Body.String() != want {
		t.Errorf("got %d %s, want 200 %s", w.Code, w.Body, want)
	}
}

// TestWalkEveryPage follows page_key to the end under several filters and
// checks that the pages, put together, are exactly the matching sessions in
// order: no gap, no duplicate, and the same total_count on every page.
func TestWalkEveryPage(t *testing.T) {
	d, err := fixtures.BuiltIn(fixtures.DefaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(WithData(d))
	if err != nil {
		t.Fatal(err)
	}
	for _, agent := range d.Agents {
		for _, filter := range []string{"", "enabled=true", "enabled=false", "filter=(?i)billing"} {
			for _, limit := range []int{1, 7, 100} {
				t.Run(fmt.Sprintf("%s %s limit %d", agent.Key, filter, limit), func(t *testing.T) {
					var want []string
					for _, fs := range agent.Sessions {
						if filter == "enabled=true" && !fs.Enabled || filter == "enabled=false" && fs.Enabled ||
							filter == "filter=(?i)billing" && !strings.Contains(strings.ToLower(fs.Name+" "+fs.Description), "billing") {
							continue
						}
						want = append(want, fs.ID)
					}
					var got []string
					pageKey := ""
					for pages := 0; ; pages++ {
						if pages > len(agent.Sessions)+1 {
							t.Fatal("the walk does not end")
						}
						b := decodeList(t, call(s, "GET", fmt.Sprintf("/v2/agents/%s/sessions?limit=%d&%s&page_key=%s", agent.Key, limit, filter, pageKey), ""))
						if b.Metadata.TotalCount != len(want) {
							t.Fatalf("total_count %d, want %d", b.Metadata.TotalCount, len(want))
						}
						for _, s := range b.Sessions {
							got = append(got, s.ID)
						}
						if b.Metadata.PageKey == "" {
							break
						}
						if len(b.Sessions) != limit {
							t.Fatalf("a page with a page_key has %d sessions, want %d", len(b.Sessions), limit)
						}
						pageKey = b.Metadata.PageKey
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("walked ids (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

func TestHeadHasHeadersAndNoBody(t *testing.T) {
	s := newTestServer(t)
	get := call(s, "GET", "/v2/agents/agt_a/sessions", "")
	head := call(s, "HEAD", "/v2/agents/agt_a/sessions", "")
	if head.Code != 200 || head.Header().Get("Content-Length") != get.Header().Get("Content-Length") ||
		head.Header().Get("Content-Type") != "application/json" {
		t.Errorf("HEAD: %d %v, want GET's headers %v", head.Code, head.Header(), get.Header())
	}
	if head.Body.Len() != 0 {
		t.Errorf("HEAD wrote a body of %d bytes", head.Body.Len())
	}
}

func TestCORS(t *testing.T) {
	s := newTestServer(t)
	pre := call(s, "OPTIONS", "/v2/agents/agt_a/sessions", "", "Access-Control-Request-Method", "GET", "X-Api-Key", "")
	if pre.Code != http.StatusNoContent || pre.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d %v", pre.Code, pre.Header())
	}
	for _, h := range []string{"x-api-key", "Authorization", "Prefer"} {
		if !strings.Contains(pre.Header().Get("Access-Control-Allow-Headers"), h) {
			t.Errorf("preflight does not allow header %s", h)
		}
	}
	get := call(s, "GET", "/v2/agents/agt_a/sessions", "")
	if get.Header().Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(get.Header().Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Errorf("GET lacks CORS headers: %v", get.Header())
	}
}

func TestPanicIsA500(t *testing.T) {
	s := newTestServer(t)
	s.router.GET("/panic", func(http.ResponseWriter, *http.Request, httprouter.Params) { panic("boom") })
	w := call(s, "GET", "/panic", "")
	if w.Code != 500 || decodeError(t, w).Code != codeInternal {
		t.Errorf("got %d %s, want 500 internal_error", w.Code, w.Body)
	}
}

func TestReloadReplaceAndReset(t *testing.T) {
	s := newTestServer(t)
	other := &fixtures.Data{Agents: []fixtures.Agent{{Key: "agt_other"}}}
	if err := s.Replace(other); err != nil {
		t.Fatal(err)
	}
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", ""); w.Code != 404 {
		t.Errorf("after Replace, agt_a: %d, want 404", w.Code)
	}
	s.Reset()
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", ""); w.Code != 200 {
		t.Errorf("after Reset, agt_a: %d, want 200", w.Code)
	}
	if err := s.Reload(other); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	if w := call(s, "GET", "/v2/agents/agt_other/sessions", ""); w.Code != 200 {
		t.Errorf("after Reload and Reset, agt_other: %d, want 200", w.Code)
	}
}

func TestBadDataChangesNothing(t *testing.T) {
	s := newTestServer(t)
	bad := &fixtures.Data{Agents: []fixtures.Agent{{Key: "agt_bad", Sessions: []fixtures.Session{
		{ID: "x", Metadata: map[string]any{"f": func() {}}},
	}}}}
	if err := s.Reload(bad); err == nil {
		t.Fatal("Reload accepted data that cannot be encoded")
	}
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", ""); w.Code != 200 {
		t.Errorf("after a refused Reload, agt_a: %d, want 200", w.Code)
	}
}
