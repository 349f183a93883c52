// Package agentmock runs the mock List Agent Sessions API inside Go tests.
// NewTestServer starts a server on a loopback port for one test and closes it
// when the test ends; options choose its data and behaviour. Every server is
// independent, so parallel tests never see each other's state.
package agentmock

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/mockserver"
	"github.com/agentmock/agentmock/scenarios"
)

// DefaultAPIKey is the key that a TestServer's Client sends when neither
// WithAPIKeys nor the request gives one.
const DefaultAPIKey = "test_key"

// Option configures a TestServer.
type Option func(*settings)

type settings struct {
	load          func(seed uint64) (*fixtures.Data, error)
	generate      []generated
	seed          uint64
	apiKeys       []string
	noAuth        bool
	logger        *slog.Logger
	loadScenarios []func() ([]scenarios.Scenario, error)
	server        []mockserver.Option
	rateLimit     string
}

type generated struct {
	agentKey string
	n        int
}

// WithFixtureFile serves the fixtures file at path instead of the built-in data.
func WithFixtureFile(path string) Option {
	return func(s *settings) {
		s.load = func(seed uint64) (*fixtures.Data, error) { return fixtures.LoadFile(path, seed) }
	}
}

// WithFixtureFS serves the fixtures file at path in fsys, such as an embed.FS.
func WithFixtureFS(fsys fs.FS, path string) Option {
	return func(s *settings) {
		s.load = func(seed uint64) (*fixtures.Data, error) { return fixtures.LoadFS(fsys, path, seed) }
	}
}

// WithFixtureYAML serves fixtures given as YAML text.
func WithFixtureYAML(yaml []byte) Option {
	return func(s *settings) {
		s.load = func(seed uint64) (*fixtures.Data, error) { return fixtures.Load("fixture YAML", yaml, seed) }
	}
}

// WithGenerated adds n generated sessions to agentKey, creating the agent if
// the data has none, like the -generate flag.
func WithGenerated(agentKey string, n int) Option {
	return func(s *settings) { s.generate = append(s.generate, generated{agentKey, n}) }
}

// WithSeed seeds generated data that gives no seed of its own, like -seed.
func WithSeed(seed uint64) Option {
	return func(s *settings) { s.seed = seed }
}

// WithAPIKeys restricts the accepted API keys, like -api-key. The first one is
// the key that Client sends (else the fixtures' first api_keys entry, else
// DefaultAPIKey).
func WithAPIKeys(keys ...string) Option {
	return func(s *settings) { s.apiKeys = append(s.apiKeys, keys...) }
}

// WithoutAuth turns authentication off, like -no-auth.
func WithoutAuth() Option {
	return func(s *settings) { s.noAuth = true }
}

// WithLogger sends the server's logs to l. By default they are discarded.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) { s.logger = l }
}

// WithScenario activates the named scenario for everyone from the start, like
// -scenario. Reset activates it again with fresh counters.
func WithScenario(name string) Option {
	return func(s *settings) { s.server = append(s.server, mockserver.WithScenario(name)) }
}

// WithScenarioFile adds the scenarios of a YAML file to the built-in ones,
// like -scenarios.
func WithScenarioFile(path string) Option {
	return func(s *settings) {
		s.loadScenarios = append(s.loadScenarios, func() ([]scenarios.Scenario, error) { return scenarios.LoadFile(path) })
	}
}

// WithScenarioYAML adds scenarios given as YAML text.
func WithScenarioYAML(yaml []byte) Option {
	return func(s *settings) {
		s.loadScenarios = append(s.loadScenarios, func() ([]scenarios.Scenario, error) { return scenarios.Load("scenario YAML", yaml) })
	}
}

// WithRateLimit sets a token bucket per API key, like -rate-limit
// ("10/s,burst=20").
func WithRateLimit(spec string) Option {
	return func(s *settings) { s.rateLimit = spec }
}

// WithJournalSize sets how many requests the journal keeps, like
// -journal-size; 0 turns it off.
func WithJournalSize(n int) Option {
	return func(s *settings) { s.server = append(s.server, mockserver.WithJournalSize(n)) }
}

