package yamlfile

import (
	"gopkg.in/yaml.v3"
)

// MaxAliasNodes bounds the nodes that YAML aliases add to a file once
// expanded (each alias counts every node it stands for, the aliases within
// it expanded too), so that a few lines (an alias bomb, an anchor used
// thousands of times) cannot take the memory and time of billions of
// values. A file without aliases is bounded by its own size. For scale: a
// template of 8 plain fields is 17 nodes, so "<<: *template" can be used
// about 5,800 times.
const MaxAliasNodes = 100_000

// checkAliases refuses a document whose aliases expand past MaxAliasNodes
// nodes, or that holds an alias inside the node it refers to. It reads each
// node once, in document order, and never follows an alias: YAML defines an
// anchor before its aliases, so the expanded size of the node an alias
// refers to is known when the alias is reached, unless the alias is inside
// that node.
func (f *File) checkAliases() error {
	if f.root == nil {
		return nil
	}
	sizes := make(map[*yaml.Node]int) // expanded sizes of anchored nodes
	added := 0
	var culprit *yaml.Node
	var cyclic bool
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if culprit != nil {
			return 0
		}
		if n.Kind == yaml.AliasNode {
			s, done := sizes[n.Alias]
			if !done {
				culprit, cyclic = n, true
				return 0
			}
			if added += s; added > MaxAliasNodes {
				culprit = n
			}
			return s
		}
		total := 1
		for _, c := range n.Content {
			total = min(total+size(c), MaxAliasNodes+1)
		}
		if n.Anchor != "" {
			sizes[n] = total
		}
		return total
	}
	size(f.root)
	if culprit == nil {
		return nil
	}
	p, _ := pathOf(f.root, culprit, "")
	if cyclic {
		f.Errorf(culprit, p, "alias *%s is inside the node it refers to", culprit.Value)
	} else {
		f.Errorf(culprit, p, "aliases expand the file by more than %d nodes", MaxAliasNodes)
	}
	return f.Err()
}

// pathOf returns the path of target, n or a node below it (n at path p),
// without following aliases; the path of its mapping when target is a key.
func pathOf(n, target *yaml.Node, p string) (string, bool) {
	if n == target {
		return p, true
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k == target {
				return p, true
			}
			if q, ok := pathOf(v, target, Key(p, k.Value)); ok {
				return q, true
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			if q, ok := pathOf(v, target, Index(p, i)); ok {
				return q, true
			}
		}
	}
	return "", false
}
