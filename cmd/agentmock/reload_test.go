package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// call sends a request with the API key k and returns the status and body.
func (r *running) call(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, r.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Api-Key", "k")
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// hupAndWait sends a SIGHUP and waits until the log says how it went: it
// returns the log line of the outcome.
func (r *running) hupAndWait(t *testing.T) string {
	t.Helper()
	outcomes := func() int {
		s := r.stderr.String()
		return strings.Count(s, "msg=reloaded") + strings.Count(s, "reload refused")
	}
	n := outcomes()
	select {
	case r.hup <- os.Interrupt:
	case <-time.After(5 * time.Second):
		t.Fatal("the server does not take a SIGHUP")
	}
	for deadline := time.Now().Add(5 * time.Second); outcomes() == n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no outcome of the reload in the log:\n%s", r.stderr)
		}
	}
	lines := strings.Split(strings.TrimSpace(r.stderr.String()), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "msg=reloaded") || strings.Contains(lines[i], "reload refused") {
			return lines[i]
		}
	}
	return ""
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReloadTakesBothFilesOrNeither changes the fixtures and the scenarios
// file together: while one is bad, neither change is taken, and the log
// line names the bad file; once both are good, both are.
func TestReloadTakesBothFilesOrNeither(t *testing.T) {
	dir := t.TempDir()
	fx, sc := filepath.Join(dir, "f.yaml"), filepath.Join(dir, "s.yaml")
	writeFile(t, fx, "agents:\n  - key: agt_one\n")
	writeFile(t, sc, "scenarios:\n  teapot:\n    rules:\n      - respond: {status: 418}\n")
	r := start(t, noEnv, "-fixtures", fx, "-scenarios", sc)

	scenarioNames := func() string {
		_, body := r.call(t, "GET", "/__admin/scenarios", "")
		return body
	}
	writeFile(t, fx, "agents:\n  - key: agt_two\n")
	writeFile(t, sc, "scenarios:\n  coffee:\n    rules:\n      - respond: {status: 999}\n")
	line := r.hupAndWait(t)
	if !strings.Contains(line, "reload refused") || !strings.Contains(line, "s.yaml") {
		t.Errorf("the log line does not refuse the reload naming s.yaml: %s", line)
	}
	if got := r.get(t, "/v2/agents/agt_one/sessions", "k"); got != 200 {
		t.Errorf("agt_one after the refused reload: %d, want 200", got)
	}
	if got := r.get(t, "/v2/agents/agt_two/sessions", "k"); got != 404 {
		t.Errorf("agt_two, from the good file of a refused reload: %d, want 404", got)
	}
	if names := scenarioNames(); !strings.Contains(names, `"teapot"`) || strings.Contains(names, `"coffee"`) {
		t.Errorf("the scenarios after the refused reload: %s", names)
	}

	writeFile(t, fx, "agents:\n  - key: agt_three\n    colour: blue\n")
	writeFile(t, sc, "scenarios:\n  coffee:\n    rules:\n      - respond: {status: 418}\n")
	line = r.hupAndWait(t)
	if !strings.Contains(line, "reload refused") || !strings.Contains(line, "f.yaml:3") {
		t.Errorf("the log line does not refuse the reload naming f.yaml:3: %s", line)
	}
	if names := scenarioNames(); !strings.Contains(names, `"teapot"`) || strings.Contains(names, `"coffee"`) {
		t.Errorf("a good scenarios file was taken from a refused reload: %s", names)
	}

	writeFile(t, fx, "agents:\n  - key: agt_two\n")
	if line := r.hupAndWait(t); !strings.Contains(line, "msg=reloaded") {
		t.Fatalf("a good reload: %s", line)
	}
	if r.get(t, "/v2/agents/agt_two/sessions", "k") != 200 || r.get(t, "/v2/agents/agt_one/sessions", "k") != 404 {
		t.Error("the good fixtures were not taken")
	}
	if names := scenarioNames(); strings.Contains(names, `"teapot"`) || !strings.Contains(names, `"coffee"`) {
		t.Errorf("the good scenarios were not taken: %s", names)
	}
}

// TestReloadOfAMissingFile removes the fixtures file: the reload is
// refused, naming it, and the data stays.
func TestReloadOfAMissingFile(t *testing.T) {
	fx := filepath.Join(t.TempDir(), "gone.yaml")
	writeFile(t, fx, "agents:\n  - key: agt_one\n")
	r := start(t, noEnv, "-fixtures", fx)
	if err := os.Remove(fx); err != nil {
		t.Fatal(err)
	}
	if line := r.hupAndWait(t); !strings.Contains(line, "reload refused") || !strings.Contains(line, "gone.yaml") {
		t.Errorf("the log line does not refuse the reload naming gone.yaml: %s", line)
	}
	if got := r.get(t, "/v2/agents/agt_one/sessions", "k"); got != 200 {
		t.Errorf("agt_one after the refused reload: %d", got)
	}
}

