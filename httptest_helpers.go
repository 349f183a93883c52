// Package agentmock runs the mock Agents API inside Go tests.
// NewTestServer starts a server on a loopback port for one test and closes it
// when the test ends; options choose its data and behaviour. Every server is
// independent, so parallel tests never see each other's state.
package agentmock

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/mockserver"
	"github.com/agentmock/agentmock/scenarios"
)

// DefaultAPIKey is the key that a TestServer's Client sends when neither
// WithAPIKeys nor the fixtures give one.
const DefaultAPIKey = "test_key"

// Option configures a TestServer. It is mockserver.Option: the same options
// configure mockserver.New, and the functions here are those of mockserver.
type Option = mockserver.Option

// WithFixtureFile serves the fixtures file at path instead of the built-in
// data, like -fixtures.
func WithFixtureFile(path string) Option { return mockserver.WithFixtureFile(path) }

// WithFixtureFS serves the fixtures file at path in fsys, such as an embed.FS.
func WithFixtureFS(fsys fs.FS, path string) Option { return mockserver.WithFixtureFS(fsys, path) }

// WithFixtureYAML serves fixtures given as YAML text.
func WithFixtureYAML(yaml []byte) Option { return mockserver.WithFixtureYAML(yaml) }

// WithData serves d instead of the built-in data.
func WithData(d *fixtures.Data) Option { return mockserver.WithData(d) }

// WithGenerated adds n generated sessions to agentKey, creating the agent if
// the data has none, like -generate.
func WithGenerated(agentKey string, n int) Option { return mockserver.WithGenerated(agentKey, n) }

// WithSeed seeds generated data that gives no seed of its own, like -seed.
func WithSeed(seed uint64) Option { return mockserver.WithSeed(seed) }

// WithAPIKeys restricts the accepted API keys, like -api-key. The first one is
// the key that Client sends.
func WithAPIKeys(keys ...string) Option { return mockserver.WithAPIKeys(keys...) }

// WithoutAuth turns authentication off, like -no-auth.
func WithoutAuth() Option { return mockserver.WithoutAuth() }

// WithLogger sends the server's logs to l. By default they are discarded.
func WithLogger(l *slog.Logger) Option { return mockserver.WithLogger(l) }

// WithScenarios adds scenarios to the built-in ones.
func WithScenarios(s ...scenarios.Scenario) Option { return mockserver.WithScenarios(s...) }

// WithScenarioFile adds the scenarios of a YAML file to the built-in ones,
// like -scenarios.
func WithScenarioFile(path string) Option { return mockserver.WithScenarioFile(path) }

// WithScenarioYAML adds scenarios given as YAML text.
func WithScenarioYAML(yaml []byte) Option { return mockserver.WithScenarioYAML(yaml) }

// WithScenario activates the named scenario for everyone from the start, like
// -scenario. Reset activates it again with fresh counters.
func WithScenario(name string) Option { return mockserver.WithScenario(name) }

// WithRateLimit sets a token bucket per API key, like -rate-limit
// ("10/s,burst=20").
func WithRateLimit(spec string) Option { return mockserver.WithRateLimit(spec) }

// WithJournalSize sets how many requests the journal keeps, like
// -journal-size; 0 turns it off.
func WithJournalSize(n int) Option { return mockserver.WithJournalSize(n) }

// WithAdminToken makes the admin API require Authorization: Bearer token,
// like -admin-token.
func WithAdminToken(token string) Option { return mockserver.WithAdminToken(token) }

// WithStreamPace paces streamed replies of agents without a pace of their
// own, like -stream-pace ("40/s", or "300ms,40/s").
func WithStreamPace(spec string) Option { return mockserver.WithStreamPace(spec) }

// WithTLS serves the API over HTTPS, HTTP/2 and HTTP/1.1, like -tls and
// httptest.NewTLSServer: Client trusts the server's certificate, and
// Certificate returns it.
func WithTLS() Option { return mockserver.WithTLS() }

// TestServer is a running mock API, with the controls a test needs.
type TestServer struct {
	// URL is the base URL, such as http://127.0.0.1:54321 (https:// with
	// WithTLS), with no trailing slash.
	URL string
	// APIKey is the key that Client adds to requests that carry none.
	APIKey string

	srv  *mockserver.Server
	http *httptest.Server
}

// NewTestServer starts a mock API on a loopback port and closes it when the
// test ends. A bad option, such as a fixtures file that does not load, fails
// the test at once.
func NewTestServer(tb testing.TB, opts ...Option) *TestServer {
	tb.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// NewServer starts a mock API on a loopback port, like NewTestServer, for
// code that has no testing.TB. The caller must Close it.
func NewServer(opts ...Option) (*TestServer, error) {
	srv, err := mockserver.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("agentmock: %w", err)
	}
	ts := &TestServer{srv: srv, APIKey: srv.ClientKey(), http: httptest.NewUnstartedServer(srv)}
	if srv.TLS() {
		ts.http.EnableHTTP2 = true
		// httptest offers h2 alone; offer HTTP/1.1 too, as -tls does.
		ts.http.TLS = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
		ts.http.StartTLS()
	} else {
		ts.http.Start()
	}
	if ts.APIKey == "" {
		ts.APIKey = DefaultAPIKey
	}
	ts.URL = ts.http.URL
	return ts, nil
}

