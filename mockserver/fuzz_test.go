package mockserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/internal/store"
)

// The fuzz targets of this package. Seeds are in the f.Add calls and in
// testdata/fuzz/<target>/; `go test` runs them all, and
//
//	go test ./mockserver -run '^$' -fuzz '^FuzzPageKey$' -fuzztime 60s
//
// looks for new failures (one target at a time).

// FuzzPageKey reads its input both ways: as a session id, whose token must
// be exactly the documented encoding and decode back to it, even after the
// transport damage the decoder forgives; and as a page_key from a client,
// which must decode to a valid session id from one JSON object naming it, or
// be refused with errBadPageKey, never a panic.
func FuzzPageKey(f *testing.F) {
	for _, s := range []string{
		"",
		"a",
		"ase_customer_support_003",
		strings.Repeat("Z", 50),
		strings.Repeat("Z", 51),
		encodePageKey("ase_customer_support_003"),
		"eyJzZXNzaW9uX2lkIjoiYXNlX2N1c3RvbWVyX3N1cHBvcnRfMDAzIn0",
		"eyJzZXNzaW9uX2lkIjoifQ==", // {"session_id":"}
		base64.StdEncoding.EncodeToString([]byte(`{"session_id":"a"}}`)),
		base64.StdEncoding.EncodeToString([]byte(`{ "session_id" : "a" }`)),
		base64.StdEncoding.EncodeToString([]byte(`["a"]`)),
		base64.StdEncoding.EncodeToString([]byte(`{"session_id":3}`)),
		"!!!",
		strings.Repeat("A", maxPageKeyLen+1),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validKey(s) {
			checkTokenOf(t, s)
		}
		id, err := decodePageKey(s)
		if err != nil {
			if err != errBadPageKey {
				t.Fatalf("decodePageKey(%q) = %v, want errBadPageKey", s, err)
			}
			return
		}
		if !validKey(id) {
			t.Fatalf("decodePageKey(%q) = %q, which is not a session id", s, id)
		}
		if len(s) > maxPageKeyLen {
			t.Fatalf("decodePageKey accepted a %d-byte token", len(s))
		}
		// The payload, decoded as the doc says (either alphabet, padding
		// optional, a space for '+'), must be one JSON object whose
		// session_id is id: no trailing data, no other field.
		norm := strings.NewReplacer(" ", "+", "-", "+", "_", "/", "=", "").Replace(s)
		payload, err := base64.RawStdEncoding.DecodeString(norm)
		if err != nil {
			t.Fatalf("decodePageKey(%q) accepted what is not base64: %v", s, err)
		}
		var key struct {
			SessionID string `json:"session_id"`
		}
		if err := json.Unmarshal(payload, &key); err != nil || key.SessionID != id {
			t.Fatalf("decodePageKey(%q) = %q, but its payload %q is not one JSON object with that session_id (%v)", s, id, payload, err)
		}
		checkTokenOf(t, id)
	})
}

// checkTokenOf checks the token of a page that ends with id.
func checkTokenOf(t *testing.T, id string) {
	t.Helper()
	ref, err := json.Marshal(map[string]string{"session_id": id})
	if err != nil {
		t.Fatal(err)
	}
	tok := encodePageKey(id)
	if want := base64.StdEncoding.EncodeToString(ref); tok != want {
		t.Fatalf("encodePageKey(%q) = %q, want standard base64 of %s: %q", id, tok, ref, want)
	}
	if got := string(appendPageKey([]byte("prefix"), id)); got != "prefix"+tok {
		t.Fatalf("appendPageKey does not append: %q", got)
	}
	for _, damaged := range []string{
		tok,
		strings.TrimRight(tok, "="),
		base64.URLEncoding.EncodeToString(ref),
		base64.RawURLEncoding.EncodeToString(ref),
		strings.ReplaceAll(tok, "+", " "),
	} {
		if got, err := decodePageKey(damaged); err != nil || got != id {
			t.Fatalf("decodePageKey(%q) = %q, %v; want %q (token %q)", damaged, got, err, id, tok)
		}
	}
}