// TestResetGoesBackToTheLastReload mixes the two ways of replacing data: a
// reset goes back to the last SIGHUP, not to the start nor to a PUT; and a
// bad SIGHUP after a PUT leaves the PUT's data serving.
func TestResetGoesBackToTheLastReload(t *testing.T) {
	fx := filepath.Join(t.TempDir(), "f.yaml")
	writeFile(t, fx, "agents:\n  - key: agt_start\n")
	r := start(t, noEnv, "-fixtures", fx)
	serving := func() string {
		var got []string
		for _, a := range []string{"agt_start", "agt_hup", "agt_put"} {
			if r.get(t, "/v2/agents/"+a+"/sessions", "k") == 200 {
				got = append(got, a)
			}
		}
		return strings.Join(got, ",")
	}

	writeFile(t, fx, "agents:\n  - key: agt_hup\n")
	r.hupAndWait(t)
	if status, body := r.call(t, "PUT", "/__admin/fixtures", "agents:\n  - key: agt_put\n"); status != 200 {
		t.Fatalf("PUT /__admin/fixtures: %d %s", status, body)
	}
	writeFile(t, fx, "agents: [\n")
	if line := r.hupAndWait(t); !strings.Contains(line, "reload refused") {
		t.Fatalf("a bad file was not refused: %s", line)
	}
	if got := serving(); got != "agt_put" {
		t.Errorf("after a refused SIGHUP, serving %q, want the PUT's agt_put", got)
	}
	if status, body := r.call(t, "POST", "/__admin/reset", ""); status != 200 {
		t.Fatalf("reset: %d %s", status, body)
	}
	if got := serving(); got != "agt_hup" {
		t.Errorf("after a reset, serving %q, want agt_hup of the last good SIGHUP", got)
	}
}

// reloadSet is a fixtures file whose agt_c sessions all name the set.
func reloadSet(name string, n int) string {
	var b strings.Builder
	b.WriteString("agents:\n  - key: agt_c\n    sessions:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - {id: %s_%03d, name: set %s}\n", strings.ToLower(name), i, name)
	}
	return b.String()
}

// TestReloadsUnderLoad swaps two data sets by SIGHUP, many times, while
// clients list: each page comes whole from one set, with its total_count,
// and every request succeeds.
func TestReloadsUnderLoad(t *testing.T) {
	sets := map[string]int{"A": 30, "B": 45}
	fx := filepath.Join(t.TempDir(), "f.yaml")
	writeFile(t, fx, reloadSet("A", sets["A"]))
	r := start(t, noEnv, "-fixtures", fx)

	var stop atomic.Bool
	var pages atomic.Int64
	var seen sync.Map
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for c := range 4 {
		wg.Go(func() {
			for !stop.Load() {
				req, _ := http.NewRequest("GET", r.url+fmt.Sprintf("/v2/agents/agt_c/sessions?limit=%d", 5+c*10), nil)
				req.Header.Set("X-Api-Key", "k")
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("client %d: %v", c, err)
					return
				}
				var b struct {
					Sessions []struct{ ID, Name string }
					Metadata struct {
						TotalCount int `json:"total_count"`
					}
				}
				err = json.NewDecoder(resp.Body).Decode(&b)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || len(b.Sessions) == 0 {
					t.Errorf("client %d: %d %v %+v", c, resp.StatusCode, err, b)
					return
				}
				set := strings.TrimPrefix(b.Sessions[0].Name, "set ")
				for _, s := range b.Sessions {
					if s.Name != "set "+set || !strings.HasPrefix(s.ID, strings.ToLower(set)+"_") {
						t.Errorf("client %d: a page mixes %q and %q", c, b.Sessions[0].Name, s.Name)
						return
					}
				}
				if b.Metadata.TotalCount != sets[set] {
					t.Errorf("client %d: a page of set %s with total_count %d, want %d", c, set, b.Metadata.TotalCount, sets[set])
					return
				}
				seen.Store(set, true)
				pages.Add(1)
			}
		})
	}
	for i := range 30 {
		set := []string{"B", "A"}[i%2]
		writeFile(t, fx, reloadSet(set, sets[set]))
		if line := r.hupAndWait(t); !strings.Contains(line, "msg=reloaded") {
			t.Errorf("reload %d: %s", i, line)
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	_, a := seen.Load("A")
	_, b := seen.Load("B")
	t.Logf("%d consistent pages", pages.Load())
	if !t.Failed() && (!a || !b) {
		t.Errorf("the clients saw set A %v and set B %v; the reloads did not interleave with them", a, b)
	}
}

// TestReloadSurvivesHostileFiles reloads files built to break the loader or
// its error report: each reload is refused, the server lives on, and the
// data stays.
func TestReloadSurvivesHostileFiles(t *testing.T) {
	dir := t.TempDir()
	fx, sc := filepath.Join(dir, "f.yaml"), filepath.Join(dir, "s.yaml")
	writeFile(t, fx, "agents:\n  - key: agt_one\n")
	writeFile(t, sc, "scenarios: {}\n")
	r := start(t, noEnv, "-fixtures", fx, "-scenarios", sc)
	bomb := "agents:\n  - key: agt_x\n    sessions: [{id: s, metadata: {a: &a [x,x,x,x,x,x,x,x,x]"
	for c := 'b'; c <= 'i'; c++ {
		p := string(c - 1)
		bomb += fmt.Sprintf(", %c: &%c [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]", c, c, p, p, p, p, p, p, p, p, p)
	}
	bomb += "}}]\n"
	for _, tt := range []struct{ name, file, content string }{
		{"a vertical tab as a key", fx, "\v:"},
		{"a lone quote as a key", fx, "agents:\n\v\":"},
		{"an alias bomb", fx, bomb},
		{"an anchor in itself", fx, "agents:\n  - key: agt_x\n    sessions: [{id: s, metadata: &m {b: *m}}]\n"},
		{"binary", fx, "\x00\xff\xfe"},
		{"a scenarios file with a vertical tab as a key", sc, "\v:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			good, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer writeFile(t, tt.file, string(good))
			writeFile(t, tt.file, tt.content)
			if line := r.hupAndWait(t); !strings.Contains(line, "reload refused") || !strings.Contains(line, filepath.Base(tt.file)) {
				t.Errorf("the log line does not refuse the reload naming %s: %.300s", filepath.Base(tt.file), line)
			}
			if got := r.get(t, "/v2/agents/agt_one/sessions", "k"); got != 200 {
				t.Errorf("agt_one after the refused reload: %d", got)
			}
		})
	}
}
