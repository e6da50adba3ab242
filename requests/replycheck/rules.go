package replycheck

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A phrase rule names the words a phrase can start with and a regexp for
// the rest of it. Indexing rules by their first word keeps Check fast: a
// regexp runs only where one of its first words stands, on the rest of
// that sentence, instead of every rule scanning the whole reply.
//
// First words are listed space-separated; "напиш*" is a stem, matching any
// word that starts with it. The rest is a regexp over the normalized words
// that follow, each preceded by one space (so it usually starts with a
// space), with placeholders:
//
//	{gapN}    up to N more words of the sentence (a comma counts as one)
//	{channel} somewhere else to write: email, a messenger, support, a portal
//	{place_ru}, {place_en}  somewhere to look things up: the website, the docs
//	{dept_ru}, {dept_en}    another team: accounting, sales, legal, a colleague
//
// The placeholders come in one language each because a regexp over 500
// instructions runs on Go's slower NFA engine rather than its backtracker.
type rule struct {
	first string
	rest  string
	// instruction marks an English verb, which has no imperative form of
	// its own: the rule holds only where the verb is said to the client
	// as an instruction (see instructs). "I'll contact support" is the
	// manager taking the job, "please contact support" is handing it back.
	instruction bool
}

// phrase is a rule that holds wherever its words stand.
func phrase(first, rest string) rule { return rule{first: first, rest: rest} }

// instruction is a rule that holds only where its first word, an English
// verb, is an instruction to the client.
func instruction(first, rest string) rule {
	return rule{first: first, rest: rest, instruction: true}
}

var expand = strings.NewReplacer(
	"{gap1}", `(?: [^ .?]+)?`,
	"{gap2}", `(?: [^ .?]+){0,2}`,
	"{gap3}", `(?: [^ .?]+){0,3}`,
	"{gap4}", `(?: [^ .?]+){0,4}`,
	"{gap6}", `(?: [^ .?]+){0,6}`,
	"{channel}", `(?:почт(?:а|у|ы|е)|электронн\pL* почт\pL*|e?mail\pL*|и?мейл\pL*|емейл\pL*|адрес\pL*|emailaddr|tghandle|личк\pL*|лс|личн\pL* сообщени\pL*|директ|whatsapp|ватсап\pL*|вотсап\pL*|viber|вайбер\pL*|telegram|телеграм\pL*|друг\pL* мессенджер\pL*|поддержк\pL*|техподдержк\pL*|служб\pL* поддержки|портал\pL*|тикет ?систем\pL*|хелпдеск\pL*|helpdesk|чат поддержки|форм\pL* обратной связи)`,
	"{place_ru}", `(?:сайт\pL*|документаци\pL*|доках|доки|доке|баз\pL* знаний|faq|чаво|справк\pL*|справочн\pL*|инструкци\pL*|личн\pL* кабинет\pL*|кабинет\pL*|раздел\pL* (?:помощи|faq|справк\pL*|документаци\pL*|вопрос\pL*)|вики|wiki|руководств\pL*|мануал\pL*|интернет\pL*|гугл\pL*|google|стать\pL*|часто задаваем\pL* вопрос\pL*)`,
	"{place_en}", `(?:website|site|web site|docs|documentation|doc|faqs?|help center|help centre|help pages?|help section|knowledge ?base|kb|manual|user guide|guide|support site|support pages?|help articles|articles|wiki|google)`,
	"{dept_ru}", `(?:бухгалтер\pL*|юрист\pL*|юридическ\pL* (?:отдел\pL*|служб\pL*)|финансов\pL* (?:отдел\pL*|служб\pL*)|финансист\pL*|отдел\pL* продаж|отдел\pL*|продаж\pL*|коллег\pL*|аккаунт ?менеджер\pL*|менеджер\pL*|руководител\pL*|биллинг\pL*|разработчик\pL*|другому (?:специалисту|сотруднику|менеджеру|отделу)|друг(?:ой|ому) отдел\pL*|смежн\pL* отдел\pL*|специалист\pL*)`,
	"{dept_en}", `(?:sales|accounting|accounts|billing|finance|legal|(?:your )?account manager|managers?|another (?:team|department)|other (?:team|department)|accountants?|lawyers?|bookkeep(?:er|ing)|product team|dev team|developers|devs|engineering|colleagues?|someone else)(?: team| department| dept)?`,
)

// ruleSet names one set of phrase rules: the nouns of one kind of data,
// or the phrases behind one warning.
type ruleSet int

// trigger is a compiled rule, filed under one of its first words.
type trigger struct {
	set         ruleSet
	stem        string         // for a rule filed by stem, the whole stem
	rest        *regexp.Regexp // anchored; ends at a word's end
	reach       int            // the most words rest can match
	instruction bool
}

// The index of every rule by its first words, filled by compile when the
// package is initialized and read-only after. One pass over a reply looks
// each word up once, whatever the number of sets.
var (
	sets     int
	byWord   = make(map[string][]*trigger)
	byStem   = make(map[string][]*trigger) // by the stem's first two letters
	shortest = math.MaxInt                 // the length of the shortest stem, in bytes
)

