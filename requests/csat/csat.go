// Package csat is the client's rating of a resolved request (SPEC §8):
// the question Keycare posts into the client's group, and the recognition
// of a reply that answers it.
//
// Parse is conservative. Everything the client writes in the group after
// the question arrives here, and a false rating (a "3" from "3 days I've
// been waiting") does more harm than a missed one: it skews the support
// metrics and answers an angry client with a thank-you. So a reply is a
// rating only if it is short and nothing in it but the rating, its scale
// and a thank-you.
package csat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// question is posted in both languages: key accounts' groups mix them,
// and the scale's anchor (5 is best) keeps anyone from reading it the
// other way round.
const question = "Оцените, пожалуйста, как мы помогли: ответьте цифрой от 1 до 5 (5 — отлично).\n" +
	"How did we do? Please reply with a number from 1 to 5 (5 is great)."

// maxRunes is the longest reply Parse reads as a rating: "5, спасибо
// большое за помощь!" fits; a longer reply is a message, not a rating.
const maxRunes = 40

// Question returns the text Keycare posts to ask for a rating, in Russian
// and English in one message.
func Question() string { return question }

// Parse reports whether text is a rating and which (1..5). It accepts a
// digit ("5", "4!", "5/5", "4 из 5", "4 out of 5", "оценка 5", "5,
// спасибо"), a keycap emoji (4️⃣), one to five stars (⭐⭐⭐⭐, ★★★☆☆) and
// number words ("пять", "пятёрка", "five"); and rejects anything else:
// other numbers, times, lists, counts ("У меня 2 вопроса") and anything
// longer than a rating needs.
func Parse(text string) (score int, ok bool) {
	text = strings.TrimSpace(text)
	if text == "" || utf8.RuneCountInString(text) > maxRunes {
		return 0, false
	}
	tokens, ok := tokenize(text)
	if !ok {
		return 0, false
	}
	return rate(tokens)
}

// kind is the kind of a token of a reply.
type kind int

const (
	number    kind = iota // a run of ASCII digits
	keycap                // a digit keycap emoji: 4️⃣
	word                  // a run of letters, lower case, ё as е
	slash                 // "/", as in 5/5
	star                  // ⭐ ★ 🌟
	emptyStar             // ☆, as in ★★★☆☆
)

type token struct {
	kind kind
	text string
}

// tokenize splits text into tokens, dropping spaces, punctuation and
// emoji. It fails on what a rating never has: a question mark, a sign, a
// percent, a currency, a number sign, a digit that is not ASCII (½, ⑤, ５).
func tokenize(text string) ([]token, bool) {
	rs := []rune(text)
	var tokens []token
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case '0' <= c && c <= '9':
			if i > 0 && strings.ContainsRune("+-−", rs[i-1]) {
				return nil, false // +5, -1
			}
			j := i
			for j < len(rs) && '0' <= rs[j] && rs[j] <= '9' {
				j++
			}
			digits := string(rs[i:j])
			end := j
			if end < len(rs) && rs[end] == '\uFE0F' {
				end++
			}
			if end < len(rs) && rs[end] == '\u20E3' {
				if len(digits) > 1 {
					return nil, false
				}
				tokens = append(tokens, token{keycap, digits})
				i = end
				continue
			}
			tokens = append(tokens, token{number, digits})
			i = j - 1
		case unicode.IsLetter(c):
			j := i
			var b strings.Builder
			for j < len(rs) && unicode.IsLetter(rs[j]) {
				r := unicode.ToLower(rs[j])
				if r == 'ё' {
					r = 'е'
				}
				b.WriteRune(r)
				j++
			}
			tokens = append(tokens, token{word, b.String()})
			i = j - 1
		case c == '/':
			tokens = append(tokens, token{kind: slash})
		case c == '⭐' || c == '★' || c == '🌟':
			tokens = append(tokens, token{kind: star})
		case c == '☆':
			tokens = append(tokens, token{kind: emptyStar})
		case unicode.IsNumber(c) || unicode.Is(unicode.Sc, c) || strings.ContainsRune("?%#№@&=<>^|\\", c):
			return nil, false
		}
	}
	return tokens, true
}

