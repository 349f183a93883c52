package scenarios

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// A glob is a compiled glob pattern, as Match uses them:
//
//   - any sequence of characters, "/" included
//     ?        any one character
//     [class]  one character of the class: characters and ranges lo-hi; a
//     first ^ or ! negates it; \ escapes ], -, ^, ! or \ in it
//     \c       the character c itself
//     c        any other character matches itself
//
// Characters are UTF-8 runes (in a value, a byte that is not valid UTF-8
// is one character). Unlike path.Match, no character is special to the
// matching: header and query values are not paths.
type glob []globToken

type globToken struct {
	kind   globKind
	r      rune   // globRune
	neg    bool   // globClass: negated
	ranges []rune // globClass: lo, hi pairs
}

type globKind uint8

const (
	globRune  globKind = iota // one given character
	globAny                   // ?
	globStar                  // *
	globClass                 // [...]
)

// compileGlob parses pattern, or says what is wrong with it.
func compileGlob(pattern string) (glob, error) {
	if !utf8.ValidString(pattern) {
		return nil, errors.New("it is not valid UTF-8")
	}
	var g glob
	for i := 0; i < len(pattern); {
		c, w := utf8.DecodeRuneInString(pattern[i:])
		i += w
		switch c {
		case '*':
			if len(g) == 0 || g[len(g)-1].kind != globStar { // ** is *
				g = append(g, globToken{kind: globStar})
			}
		case '?':
			g = append(g, globToken{kind: globAny})
		case '\\':
			if i == len(pattern) {
				return nil, errors.New(`it ends with a lone \`)
			}
			c, w = utf8.DecodeRuneInString(pattern[i:])
			i += w
			g = append(g, globToken{kind: globRune, r: c})
		case '[':
			t, n, err := compileClass(pattern[i:])
			if err != nil {
				return nil, err
			}
			i += n
			g = append(g, t)
		default:
			g = append(g, globToken{kind: globRune, r: c})
		}
	}
	return g, nil
}

// compileClass parses a class after its [, and returns how many bytes of s
// it took, the ] included.
func compileClass(s string) (globToken, int, error) {
	t := globToken{kind: globClass}
	i := 0
	if i < len(s) && (s[i] == '^' || s[i] == '!') {
		t.neg = true
		i++
	}
	// char reads one character of the class, escaped or not.
	char := func() (rune, error) {
		if i == len(s) {
			return 0, errors.New("a [ is not closed by ]")
		}
		c, w := utf8.DecodeRuneInString(s[i:])
		i += w
		switch c {
		case '\\':
			if i == len(s) {
				return 0, errors.New("a [ is not closed by ]")
			}
			c, w = utf8.DecodeRuneInString(s[i:])
			i += w
		case '-', ']':
			return 0, fmt.Errorf("an unescaped %q where a character of a [class] belongs", c)
		}
		return c, nil
	}
	for {
		if i < len(s) && s[i] == ']' && len(t.ranges) > 0 {
			return t, i + 1, nil
		}
		if i < len(s) && s[i] == ']' {
			return t, 0, errors.New("a [class] is empty")
		}
		lo, err := char()
		if err != nil {
			return t, 0, err
		}
		hi := lo
		if i < len(s) && s[i] == '-' {
			i++
			if hi, err = char(); err != nil {
				return t, 0, err
			}
			if hi < lo {
				return t, 0, fmt.Errorf("the range %c-%c is backwards", lo, hi)
			}
		}
		t.ranges = append(t.ranges, lo, hi)
	}
}

// matches reports whether the one-character token t matches c.
func (t *globToken) matches(c rune) bool {
	switch t.kind {
	case globAny:
		return true
	case globRune:
		return c == t.r
	}
	for i := 0; i+1 < len(t.ranges); i += 2 {
		if t.ranges[i] <= c && c <= t.ranges[i+1] {
			return !t.neg
		}
	}
	return t.neg
}

// match reports whether g matches all of s. It backtracks only to the last
// *, so it takes at most len(g) * len(s) steps.
func (g glob) match(s string) bool {
	gi, si := 0, 0
	star, starSi := -1, 0 // the last * seen, and where its match ends so far
	for {
		if gi < len(g) && g[gi].kind == globStar {
			star, starSi = gi, si
			gi++
			continue
		}
		if si == len(s) {
			return gi == len(g)
		}
		c, w := utf8.DecodeRuneInString(s[si:])
		if gi < len(g) && g[gi].matches(c) {
			gi, si = gi+1, si+w
			continue
		}
		if star < 0 {
			return false
		}
		// Let the last * take one more character, and try again after it.
		_, w = utf8.DecodeRuneInString(s[starSi:])
		starSi += w
		gi, si = star+1, starSi
	}
}

// matchAny reports whether g matches one of values.
func (g glob) matchAny(values []string) bool {
	for _, v := range values {
		if g.match(v) {
			return true
		}
	}
	return false
}
