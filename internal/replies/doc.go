// Package replies decides what a mock agent says in one turn: a scripted
// reply from the first rule that matches the input, or a generated one.
// Every answer is a pure function of its inputs (the rules, the agent, the
// session, the turn and the input text), so the same conversation gives the
// same bytes on every run and machine.
// Rules are checked and compiled before any request, so that a bad pattern or
// template is refused when the fixtures load rather than when a client talks.
package replies
