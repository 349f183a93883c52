package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHelpNamesTheVariablesAndTheExitCodes(t *testing.T) {
	for _, arg := range []string{"-h", "-help"} {
		t.Run(arg, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{arg}, noEnv, &stdout, &stderr, nil); code != exitOK {
				t.Errorf("exit status %d, want 0", code)
			}
			if stderr.Len() > 0 {
				t.Errorf("-h wrote to stderr: %q", stderr.String())
			}
			help := stdout.String()
			for _, want := range []string{
				"AGENTMOCK_ADDR", "AGENTMOCK_FIXTURES", "AGENTMOCK_SEED", "AGENTMOCK_GENERATE",
				"AGENTMOCK_API_KEY", "AGENTMOCK_NO_AUTH", "AGENTMOCK_LOG_FORMAT", "AGENTMOCK_LOG_LEVEL",
				"AGENTMOCK_VERSION", "AGENTMOCK_SCENARIOS", "AGENTMOCK_SCENARIO", "AGENTMOCK_RATE_LIMIT",
				"AGENTMOCK_ADMIN_TOKEN", "AGENTMOCK_JOURNAL_SIZE", "AGENTMOCK_READ_HEADER_TIMEOUT",
				"AGENTMOCK_IDLE_TIMEOUT",
				"-addr", "-admin-token",
				"Exit status:", "\n  0  stopped", "\n  1  could not serve", "\n  2  bad flags",
			} {
				if !strings.Contains(help, want) {
					t.Errorf("the usage does not mention %q:\n%s", want, help)
				}
			}
		})
	}
}

// TestEveryFlagIsInTheHelpWithItsVariable keeps the usage's list of
// variables complete as flags come and go.
func TestEveryFlagIsInTheHelpWithItsVariable(t *testing.T) {
	var stdout bytes.Buffer
	run(context.Background(), []string{"-h"}, noEnv, &stdout, io.Discard, nil)
	help := stdout.String()
	_, vars, ok := strings.Cut(help, "The variables:")
	if !ok {
		t.Fatalf("no list of variables:\n%s", help)
	}
	vars, _, _ = strings.Cut(vars, "\n\n")
	var flags, listed []string
	for _, line := range strings.Split(help, "\n") {
		if f, ok := strings.CutPrefix(line, "  -"); ok {
			flags = append(flags, envName(strings.Fields(f)[0]))
		}
	}
	listed = strings.Fields(vars)
	if diff := cmp.Diff(flags, listed); diff != "" {
		t.Errorf("the variables listed differ from the flags' (-flags +listed):\n%s", diff)
	}
}

func TestAPortInUseExitsWithStatus1(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-addr", ln.Addr().String()}, noEnv, io.Discard, &stderr, nil); code != exitError {
		t.Errorf("exit status %d, want 1; stderr:\n%s", code, &stderr)
	}
}

func TestAddressesThatParse(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "127.0.0.1:65535", "[::1]:8080", ":8080", "localhost:1"} {
		t.Run(addr, func(t *testing.T) {
			o, err := parseFlags([]string{"-addr", addr}, noEnv, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(addr, o.addr); diff != "" {
				t.Errorf("addr (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAnEmptyAdminTokenVariableIsUnset: unlike an explicit empty -admin-token,
// an empty variable is no setting at all, and the admin API stays open as
// by default.
func TestAnEmptyAdminTokenVariableIsUnset(t *testing.T) {
	r := start(t, func(k string) string { return map[string]string{"AGENTMOCK_ADMIN_TOKEN": ""}[k] })
	if got := r.get(t, "/__admin/requests", ""); got != 200 {
		t.Errorf("admin call: %d, want 200", got)
	}
}

func TestFormatVersion(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"a module version", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.2.0"}}, true, "v1.2.0 go1.26.1"},
		{"a module version and a commit: the version",
			&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.2.0"}, Settings: settings("vcs.revision", rev)}, true,
			"v1.2.0 go1.26.1"},
		{"a pseudo-version stamped from a checkout",
			&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.0.0-20260101120000-0123456789ab+dirty"},
				Settings: settings("vcs.revision", rev, "vcs.modified", "true")}, true,
			"v0.0.0-20260101120000-0123456789ab+dirty go1.26.1"},
		{"a commit", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs", "git", "vcs.revision", rev, "vcs.modified", "false")}, true,
			"0123456789ab go1.26.1"},
		{"a commit with changes", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.modified", "true", "vcs.revision", rev)}, true,
			"0123456789ab-dirty go1.26.1"},
		{"a short commit", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", "abc")}, true,
			"abc go1.26.1"},
		{"neither", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}}, true, "devel go1.26.1"},
		{"no module version at all", &debug.BuildInfo{GoVersion: "go1.26.1"}, true, "devel go1.26.1"},
		{"changes without a commit", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.modified", "true")}, true, "devel go1.26.1"},
		{"no build info", nil, false, "devel " + runtime.Version()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, formatVersion(tt.bi, tt.ok)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