// Client returns an HTTP client for the server that adds the x-api-key header
// with APIKey to every request that has neither x-api-key nor Authorization.
// With WithTLS it trusts the server's certificate and speaks HTTP/2.
func (s *TestServer) Client() *http.Client {
	c := *s.http.Client()
	c.Transport = keyTransport{key: s.APIKey, next: c.Transport}
	return &c
}

// ClientWithoutKeepAlive is Client with a new connection for every
// request. Go's http.Transport sends an idempotent request (GET, HEAD,
// PUT, DELETE) again, once, when a reused connection dies before any byte
// of the response, so Client hides a single connection_reset or
// empty_response: the journal shows the fault and then a 200. Use this
// client, or times: 2, to see every fault. Over HTTP/2 (WithTLS) a fault
// resets its stream, which Client does not send again, so Client sees it.
func (s *TestServer) ClientWithoutKeepAlive() *http.Client {
	c := s.Client()
	t := s.http.Client().Transport.(*http.Transport).Clone()
	t.DisableKeepAlives = true
	c.Transport = keyTransport{key: s.APIKey, next: t}
	return c
}

// Certificate returns the certificate of a server started with WithTLS,
// for clients other than Client to trust; without WithTLS it returns nil.
func (s *TestServer) Certificate() *x509.Certificate { return s.http.Certificate() }

// Close shuts the server down: injected delays in flight end at once, and it
// waits for the other requests in flight. The test's cleanup calls it;
// calling it earlier is safe.
func (s *TestServer) Close() {
	s.srv.Close()
	s.http.Close()
}

// Reset goes back to the state at start, as POST /__admin/reset does.
func (s *TestServer) Reset() { s.srv.Reset() }

// Replace serves d until the next Reset, as PUT /__admin/fixtures does.
func (s *TestServer) Replace(d *fixtures.Data) error { return s.srv.Replace(d) }

// ActivateScenario makes the named scenario active for requests with apiKey,
// or for everyone when apiKey is "", with fresh counters.
func (s *TestServer) ActivateScenario(name, apiKey string) error {
	return s.srv.ActivateScenario(name, apiKey)
}

// ActivateRules makes inline rules active, like ActivateScenario. name labels
// them in the journal; seed 0 means scenarios.DefaultSeed.
func (s *TestServer) ActivateRules(name string, seed uint64, rules []scenarios.Rule, apiKey string) error {
	return s.srv.ActivateRules(name, seed, rules, apiKey)
}

// DeactivateScenario ends the scenario active for apiKey, or for everyone
// when apiKey is "".
func (s *TestServer) DeactivateScenario(apiKey string) { s.srv.DeactivateScenario(apiKey) }

// Requests returns the journal: the latest requests to the API, oldest first.
func (s *TestServer) Requests() []mockserver.Request { return s.srv.Requests() }

// ClearRequests empties the journal.
func (s *TestServer) ClearRequests() { s.srv.ClearRequests() }

// Now returns the server's clock.
func (s *TestServer) Now() time.Time { return s.srv.Now() }

// SetClock stops the server's clock at t, for created_at and tti expiry.
func (s *TestServer) SetClock(t time.Time) { s.srv.SetClock(t) }

// AdvanceClock moves the server's clock forward by d and stops it there.
func (s *TestServer) AdvanceClock(d time.Duration) { s.srv.AdvanceClock(d) }

// RealClock gives the server the real clock back.
func (s *TestServer) RealClock() { s.srv.RealClock() }

type keyTransport struct {
	key  string
	next http.RoundTripper
}

// CloseIdleConnections passes http.Client.CloseIdleConnections on.
func (t keyTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("X-Api-Key") == "" && r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("X-Api-Key", t.key)
	}
	return t.next.RoundTrip(r)
}

// AssertRequests fails the test, with a go-cmp diff, unless the journal holds
// exactly the requests in want, in order. Fields left zero in a wanted
// request are not compared, so a test names only what it cares about, such as
// Status and Rule; APIKey compares with mockserver.KeyFingerprint(key), and
// Status NoStatus asks for a request that got no status (a fault).
func (s *TestServer) AssertRequests(tb testing.TB, want ...mockserver.Request) {
	tb.Helper()
	got := s.Requests()
	for i := range min(len(got), len(want)) {
		got[i] = onlyFieldsOf(want[i], got[i])
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		tb.Errorf("agentmock: requests (-want +got):\n%s", diff)
	}
}

// NoStatus, as the Status of a wanted request, asks AssertRequests for a
// request that got no status, such as one that a fault cut off.
const NoStatus = -1

