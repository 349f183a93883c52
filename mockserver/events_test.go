package mockserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentmock/agentmock/scenarios"
)

const eventsURL = "/v2/agents/agt_a/sessions/ase_a_001/events"

func input(text string, stream bool) string {
	return fmt.Sprintf(`{"type":"input_message","messages":[{"type":"text","content":%q}],"stream_response":%v}`, text, stream)
}

// wireEvent is the part of an event the tests look at.
type wireEvent struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	SessionKey string `json:"session_key"`
	Content    string `json:"content"`
	Hidden     bool   `json:"hidden"`
	Messages   []struct {
		Content string `json:"content"`
	} `json:"messages"`
	TurnsCompacted  int    `json:"turns_compacted"`
	EventsCompacted int    `json:"events_compacted"`
	SummaryText     string `json:"summary_text"`
	CreatedAt       string `json:"created_at"`
}

type agentResponse struct {
	Events     []wireEvent `json:"events"`
	SessionKey string      `json:"session_key"`
}

type eventList struct {
	Events   []wireEvent `json:"events"`
	Metadata struct {
		PageKey    string `json:"page_key"`
		TotalCount int    `json:"total_count"`
	} `json:"metadata"`
}

func decodeJSON[T any](t *testing.T, w *httptest.ResponseRecorder, wantStatus int) T {
	t.Helper()
	var v T
	if w.Code != wantStatus {
		t.Fatalf("status %d, want %d; %s", w.Code, wantStatus, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	return v
}

func types(events []wireEvent) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, e.Type)
	}
	return out
}

func TestATurnIsStoredAndAnswered(t *testing.T) {
	s := newTestServer(t)
	s.SetClock(start)
	got := decodeJSON[agentResponse](t, call(s, "POST", eventsURL, input("Where is my refund?", false)), 201)
	if diff := cmp.Diff([]string{"input_message", "agent_output"}, types(got.Events)); diff != "" {
		t.Fatalf("kinds (-want +got):\n%s", diff)
	}
	in, out := got.Events[0], got.Events[1]
	if got.SessionKey != "ase_a_001" || in.SessionKey != "ase_a_001" || in.Messages[0].Content != "Where is my refund?" ||
		out.Content == "" || in.CreatedAt != "2025-01-01T12:00:00Z" || !strings.HasPrefix(in.ID, "aev_") || in.ID >= out.ID {
		t.Errorf("turn %+v", got)
	}
	list := decodeJSON[eventList](t, call(s, "GET", eventsURL, ""), 200)
	if diff := cmp.Diff(got.Events, list.Events); diff != "" || list.Metadata.TotalCount != 2 {
		t.Errorf("the list differs from the turn (-turn +list):\n%s", diff)
	}
	for _, e := range got.Events {
		if diff := cmp.Diff(e, decodeJSON[wireEvent](t, call(s, "GET", eventsURL+"/"+e.ID, ""), 200)); diff != "" {
			t.Errorf("get %s (-turn +get):\n%s", e.ID, diff)
		}
	}
}

func TestTurnsAreTheSameOnTwoServers(t *testing.T) {
	var bodies []string
	for range 2 {
		s := newTestServer(t)
		s.SetClock(start)
		var b strings.Builder
		for _, text := range []string{"Hello", "Where is my order?", "Thanks"} {
			b.WriteString(call(s, "POST", eventsURL, input(text, false)).Body.String())
		}
		bodies = append(bodies, b.String())
	}
	if bodies[0] != bodies[1] {
		t.Errorf("two fresh servers answered differently:\n%s\n%s", bodies[0], bodies[1])
	}
}