// rate reads tokens as a rating: every token is part of the one rating
// (a number, a keycap, a number word, stars; several only if they agree,
// "5 ⭐⭐⭐⭐⭐"), its scale ("/5", "из 5") or a filler word ("оценка",
// "спасибо").
func rate(tokens []token) (int, bool) {
	var (
		scores         []int // what the number, keycap and number word say
		numbers, named int
		keycaps        int
		stars, empty   int
		onlyHigh       bool // a word of praise: the score must be 4 or 5
	)
	for i := 0; i < len(tokens); i++ {
		t := tokens[i]
		switch t.kind {
		case number, keycap:
			v, ok := digit(t.text)
			if !ok {
				return 0, false
			}
			scores = append(scores, v)
			if t.kind == number {
				numbers++
			} else {
				keycaps++
			}
		case slash:
			// "5/5": a scale after a number, and it must be out of 5.
			if i == 0 || tokens[i-1].kind != number || !scaleOfFive(tokens, i+1) {
				return 0, false
			}
			i++
		case word:
			if skip, ok := scale(tokens, i); skip > 0 {
				if !ok {
					return 0, false
				}
				i += skip
				continue
			}
			switch v, isNumber := numberWords[t.text]; {
			case isNumber:
				scores = append(scores, v)
				named++
			case praise[t.text]:
				onlyHigh = true
			case !fillers[t.text]:
				return 0, false
			}
		case star:
			stars++
		case emptyStar:
			empty++
		}
	}
	if numbers > 1 || keycaps > 1 || named > 1 || stars > 5 || empty > 0 && stars+empty != 5 {
		return 0, false
	}

	score := stars
	if len(scores) > 0 {
		score = scores[0]
		for _, s := range scores {
			if s != score {
				return 0, false
			}
		}
		// "5 ⭐⭐⭐⭐⭐" agrees; "5⭐" uses the star as a unit.
		if stars > 0 && stars != score && !(stars == 1 && empty == 0) {
			return 0, false
		}
	}
	if score < 1 || onlyHigh && score < 4 {
		return 0, false
	}
	return score, true
}

// digit returns the score a single digit stands for.
func digit(s string) (int, bool) {
	if len(s) != 1 || s[0] < '1' || s[0] > '5' {
		return 0, false
	}
	return int(s[0] - '0'), true
}

// scale recognizes a scale that starts at tokens[i] with a word: "из 5",
// "of 5", "out of 5". It returns how many tokens after i the scale takes
// (0 if it is not one) and whether it is out of 5.
func scale(tokens []token, i int) (skip int, ok bool) {
	switch {
	case tokens[i].text == "из" || tokens[i].text == "of":
		skip = 1
	case tokens[i].text == "out" && i+1 < len(tokens) && tokens[i+1].text == "of":
		skip = 2
	default:
		return 0, false
	}
	if i+skip >= len(tokens) || tokens[i+skip].kind != number {
		return 0, false
	}
	return skip, scaleOfFive(tokens, i+skip)
}

// scaleOfFive reports whether tokens[i] is the number 5.
func scaleOfFive(tokens []token, i int) bool {
	return i < len(tokens) && tokens[i].kind == number && tokens[i].text == "5"
}

var (
	// numberWords are the scores said in words, as a lone reply has them.
	numberWords = map[string]int{
		"один": 1, "одна": 1, "единица": 1, "единицу": 1, "единичка": 1, "кол": 1, "one": 1,
		"два": 2, "две": 2, "двойка": 2, "двойку": 2, "двоечка": 2, "two": 2,
		"три": 3, "тройка": 3, "тройку": 3, "троечка": 3, "трояк": 3, "three": 3,
		"четыре": 4, "четверка": 4, "четверку": 4, "четверочка": 4, "four": 4,
		"пять": 5, "пятерка": 5, "пятерку": 5, "пятерочка": 5, "пятерочку": 5, "five": 5,
	}
	// fillers may come with a rating: what it is, its unit, a thank-you.
	fillers = set(`
		оценка оценку оцениваю оцениваем ставлю ставим моя мой наша вот на от меня нас
		балл балла баллов звезда звезды звезд звездочка звездочки звездочек
		спасибо спасибочки спс благодарю большое огромное пожалуйста за помощь
		rating score my i we give rate stars star points point
		thanks thank you thx ty for the help`)
	// praise is a word that only goes with a good rating.
	praise = set(`отлично супер великолепно great excellent perfect awesome`)
)

func set(list string) map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(list) {
		m[w] = true
	}
	return m
}
