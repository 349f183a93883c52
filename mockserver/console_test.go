package mockserver

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/agentmock/agentmock/scenarios"
)

var consoleScreenshot = flag.String("console-screenshot", "", "write a screenshot of the console with a conversation to this PNG file")

// TestConsoleFiles checks how the console is served, without a browser.
func TestConsoleFiles(t *testing.T) {
	s, err := New(WithAdminToken("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, target string
		status               int
		contentType          string
	}{
		{"the page is HTML", "GET", "/__admin/console", 200, "text/html; charset=utf-8"},
		{"the page answers HEAD", "HEAD", "/__admin/console", 200, "text/html; charset=utf-8"},
		{"the script is JavaScript", "GET", "/__admin/console/console.js", 200, "text/javascript; charset=utf-8"},
		{"the style sheet is CSS", "GET", "/__admin/console/console.css", 200, "text/css; charset=utf-8"},
		{"the icon is SVG", "GET", "/__admin/console/favicon.svg", 200, "image/svg+xml"},
		{"another file is a 404", "GET", "/__admin/console/index.html", 404, "application/json"},
		{"a trailing slash goes to the page", "GET", "/__admin/console/", 301, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(s, tt.method, tt.target, "", "X-Api-Key", "")
			if w.Code != tt.status {
				t.Fatalf("%s %s: status %d, want %d: %s", tt.method, tt.target, w.Code, tt.status, w.Body)
			}
			h := w.Header()
			if tt.contentType != "" && h.Get("Content-Type") != tt.contentType {
				t.Errorf("Content-Type %q, want %q", h.Get("Content-Type"), tt.contentType)
			}
			for name := range h {
				if strings.HasPrefix(name, "Access-Control-") {
					t.Errorf("a console response has the CORS header %s", name)
				}
			}
			if tt.status == 200 && !strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'self'; script-src 'self'; style-src 'self';") {
				t.Errorf("Content-Security-Policy %q is not strict", h.Get("Content-Security-Policy"))
			}
			if tt.method == "HEAD" && w.Body.Len() != 0 {
				t.Errorf("HEAD has a body of %d bytes", w.Body.Len())
			}
		})
	}
	t.Run("no file names another host or writes markup from strings", func(t *testing.T) {
		url := regexp.MustCompile(`[a-z]+://[^\s"'<>]*`)
		for name, a := range consoleAssets {
			for _, u := range url.FindAllString(string(a.body), -1) {
				if u != "http://www.w3.org/2000/svg" { // an SVG namespace, not a request
					t.Errorf("console file %q names %s", name, u)
				}
			}
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "<script>", "style="} {
				if strings.Contains(string(a.body), bad) {
					t.Errorf("console file %q has %q", name, bad)
				}
			}
		}
	})
}

// findChromium returns the path of a Chromium or Chrome, or skips the test;
// with AGENTMOCK_BROWSER_TEST=require (as .ci/run sets) it fails instead.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("AGENTMOCK_BROWSER_TEST") == "require" {
		t.Fatal("AGENTMOCK_BROWSER_TEST=require, but no Chromium is on PATH (chromium, chromium-browser or google-chrome)")
	}
	t.Skip("no Chromium found (chromium, chromium-browser or google-chrome on PATH): the console's browser test needs one; on Debian: apt-get install chromium")
	return ""
}

// browserPage is a headless Chromium tab on the console, with the steps a
// person takes, each bounded in time. It finds elements by their visible
// text and their labels, and reads what the page shows (innerText).
type browserPage struct {
	t      *testing.T
	ctx    context.Context
	mu     sync.Mutex
	errors []string // uncaught exceptions and CSP violations
}

// stepTimeout bounds each wait for the page.
const stepTimeout = 10 * time.Second

func openConsole(t *testing.T, url string) *browserPage {
	t.Helper()
	browser := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser),
		chromedp.WindowSize(1440, 900), chromedp.Flag("disable-dev-shm-usage", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox does not run as root
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	p := &browserPage{t: t}
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(p.listen))
	t.Cleanup(bcancel)
	p.ctx = bctx
	enableLog := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{})
		return chromedp.Void{}, err
	}
	if err := chromedp.Do(bctx, enableLog, chromedp.EmulateViewport(1440, 900), chromedp.Navigate(url+"/__admin/console")); err != nil {
		t.Fatalf("open the console: %v", err)
	}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range p.errors {
			t.Errorf("the page reported: %s", e)
		}
	})
	return p
}

