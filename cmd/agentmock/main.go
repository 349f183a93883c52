// Command agentmock serves the mock Agents API on a port.
//
// Every flag can also be set with an AGENTMOCK_<NAME> environment variable
// (upper case, '-' as '_'); a flag on the command line wins. Repeatable flags
// take a comma-separated list from the environment.
package main

import (
	"context"
	"crypto/tls"
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
	"runtime/metrics"
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
	streamPace  string

	// tls serves HTTPS: with the files of tlsCert and tlsKey when given,
	// else with a certificate made at start.
	tls     bool
	tlsCert string
	tlsKey  string

	from origin // the flags whose values came from the environment
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

// envName is the environment variable of a flag: AGENTMOCK_ and the flag's
// name in upper case, with '-' as '_'.
func envName(flag string) string {
	return "AGENTMOCK_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// origin maps a flag whose value came from the environment to its variable,
// so that a message about a bad value names what the user set.
type origin map[string]string

// of is the name to report a flag's value under: its variable when the value
// came from the environment, else the flag.
func (o origin) of(flag string) string {
	if name, ok := o[flag]; ok {
		return name
	}
	return "-" + flag
}

// blame prefixes err with the variable that gave the flag its value, when it
// came from the environment. A value from the command line is left to the
// error itself (such as a file's name), which says what it was.
func (o origin) blame(flag string, err error) error {
	if name, ok := o[flag]; ok && err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return err
}

// parseFlags reads args, then fills each flag not given there from the
// environment. The usage goes to stdout for -h, and errors to stderr.
func parseFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (*options, error) {
	o := &options{}
	var generate []string
	var rateLimit string
	fs := flag.NewFlagSet("agentmock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below, where -h is told from a mistake
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
	fs.StringVar(&o.adminToken, "admin-token", "", "require Authorization: Bearer `token` on admin calls (default: no token)")
	fs.IntVar(&o.journalSize, "journal-size", mockserver.DefaultJournalSize, "requests the journal keeps; 0 turns it off")
	fs.StringVar(&o.streamPace, "stream-pace", "", "pace of streamed replies, such as `40/s` or 300ms,40/s (words per second, after a first-token wait; default: none)")
	fs.BoolVar(&o.tls, "tls", false, "serve HTTPS (HTTP/2 and HTTP/1.1) with a certificate made at start for 127.0.0.1, ::1 and localhost; its PEM file is named at start")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with the certificate (chain) of this PEM `file`, with -tls-key")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the PEM `file` of the private key of -tls-cert")
	fs.DurationVar(&o.readHeaderTimeout, "read-header-timeout", 10*time.Second, "close a connection whose request headers take longer")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 2*time.Minute, "close a keep-alive connection idle for longer")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs)
			return nil, err
		}
		// The flag set has printed the error; the whole usage would bury it.
		fmt.Fprintln(stderr, "Run agentmock -h for the flags, their variables and the exit codes.")
		return nil, errReported{err}
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	from := origin{}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		v := getenv(name)
		if set[f.Name] || v == "" || envErr != nil {
			return
		}
		set[f.Name] = true
		from[f.Name] = name
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
	o.from = from
	if set["admin-token"] && strings.TrimSpace(o.adminToken) == "" {
		return nil, fmt.Errorf("%s: the admin token cannot be empty; leave it unset for an admin API without a token", from.of("admin-token"))
	}
	for _, k := range o.apiKeys {
		if strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%s: an API key cannot be empty", from.of("api-key"))
		}
	}
	_, port, err := net.SplitHostPort(o.addr)
	if err != nil {
		return nil, fmt.Errorf("%s wants host:port, such as 127.0.0.1:8080: %v", from.of("addr"), err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return nil, fmt.Errorf("%s: the port must be a number from 0 to 65535, not %q", from.of("addr"), port)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return nil, fmt.Errorf("%s must be text or json, not %q", from.of("log-format"), o.logFormat)
	}
	if o.readHeaderTimeout <= 0 {
		return nil, fmt.Errorf("%s must be positive, not %v", from.of("read-header-timeout"), o.readHeaderTimeout)
	}
	if o.idleTimeout <= 0 {
		return nil, fmt.Errorf("%s must be positive, not %v", from.of("idle-timeout"), o.idleTimeout)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		given, missing := "tls-cert", "tls-key"
		if o.tlsCert == "" {
			given, missing = missing, given
		}
		return nil, fmt.Errorf("%s needs -%s (or %s) too: give both files, or neither for a certificate made at start",
			from.of(given), missing, envName(missing))
	}
	if o.tlsCert != "" {
		if set["tls"] && !o.tls {
			return nil, fmt.Errorf("%s=false contradicts %s: leave it out, as the files imply it", from.of("tls"), from.of("tls-cert"))
		}
		o.tls = true
	}
	if o.journalSize < 0 {
		return nil, fmt.Errorf("%s cannot be negative", from.of("journal-size"))
	}
	if o.streamPace != "" {
		if err := mockserver.CheckStreamPace(o.streamPace); err != nil {
			return nil, fmt.Errorf("%s: %w", from.of("stream-pace"), err)
		}
	}
	if rateLimit != "" {
		if _, err := fixtures.ParseRateLimit(rateLimit); err != nil {
			return nil, fmt.Errorf("%s: %w", from.of("rate-limit"), err)
		}
		o.rateLimit = rateLimit
	}
	for _, g := range generate {
		agentKey, count, ok := strings.Cut(g, "=")
		n, err := strconv.Atoi(count)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("%s wants agt_x=N with N >= 0, not %q", from.of("generate"), g)
		}
		o.generate = append(o.generate, generation{agentKey, n})
	}
	return o, nil
}