func TestInputErrors(t *testing.T) {
	tests := []struct {
		name, url, body string
		headers         []string
		status          int
		code            string
	}{
		{"no messages is a 400", eventsURL, `{"type":"input_message","messages":[]}`, nil, 400, codeInvalidMessage},
		{"an empty content is a 400", eventsURL, `{"type":"input_message","messages":[{"type":"text","content":" "}]}`, nil, 400, codeInvalidMessage},
		{"a message that is not text is a 400", eventsURL, `{"type":"input_message","messages":[{"type":"skill","skill_name":"x"}]}`, nil, 400, codeInvalidMessage},
		{"another type is a 400", eventsURL, `{"type":"interrupt"}`, nil, 400, codeInvalidRequest},
		{"an unknown field is a 400", eventsURL, `{"type":"input_message","messages":[{"type":"text","content":"x"}],"colour":1}`, nil, 400, codeInvalidRequest},
		{"a disabled session is a 409", "/v2/agents/agt_a/sessions/ase_a_002/events", input("x", false), nil, 409, codeSessionDisabled},
		{"an unknown session is a 404", "/v2/agents/agt_a/sessions/nope/events", input("x", false), nil, 404, codeSessionNotFound},
		{"a bad session key is a 400", "/v2/agents/agt_a/sessions/a.b/events", input("x", false), nil, 400, codeInvalidRequest},
		{"a compaction of a session without a turn is a 400", eventsURL, `{"type":"compact"}`, nil, 400, codeInvalidRequest},
		{"text is a 415", eventsURL, input("x", false), []string{"Content-Type", "text/plain"}, 415, codeUnsupportedMedia},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t)
			w := call(s, "POST", tt.url, tt.body, tt.headers...)
			if w.Code != tt.status || decodeError(t, w).Code != tt.code {
				t.Errorf("%d %s, want %d %s", w.Code, w.Body, tt.status, tt.code)
			}
			if n := decodeJSON[eventList](t, call(s, "GET", eventsURL+"?include_hidden=true", ""), 200).Metadata.TotalCount; n != 0 {
				t.Errorf("a refused input stored %d events", n)
			}
		})
	}
}

func TestMultipartInput(t *testing.T) {
	form := func(fields map[string]string, file bool) (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		if file {
			fw, _ := mw.CreateFormFile("files", "a.txt")
			fw.Write([]byte("data"))
		}
		mw.Close()
		return b.String(), mw.FormDataContentType()
	}
	s := newTestServer(t)
	body, ct := form(map[string]string{"message": "Hello from a form"}, false)
	got := decodeJSON[agentResponse](t, call(s, "POST", eventsURL, body, "Content-Type", ct), 201)
	if got.Events[0].Messages[0].Content != "Hello from a form" {
		t.Errorf("the form's message: %+v", got.Events[0])
	}
	body, ct = form(map[string]string{"message": "with a file"}, true)
	if w := call(s, "POST", eventsURL, body, "Content-Type", ct); w.Code != 400 || decodeError(t, w).FieldErrors["files"] == "" {
		t.Errorf("a file part: %d %s, want a 400 naming files", w.Code, w.Body)
	}
}

