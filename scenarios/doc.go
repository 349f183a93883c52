// Package scenarios injects behaviour into the mock server: named, ordered
// rules that turn matching requests into error responses, delays or socket
// faults. It owns the rule model, YAML and JSON loading with strict
// validation, exact counting under concurrency, and the built-in scenarios.
// It never writes HTTP responses itself: an Engine returns a Decision that
// the server carries out.
package scenarios
