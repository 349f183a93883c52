// Package replies makes the agent's turns: scripted by rules, or generated.
package replies

import "strings"

// Rule is one scripted reply.
type Rule struct {
	Match    string
	Thinking string
	Tools    []Tool
	Reply    string
}

// Tool is a tool call of a rule.
type Tool struct {
	Name          string
	Configuration string
	Input         map[string]any
	Output        map[string]any
	Error         bool
}

// Input is what a turn is made from.
type Input struct {
	Input   string
	Turn    int
	Session Session
	Agent   Agent
	History []string
}

// Session is the session of a turn.
type Session struct {
	Key, Name string
	Metadata  map[string]any
}

// Agent is the agent of a turn.
type Agent struct{ Key, Name string }

// Turn is the agent's reply.
type Turn struct {
	Thinking string
	Tools    []ToolCall
	Reply    string
}

// ToolCall is one tool call of a turn.
type ToolCall struct {
	Name, Configuration string
	Input, Output       map[string]any
	Error               bool
}

// Script is compiled rules.
type Script struct{ rules []Rule }

// Compile compiles rules.
func Compile(rules []Rule) (*Script, error) { return &Script{rules}, nil }

// Turn is the turn for in.
func (s *Script) Turn(in Input) Turn { return Generate(in) }

// Generate makes a reply.
func Generate(in Input) Turn {
	return Turn{Reply: "You said: " + strings.TrimSpace(in.Input) + ". Let me look into that for you."}
}