// listen keeps the page's errors: uncaught exceptions, and what the
// browser's log says about security (a CSP violation) or JavaScript.
func (p *browserPage) listen(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = e.ExceptionDetails.Text
		if ex := e.ExceptionDetails.Exception; ex != nil && ex.Description != "" {
			msg += " " + ex.Description
		}
	case *cdplog.EventEntryAdded:
		if e.Entry.Source == cdplog.EntrySourceSecurity || e.Entry.Source == cdplog.EntrySourceJavascript {
			msg = fmt.Sprintf("%s: %s", e.Entry.Source, e.Entry.Text)
		}
	}
	if msg != "" {
		p.mu.Lock()
		p.errors = append(p.errors, msg)
		p.mu.Unlock()
	}
}

func (p *browserPage) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// xpath quotes s as an XPath string literal.
func xpath(s string) string {
	if !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + s + "'"
}

// region is the section under the heading.
func region(heading string) string {
	return fmt.Sprintf(`//section[h2[normalize-space()=%s]]`, xpath(heading))
}

// field is the form control that the label names.
func field(label string) string {
	return fmt.Sprintf(`//*[@id=//label[normalize-space()=%s]/@for]`, xpath(label))
}

// button is the button that shows the text.
func button(text string) string {
	return fmt.Sprintf(`//button[normalize-space()=%s]`, xpath(text))
}

// innerTextJS is a page function: the text that the element at an XPath shows.
const innerTextJS = `(path) => {
	const e = document.evaluate(path, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
	return e ? e.innerText : null;
}`

// shown reads the text that the element at path shows.
func (p *browserPage) shown(path string) string {
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[*string](fmt.Sprintf("(%s)(%s)", innerTextJS, jsString(path))))
	if err != nil || text == nil {
		return fmt.Sprintf("(nothing at %s: %v)", path, err)
	}
	return *text
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitText waits until the element at path shows want (present) or no
// longer shows it.
func (p *browserPage) waitText(path, want string, present bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	check := fmt.Sprintf(`(path, want, present) => { const t = (%s)(path); return t !== null && t.includes(want) === present; }`, innerTextJS)
	_, err := chromedp.Run(ctx, chromedp.PollFunction[bool](check,
		chromedp.WithPollingArgs(path, want, present), chromedp.WithPollingTimeout(stepTimeout-time.Second)))
	if err != nil {
		verb := "show"
		if !present {
			verb = "stop showing"
		}
		p.t.Fatalf("waiting for %s to %s %q: %v\nit shows:\n%s", path, verb, want, err, p.shown(path))
	}
}

func (p *browserPage) see(path, want string)    { p.t.Helper(); p.waitText(path, want, true) }
func (p *browserPage) notSee(path, want string) { p.t.Helper(); p.waitText(path, want, false) }

func (p *browserPage) click(path string) {
	p.t.Helper()
	p.do("click "+path, chromedp.Click(path, chromedp.NodeVisible))
}

// fill types text into the field with the label, as a person would after
// clearing it.
func (p *browserPage) fill(label, text string) {
	p.t.Helper()
	clear := `(path) => {
		const e = document.evaluate(path, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
		if (!e || e.disabled) return false;
		e.focus();
		e.value = '';
		e.dispatchEvent(new Event('input', { bubbles: true }));
		return true;
	}`
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.PollFunction[bool](clear, chromedp.WithPollingArgs(field(label)),
		chromedp.WithPollingTimeout(stepTimeout-time.Second))); err != nil {
		p.t.Fatalf("clear %q: %v", label, err)
	}
	if text != "" {
		p.do("type into "+label, chromedp.SendKeys(field(label), text))
	}
}

