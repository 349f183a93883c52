// Package mockserver is the mock Agents API as an http.Handler: agents,
// sessions and their conversations (scripted replies, streamed as
// server-sent events), OAuth, scenarios that inject errors and faults, the
// request journal and the admin API. A Server owns all of its state, so any
// number of them can run side by side in one process; its data comes from
// package fixtures, and the options that configure it also configure the
// root package's test servers.
package mockserver
