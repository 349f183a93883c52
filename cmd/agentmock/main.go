// Command agentmock serves the mock List Agent Sessions API on a port.
//
// Every flag can also be set with an AGENTMOCK_<NAME> environment variable
// (upper case, '-' as '_'); a flag on the command line wins. Repeatable flags
// take a comma-separated list from the environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/mockserver"
	"github.com/agentmock/agentmock/scenarios"
)

const (
	exitOK    = 0
	exitError = 1 // the server could not run, such as a port in use
	exitUsage = 2 // bad flags or files
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, hup))
}

// options are the parsed flags.
type options struct {
	addr      string
	fixtures  string
	seed      uint64
	generate  []generation
	apiKeys   []string
	noAuth    bool
	logFormat string
	logLevel  slog.Level
	version   bool

	// A client that is slow to send its headers, or idle between
	// requests, does not hold a connection longer than these.
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration

	scenarios   string
	scenario    string
	rateLimit   string
	adminToken  string
	journalSize int
}

type generation struct {
	agentKey string
	n        int
}

// errReported is an error that has already been printed.
type errReported struct{ error }

func (e errReported) Unwrap() error { return e.error }

// listFlag is a repeatable flag.
type listFlag struct {
	values *[]string
}

func (f listFlag) String() string {
	if f.values == nil {
		return ""
	}
	return strings.Join(*f.values, ",")
}

func (f listFlag) Set(v string) error {
	*f.values = append(*f.values, v)
	return nil
}

// parseFlags reads args, then fills each flag not given there from the
// environment.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	o := &options{}
	var generate []string
	var rateLimit string
	fs := flag.NewFlagSet("agentmock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address; port 0 picks a free port")
	fs.StringVar(&o.fixtures, "fixtures", "", "fixtures YAML `file` (default: the built-in data)")
	fs.Uint64Var(&o.seed, "seed", fixtures.DefaultSeed, "seed for generated sessions that give no seed of their own")
	fs.Var(listFlag{&generate}, "generate", "add N generated sessions to an agent: `agt_x=N` (repeatable)")
	fs.Var(listFlag{&o.apiKeys}, "api-key", "accept only this API `key` (repeatable; default: any non-empty key)")
	fs.BoolVar(&o.noAuth, "no-auth", false, "turn authentication off")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringVar(&o.scenarios, "scenarios", "", "scenarios YAML `file`, added to the built-in scenarios")
	fs.StringVar(&o.scenario, "scenario", "", "activate this scenario for everyone from the start")
	fs.StringVar(&rateLimit, "rate-limit", "", "token bucket per API key, such as `10/s,burst=20` (default: the fixtures' rate_limit, else none)")
	fs.StringVar(&o.adminToken, "admin-token", "", "require Authorization: Bearer `token` on admin calls")
	fs.IntVar(&o.journalSize, "journal-size", mockserver.DefaultJournalSize, "requests the journal keeps; 0 turns it off")
	fs.DurationVar(&o.readHeaderTimeout, "read-header-timeout", 10*time.Second, "close a connection whose request headers take longer")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 2*time.Minute, "close a keep-alive connection idle for longer")
	if err := fs.Parse(args); err != nil {
		return nil, errReported{err} // the flag set has printed it, with the usage
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "AGENTMOCK_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v := getenv(name)
		if given[f.Name] || v == "" || envErr != nil {
			return
		}
		values := []string{v}
		if _, ok := f.Value.(listFlag); ok {
			values = strings.Split(v, ",")
		}
		for _, v := range values {
			if err := f.Value.Set(strings.TrimSpace(v)); err != nil {
				envErr = fmt.Errorf("invalid value %q for %s: %v", v, name, err)
				return
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return nil, fmt.Errorf("-addr wants host:port, such as 127.0.0.1:8080: %v", err)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return nil, fmt.Errorf("-log-format must be text or json, not %q", o.logFormat)
	}
	if o.readHeaderTimeout <= 0 || o.idleTimeout <= 0 {
		return nil, fmt.Errorf("-read-header-timeout and -idle-timeout must be positive")
	}
	if o.journalSize < 0 {
		return nil, fmt.Errorf("-journal-size cannot be negative")
	}
	if rateLimit != "" {
		if _, err := fixtures.ParseRateLimit(rateLimit); err != nil {
			return nil, fmt.Errorf("-rate-limit: %w", err)
		}
		o.rateLimit = rateLimit
	}
	for _, g := range generate {
		agentKey, count, ok := strings.Cut(g, "=")
		n, err := strconv.Atoi(count)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("-generate wants agt_x=N with N >= 0, not %q", g)
		}
		o.generate = append(o.generate, generation{agentKey, n})
	}
	return o, nil
}