// choose picks the option with the text in the select with the label.
func (p *browserPage) choose(label, option string) {
	p.t.Helper()
	pick := `(path, option) => {
		const s = document.evaluate(path, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
		const o = s && Array.from(s.options).find((o) => o.text === option);
		if (!o) return false;
		s.value = o.value;
		s.dispatchEvent(new Event('change', { bubbles: true }));
		return true;
	}`
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.PollFunction[bool](pick, chromedp.WithPollingArgs(field(label), option),
		chromedp.WithPollingTimeout(stepTimeout-time.Second))); err != nil {
		p.t.Fatalf("choose %q in %q: %v", option, label, err)
	}
}

// until waits for the JavaScript expression js to be true.
func (p *browserPage) until(what, js string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.PollFunction[bool]("() => "+js, chromedp.WithPollingTimeout(stepTimeout-time.Second))); err != nil {
		p.t.Fatalf("waiting until %s: %v", what, err)
	}
}

func (p *browserPage) eval(what, js string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
	if err != nil || !ok {
		p.t.Fatalf("%s: %v (%s)", what, err, js)
	}
}

func (p *browserPage) screenshot(file string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.WriteFile(file, png, 0o644)
	}
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	p.t.Logf("wrote the screenshot %s", file)
}

// decode sends a request to s as another client and decodes its JSON.
func decode[T any](t *testing.T, s http.Handler, method, target, body string) T {
	t.Helper()
	w := call(s, method, target, body)
	var v T
	if w.Code >= 300 || json.Unmarshal(w.Body.Bytes(), &v) != nil {
		t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
	}
	return v
}

type consoleEvent struct {
	ID              string `json:"id"`
	EventsCompacted int    `json:"events_compacted"`
	Type            string `json:"type"`
	Content         string `json:"content"`
	ToolName        string `json:"tool_name"`
	Hidden          bool   `json:"hidden"`
	Messages        []struct {
		Content string `json:"content"`
	} `json:"messages"`
}

type eventPage struct {
	Events []consoleEvent `json:"events"`
}

