package replycheck

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// reply is a reply normalized for matching: lower case, ё as е, one word
// per element. Every sentence ends with a "." or "?" word (a question is
// worth knowing), and a "," stands for any break inside a sentence (comma,
// colon, dash, brackets, quotes), so that a rule can tell "hi, email us"
// (an instruction) from "we'll email us all" (not).
type reply struct {
	words []string
	text  string // words joined by single spaces
	at    []int  // byte offset of each word in text
	first []int  // index of the first word of each word's sentence
	end   []int  // index of the "." or "?" that ends each word's sentence
}

// Stand-in words for things that are not words. They cannot come out of
// normalization otherwise: addresses are recognized before punctuation
// is dropped.
const (
	wordEmailAddress = "emailaddr"
	wordWebAddress   = "webaddr"
	wordHandle       = "tghandle"
)

// isStandIn reports whether w is one of the stand-in words.
func isStandIn(w string) bool {
	return w == wordEmailAddress || w == wordWebAddress || w == wordHandle
}

// English contractions are spelled out so that "it's in the docs" and "it
// is in the docs" read the same, and "I'll send" has its "will". A
// possessive 's becomes "is" too; no rule minds.
var spelledOut = map[string]string{"ll": "will", "s": "is", "d": "would", "re": "are", "ve": "have", "m": "am"}

// normalize turns text into a reply. Sentences end at . ! ? … and line
// breaks; e-mail and web addresses and @handles become stand-in words
// first, so that their dots do not end a sentence.
func normalize(text string) reply {
	n := normalizer{buf: make([]byte, 0, len(text)+len(text)/8), at: make([]int, 0, len(text)/4)}
	for line := range strings.SplitSeq(text, "\n") {
		for chunk := range strings.FieldsFuncSeq(line, isSpace) {
			n.chunk(chunk)
		}
		n.endSentence()
	}

	r := reply{
		text:  string(n.buf),
		at:    n.at,
		words: make([]string, len(n.at)),
		first: make([]int, len(n.at)),
		end:   make([]int, len(n.at)),
	}
	first := 0
	for i, from := range n.at {
		to := len(r.text)
		if i+1 < len(n.at) {
			to = n.at[i+1] - 1
		}
		r.words[i] = r.text[from:to]
		r.first[i] = first
		if isEnd(r.words[i]) {
			for j := first; j <= i; j++ {
				r.end[j] = i
			}
			first = i + 1
		}
	}
	return r
}

// normalizer writes the words of a reply into one buffer, separated by
// single spaces, so that the reply's text and words share one allocation.
type normalizer struct {
	buf      []byte
	at       []int  // where each word starts in buf
	inWord   bool   // buf ends in a word that may go on
	open     bool   // the current sentence has words
	question bool   // the current sentence's end has a "?"
	runes    []rune // scratch for text
	letters  []bool // scratch for text: which runes are letters
}

// chunk adds the words of one whitespace-separated piece of text.
func (n *normalizer) chunk(c string) {
	lead := len(c) - len(strings.TrimLeftFunc(c, isOpening))
	core := strings.TrimRightFunc(c[lead:], isClosing)
	if standIn := address(core); standIn != "" {
		n.text(c[:lead])
		n.add(standIn)
		n.text(c[lead+len(core):])
	} else {
		n.text(c)
	}
	n.endWord()
}

// text adds the words of a piece of text without spaces.
func (n *normalizer) text(s string) {
	n.runes, n.letters = n.runes[:0], n.letters[:0]
	for _, c := range s {
		n.runes = append(n.runes, c)
		n.letters = append(n.letters, isLetter(c))
	}
	rs, letter := n.runes, n.letters
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		between := i > 0 && letter[i-1] && i+1 < len(rs) && letter[i+1]
		switch {
		case letter[i] || unicode.IsDigit(c):
			n.write(toLower(c))
		case isApostrophe(c) && between:
			tail := i + 1
			for tail < len(rs) && letter[tail] {
				tail++
			}
			if full, ok := spelledOut[strings.ToLower(string(rs[i+1:tail]))]; ok {
				n.add(full)
				i = tail - 1
			} // else joined: don't → dont
		case (c == '-' || c == '‐') && between:
			// joined: e-mail → email, кто-то → ктото
		case isTerminator(c):
			// A run like "?!" or "..." ends one sentence, a question if
			// the run has a "?" in it.
			n.question = n.question || c == '?'
			if i+1 == len(rs) || !isTerminator(rs[i+1]) {
				n.endSentence()
			}
		case strings.ContainsRune(`,;:()[]«»"“”„—–-`, c):
			n.breakClause()
		default:
			n.endWord()
		}
	}
}

