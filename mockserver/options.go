package mockserver

import (
	"io/fs"
	"log/slog"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/scenarios"
)

// Option configures a Server. The same options configure mockserver.New and
// the root package's NewTestServer and NewServer, and each means one thing:
// most match a flag of the agentmock command.
type Option func(*config)

type config struct {
	data        func(seed uint64) (*fixtures.Data, error) // nil: the built-in data
	generate    []generation
	seed        uint64
	apiKeys     []string
	noAuth      bool
	logger      *slog.Logger
	scenarios   []func() ([]scenarios.Scenario, error)
	scenario    string
	rateLimit   *string
	adminToken  *string
	journalSize int
	streamPace  string
	tls         bool
}

type generation struct {
	agentKey string
	n        int
}

// WithData serves d instead of the built-in data.
func WithData(d *fixtures.Data) Option {
	return func(c *config) { c.data = func(uint64) (*fixtures.Data, error) { return d, nil } }
}

// WithFixtureFile serves the fixtures file at path instead of the built-in
// data, like -fixtures.
func WithFixtureFile(path string) Option {
	return func(c *config) {
		c.data = func(seed uint64) (*fixtures.Data, error) { return fixtures.LoadFile(path, seed) }
	}
}

// WithFixtureFS serves the fixtures file at path in fsys, such as an embed.FS.
func WithFixtureFS(fsys fs.FS, path string) Option {
	return func(c *config) {
		c.data = func(seed uint64) (*fixtures.Data, error) { return fixtures.LoadFS(fsys, path, seed) }
	}
}

// WithFixtureYAML serves fixtures given as YAML text.
func WithFixtureYAML(yaml []byte) Option {
	return func(c *config) {
		c.data = func(seed uint64) (*fixtures.Data, error) { return fixtures.Load("fixture YAML", yaml, seed) }
	}
}

// WithGenerated adds n generated sessions to agentKey, creating the agent if
// the data has none, like -generate.
func WithGenerated(agentKey string, n int) Option {
	return func(c *config) { c.generate = append(c.generate, generation{agentKey, n}) }
}

// WithSeed seeds generated data that gives no seed of its own, like -seed,
// including the data that PUT /__admin/fixtures loads. The default is
// fixtures.DefaultSeed.
func WithSeed(seed uint64) Option {
	return func(c *config) { c.seed = seed }
}

// WithAPIKeys restricts the accepted API keys to keys, in addition to any the
// fixtures list, like -api-key. Without keys from either place, any
// non-empty key is accepted.
func WithAPIKeys(keys ...string) Option {
	return func(c *config) { c.apiKeys = append(c.apiKeys, keys...) }
}

// WithoutAuth turns authentication off, like -no-auth: requests need no key,
// and agents' allowed_keys are not checked.
func WithoutAuth() Option {
	return func(c *config) { c.noAuth = true }
}

// WithLogger sends the server's logs to l. The default discards them.
// API keys are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithScenarios adds scenarios to the built-in ones, replacing built-ins of
// the same name.
func WithScenarios(s ...scenarios.Scenario) Option {
	return func(c *config) {
		c.scenarios = append(c.scenarios, func() ([]scenarios.Scenario, error) { return s, nil })
	}
}

// WithScenarioFile adds the scenarios of a YAML file, like -scenarios.
func WithScenarioFile(path string) Option {
	return func(c *config) {
		c.scenarios = append(c.scenarios, func() ([]scenarios.Scenario, error) { return scenarios.LoadFile(path) })
	}
}

// WithScenarioYAML adds scenarios given as YAML text.
func WithScenarioYAML(yaml []byte) Option {
	return func(c *config) {
		c.scenarios = append(c.scenarios, func() ([]scenarios.Scenario, error) { return scenarios.Load("scenario YAML", yaml) })
	}
}

// WithScenario activates the named scenario for everyone from the start,
// like -scenario. A reset activates it again, with fresh counters.
func WithScenario(name string) Option {
	return func(c *config) { c.scenario = name }
}

// WithRateLimit sets a token bucket per API key, like -rate-limit: spec is
// "10/s,burst=20" (see fixtures.ParseRateLimit), and a bad one makes New
// fail. It overrides the fixtures' rate_limit.
func WithRateLimit(spec string) Option {
	return func(c *config) { c.rateLimit = &spec }
}

// WithAdminToken makes the admin API, but for its health check, require
// Authorization: Bearer token, like -admin-token. An empty token is an error.
func WithAdminToken(token string) Option {
	return func(c *config) { c.adminToken = &token }
}

// WithJournalSize sets how many requests the journal keeps, like
// -journal-size (default DefaultJournalSize); 0 turns the journal off.
func WithJournalSize(n int) Option {
	return func(c *config) { c.journalSize = n }
}

// WithStreamPace paces streamed replies of agents that have no pace of
// their own, like -stream-pace: spec is "40/s" (words per second) or
// "300ms,40/s" (a wait for the first chunk, then the rate). By default
// streams are not paced. A bad spec makes New fail.
func WithStreamPace(spec string) Option {
	return func(c *config) { c.streamPace = spec }
}

// WithTLS asks for the server to be served over HTTPS, like -tls: the root
// package's NewTestServer and NewServer then serve HTTP/2 and HTTP/1.1 with
// a certificate that their Client trusts. A Server mounted in an
// http.Server of one's own is served as that server says; Server.TLS
// reports the wish.
func WithTLS() Option {
	return func(c *config) { c.tls = true }
}

// TLS reports whether WithTLS was given.
func (s *Server) TLS() bool { return s.cfg.tls }