func TestEventsPageHideAndDelete(t *testing.T) {
	s := newTestServer(t)
	var ids []string
	for i := range 3 {
		for _, e := range decodeJSON[agentResponse](t, call(s, "POST", eventsURL, input(fmt.Sprint("question ", i), false)), 201).Events {
			ids = append(ids, e.ID)
		}
	}
	walk := func(query string) []string {
		var got []string
		for page := ""; ; {
			l := decodeJSON[eventList](t, call(s, "GET", eventsURL+"?limit=4"+query+page, ""), 200)
			for _, e := range l.Events {
				got = append(got, e.ID)
			}
			if l.Metadata.PageKey == "" {
				return got
			}
			page = "&page_key=" + l.Metadata.PageKey
		}
	}
	t.Run("a walk sees every event once, in order", func(t *testing.T) {
		if diff := cmp.Diff(ids, walk("")); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("a hidden event is left out of the list but readable by id", func(t *testing.T) {
		hidden := decodeJSON[wireEvent](t, call(s, "POST", eventsURL+"/"+ids[1]+"/hide", ""), 200)
		if !hidden.Hidden {
			t.Errorf("hide answered %+v", hidden)
		}
		want := append([]string{ids[0]}, ids[2:]...)
		if diff := cmp.Diff(want, walk("")); diff != "" {
			t.Errorf("visible (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(ids, walk("&include_hidden=true")); diff != "" {
			t.Errorf("with include_hidden (-want +got):\n%s", diff)
		}
		if got := decodeJSON[wireEvent](t, call(s, "GET", eventsURL+"/"+ids[1], ""), 200); !got.Hidden {
			t.Error("a hidden event read by id does not say it is hidden")
		}
		if got := decodeJSON[wireEvent](t, call(s, "POST", eventsURL+"/"+ids[1]+"/unhide", ""), 200); got.Hidden {
			t.Error("unhide left it hidden")
		}
	})
	t.Run("a delete removes the event, and a page key after it still pages", func(t *testing.T) {
		first := decodeJSON[eventList](t, call(s, "GET", eventsURL+"?limit=2", ""), 200)
		if w := call(s, "DELETE", eventsURL+"/"+ids[1], ""); w.Code != 204 {
			t.Fatalf("delete: %d %s", w.Code, w.Body)
		}
		if w := call(s, "GET", eventsURL+"/"+ids[1], ""); w.Code != 404 || decodeError(t, w).Code != codeEventNotFound {
			t.Errorf("get after delete: %d %s", w.Code, w.Body)
		}
		next := decodeJSON[eventList](t, call(s, "GET", eventsURL+"?limit=2&page_key="+first.Metadata.PageKey, ""), 200)
		if len(next.Events) == 0 || next.Events[0].ID != ids[2] {
			t.Errorf("the page after a deleted event: %+v", next.Events)
		}
	})
	t.Run("an unknown event is a 404 with its id", func(t *testing.T) {
		for _, path := range []string{"/aev_nope", "/aev_nope/hide", "/aev_nope/unhide"} {
			method := map[bool]string{true: "POST", false: "GET"}[strings.Contains(path, "hide")]
			if w := call(s, method, eventsURL+path, ""); w.Code != 404 || decodeError(t, w).ID != "aev_nope" {
				t.Errorf("%s %s: %d %s", method, path, w.Code, w.Body)
			}
		}
	})
}

func TestEventsGoWithTheirSession(t *testing.T) {
	s := newTestServer(t)
	decodeJSON[agentResponse](t, call(s, "POST", eventsURL, input("hello", false)), 201)
	call(s, "DELETE", "/v2/agents/agt_a/sessions/ase_a_001", "")
	decodeSession(t, call(s, "POST", "/v2/agents/agt_a/sessions", `{"key":"ase_a_001","name":"again"}`), 201)
	if n := decodeJSON[eventList](t, call(s, "GET", eventsURL, ""), 200).Metadata.TotalCount; n != 0 {
		t.Errorf("a new session of the same key has %d events", n)
	}
	decodeJSON[agentResponse](t, call(s, "POST", eventsURL, input("hello", false)), 201)
	s.Reset()
	if n := decodeJSON[eventList](t, call(s, "GET", eventsURL, ""), 200).Metadata.TotalCount; n != 0 {
		t.Errorf("after a reset, %d events, want the loaded 0", n)
	}
}

func TestCompaction(t *testing.T) {
	s := newTestServer(t)
	var ids []string
	for i := range 3 {
		got := decodeJSON[agentResponse](t, call(s, "POST", eventsURL, input(fmt.Sprint("turn ", i), false)), 201)
		ids = append(ids, got.Events[len(got.Events)-1].ID)
	}
	got := decodeJSON[agentResponse](t, call(s, "POST", eventsURL, `{"type":"compact","compact_up_to_event_id":"`+ids[1]+`"}`), 201)
	if len(got.Events) != 1 || got.Events[0].Type != "compaction" || got.Events[0].TurnsCompacted != 2 || got.Events[0].EventsCompacted != 4 {
		t.Fatalf("compaction %+v", got.Events)
	}
	visible := decodeJSON[eventList](t, call(s, "GET", eventsURL, ""), 200)
	if diff := cmp.Diff([]string{"input_message", "agent_output", "compaction"}, types(visible.Events)); diff != "" {
		t.Errorf("visible after the compaction (-want +got):\n%s", diff)
	}
	if want := "Summary of 2 earlier turns; the user asked: turn 0 / turn 1"; got.Events[0].SummaryText != want {
		t.Errorf("summary %q, want %q", got.Events[0].SummaryText, want)
	}
	if w := call(s, "POST", eventsURL, `{"type":"compact","compact_up_to_event_id":"aev_missing"}`); w.Code != 400 {
		t.Errorf("an unknown anchor: %d", w.Code)
	}
	one := decodeJSON[agentResponse](t, call(s, "POST", eventsURL, `{"type":"compact","compact_up_to_event_id":"`+ids[2]+`"}`), 201)
	if want := "Summary of 1 earlier turn; the user asked: turn 2"; one.Events[0].SummaryText != want {
		t.Errorf("summary %q, want %q", one.Events[0].SummaryText, want)
	}
}

func TestFork(t *testing.T) {
	s := newTestServer(t)
	var ids []string
	for i := range 2 {
		for _, e := range decodeJSON[agentResponse](t, call(s, "POST", eventsURL, input(fmt.Sprint("turn ", i), false)), 201).Events {
			ids = append(ids, e.ID)
		}
	}
	fork := func(from string) *httptest.ResponseRecorder {
		return call(s, "POST", "/v2/agents/agt_a/sessions", `{"name":"fork","from_session":`+from+`}`)
	}
	eventsOf := func(key string) []wireEvent {
		return decodeJSON[eventList](t, call(s, "GET", "/v2/agents/agt_a/sessions/"+key+"/events?limit=100", ""), 200).Events
	}
	t.Run("a fork copies every visible event, with new ids", func(t *testing.T) {
		key := decodeSession(t, fork(`{"session_key":"ase_a_001"}`), 201).Key
		got := eventsOf(key)
		if len(got) != 4 || got[0].ID == ids[0] || got[0].SessionKey != key || got[3].Content != eventsOf("ase_a_001")[3].Content {
			t.Errorf("fork events %+v", got)
		}
	})
	t.Run("include_up_to_event_id cuts after the event", func(t *testing.T) {
		key := decodeSession(t, fork(`{"session_key":"ase_a_001","include_up_to_event_id":"`+ids[1]+`"}`), 201).Key
		if diff := cmp.Diff([]string{"input_message", "agent_output"}, types(eventsOf(key))); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("compact_up_to_event_id makes one compaction event of what comes before", func(t *testing.T) {
		key := decodeSession(t, fork(`{"session_key":"ase_a_001","compact_up_to_event_id":"`+ids[1]+`"}`), 201).Key
		if diff := cmp.Diff([]string{"compaction", "input_message", "agent_output"}, types(eventsOf(key))); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	errors := []struct {
		name, from, field string
		status            int
	}{
		{"both cuts are a 400", `{"session_key":"ase_a_001","include_up_to_event_id":"` + ids[0] + `","compact_up_to_event_id":"` + ids[1] + `"}`, "from_session.compact_up_to_event_id", 400},
		{"an event the source lacks is a 400", `{"session_key":"ase_a_001","include_up_to_event_id":"aev_x"}`, "from_session.include_up_to_event_id", 400},
		{"no session_key is a 400", `{}`, "from_session.session_key", 400},
		{"an unknown source is a 404", `{"session_key":"nope"}`, "", 404},
	}
	for _, tt := range errors {
		t.Run(tt.name, func(t *testing.T) {
			w := fork(tt.from)
			if e := decodeError(t, w); w.Code != tt.status || tt.field != "" && e.FieldErrors[tt.field] == "" {
				t.Errorf("%d %s, want %d naming %q", w.Code, w.Body, tt.status, tt.field)
			}
		})
	}
}

// frames reads server-sent events: the data of each frame, and whether the
// stream ended without an error.
func frames(t *testing.T, body io.Reader) ([]map[string]any, error) {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Errorf("a line that is not data: %q", line)
			continue
		}
		var f map[string]any
		if err := json.Unmarshal([]byte(data), &f); err != nil {
			t.Errorf("a frame that is not JSON: %q", data)
		}
		out = append(out, f)
	}
	return out, sc.Err()
}

func frameTypes(fs []map[string]any) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, fmt.Sprint(f["type"]))
	}
	return out
}

// postStream sends a streamed input over a real connection.
func postStream(t *testing.T, ctx context.Context, url, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	req.Header.Set("X-Api-Key", "key_a")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestStreamedTurn(t *testing.T) {
	s := newTestServer(t)
	url := serve(t, s)
	resp := postStream(t, context.Background(), url+eventsURL, input("Please tell me about the refund policy for my order", true))
	defer resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	fs, err := frames(t, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	ts := frameTypes(fs)
	if ts[len(ts)-1] != "end" || ts[len(ts)-2] != "streaming_agent_output_end" {
		t.Errorf("frames end with %v", ts)
	}
	var joined strings.Builder
	for _, f := range fs {
		if f["type"] == "streaming_agent_output" {
			joined.WriteString(f["content"].(string))
			if f["created_at"] == nil {
				t.Errorf("a chunk without created_at: %v", f)
			}
		}
	}
	stored := decodeJSON[eventList](t, call(s, "GET", eventsURL, ""), 200).Events
	if len(stored) != 2 || stored[1].Content != joined.String() {
		t.Errorf("chunks joined %q, stored %+v", joined.String(), stored)
	}
}

func TestStreamFaults(t *testing.T) {
	for _, tt := range []struct {
		fault scenarios.Fault
		want  []string
	}{
		{scenarios.FaultStreamError, []string{"streaming_agent_output", "streaming_agent_output", "error", "end"}},
		{scenarios.FaultStreamCut, []string{"streaming_agent_output", "streaming_agent_output"}},
	} {
		t.Run(string(tt.fault)+" strikes after two chunks and keeps the stored turn", func(t *testing.T) {
			s := newTestServer(t)
			mustActivate(t, s, "", scenarios.Rule{Match: scenarios.Match{Route: scenarios.RouteCreateEvent}, Fault: tt.fault, AfterChunks: 2})
			resp := postStream(t, context.Background(), serve(t, s)+eventsURL, input("one two three four five six seven eight nine ten", true))
			defer resp.Body.Close()
			fs, err := frames(t, resp.Body)
			if diff := cmp.Diff(tt.want, frameTypes(fs)); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
			if cut := tt.fault == scenarios.FaultStreamCut; cut != (err != nil) {
				t.Errorf("read error %v", err)
			}
			if n := len(decodeJSON[eventList](t, call(s, "GET", eventsURL, ""), 200).Events); n != 2 {
				t.Errorf("%d events stored, want the whole turn", n)
			}
			if got := s.Requests(); len(got) == 0 || got[0].Fault != string(tt.fault) || got[0].Status != 201 {
				t.Errorf("journal %+v", got)
			}
		})
	}
	t.Run("a respond rule answers JSON before any frame", func(t *testing.T) {
		s := newTestServer(t)
		mustActivate(t, s, "", scenarios.Rule{Match: scenarios.Match{Route: scenarios.RouteCreateEvent}, Respond: &scenarios.Response{Status: 503}})
		resp := postStream(t, context.Background(), serve(t, s)+eventsURL, input("hi", true))
		defer resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

// TestAPacedStreamFlushesEachFrameAndStopsWhenTheClientLeaves reads the
// first frame of a stream whose second is due in an hour: it arrives
// because each frame is flushed, and the test ends because the server stops
// waiting when the client goes away.
func TestAPacedStreamFlushesEachFrameAndStopsWhenTheClientLeaves(t *testing.T) {
	s := newTestServer(t, WithStreamPace("0s,0.001/s"))
	ts := httptest.NewServer(s)
	defer ts.Close() // waits for the handler: it must have stopped
	// Without flushing, the first frame would not come before the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	resp := postStream(t, ctx, ts.URL+eventsURL, input("one two three four five six seven", true))
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() || !strings.Contains(sc.Text(), "streaming_agent_output") {
		t.Fatalf("first line %q, %v", sc.Text(), sc.Err())
	}
	cancel()
	if n := len(decodeJSON[eventList](t, call(s, "GET", eventsURL, ""), 200).Events); n != 2 {
		t.Errorf("%d events stored, want the whole turn", n)
	}
}

func TestStreamPaceSpecs(t *testing.T) {
	for _, spec := range []string{"", "40", "x/s", "-1/s", "300ms", "bad,40/s", "-1s,40/s", "0/s"} {
		if _, err := New(WithStreamPace(spec)); err == nil && spec != "" {
			t.Errorf("WithStreamPace(%q) was accepted", spec)
		}
	}
	for _, spec := range []string{"40/s", "300ms,40/s", "0s,0.5/s"} {
		if _, err := New(WithStreamPace(spec)); err != nil {
			t.Errorf("WithStreamPace(%q): %v", spec, err)
		}
	}
}

func TestChunksJoinToTheText(t *testing.T) {
	for _, text := range []string{"", "one", "  one two three four  ", "a\nb\tc d e f g", "日本 語 の テキスト です"} {
		if got := strings.Join(chunks(text), ""); got != text {
			t.Errorf("chunks of %q join to %q", text, got)
		}
	}
}

func TestScriptedRepliesAndLoadedEvents(t *testing.T) {
	s, err := New(WithFixtureYAML([]byte(`
agents:
  - key: support
    replies:
      - match: "(?i)refund"
        thinking: "About a refund."
        tools:
          - {name: corpora_search, configuration: kb, input: {query: "{{.Input}}"}, output: {results: []}}
        reply: "Refunds take 5 days, {{.Session.Metadata.customer_name}} (turn {{.Turn}}, {{len .History}} before)."
    sessions:
      - id: chat
        metadata: {customer_name: Ada}
        created_at: 2024-01-15T10:00:00Z
        events:
          - {type: input_message, content: "Hello"}
          - {type: agent_output, content: "Hi, how can I help?"}
`)))
	if err != nil {
		t.Fatal(err)
	}
	const url = "/v2/agents/support/sessions/chat/events"
	loaded := decodeJSON[eventList](t, call(s, "GET", url, ""), 200).Events
	if diff := cmp.Diff([]string{"input_message", "agent_output"}, types(loaded)); diff != "" || loaded[0].CreatedAt != "2024-01-15T10:00:01Z" {
		t.Fatalf("loaded events (-want +got):\n%s%+v", diff, loaded)
	}
	got := decodeJSON[agentResponse](t, call(s, "POST", url, input("Where is my refund?", false)), 201).Events
	if diff := cmp.Diff([]string{"input_message", "thinking", "tool_input", "tool_output", "agent_output"}, types(got)); diff != "" {
		t.Fatalf("a scripted turn (-want +got):\n%s", diff)
	}
	if want := "Refunds take 5 days, Ada (turn 2, 1 before)."; got[4].Content != want {
		t.Errorf("reply %q, want %q", got[4].Content, want)
	}
	if got[2].ID <= loaded[1].ID {
		t.Errorf("a new event %s does not sort after the loaded %s", got[2].ID, loaded[1].ID)
	}
	other := decodeJSON[agentResponse](t, call(s, "POST", url, input("Something else", false)), 201).Events
	if len(other) != 2 || other[1].Content == "" {
		t.Errorf("without a matching rule the reply is generated: %+v", other)
	}
	s.Reset()
	if diff := cmp.Diff(loaded, decodeJSON[eventList](t, call(s, "GET", url, ""), 200).Events); diff != "" {
		t.Errorf("a reset gives back the loaded events (-want +got):\n%s", diff)
	}
}

func TestReviewedEdgeCases(t *testing.T) {
	t.Run("a stream fault strikes before the end of a reply shorter than after_chunks", func(t *testing.T) {
		s := newTestServer(t)
		mustActivate(t, s, "", scenarios.Rule{Match: scenarios.Match{Route: scenarios.RouteCreateEvent}, Fault: scenarios.FaultStreamError, AfterChunks: 1000})
		resp := postStream(t, context.Background(), serve(t, s)+eventsURL, input("hi", true))
		defer resp.Body.Close()
		fs, _ := frames(t, resp.Body)
		if ts := frameTypes(fs); len(ts) < 2 || ts[len(ts)-2] != "error" || ts[len(ts)-1] != "end" {
			t.Errorf("frames %v, want an error and the end last", ts)
		}
	})
	t.Run("a session cannot fork from itself", func(t *testing.T) {
		s := newTestServer(t)
		w := call(s, "POST", "/v2/agents/agt_a/sessions", `{"key":"ase_new","from_session":{"session_key":"ase_new"}}`)
		if w.Code != 404 || decodeError(t, w).Code != codeSessionNotFound {
			t.Errorf("%d %s, want a 404 session_not_found", w.Code, w.Body)
		}
	})
	t.Run("multipart parts are each valid UTF-8", func(t *testing.T) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("message", "price \xe2\x82")
		mw.WriteField("message", "\xac ten")
		mw.Close()
		s := newTestServer(t)
		if w := call(s, "POST", eventsURL, b.String(), "Content-Type", mw.FormDataContentType()); w.Code != 400 {
			t.Errorf("%d %s, want a 400", w.Code, w.Body)
		}
	})
	t.Run("HEAD reads an identity as GET does", func(t *testing.T) {
		s := newTestServer(t)
		if w := call(s, "HEAD", "/v2/agents/agt_a/identity", ""); w.Code != 200 || w.Body.Len() != 0 {
			t.Errorf("HEAD identity: %d, %d bytes", w.Code, w.Body.Len())
		}
	})
}

// TestAnInputLosesToAWriteThatOvertakesIt sends inputs whose bodies arrive
// only after the session has been disabled or deleted: the request's data
// saw the session open, but its write must not let the input in.
func TestAnInputLosesToAWriteThatOvertakesIt(t *testing.T) {
	tests := []struct {
		name, method, body, input string
		status                    int
		code                      string
	}{
		{"a turn, then disabled", "PATCH", `{"enabled":false}`, input("x", false), 409, codeSessionDisabled},
		{"a turn, then deleted", "DELETE", "", input("x", false), 404, codeSessionNotFound},
		{"a compaction, then disabled", "PATCH", `{"enabled":false}`, `{"type":"compact"}`, 409, codeSessionDisabled},
		{"a compaction, then deleted", "DELETE", "", `{"type":"compact"}`, 404, codeSessionNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t)
			for range 2 { // a turn to compact
				call(s, "POST", eventsURL, input("Hello", false))
			}
			before := call(s, "GET", eventsURL+"?include_hidden=true&limit=100", "").Body.String()
			body, send := io.Pipe()
			r := httptest.NewRequest("POST", eventsURL, body)
			r.Header.Set("X-Api-Key", "key_a")
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.ServeHTTP(w, r)
			}()
			// The handler has its data once it reads the body's first byte.
			if _, err := send.Write([]byte(" ")); err != nil {
				t.Fatal(err)
			}
			if got := call(s, tt.method, "/v2/agents/agt_a/sessions/ase_a_001", tt.body).Code; got >= 300 {
				t.Fatalf("%s of the session: %d", tt.method, got)
			}
			send.Write([]byte(tt.input))
			send.Close()
			<-done
			if w.Code != tt.status || decodeError(t, w).Code != tt.code {
				t.Errorf("%d %s, want %d %s", w.Code, w.Body, tt.status, tt.code)
			}
			if tt.method == "PATCH" {
				if after := call(s, "GET", eventsURL+"?include_hidden=true&limit=100", "").Body.String(); after != before {
					t.Errorf("the events changed:\n%s\n%s", before, after)
				}
			}
		})
	}
}

// TestAForkOfNoInputSaysSo forks with compact_up_to_event_id over a cut
// whose input is hidden: the compaction's summary has no empty list of what
// the user asked.
func TestAForkOfNoInputSaysSo(t *testing.T) {
	s := newTestServer(t)
	events := decodeJSON[agentResponse](t, call(s, "POST", eventsURL, input("Hello", false)), 201).Events
	if w := call(s, "POST", eventsURL+"/"+events[0].ID+"/hide", ""); w.Code != 200 {
		t.Fatalf("hide: %d %s", w.Code, w.Body)
	}
	last := events[len(events)-1].ID
	key := decodeSession(t, call(s, "POST", "/v2/agents/agt_a/sessions",
		`{"name":"fork","from_session":{"session_key":"ase_a_001","compact_up_to_event_id":"`+last+`"}}`), 201).Key
	got := decodeJSON[eventList](t, call(s, "GET", "/v2/agents/agt_a/sessions/"+key+"/events", ""), 200).Events
	if len(got) != 1 || got[0].SummaryText != "Summary of 0 earlier turns." {
		t.Errorf("fork events %+v", got)
	}
}