// isLetter is unicode.IsLetter, quick for the Latin and Cyrillic letters
// that make up nearly all replies.
func isLetter(c rune) bool {
	switch {
	case c < 0x80:
		return 'a' <= c|0x20 && c|0x20 <= 'z'
	case 'А' <= c && c <= 'я' || c == 'ё' || c == 'Ё':
		return true
	}
	return unicode.IsLetter(c)
}

// toLower is unicode.ToLower, quick for Latin and Cyrillic, with ё as е.
func toLower(c rune) rune {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case c < 0x80:
		return c
	case 'а' <= c && c <= 'я':
		return c
	case 'А' <= c && c <= 'Я':
		return c + 'а' - 'А'
	case c == 'ё' || c == 'Ё':
		return 'е'
	}
	return unicode.ToLower(c)
}

// write appends a rune to the current word, starting one if need be.
func (n *normalizer) write(c rune) {
	if !n.inWord {
		n.start()
		n.inWord = true
	}
	n.buf = utf8.AppendRune(n.buf, c)
}

// add appends a whole word.
func (n *normalizer) add(w string) {
	n.endWord()
	n.start()
	n.buf = append(n.buf, w...)
}

func (n *normalizer) start() {
	if len(n.at) > 0 {
		n.buf = append(n.buf, ' ')
	}
	n.at = append(n.at, len(n.buf))
	n.open = true
}

func (n *normalizer) endWord() { n.inWord = false }

// lastIs reports whether the last word is w.
func (n *normalizer) lastIs(w string) bool {
	return len(n.at) > 0 && string(n.buf[n.at[len(n.at)-1]:]) == w
}

func (n *normalizer) breakClause() {
	n.endWord()
	if n.open && !n.lastIs(",") {
		n.add(",")
	}
}

func (n *normalizer) endSentence() {
	n.endWord()
	if !n.open {
		n.question = false
		return
	}
	if n.lastIs(",") {
		last := n.at[len(n.at)-1]
		n.buf, n.at = n.buf[:last-1], n.at[:len(n.at)-1]
	}
	if n.question {
		n.add("?")
	} else {
		n.add(".")
	}
	n.open, n.question = false, false
}

// address returns the stand-in word for an e-mail address, a web address
// or a Telegram @handle, or "" if s is none of those.
func address(s string) string {
	if !strings.ContainsAny(s, "@.") {
		return ""
	}
	at := strings.IndexByte(s, '@')
	switch {
	case at > 0 && strings.Count(s, "@") == 1 && strings.Contains(s[at:], "."):
		return wordEmailAddress
	case at == 0 && len(s) > 3 && isHandle(s[1:]):
		return wordHandle
	case hasPrefixFold(s, "http://") || hasPrefixFold(s, "https://") || hasPrefixFold(s, "www."):
		return wordWebAddress
	case isDomain(s):
		return wordWebAddress
	}
	return ""
}

// isDomain reports whether s is a host name with a well-known top-level
// domain, maybe with a path: "acme.ru", "docs.acme.com/limits". Version
// numbers and abbreviations ("2.5", "т.е.") are not.
func isDomain(s string) bool {
	host, _, _ := strings.Cut(s, "/")
	dot := strings.LastIndexByte(host, '.')
	if dot <= 0 {
		return false
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return topLevelDomains[strings.ToLower(host[dot+1:])]
}

var topLevelDomains = wordSet(`ru com io net org su by kz uz dev app cloud pro info me co`)

// isHandle reports whether s is a Telegram username (without the @).
func isHandle(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// isSpace is unicode.IsSpace, quick for Latin and Cyrillic.
func isSpace(c rune) bool {
	switch {
	case c < 0x80:
		return c == ' ' || '\t' <= c && c <= '\r'
	case 'А' <= c && c <= 'я':
		return false
	}
	return unicode.IsSpace(c)
}

// isOpening and isClosing report whether c is punctuation that may stand
// before or after an address: "(support@acme.ru)," is an address.
func isOpening(c rune) bool { return strings.ContainsRune(`([«"'“‘`, c) }
func isClosing(c rune) bool { return strings.ContainsRune(`.,;:!?…)]»"'”’`, c) }

// isTerminator reports whether c ends a sentence.
func isTerminator(c rune) bool {
	switch c {
	case '.', '!', '?', '…':
		return true
	}
	return false
}

func isApostrophe(c rune) bool {
	switch c {
	case '\'', '’', '‘', '`':
		return true
	}
	return false
}

// isEnd reports whether w is the word that ends a sentence.
func isEnd(w string) bool { return w == "." || w == "?" }

// sentence returns the bounds of the sentence holding words[i]: its first
// word and its "." or "?".
func (r *reply) sentence(i int) (first, end int) { return r.first[i], r.end[i] }