// loadData builds the data the flags ask for: the fixtures file or the
// built-in data, plus generated agents.
func (o *options) loadData() (*fixtures.Data, error) {
	var d *fixtures.Data
	var err error
	if o.fixtures != "" {
		d, err = fixtures.LoadFile(o.fixtures, o.seed)
	} else {
		d, err = fixtures.BuiltIn(o.seed)
	}
	if err != nil {
		return nil, err
	}
	for _, g := range o.generate {
		if d, err = d.WithGenerated(g.agentKey, g.n, o.seed); err != nil {
			return nil, fmt.Errorf("-generate %s=%d: %w", g.agentKey, g.n, err)
		}
	}
	return d, nil
}

// loadScenarios reads the scenarios file, if any.
func (o *options) loadScenarios() ([]scenarios.Scenario, error) {
	if o.scenarios == "" {
		return nil, nil
	}
	return scenarios.LoadFile(o.scenarios)
}

// reload reads the files again and swaps them in. Both are read and checked
// before either is swapped, and a swap cannot fail for data that loaded, so
// a bad file changes nothing.
func (o *options) reload(srv *mockserver.Server) error {
	d, err := o.loadData()
	if err != nil {
		return err
	}
	sc, err := o.loadScenarios()
	if err != nil {
		return err
	}
	if err := srv.SetScenarios(sc); err != nil {
		return err
	}
	return srv.Reload(d)
}

func (o *options) logger(w io.Writer) *slog.Logger {
	ho := &slog.HandlerOptions{Level: o.logLevel}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// fitGCToData gives back the garbage of loading, and keeps the garbage
// collector's headroom proportionate. The data is large and lives as long as
// the server, while requests make little garbage; Go's default headroom
// (GOGC=100) would let the heap grow to twice the data before collecting.
// The headroom is a quarter of the live heap, or 64 MiB when that is more,
// but never more than the default. GOGC in the environment wins.
func fitGCToData(getenv func(string) string) {
	debug.FreeOSMemory()
	if getenv("GOGC") != "" {
		return
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	percent := 100
	if m.HeapAlloc > 0 {
		percent = int(max(25, min(100, (64<<20)*100/m.HeapAlloc)))
	}
	debug.SetGCPercent(percent)
}

// version is the module version, or for a build from a checkout, the commit.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + bi.GoVersion
}

// maxHeaderBytes caps request headers; net/http answers 431 beyond.
const maxHeaderBytes = 64 << 10

// run is the whole program, with its inputs passed in so tests can drive it.
// It serves until ctx is done, reloads on each value from hup, and returns the
// exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, hup <-chan os.Signal) int {
	o, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		if !errors.As(err, new(errReported)) {
			fmt.Fprintf(stderr, "agentmock: %v\n", err)
		}
		return exitUsage
	}
	if o.version {
		fmt.Fprintf(stdout, "agentmock %s\n", version())
		return exitOK
	}
	log := o.logger(stderr)
	data, err := o.loadData()
	if err != nil {
		fmt.Fprintf(stderr, "agentmock: %v\n", err)
		return exitUsage
	}
	sc, err := o.loadScenarios()
	if err != nil {
		fmt.Fprintf(stderr, "agentmock: %v\n", err)
		return exitUsage
	}
	sopts := []mockserver.Option{
		mockserver.WithData(data), mockserver.WithSeed(o.seed), mockserver.WithAPIKeys(o.apiKeys...),
		mockserver.WithLogger(log), mockserver.WithScenarios(sc...), mockserver.WithScenario(o.scenario),
		mockserver.WithJournalSize(o.journalSize),
	}
	if o.adminToken != "" {
		sopts = append(sopts, mockserver.WithAdminToken(o.adminToken))
	}
	if o.rateLimit != "" {
		sopts = append(sopts, mockserver.WithRateLimit(o.rateLimit))
	}
	if o.noAuth {
		sopts = append(sopts, mockserver.WithoutAuth())
	}
	srv, err := mockserver.New(sopts...)
	if err != nil {
		fmt.Fprintf(stderr, "agentmock: %v\n", err)
		return exitUsage
	}
	agents := len(data.Agents)
	data = nil
	fitGCToData(getenv)
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		fmt.Fprintf(stderr, "agentmock: %v\n", err)
		return exitError
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: o.readHeaderTimeout,
		IdleTimeout:       o.idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	log.Info("ready", "url", url, "agents", agents)
	fmt.Fprintf(stdout, "agentmock listening on %s\n", url)

	for {
		select {
		case <-hup:
			if err := o.reload(srv); err != nil {
				log.Error("reload refused; still serving the old data", "err", err)
				continue
			}
			fitGCToData(getenv)
			log.Info("reloaded")
		case err := <-served:
			log.Error("server stopped", "err", err)
			return exitError
		case <-ctx.Done():
			log.Info("shutting down")
			srv.Close() // injected delays would hold the shutdown up
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil {
				log.Error("shutdown", "err", err)
				return exitError
			}
			return exitOK
		}
	}
}
