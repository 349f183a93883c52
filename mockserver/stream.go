package mockserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/agentmock/agentmock/internal/replies"
	"github.com/agentmock/agentmock/internal/store"
	"github.com/agentmock/agentmock/scenarios"
)

// wordsPerChunk is how many words a streamed chunk carries.
const wordsPerChunk = 3

// frame is a streamed frame that is not a stored event: its type first, as
// the official examples write it.
type frame struct {
	Type      string   `json:"type"`
	Content   string   `json:"content,omitempty"`
	Messages  []string `json:"messages,omitempty"`
	CreatedAt string   `json:"created_at,omitempty"`
	EventID   string   `json:"event_id,omitempty"`
}

// pace is how fast a stream goes: a wait before the first chunk, then
// tokens (words) per second. The zero pace sends at once.
type pace struct {
	first     time.Duration
	perSecond float64
}

// parsePace reads -stream-pace: "40/s", or "300ms,40/s".
func parsePace(spec string) (pace, error) {
	bad := fmt.Errorf("stream pace %q: want RATE/s, or FIRST,RATE/s, such as 40/s or 300ms,40/s", spec)
	var p pace
	first, rate, ok := strings.Cut(spec, ",")
	if !ok {
		first, rate = "", spec
	}
	if first != "" {
		d, err := time.ParseDuration(strings.TrimSpace(first))
		if err != nil || d < 0 {
			return p, bad
		}
		p.first = d
	}
	num, ok := strings.CutSuffix(strings.TrimSpace(rate), "/s")
	n, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || !(n > 0) || math.IsInf(n, 0) {
		return p, bad
	}
	p.perSecond = n
	return p, nil
}

// CheckStreamPace reports why spec is not a pace that WithStreamPace and
// -stream-pace take, or nil.
func CheckStreamPace(spec string) error {
	_, err := parsePace(spec)
	return err
}

// paceOf is the agent's pace, else the server's.
func (s *Server) paceOf(a *store.Agent) pace {
	if b, ok := a.Behaviour.(*behaviour); ok && b.pace != nil {
		return *b.pace
	}
	return s.pace
}

// chunks splits text into pieces of a few words, which joined are text.
func chunks(text string) []string {
	var out []string
	start, words, inWord := 0, 0, false
	for i, r := range text {
		space := unicode.IsSpace(r)
		if !space && !inWord {
			if words == wordsPerChunk {
				out = append(out, text[start:i])
				start, words = i, 0
			}
			words++
		}
		inWord = !space
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// streamWriter writes the frames of one streamed reply, each flushed as it
// is written, at the reply's pace, and carries out a stream fault.
type streamWriter struct {
	s         *Server
	w         http.ResponseWriter
	r         *request
	rc        *http.ResponseController
	pace      pace
	now       string
	chunks    int  // written so far
	lastWords int  // of the last chunk
	ended     bool // the stream is over: done, failed, or the client left
	buf       bytes.Buffer
}

// frame writes one frame: "data: <json>" and a blank line.
func (sw *streamWriter) frame(v any) {
	if sw.ended {
		return
	}
	sw.buf.Reset()
	sw.buf.WriteString("data: ")
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types get here
	}
	sw.buf.Write(b)
	sw.buf.WriteString("\n\n")
	if _, err := sw.w.Write(sw.buf.Bytes()); err != nil {
		sw.ended = true
		return
	}
	sw.rc.Flush()
}

// raw writes a frame of stored JSON.
func (sw *streamWriter) raw(j string) { sw.frame(json.RawMessage(j)) }

// chunk writes a chunk of streamed text, after the fault that strikes
// before it, if any. It waits the pace's time first: the wait for the first
// token before the first chunk, and before each other the time the previous
// chunk's words take at the pace's rate.
func (sw *streamWriter) chunk(kind, text string) {
	if sw.ended || sw.strike(false) {
		return
	}
	wait := sw.pace.first
	if sw.chunks > 0 && sw.pace.perSecond > 0 {
		wait = time.Duration(float64(sw.lastWords) / sw.pace.perSecond * float64(time.Second))
	}
	if wait > 0 && !sw.s.sleep(sw.r.Context(), wait) {
		sw.ended = true // the client left, or the server stops
		return
	}
	sw.frame(frame{Type: kind, Content: text, CreatedAt: sw.now})
	sw.chunks++
	sw.lastWords = len(strings.Fields(text))
}

// strike carries out a stream fault once its chunks have gone out, or at
// the last chance, before the end of the output, when the reply has fewer;
// it reports whether it did.
func (sw *streamWriter) strike(last bool) bool {
	f := sw.r.fault
	if !f.Stream() || sw.chunks < sw.r.afterChunks && !last {
		return false
	}
	switch f {
	case scenarios.FaultStreamError:
		sw.frame(frame{Type: "error", Messages: []string{"injected stream error (scenario rule " + sw.r.rule + ")"}})
		sw.frame(frame{Type: "end"})
		sw.ended = true
	case scenarios.FaultStreamCut:
		sw.rc.Flush()
		panic(http.ErrAbortHandler) // net/http closes the connection with no end
	}
	return true
}

// stream writes a stored turn as server-sent events: the thinking in chunks,
// the tool calls whole, the output in chunks, and the end. The turn is
// stored before the first frame, so a client that goes away, or a stream
// fault, changes nothing more.
func (s *Server) stream(w http.ResponseWriter, r *request, events []*store.Event, turn replies.Turn, p pace) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusCreated)
	sw := &streamWriter{s: s, w: w, r: r, rc: http.NewResponseController(w), pace: p,
		now: s.clock.now().UTC().Format(time.RFC3339)}
	sw.rc.Flush()
	var output *store.Event
	for _, e := range events {
		switch kindOf(e) {
		case kindThinking:
			for _, c := range chunks(turn.Thinking) {
				sw.chunk("streaming_thinking", c)
			}
			if !sw.ended {
				sw.frame(frame{Type: "streaming_thinking_end", CreatedAt: sw.now})
			}
		case kindToolInput, kindToolOutput:
			if !sw.ended && !sw.strike(false) {
				sw.raw(e.JSON)
			}
		case kindOutput:
			output = e
		}
	}
	for _, c := range chunks(turn.Reply) {
		sw.chunk("streaming_agent_output", c)
	}
	if !sw.ended && !sw.strike(true) {
		sw.frame(frame{Type: "streaming_agent_output_end", CreatedAt: sw.now, EventID: output.ID})
		sw.frame(frame{Type: "end"})
	}
}