// WithAdminToken makes the admin API require Authorization: Bearer token,
// like -admin-token.
func WithAdminToken(token string) Option {
	return func(s *settings) { s.server = append(s.server, mockserver.WithAdminToken(token)) }
}

// TestServer is a running mock API. Its embedded *mockserver.Server gives
// access to the data, such as Reset and Reload.
type TestServer struct {
	*mockserver.Server
	// URL is the base URL, such as http://127.0.0.1:54321, with no trailing slash.
	URL string
	// APIKey is the key that Client adds to requests that carry none.
	APIKey string

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
	s := settings{seed: fixtures.DefaultSeed}
	for _, o := range opts {
		o(&s)
	}
	data, err := s.data()
	if err != nil {
		return nil, fmt.Errorf("agentmock: %w", err)
	}
	mopts, err := s.serverOptions(data)
	if err != nil {
		return nil, fmt.Errorf("agentmock: %w", err)
	}
	if s.noAuth {
		mopts = append(mopts, mockserver.WithoutAuth())
	}
	if s.logger != nil {
		mopts = append(mopts, mockserver.WithLogger(s.logger))
	}
	srv, err := mockserver.New(mopts...)
	if err != nil {
		return nil, fmt.Errorf("agentmock: %w", err)
	}
	ts := &TestServer{Server: srv, APIKey: DefaultAPIKey, http: httptest.NewServer(srv)}
	ts.URL = ts.http.URL
	switch {
	case len(s.apiKeys) > 0:
		ts.APIKey = s.apiKeys[0]
	case data != nil && len(data.APIKeys) > 0:
		ts.APIKey = data.APIKeys[0]
	}
	return ts, nil
}

func (s *settings) serverOptions(data *fixtures.Data) ([]mockserver.Option, error) {
	opts := []mockserver.Option{mockserver.WithSeed(s.seed), mockserver.WithAPIKeys(s.apiKeys...)}
	if data != nil {
		opts = append(opts, mockserver.WithData(data))
	}
	for _, load := range s.loadScenarios {
		sc, err := load()
		if err != nil {
			return nil, err
		}
		opts = append(opts, mockserver.WithScenarios(sc))
	}
	if s.rateLimit != "" {
		rl, err := fixtures.ParseRateLimit(s.rateLimit)
		if err != nil {
			return nil, err
		}
		opts = append(opts, mockserver.WithRateLimit(rl))
	}
	return append(opts, s.server...), nil
}

// data loads the data the options ask for, or returns nil for the built-in
// data, which mockserver shares between servers.
func (s *settings) data() (*fixtures.Data, error) {
	load := s.load
	if load == nil {
		if len(s.generate) == 0 && s.seed == fixtures.DefaultSeed {
			return nil, nil
		}
		load = fixtures.BuiltIn
	}
	d, err := load(s.seed)
	if err != nil {
		return nil, err
	}
	for _, g := range s.generate {
		if d, err = d.WithGenerated(g.agentKey, g.n, s.seed); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Client returns an HTTP client for the server that adds the x-api-key header
// with APIKey to every request that has neither x-api-key nor Authorization.
func (s *TestServer) Client() *http.Client {
	c := *s.http.Client()
	c.Transport = keyTransport{key: s.APIKey, next: c.Transport}
	return &c
}

// Close shuts the server down: injected delays in flight end at once, and it
// waits for the other requests in flight. The test's cleanup calls it;
// calling it earlier is safe.
func (s *TestServer) Close() {
	s.Server.Close()
	s.http.Close()
}

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
// Status and Rule; APIKey compares with mockserver.KeyFingerprint(key).
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

// onlyFieldsOf returns got with every field zeroed that is zero in want.
func onlyFieldsOf(want, got mockserver.Request) mockserver.Request {
	w, g := reflect.ValueOf(want), reflect.ValueOf(&got).Elem()
	for i := range w.NumField() {
		if w.Field(i).IsZero() {
			g.Field(i).SetZero()
		}
	}
	return got
}