// FuzzParseListQuery checks parseListQuery against a plain reading of the
// query with the net/url functions: parameters it does not know are ignored
// however they are written; a known one that is repeated, badly escaped or
// invalid is named in the field errors; a valid one has the value it says.
// It never panics.
func FuzzParseListQuery(f *testing.F) {
	for _, s := range []string{
		"",
		"limit=3",
		"limit=100&enabled=false&filter=(%3Fi)billing",
		"limit=0",
		"limit=101",
		"limit=999999999999999999999999999999",
		"limit=%2B5",
		"limit=3&limit=3",
		"limit=%ZZ&limit=3",
		"page_key=",
		"page_key=eyJzZXNzaW9uX2lkIjoiYXNlX2N1c3RvbWVyX3N1cHBvcnRfMDAzIn0=",
		"page_key=eyJzZXNzaW9uX2lkIjoiYXNlX2N1c3RvbWVyX3N1cHBvcnRfMDAzIn0+",
		"page_key=eyJzZXNzaW9uX2lkIjoifQ==",
		"enabled=TRUE&enabled=1",
		"enabled=%00",
		"filter=%FF",
		"filter=(a%2B)%2B$",
		"filter=" + strings.Repeat("a", maxFilterLen+1),
		"limit=1;limit=2",
		"%ZZ=1",
		"x=%",
		"&&&=&",
		"lim%69t=5",
		"unknown=%FF&limit=5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, bad := parseListQuery(raw, sessionCursor)
		for name, reason := range bad {
			switch name {
			case "limit", "page_key", "enabled", "filter":
			default:
				t.Fatalf("field error for %q, which is no parameter of a list", name)
			}
			if reason == "" {
				t.Fatalf("field error for %s without a reason", name)
			}
		}
		// The raw values of each known parameter, in order.
		values := map[string][]string{}
		for _, pair := range strings.Split(raw, "&") {
			k, v, _ := strings.Cut(pair, "=")
			if k, err := url.QueryUnescape(k); err == nil {
				values[k] = append(values[k], v)
			}
		}
		// one returns the value of a parameter given once, unescaped.
		one := func(name string) (string, bool) {
			vs := values[name]
			switch {
			case len(vs) > 1:
				if bad[name] == "" {
					t.Fatalf("%s is given %d times without a field error", name, len(vs))
				}
				return "", false
			case len(vs) == 0:
				if bad[name] != "" {
					t.Fatalf("%s is absent but has a field error %q", name, bad[name])
				}
				return "", false
			}
			v, err := url.QueryUnescape(vs[0])
			if err != nil {
				if bad[name] == "" {
					t.Fatalf("%s=%q is badly escaped without a field error", name, vs[0])
				}
				return "", false
			}
			return v, true
		}
		check := func(name, v string, ok bool) {
			t.Helper()
			if ok != (bad[name] == "") {
				t.Fatalf("%s=%q: valid is %v, field error %q", name, v, ok, bad[name])
			}
		}
		if v, given := one("limit"); given {
			n, err := strconv.Atoi(v)
			ok := err == nil && n >= 1 && n <= maxLimit
			check("limit", v, ok)
			if ok && q.Limit != n {
				t.Fatalf("limit=%q gave %d", v, q.Limit)
			}
		} else if bad["limit"] == "" && q.Limit != defaultLimit {
			t.Fatalf("no limit gave %d", q.Limit)
		}
		if v, given := one("page_key"); given {
			id, err := "", error(nil)
			if v != "" {
				id, err = decodePageKey(v)
			}
			check("page_key", v, err == nil)
			if err == nil && q.After != id {
				t.Fatalf("page_key=%q gave %q, want %q", v, q.After, id)
			}
		} else if bad["page_key"] == "" && q.After != "" {
			t.Fatalf("no page_key gave after=%q", q.After)
		}
		if v, given := one("enabled"); given {
			b, err := strconv.ParseBool(v)
			check("enabled", v, err == nil)
			if want := map[bool]store.Enabled{true: store.OnlyEnabled, false: store.OnlyDisabled}[b]; err == nil && q.Enabled != want {
				t.Fatalf("enabled=%q gave %v", v, q.Enabled)
			}
		} else if bad["enabled"] == "" && q.Enabled != store.AnyEnabled {
			t.Fatalf("no enabled gave %v", q.Enabled)
		}
		if v, given := one("filter"); given {
			_, err := regexp.Compile(v)
			check("filter", v, err == nil && utf8.RuneCountInString(v) <= maxFilterLen)
			if bad["filter"] == "" && (q.Filter == nil || q.Filter.String() != v) {
				t.Fatalf("filter=%q gave %v", v, q.Filter)
			}
		} else if bad["filter"] == "" && q.Filter != nil {
			t.Fatalf("no filter gave %v", q.Filter)
		}
		if bad == nil && (q.Limit < 1 || q.Limit > maxLimit || q.After != "" && !validKey(q.After)) {
			t.Fatalf("a valid query with limit %d and after %q", q.Limit, q.After)
		}
	})
}

