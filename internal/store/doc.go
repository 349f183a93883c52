// Package store holds the agents and sessions a server serves, in persistent
// ordered indexes (copy-on-write B-trees). Readers take a Snapshot and never
// lock; a write copies only the paths it changes, so it costs O(log n), and
// publishes a new snapshot whole. It knows nothing of HTTP: callers store
// sessions already encoded as their wire JSON.
package store