// onlyFieldsOf returns got with every field zeroed that is zero in want.
func onlyFieldsOf(want, got mockserver.Request) mockserver.Request {
	if want.Status == NoStatus && got.Status == 0 {
		got.Status = NoStatus
	}
	w, g := reflect.ValueOf(want), reflect.ValueOf(&got).Elem()
	for i := range w.NumField() {
		if w.Field(i).IsZero() {
			g.Field(i).SetZero()
		}
	}
	return got
}

// Event is an event of a session's conversation, as the API shows it; Raw
// holds all of it, for the fields of kinds that Event does not name.
type Event struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	SessionKey string `json:"session_key"`
	// Content is the text of a thinking or agent_output event.
	Content string `json:"content,omitempty"`
	// Messages are the messages of an input_message event.
	Messages  []Message       `json:"messages,omitempty"`
	Hidden    bool            `json:"hidden,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	Raw       json.RawMessage `json:"-"`
}

// Message is one message of an input.
type Message struct {
	Type    string `json:"type"`
	Content string `json:"content"`
}

// UnmarshalJSON decodes an event and keeps its JSON in Raw.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	e.Raw = append(json.RawMessage(nil), b...)
	return nil
}

func (s *TestServer) eventsURL(agentKey, sessionKey string) string {
	return s.URL + "/v2/agents/" + url.PathEscape(agentKey) + "/sessions/" + url.PathEscape(sessionKey) + "/events"
}

func inputBody(text string, stream bool) io.Reader {
	b, _ := json.Marshal(map[string]any{"type": "input_message", "stream_response": stream,
		"messages": []Message{{Type: "text", Content: text}}})
	return bytes.NewReader(b)
}

// do sends a request with Client and decodes a JSON answer of status want
// into v; another status is an error that shows the body.
func (s *TestServer) do(ctx context.Context, method, url string, body io.Reader, want int, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("agentmock: %s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, v)
}

// Send sends text to the agent in a session, as a client does, and returns
// the events of the turn: the input, then the agent's reply.
func (s *TestServer) Send(agentKey, sessionKey, text string) ([]Event, error) {
	var resp struct {
		Events []Event `json:"events"`
	}
	err := s.do(context.Background(), "POST", s.eventsURL(agentKey, sessionKey), inputBody(text, false), http.StatusCreated, &resp)
	return resp.Events, err
}

// Events returns the visible events of a session, oldest first, following
// every page.
func (s *TestServer) Events(agentKey, sessionKey string) ([]Event, error) {
	var all []Event
	for page := ""; ; {
		var resp struct {
			Events   []Event `json:"events"`
			Metadata struct {
				PageKey string `json:"page_key"`
			} `json:"metadata"`
		}
		if err := s.do(context.Background(), "GET", s.eventsURL(agentKey, sessionKey)+"?limit=100"+page, nil, http.StatusOK, &resp); err != nil {
			return all, err
		}
		all = append(all, resp.Events...)
		if resp.Metadata.PageKey == "" {
			return all, nil
		}
		page = "&page_key=" + url.QueryEscape(resp.Metadata.PageKey)
	}
}

// Frame is one server-sent event of a streamed reply.
type Frame struct {
	Type string `json:"type"`
	// Content is the text of a streaming_thinking or streaming_agent_output
	// chunk.
	Content string `json:"content,omitempty"`
	// Data is the whole frame, for the fields of the kinds that Frame does
	// not name.
	Data json.RawMessage `json:"-"`
}

// SendStream sends text to the agent with stream_response, and yields the
// frames of the reply as they come. A stream that breaks yields its error
// last; one that ends without an end frame yields io.ErrUnexpectedEOF.
// Stopping early closes the connection.
func (s *TestServer) SendStream(ctx context.Context, agentKey, sessionKey, text string) iter.Seq2[Frame, error] {
	return func(yield func(Frame, error) bool) {
		req, err := http.NewRequestWithContext(ctx, "POST", s.eventsURL(agentKey, sessionKey), inputBody(text, true))
		if err != nil {
			yield(Frame{}, err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.Client().Do(req)
		if err != nil {
			yield(Frame{}, err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			b, _ := io.ReadAll(resp.Body)
			yield(Frame{}, fmt.Errorf("agentmock: a stream answered %s: %s", resp.Status, bytes.TrimSpace(b)))
			return
		}
		for f, err := range ReadFrames(resp.Body) {
			if !yield(f, err) {
				return
			}
		}
	}
}

// ReadFrames yields the frames of a body of server-sent events, such as a
// streamed reply's, until the end frame. A body that ends first yields
// io.ErrUnexpectedEOF, and one that breaks yields its read error.
func ReadFrames(body io.Reader) iter.Seq2[Frame, error] {
	return func(yield func(Frame, error) bool) {
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data:")
			if !ok {
				continue // blank lines between frames, comments, event: lines
			}
			var f Frame
			if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &f); err != nil {
				yield(Frame{}, fmt.Errorf("agentmock: a frame that is not JSON: %q", data))
				return
			}
			f.Data = json.RawMessage(strings.TrimSpace(data))
			if !yield(f, nil) || f.Type == "end" {
				return
			}
		}
		err := sc.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		yield(Frame{}, err)
	}
}
