// Package mockserver is the mock List Agent Sessions API as an http.Handler:
// routes, authentication, pagination, errors and the in-memory store.
// A Server owns all of its state, so any number of them can run side by side
// in one process. It serves data built by package fixtures and never parses
// YAML itself.
package mockserver