// FuzzSessionBody sends its inputs as the body of a create, then of a patch
// of the session made (or of a loaded one), through the handler. Every
// answer is a success or a 4xx JSON error; a session that comes back is
// valid, encoded exactly as encoding/json would, reads back identical, and a
// patch with its own JSON changes nothing.
func FuzzSessionBody(f *testing.F) {
	for _, b := range [][2]string{
		{`{"name":"Billing inquiry"}`, `{"enabled":false}`},
		{`{"key":"ase_x","name":"x","description":"d","metadata":{"a":[1,2.5,null,true,{"b":"c"}]},"enabled":false,"tti_minutes":60}`, `{"metadata":null,"description":null}`},
		{`{"name":"<&>\u2028\u0000\ud800"}`, `{"name":"\u00e9t\u00e9"}`},
		{`{"name":"x","tti_minutes":1e400}`, `{"tti_minutes":99999999999999999999}`},
		{`{"name":"x","metadata":{"n":1e400,"m":-0,"big":123456789012345678901234567890}}`, `{"metadata":{"n":1E+2}}`},
		{`{"name":"x"}}`, `{"key":"other"}`},
		{`{"name":"x","key":"a/../b"}`, `{"created_at":"2020-01-01T00:00:00Z"}`},
		{`[[[[[[[[[[]]]]]]]]]]`, `null`},
		{`{"name":"x","colour":"blue"}`, `{"enabled":"yes"}`},
		{"{\"name\":\"\xff\xfe\"}", "{\"description\":\"\xc0\xaf\"}"},
	} {
		f.Add([]byte(b[0]), []byte(b[1]))
	}
	s, err := New(WithData(tinyData()))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, create, patch []byte) {
		s.Reset()
		target := "/v2/agents/agt_a/sessions/ase_a_001"
		w := call(s, "POST", "/v2/agents/agt_a/sessions", string(create), "Content-Type", "application/json")
		switch w.Code {
		case 201:
			ws := checkSessionResponse(t, "create", w.Body.Bytes())
			target = "/v2/agents/agt_a/sessions/" + ws.ID
			if got := call(s, "GET", target, ""); got.Code != 200 || got.Body.String() != w.Body.String() {
				t.Fatalf("get after create: %d %s, want %s", got.Code, got.Body, w.Body)
			}
		case 400, 409, 413:
			checkErrorResponse(t, "create", w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
		default:
			t.Fatalf("create %q: status %d %s", create, w.Code, w.Body)
		}
		w = call(s, "PATCH", target, string(patch), "Content-Type", "application/json")
		switch w.Code {
		case 200:
			checkSessionResponse(t, "patch", w.Body.Bytes())
			again := call(s, "PATCH", target, w.Body.String(), "Content-Type", "application/json")
			if again.Code != 200 || again.Body.String() != w.Body.String() {
				t.Fatalf("a patch with the session's own JSON: %d %s, want %s", again.Code, again.Body, w.Body)
			}
		case 400, 413:
			checkErrorResponse(t, "patch", w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
		default:
			t.Fatalf("patch %q: status %d %s", patch, w.Code, w.Body)
		}
		if w := call(s, "GET", "/v2/agents/agt_a/sessions?limit=100", ""); w.Code != 200 || !json.Valid(w.Body.Bytes()) {
			t.Fatalf("list after the writes: %d %s", w.Code, w.Body)
		}
	})
}

// checkSessionResponse checks a session returned by the API and returns it.
func checkSessionResponse(t *testing.T, what string, body []byte) wireSession {
	t.Helper()
	if !utf8.Valid(body) {
		t.Fatalf("%s: the body is not UTF-8: %q", what, body)
	}
	var ws wireSession
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&ws); err != nil {
		t.Fatalf("%s: %v: %s", what, err, body)
	}
	if !validKey(ws.ID) || ws.Key != ws.ID || ws.AgentKey != "agt_a" || ws.Name == "" ||
		utf8.RuneCountInString(ws.Name) > maxNameLen || ws.TTIMinutes < 0 || ws.TTIMinutes > fixtures.MaxTTIMinutes {
		t.Fatalf("%s: an invalid session: %s", what, body)
	}
	want, err := json.Marshal(ws)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got := bytes.TrimSuffix(body, []byte("\n")); !bytes.Equal(got, want) {
		t.Fatalf("%s: the body is not what encoding/json writes:\n got %s\nwant %s", what, got, want)
	}
	return ws
}

