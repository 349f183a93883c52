// Package yamlfile is the YAML layer that the fixtures and scenarios loaders
// share: it parses one document, refuses alias bombs, and decodes nodes into
// Go structs strictly (unknown fields, repeated keys and wrong types are
// errors), placing every problem as "file:line: path: problem".
// Its cost is linear in the size of the file whatever the file holds: each
// node is decoded once, at most MaxErrors problems are placed and formatted,
// and the rest are only counted.
// It also converts YAML values to JSON ones that keep numbers as written.
package yamlfile