// usage prints what -h shows: the flags, their environment variables and
// the exit codes.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: agentmock [flags]

agentmock serves the mock Agents API until SIGINT or SIGTERM. SIGHUP
reloads the fixtures and scenarios files, all or nothing. When it is ready it
prints "agentmock listening on URL"; with -tls, after a line "agentmock
certificate FILE" that names the PEM file for clients to trust.

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Environment:
  Each flag can also be set by a variable: AGENTMOCK_ and the flag's name in
  upper case, with '-' as '_' (-api-key is AGENTMOCK_API_KEY). A flag on the
  command line wins over its variable, and an empty variable counts as unset.
  Repeatable flags take a comma-separated list (AGENTMOCK_API_KEY=key_a,key_b).
  The variables:
`)
	const indent = "   " // and one space before each name
	line := indent
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if len(line)+1+len(name) > 80 {
			fmt.Fprintln(w, line)
			line = indent
		}
		line += " " + name
	})
	fmt.Fprintln(w, line)
	fmt.Fprint(w, `
Exit status:
  0  stopped by SIGINT or SIGTERM, or after -h or -version
  1  could not serve: the address cannot be listened on (such as a port in
     use), the server failed, or requests were still running 10s after a stop
  2  bad flags, environment variables or files
`)
}

// loadData builds the data the flags ask for: the fixtures file or the
// built-in data, plus generated agents.
func (o *options) loadData() (*fixtures.Data, error) {
	var d *fixtures.Data
	var err error
	if o.fixtures != "" {
		d, err = fixtures.LoadFile(o.fixtures, o.seed)
		err = o.from.blame("fixtures", err)
	} else {
		d, err = fixtures.BuiltIn(o.seed)
	}
	if err != nil {
		return nil, err
	}
	for _, g := range o.generate {
		if d, err = d.WithGenerated(g.agentKey, g.n, o.seed); err != nil {
			return nil, fmt.Errorf("%s %s=%d: %w", o.from.of("generate"), g.agentKey, g.n, err)
		}
	}
	return d, nil
}

// loadScenarios reads the scenarios file, if any.
func (o *options) loadScenarios() ([]scenarios.Scenario, error) {
	if o.scenarios == "" {
		return nil, nil
	}
	sc, err := scenarios.LoadFile(o.scenarios)
	return sc, o.from.blame("scenarios", err)
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
// The headroom is gcPercentFor's. GOGC in the environment wins.
func fitGCToData(getenv func(string) string) {
	debug.FreeOSMemory()
	if getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(gcPercentFor(liveHeap()))
}

// gcRefitInterval is how often refitGC looks at the live heap.
const gcRefitInterval = 5 * time.Second

// gcPercentFor is the GC percent that gives a live heap of live bytes a
// tenth of it as headroom, or 32 MiB when that is more, but never more than
// Go's default of 100. The data is large and lives as long as the server,
// while requests make little garbage, so a small headroom costs little
// collection and keeps resident memory near the data's.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return 100
	}
	return int(max(10, min(100, (32<<20)*100/live)))
}

// liveHeap is the heap the last garbage collection found live.
func liveHeap() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

// refitGC keeps the GC fitted to data that grows while the server runs,
// such as the events of conversations: every interval, when the live heap
// has changed by a quarter since the last fit, it sets the percent again.
// It returns when ctx is done.
func refitGC(ctx context.Context, getenv func(string) string, interval time.Duration) {
	if getenv("GOGC") != "" {
		return
	}
	fitted := liveHeap()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			live := liveHeap()
			if live > fitted+fitted/4 || live < fitted-fitted/4 {
				// Give back what the growth left free, then fit the headroom
				// to the heap that is live now.
				debug.FreeOSMemory()
				fitted = liveHeap()
				debug.SetGCPercent(gcPercentFor(fitted))
			}
		}
	}
}

// version says what this binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	return formatVersion(bi, ok)
}

// formatVersion is the module version and the Go version, such as
// "v1.2.0 go1.26.1". A build without a module version, such as go build in
// a checkout, names its commit instead, with "-dirty" when the tree had
// changes; a build with neither says "devel".
func formatVersion(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "devel " + runtime.Version()
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
		var revision, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if revision != "" {
			v = revision[:min(12, len(revision))]
			if modified == "true" {
				v += "-dirty"
			}
		}
	}
	goVersion := bi.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	return v + " " + goVersion
}

// maxHeaderBytes caps request headers; net/http answers 431 beyond.
const maxHeaderBytes = 64 << 10

// run is the whole program, with its inputs passed in so tests can drive it.
// It serves until ctx is done, reloads on each value from hup, and returns the
// exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, hup <-chan os.Signal) int {
	o, err := parseFlags(args, getenv, stdout, stderr)
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
	var cert *serving
	if o.tlsCert != "" {
		if cert, err = o.loadCertificate(); err != nil {
			fmt.Fprintf(stderr, "agentmock: %v\n", err)
			return exitUsage
		}
		if outsideValidity(cert.cert, time.Now()) {
			log.Warn("the certificate is not valid now; clients will refuse it", "file", cert.file,
				"not_before", cert.cert.Leaf.NotBefore, "not_after", cert.cert.Leaf.NotAfter)
		}
	}
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
	if o.streamPace != "" {
		sopts = append(sopts, mockserver.WithStreamPace(o.streamPace))
	}
	srv, err := mockserver.New(sopts...)
	if errors.Is(err, scenarios.ErrUnknownScenario) { // the only name New looks up
		err = fmt.Errorf("%s: %w", o.from.of("scenario"), err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "agentmock: %v\n", err)
		return exitUsage
	}
	agents := len(data.Agents)
	data = nil
	fitGCToData(getenv)
	gcCtx, stopGC := context.WithCancel(ctx)
	defer stopGC()
	go refitGC(gcCtx, getenv, gcRefitInterval)
	if o.tls && cert == nil {
		if cert, err = makeCertificate(o.addr, time.Now()); err != nil {
			fmt.Fprintf(stderr, "agentmock: a certificate for -tls: %v\n", err)
			return exitError
		}
		defer os.RemoveAll(cert.dir) // a client has no use for it once the server is gone
	}
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
	url := "http://" + ln.Addr().String()
	var ready string
	if cert != nil {
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.cert}, NextProtos: []string{"h2", "http/1.1"}}
		go func() { served <- hs.ServeTLS(ln, "", "") }()
		url = "https://" + ln.Addr().String()
		// Before the URL, so that whoever waits for the URL finds the file.
		ready = fmt.Sprintf("agentmock certificate %s\n", cert.file)
		log.Info("ready", "url", url, "certificate", cert.file, "agents", agents)
	} else {
		go func() { served <- hs.Serve(ln) }()
		log.Info("ready", "url", url, "agents", agents)
	}
	fmt.Fprintf(stdout, "%sagentmock listening on %s\n", ready, url)

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