// compile files a new set of rules in the index.
func compile(list ...rule) ruleSet {
	set := ruleSet(sets)
	sets++
	for _, r := range list {
		rest := regexp.MustCompile(`^(?:` + expand.Replace(r.rest) + `)(?: |$)`)
		for w := range strings.FieldsSeq(r.first) {
			t := &trigger{set: set, rest: rest, reach: reach(r.rest), instruction: r.instruction}
			if stem, ok := strings.CutSuffix(w, "*"); ok {
				if utf8.RuneCountInString(stem) < 2 {
					panic("replycheck: stem shorter than two letters: " + w)
				}
				t.stem = stem
				shortest = min(shortest, len(stem))
				byStem[head(stem)] = append(byStem[head(stem)], t)
			} else {
				byWord[w] = append(byWord[w], t)
			}
		}
	}
	return set
}

// reach bounds the words that a rule's rest can match: each starts with
// a space, and a {gapN} has one space for up to N words. It counts the
// spaces in character classes too, which only makes the bound looser.
func reach(rest string) int {
	n := strings.Count(expand.Replace(rest), " ")
	for gap := 1; gap <= 9; gap++ {
		n += (gap - 1) * strings.Count(rest, "{gap"+strconv.Itoa(gap)+"}")
	}
	return n
}

// head returns the first two letters of w.
func head(w string) string {
	n := 0
	for i := range w {
		if n == 2 {
			return w[:i]
		}
		n++
	}
	return w
}

// span is a phrase the rules found: words[start:end].
type span struct{ start, end int }

// findings is what the rules found in one reply, by set.
type findings [][]span

// scan runs the rules over r: at each word, those whose first words
// include it.
func scan(r *reply) findings {
	f := make(findings, sets)
	for i, w := range r.words {
		for _, t := range byWord[w] {
			f.try(r, i, t)
		}
		if len(w) < shortest || isStandIn(w) {
			continue // "emailaddr" is an address, not the word "email…"
		}
		for _, t := range byStem[head(w)] {
			if strings.HasPrefix(w, t.stem) {
				f.try(r, i, t)
			}
		}
	}
	return f
}

// has reports whether the rules of set found anything.
func (f findings) has(set ruleSet) bool { return len(f[set]) > 0 }

// try records the phrase that t finds starting at words[i], if any.
func (f findings) try(r *reply, i int, t *trigger) {
	if t.instruction && !instructs(r.words, i) {
		return
	}
	_, end := r.sentence(i)
	if i == end {
		return
	}
	// The regexp need not see more of the sentence than it can match.
	stop := min(end, i+1+t.reach)
	from := r.at[i] + len(r.words[i])
	rest := r.text[from : r.at[stop]-1]
	loc := t.rest.FindStringIndex(rest)
	if loc == nil {
		return
	}
	words := strings.Count(strings.TrimRight(rest[:loc[1]], " "), " ")
	f[t.set] = append(f[t.set], span{i, i + 1 + words})
}

// instructs reports whether the English verb at words[i] is said to the
// client as an instruction: it starts a sentence or a clause ("Hi Anna,
// email us"), follows "please" or a lead-in like "you can" or "could you",
// or is joined by "and"/"or" to an earlier instruction in a sentence with a
// please in it ("please check the FAQ and contact support").
func instructs(words []string, i int) bool {
	j := i - 1
	for j >= 0 && softeners[words[j]] {
		if pleases[words[j]] {
			return true
		}
		j--
	}
	if j < 0 || isEnd(words[j]) || words[j] == "," {
		return true
	}
	if words[j] == "and" || words[j] == "or" {
		for k := j - 1; k >= 0 && !isEnd(words[k]); k-- {
			if pleases[words[k]] {
				return true
			}
		}
		return false
	}
	for _, lead := range leadIns {
		if endsWith(words[:j+1], lead) {
			return true
		}
	}
	return false
}

// endsWith reports whether words end with the words of phrase.
func endsWith(words []string, phrase []string) bool {
	if len(phrase) > len(words) {
		return false
	}
	tail := words[len(words)-len(phrase):]
	for k, w := range phrase {
		if tail[k] != w {
			return false
		}
	}
	return true
}

var (
	// softeners may stand between a lead-in and the verb: "please also
	// email us", "you can just call".
	softeners = wordSet(`please kindly pls plz also just simply always then`)
	// leadIns make the verb after them an instruction to the client.
	leadIns = phraseList(`
		you can|you could|you may|you should|you must|you need to|you have to|
		you might want to|you will need to|you will have to|you would need to|
		can you|could you|would you|will you|feel free to|best to|better to|try to|
		suggest you|suggest that you|recommend you|recommend that you|advise you to|
		want you to|like you to|need you to|i suggest|we suggest|i recommend|we recommend`)
)

// phraseList splits a "|"-separated list of phrases into their words.
func phraseList(list string) [][]string {
	var phrases [][]string
	for p := range strings.SplitSeq(list, "|") {
		phrases = append(phrases, strings.Fields(p))
	}
	return phrases
}

// wordSet builds a set from a space-separated list.
func wordSet(list string) map[string]bool {
	set := make(map[string]bool)
	for w := range strings.FieldsSeq(list) {
		set[w] = true
	}
	return set
}