// TestConsoleInBrowser drives the console in headless Chromium through what
// a person does with it, while another client calls the mock.
func TestConsoleInBrowser(t *testing.T) {
	findChromium(t)
	// A pace that a person can watch, short enough for a test.
	s, err := New(WithStreamPace("300ms,20/s"))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	t.Cleanup(s.Close)

	// Another client holds a conversation in the first session, and compacts
	// its first turn, before the console opens.
	const (
		agent   = "/v2/agents/agt_customer_support"
		billing = agent + "/sessions/ase_customer_support_001/events"
	)
	for _, text := range []string{"Hi, I was charged twice for my January invoice.", "Thanks! How long will the refund take?"} {
		decode[eventPage](t, s, "POST", billing, fmt.Sprintf(`{"type":"input_message","messages":[{"type":"text","content":%s}]}`, jsString(text)))
	}
	first := decode[eventPage](t, s, "GET", billing, "").Events
	i := slices.IndexFunc(first, func(e consoleEvent) bool { return e.Type == "agent_output" })
	compaction := decode[eventPage](t, s, "POST", billing, fmt.Sprintf(`{"type":"compact","compact_up_to_event_id":%q}`, first[i].ID)).Events[0]
	// A session whose name and description are markup: the page must show it as text.
	const markup = `<img src=x id=injected onerror="document.title='injected'"> Zanzibar`
	decode[map[string]any](t, s, "POST", agent+"/sessions",
		fmt.Sprintf(`{"key":"ase_markup","name":%s,"description":"<b>bold</b> words"}`, jsString(markup)))

	start := time.Now()
	p := openConsole(t, ts.URL)
	sessions, conversation, journal := region("Sessions"), region("Conversation"), region("Requests")
	scenario, clockNow := region("Scenario"), region("Clock")+`//*[@role="status"]`

	// Pick an agent.
	p.see(sessions, "Page 1: 1–10 of 128 sessions")
	p.see(sessions, "Billing inquiry")
	p.choose("Agent", "agt_sales_assistant")
	p.see(sessions, "Page 1: 1–10 of 42 sessions")
	p.choose("Agent", "agt_new_agent")
	p.see(sessions, "Page 1: no sessions (0 in all)")
	p.choose("Agent", "agt_customer_support")
	p.see(sessions, "of 128 sessions")

	// Page through its sessions, with a limit and only the disabled ones.
	p.click(button("Next page"))
	p.see(sessions, "Page 2: 11–20 of 128 sessions")
	p.notSee(sessions, "Billing inquiry")
	p.click(button("Previous page"))
	p.see(sessions, "Page 1: 1–10 of 128 sessions")
	disabled := decode[struct {
		Metadata struct {
			TotalCount int `json:"total_count"`
		} `json:"metadata"`
	}](t, s, "GET", agent+"/sessions?enabled=false&limit=1", "").Metadata.TotalCount
	p.fill("Limit", "5")
	p.choose("Enabled", "disabled only")
	p.see(sessions, fmt.Sprintf("Page 1: 1–5 of %d sessions", disabled))
	p.see(sessions, "Enterprise features inquiry")
	p.notSee(sessions, "Billing inquiry")
	p.choose("Enabled", "any")
	p.see(sessions, "Page 1: 1–5 of 128 sessions")

	// Filter: the markup shows as text, and makes no element.
	p.fill("Filter", "Zanzibar")
	p.click(button("Show sessions"))
	p.see(sessions, "Page 1: 1–1 of 1 sessions")
	p.see(sessions, markup)
	p.click(`//ul[@id="sessions"]//button`)
	p.see(conversation, markup)
	p.see(conversation, "<b>bold</b> words")
	p.see(conversation, "No events yet")
	p.eval("no element comes from the session's name", `document.getElementById('injected') === null && !document.querySelector('#sessions b, #session-info b') && document.title === 'agentmock console'`)

	// Open a session and read its conversation: the compacted turn is
	// hidden and marked, the compaction and the turn after it are shown.
	p.fill("Filter", "Billing")
	p.click(button("Show sessions"))
	p.click(`//ul[@id="sessions"]//button[span[starts-with(normalize-space(), "Billing inquiry")]]`)
	events := `//ol[@id="events"]`
	p.see(conversation, "Billing inquiry")
	p.see(events, "Compaction")
	p.see(events, fmt.Sprintf("1 turn (%d events) compacted into this summary:", compaction.EventsCompacted))
	p.see(events, "Hi, I was charged twice for my January invoice.")
	p.see(`//li[contains(@class, "event")][1]`, "hidden")
	p.see(events, "Thanks! How long will the refund take?")
	p.see(events, "Agent output")
	stored := decode[eventPage](t, s, "GET", billing+"?include_hidden=true&limit=100", "").Events
	for _, e := range stored {
		if e.Type == "agent_output" {
			p.see(events, e.Content)
		}
	}
	showHidden := `//input[@id=//label[normalize-space()="Show hidden events"]/@for]`
	p.click(showHidden)
	p.notSee(events, "hidden")
	p.see(events, "Thanks! How long will the refund take?")
	p.click(showHidden)
	p.see(events, "hidden")

	// Send a message and watch the reply stream in.
	const question = "Where is my refund? It has been a week."
	p.fill("Message", question)
	p.click(button("Send"))
	p.see(events, "streaming")
	p.until("the reply has streamed in and Send is back", `!document.evaluate('//button[normalize-space()="Send"]', document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue.disabled`)
	p.notSee(events, "streaming")
	turn := decode[eventPage](t, s, "GET", billing+"?limit=100", "").Events
	var reply []consoleEvent
	for i, e := range turn {
		if e.Type == "input_message" && len(e.Messages) > 0 && e.Messages[0].Content == question {
			reply = turn[i+1:]
		}
	}
	if len(reply) == 0 || reply[len(reply)-1].Type != "agent_output" {
		t.Fatalf("the session holds no reply to %q: %+v", question, turn)
	}
	for _, e := range reply { // the reply as stored, every kind of it
		label := map[string]string{"thinking": "Thinking", "tool_input": "Tool call", "tool_output": "Tool result", "agent_output": "Agent output"}[e.Type]
		p.see(events, label)
		if e.Content != "" {
			p.see(events, e.Content)
		}
		if e.ToolName != "" {
			p.see(events, e.ToolName)
		}
	}
	p.see(events, question)
	p.eval("the streamed reply is the stored one", fmt.Sprintf(
		`Array.from(document.querySelectorAll('#events .event.agent_output .text')).some((e) => e.textContent === %s)`, jsString(reply[len(reply)-1].Content)))

	// Watch the journal: a request by another client shows up by itself.
	probe, err := http.NewRequest("GET", ts.URL+"/v2/agents/agt_sales_assistant/sessions?limit=3&filter=probe", nil)
	if err != nil {
		t.Fatal(err)
	}
	probe.Header.Set("X-Api-Key", "another-client")
	res, err := ts.Client().Do(probe)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	p.see(journal, "/v2/agents/agt_sales_assistant/sessions?limit=3&filter=probe")
	p.see(journal, KeyFingerprint("another-client"))
	if *consoleScreenshot != "" {
		p.screenshot(*consoleScreenshot)
	}
	p.see(journal, "· this console")
	p.click(`//input[@id=//label[normalize-space()="Hide this console's"]/@for]`)
	p.notSee(journal, "· this console")
	p.see(journal, "filter=probe")
	p.click(`//input[@id=//label[normalize-space()="Hide this console's"]/@for]`)

	// A stream that fails part way: the page says so, and keeps what came.
	for _, fault := range []struct{ name, shows string }{
		{"stream_error", "The stream reported an error: injected stream error"},
		{"stream_cut", "The stream broke off before its end frame"},
	} {
		if err := s.ActivateRules(fault.name, 0, []scenarios.Rule{{Fault: scenarios.Fault(fault.name), AfterChunks: 1}}, ""); err != nil {
			t.Fatal(err)
		}
		p.fill("Message", "Is the parcel on its way? "+fault.name)
		p.click(button("Send"))
		p.see(region("Conversation"), fault.shows)
		p.see(events, "Is the parcel on its way? "+fault.name)
		s.DeactivateScenario("")
	}

	// A scenario on: the next list is a 429; off: the list is back.
	p.see(scenario, "No scenario is active")
	p.choose("Scenario", "rate_limit_exceeded")
	p.see(scenario, "Every request gets 429 rate_limit_exceeded")
	p.click(button("Activate"))
	p.see(scenario, "Active: rate_limit_exceeded (everyone")
	p.fill("Filter", "")
	p.click(button("Show sessions"))
	p.see(sessions, "429 rate_limit_exceeded")
	p.see(journal, "rate_limit_exceeded")
	p.click(button("Deactivate"))
	p.see(scenario, "No scenario is active")
	p.click(button("Show sessions"))
	p.see(sessions, "Page 1: 1–5 of 128 sessions")
	p.notSee(sessions, "429")

	// Move the clock, then give the real one back.
	p.see(clockNow, "real time")
	p.fill("Advance by", "90m")
	p.click(button("Advance"))
	p.see(clockNow, "moved by hand")
	p.see(clockNow, s.Now().Format("2006-01-02 15:04:05")+" UTC")
	p.click(button("Back to real time"))
	p.see(clockNow, "real time")
	if s.clock.frozen() {
		t.Error("the clock is still moved after Back to real time")
	}
	t.Logf("the console went through every step in %v", time.Since(start).Round(time.Millisecond))
}

// TestConsoleAdminToken checks that with an admin token the console asks for
// it, uses it, and keeps it for the tab only.
func TestConsoleAdminToken(t *testing.T) {
	findChromium(t)
	s, err := New(WithAdminToken("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	p := openConsole(t, ts.URL)
	token := region("Admin token")
	p.see(token, "This server was started with -admin-token")
	p.see(region("Sessions"), "of 127 sessions") // the public API needs no admin token
	p.fill("Admin token", "wrong")
	p.click(button("Use token"))
	p.see(token, "The server did not accept this token.")
	p.fill("Admin token", "s3cret")
	p.click(button("Use token"))
	p.see(region("Scenario"), "No scenario is active")
	p.see(region("Clock")+`//*[@role="status"]`, "real time")
	p.eval("the token is kept for the tab only",
		`sessionStorage.getItem('agentmock.adminToken') === 's3cret' && localStorage.length === 0 && document.cookie === ''`)
	p.eval("the token form is gone", `document.getElementById('token-panel').hidden`)
}
