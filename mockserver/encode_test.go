package mockserver

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/agentmock/agentmock/fixtures"
)

// TestEncodingEqualsJSONMarshal proves that the JSON stored for a session is
// what json.Marshal writes for it, for the built-in and generated data and
// for strings and metadata that need escaping.
func TestEncodingEqualsJSONMarshal(t *testing.T) {
	d, err := fixtures.BuiltIn(fixtures.DefaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	if d, err = d.WithGenerated("agt_more", 5000, 7); err != nil {
		t.Fatal(err)
	}
	var sessions []fixtures.Session
	for _, a := range d.Agents {
		sessions = append(sessions, a.Sessions...)
	}
	at := time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)
	sessions = append(sessions,
		fixtures.Session{ID: "plain", AgentKey: "agt_x", CreatedAt: at},
		fixtures.Session{ID: "html", AgentKey: "agt_x", Name: `<b>"Tom" & Jerry</b>`, Description: "tab\there\nnewline \\ back", CreatedAt: at},
		fixtures.Session{ID: "unicode", AgentKey: "agt_x", Name: "Café ☕ \u2028 \xff", Description: "日本語", Enabled: true, TTIMinutes: 90, CreatedAt: at},
		fixtures.Session{ID: "metadata", AgentKey: "agt_x", CreatedAt: at, Metadata: map[string]any{
			"z": "last", "a": "<first>", "é": "key with accent",
		}},
		fixtures.Session{ID: "nested", AgentKey: "agt_x", CreatedAt: at, Metadata: map[string]any{
			"n": 1.5, "list": []any{"x", 2, true, nil}, "obj": map[string]any{"k": json.Number("12345678901234567890")},
		}},
		fixtures.Session{ID: "empty_metadata", AgentKey: "agt_x", CreatedAt: at, Metadata: map[string]any{}},
	)
	for _, fs := range sessions {
		w := wireOf(&fs)
		want, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		s, err := newSession(w, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if s.JSON != string(want) {
			t.Errorf("session %s:\nstored  %s\nMarshal %s", fs.ID, s.JSON, want)
		}
		if s.ID != w.ID || s.Name != w.Name || s.Description != w.Description {
			t.Errorf("session %s: fields %q %q %q, want %q %q %q", fs.ID, s.ID, s.Name, s.Description, w.ID, w.Name, w.Description)
		}
	}
}

// TestEncodedSessionsShareTheSlab checks that encoded sessions keep its sessions'
// strings inside their JSON, which is what keeps memory per session low.
func TestEncodedSessionsShareTheSlab(t *testing.T) {
	d, err := (&fixtures.Data{}).WithGenerated("agt_big", 200_000, 1)
	if err != nil {
		t.Fatal(err)
	}
	all, err := encodeAll(d.Agents[0].Sessions)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 200_000 {
		t.Fatalf("%d sessions", len(all))
	}
	for i, s := range all {
		if i > 0 && all[i-1].ID >= s.ID {
			t.Fatalf("not sorted at %d: %s, %s", i, all[i-1].ID, s.ID)
		}
		if want := `{"id":"` + s.ID + `"`; len(s.JSON) < len(want) || s.JSON[:len(want)] != want {
			t.Fatalf("session %d: JSON %q does not start with its id %q", i, s.JSON, s.ID)
		}
	}
}

func TestBadDataIsRefused(t *testing.T) {
	at := time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC)
	tests := map[string]*fixtures.Data{
		"a bad agent key":  {Agents: []fixtures.Agent{{Key: "bad key"}}},
		"an agent twice":   {Agents: []fixtures.Agent{{Key: "agt_a"}, {Key: "agt_a"}}},
		"a bad session id": {Agents: []fixtures.Agent{{Key: "agt_a", Sessions: []fixtures.Session{{ID: "a b", CreatedAt: at}}}}},
		"a session twice":  {Agents: []fixtures.Agent{{Key: "agt_a", Sessions: []fixtures.Session{{ID: "x", CreatedAt: at}, {ID: "x", CreatedAt: at}}}}},
	}
	for name, d := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(WithData(d)); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}
