package replies

import (
	"hash/fnv"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/brianvoe/gofakeit/v7"
	"github.com/brianvoe/gofakeit/v7/data"

	"github.com/agentmock/agentmock/internal/seeded"
)

// maxPhraseWords is the longest phrase of the input that a generated reply
// takes up.
const maxPhraseWords = 2

// Generate returns the turn of an agent that has no script for in: no
// thinking, no tools, and a reply of three or four sentences, in a support
// agent's voice, that takes up the input's first phrases of content words
// ("widget installation" from "I'm having trouble with my widget
// installation"). The sentences are drawn with a gofakeit faker seeded from
// an FNV-1a hash of the agent key, the session key, the turn and the input,
// never from the clock: the same in gives the same reply on every run and
// machine, and another turn or input another one.
func Generate(in Input) Turn {
	f := seeded.Faker(seedOf(in))
	topic, detail := "request", ""
	if p := phrases(in.Input); len(p) > 0 {
		topic, detail = p[0], p[len(p)-1]
	}
	if detail == "" {
		detail = topic
	}
	r := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "{topic}", topic), "{detail}", detail)
	}

	var b strings.Builder
	openers := firstOpeners[:]
	if in.Turn > 1 {
		openers = laterOpeners[:]
	}
	b.WriteString(r(openers[seeded.Pick(f, len(openers))]))
	// One or two middle sentences, never the same one twice.
	m := seeded.Pick(f, len(middles))
	b.WriteByte(' ')
	b.WriteString(fill(f, r(middles[m])))
	if seeded.Pick(f, 2) == 1 {
		m = (m + 1 + seeded.Pick(f, len(middles)-1)) % len(middles)
		b.WriteByte(' ')
		b.WriteString(fill(f, r(middles[m])))
	}
	b.WriteByte(' ')
	b.WriteString(r(closers[seeded.Pick(f, len(closers))]))
	return Turn{Reply: b.String()}
}

// The sentences may use {topic} (the input's first phrase, or "request")
// and {detail} (its second phrase, else the first); middles also {name} (a
// colleague's first name), {team}, {hours}, {days} and {case}.
var (
	firstOpeners = [...]string{
		"Thanks for reaching out about your {topic}.",
		"I understand you have a question about your {topic}.",
		"Happy to help with your {topic}.",
		"Thank you for the details on your {topic}.",
		"Sorry for the trouble with your {topic}.",
	}
	laterOpeners = [...]string{
		"Thanks for following up on your {topic}.",
		"Got it, thanks for the update on your {topic}.",
		"Thanks for the extra details about your {topic}.",
		"I see, so this is about your {topic}.",
	}
	middles = [...]string{
		"I've checked your account and can see the {detail} you mentioned.",
		"I've passed this to {name} on our {team} team, who will follow up within {hours} hours.",
		"Our records show the last change to your {detail} was made {days} days ago.",
		"Most questions like this are resolved by signing out, signing back in and trying again.",
		"You can review the {detail} settings under Account > Settings at any time.",
		"I've opened case #{case} so you can track its progress.",
		"Our {team} team has documented this, and I've sent you the relevant article by email.",
		"I can confirm that nothing on our side is blocking your {detail} right now.",
	}
	closers = [...]string{
		"Is there anything else I can help you with?",
		"Let me know if there's anything else you need.",
		"Please reply here if the problem with your {topic} continues.",
		"I'll keep this conversation open in case you have more questions.",
		"Thanks for your patience while we sort this out.",
	}
)

var teams = [...]string{"billing", "support", "technical", "accounts", "product", "security"}

// fill replaces the placeholders of a middle sentence, drawing each from f
// whether the sentence uses it or not, so that the draws stay in step.
func fill(f *gofakeit.Faker, s string) string {
	first := data.Person["first"]
	for _, p := range [...]struct{ key, value string }{
		{"{name}", first[seeded.Pick(f, len(first))]},
		{"{team}", teams[seeded.Pick(f, len(teams))]},
		{"{hours}", strconv.Itoa(2 + seeded.Pick(f, 47))},
		{"{days}", strconv.Itoa(1 + seeded.Pick(f, 29))},
		{"{case}", strconv.Itoa(100000 + seeded.Pick(f, 900000))},
	} {
		s = strings.ReplaceAll(s, p.key, p.value)
	}
	return s
}

// phrases returns the first two distinct runs of consecutive content words
// of s, each cut to maxPhraseWords words. A content word has three
// characters or more, a letter among them, no apostrophe (contractions say
// little), and is not a common English word; punctuation ends a run. A word
// in capitals (SSO, API) keeps them; others are in lower case.
func phrases(s string) []string {
	var out, run []string
	flush := func() {
		if len(run) > 0 {
			p := strings.Join(run, " ")
			if len(out) == 0 || !strings.EqualFold(out[0], p) {
				out = append(out, p)
			}
			run = run[:0]
		}
	}
	for field := range strings.FieldsSeq(s) {
		w := strings.TrimFunc(field, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		lower := strings.ToLower(w)
		if content(w) && !stopWords[lower] {
			if len(run) < maxPhraseWords {
				if w != strings.ToUpper(w) {
					w = lower
				}
				run = append(run, w)
			}
		} else {
			flush()
		}
		if last, _ := utf8.DecodeLastRuneInString(field); w == "" || strings.ContainsRune(".,;:!?)", last) {
			flush()
		}
		if len(out) == 2 {
			return out
		}
	}
	flush()
	return out
}

// content reports whether w has the shape of a content word.
func content(w string) bool {
	if utf8.RuneCountInString(w) < 3 || !strings.ContainsFunc(w, unicode.IsLetter) {
		return false
	}
	for _, r := range w {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-._", r) {
			return false
		}
	}
	return true
}

// stopWords are words that say little about what an input is about.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
		about above after again all also and any are because been before being
		below between both but can cannot could did does doing don done down
		during each few for from further get gets getting got had has have having
		her here hers him his how into its just keep keeps like make made many
		more most much must need needs not now off once only other our ours out
		over own please same she should some such than thank thanks that the
		their theirs them then there these they this those through too try
		trying under until very want wants was way were what when where which
		while who whom why will with would yes yet you your yours hello hey
		help hi sure okay know tell told still again ever really today
		problem problems issue issues trouble question questions anyone something
		someone thing things work working works seems seem since fails failing
		failed broken stopped stop started start happen happened happening
		able unable getting error errors wrong right check checked checking
		show shows showed showing see sees saw look looks looking find found
		use using used tried says said let lets`) {
		m[w] = true
	}
	return m
}()

// seedOf hashes what a generated turn depends on. Keys and the turn
// cannot hold the 0 that ends each part, and the input comes last, so two
// different turns never hash the same bytes.
func seedOf(in Input) uint64 {
	h := fnv.New64a()
	for _, part := range []string{in.Agent.Key, in.Session.Key, strconv.Itoa(in.Turn), in.Input} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return h.Sum64()
}