// FuzzAgentBody sends its inputs as the body of an agent create, then of a
// patch and of a put: each is a success whose agent reads back the same, or
// a JSON 4xx that changes nothing.
func FuzzAgentBody(f *testing.F) {
	for _, b := range [][3]string{
		{`{"name":"Support Bot"}`, `{"enabled":false}`, `{"name":"New"}`},
		{`{"key":"support-agent","name":"S","model":{"name":"gpt-4"},"first_step":{"type":"conversational"},"tool_configurations":{},"skills":["x"]}`, `{"model":{"name":"m"}}`, `{}`},
		{`{"name":"x","compaction":{"enabled":true,"threshold_percent":95,"keep_recent_inputs":2}}`, `{"compaction":{"threshold_percent":10}}`, `{"name":"x","key":"other"}`},
		{`{"name":"x","metadata":{"n":1e400}}`, `{"metadata":null}`, `{"name":"` + strings.Repeat("x", 60) + `"}`},
		{`{"name":"x","created_at":"2024-01-01T00:00:00Z"}`, `{"key":"x"}`, `[]`},
		{"{\"name\":\"\xff\"}", `{"description":null}`, `null`},
	} {
		f.Add([]byte(b[0]), []byte(b[1]), []byte(b[2]))
	}
	s, err := New(WithData(tinyData()))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, create, patch, put []byte) {
		s.Reset()
		target := "/v2/agents/agt_a"
		w := call(s, "POST", "/v2/agents", string(create))
		if w.Code == 201 {
			var a struct{ Key string }
			json.Unmarshal(w.Body.Bytes(), &a)
			target = "/v2/agents/" + a.Key
		}
		for _, step := range []struct {
			method, body string
			ok           int
		}{{"POST", string(create), 201}, {"PATCH", string(patch), 200}, {"PUT", string(put), 200}} {
			if step.method != "POST" {
				w = call(s, step.method, target, step.body)
			}
			switch {
			case w.Code == step.ok:
				if !json.Valid(w.Body.Bytes()) || !utf8.Valid(w.Body.Bytes()) {
					t.Fatalf("%s: not JSON: %q", step.method, w.Body)
				}
				if got := call(s, "GET", target, ""); got.Body.String() != w.Body.String() {
					t.Fatalf("%s: get %s, want %s", step.method, got.Body, w.Body)
				}
			case w.Code >= 400 && w.Code < 500:
				checkErrorResponse(t, step.method, w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
			default:
				t.Fatalf("%s %q: status %d %s", step.method, step.body, w.Code, w.Body)
			}
		}
		if w := call(s, "GET", "/v2/agents?limit=100", ""); w.Code != 200 || !json.Valid(w.Body.Bytes()) {
			t.Fatalf("list after the writes: %d %s", w.Code, w.Body)
		}
	})
}

// FuzzEventBody sends its input as the body of an event create, streamed
// or not: a turn that lists as it was answered, or a JSON 4xx that stores
// nothing.
func FuzzEventBody(f *testing.F) {
	for _, b := range []string{
		`{"type":"input_message","messages":[{"type":"text","content":"Hello"}]}`,
		`{"type":"input_message","messages":[{"type":"text","content":"Hi"}],"stream_response":true}`,
		`{"type":"input_message","messages":[]}`,
		`{"type":"input_message","messages":[{"type":"text","content":""}]}`,
		`{"type":"compact"}`,
		`{"type":"compact","compact_up_to_event_id":"aev_000000000001"}`,
		`{"type":"interrupt"}`,
		`{"type":"input_message","messages":[{"type":"text","content":"<&>\u2028"}],"stream_response":"yes"}`,
		"{\"type\":\"input_message\",\"messages\":[{\"type\":\"text\",\"content\":\"\xff\"}]}",
	} {
		f.Add([]byte(b))
	}
	s, err := New(WithData(tinyData()))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s.Reset()
		call(s, "POST", eventsURL, input("a first turn", false))
		w := call(s, "POST", eventsURL, string(body))
		after := call(s, "GET", eventsURL+"?include_hidden=true&limit=100", "")
		var l eventList
		if err := json.Unmarshal(after.Body.Bytes(), &l); err != nil || after.Code != 200 {
			t.Fatalf("list: %d %s", after.Code, after.Body)
		}
		switch {
		case w.Code == 201:
			if w.Header().Get("Content-Type") == "text/event-stream" {
				if !strings.HasSuffix(w.Body.String(), "data: {\"type\":\"end\"}\n\n") {
					t.Fatalf("a stream without its end: %q", w.Body)
				}
			} else if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("a turn that is not JSON: %q", w.Body)
			}
			if len(l.Events) <= 2 {
				t.Fatalf("a 201 stored nothing: %s", after.Body)
			}
		case w.Code >= 400 && w.Code < 500:
			checkErrorResponse(t, "input", w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
			if len(l.Events) != 2 {
				t.Fatalf("a %d stored events: %s", w.Code, after.Body)
			}
		default:
			t.Fatalf("input %q: status %d %s", body, w.Code, w.Body)
		}
	})
}
