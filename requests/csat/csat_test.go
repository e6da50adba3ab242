package csat

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	tests := []struct {
		text  string
		score int // 0: not a rating
	}{
		// Digits, with what comes around them.
		{"5", 5},
		{" 4!", 4},
		{"5.", 5},
		{"1", 1},
		{"3)", 3},
		{"\n 2 \n", 2},
		{"5/5", 5},
		{"4/5", 4},
		{"4 из 5", 4},
		{"5 из 5, спасибо!", 5},
		{"4 out of 5", 4},
		{"оценка 5", 5},
		{"Оценка: 4", 4},
		{"Моя оценка — 5", 5},
		{"ставлю 5", 5},
		{"5 спасибо!", 5},
		{"5, спасибо большое", 5},
		{"5, спасибо большое за помощь!", 5},
		{"Спасибо, 4", 4},
		{"5 баллов", 5},
		{"5 звезд 👍", 5},
		{"5⭐", 5},
		{"5 ⭐⭐⭐⭐⭐", 5},
		{"5 thanks", 5},
		{"I give 5", 5},
		{"5 отлично", 5},

		// Keycaps and stars.
		{"5️⃣", 5},
		{"4⃣", 4},
		{"1️⃣ ", 1},
		{"⭐⭐⭐⭐⭐", 5},
		{"⭐️⭐️⭐️", 3},
		{"★★★★", 4},
		{"★★★☆☆", 3},
		{"⭐", 1},
		{"⭐⭐⭐⭐⭐ спасибо!", 5},
		{"🌟🌟🌟🌟", 4},

		// Words.
		{"пять", 5},
		{"Пятёрка!", 5},
		{"пятерка", 5},
		{"ставлю пятёрку", 5},
		{"четыре", 4},
		{"five", 5},
		{"Five stars!", 5},
		{"три", 3},

		// Not ratings.
		{"", 0},
		{"   ", 0},
		{"10", 0},
		{"0", 0},
		{"6", 0},
		{"05", 0},
		{"12345", 0},
		{"3 дня жду ответа", 0},
		{"У меня 2 вопроса", 0},
		{"1) не работает API 2) не приходят письма", 0},
		{"5:30", 0},
		{"в 5", 0},
		{"через 5 минут", 0},
		{"5 минут", 0},
		{"4.5", 0},
		{"4,5", 0},
		{"5 5", 0},
		{"1 2 3 4 5", 0},
		{"4/10", 0},
		{"10/10", 0},
		{"5 из 10", 0},
		{"/5", 0},
		{"из 5", 0},
		{"5?", 0},
		{"Оценка 5?", 0},
		{"5%", 0},
		{"№5", 0},
		{"#5", 0},
		{"$5", 0},
		{"-1", 0},
		{"+5", 0},
		{"не 5", 0},
		{"⑤", 0},
		{"５", 0},
		{"🔟", 0},
		{"1️⃣0️⃣", 0},
		{"⭐⭐⭐⭐⭐⭐", 0},
		{"☆☆☆☆☆", 0},
		{"★★☆", 0},
		{"3 ⭐⭐⭐⭐⭐", 0},
		{"5 четыре", 0},
		{"пять минут", 0},
		{"one more question", 0},
		{"2 отлично", 0},
		{"Спасибо!", 0},
		{"👍", 0},
		{"5, спасибо, но у меня остался ещё один вопрос по счёту", 0},
		{"5 спасибо спасибо спасибо спасибо спасибо спасибо", 0}, // longer than a rating
		{"v5", 0},
		{"5g", 0},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			score, ok := Parse(tt.text)
			if ok != (tt.score != 0) || score != tt.score {
				t.Errorf("Parse(%q) = %d, %v; want %d, %v", tt.text, score, ok, tt.score, tt.score != 0)
			}
		})
	}
}

func TestQuestion(t *testing.T) {
	q := Question()
	for _, want := range []string{"Оцените", "1 до 5", "How did we do?", "1 to 5"} {
		if !strings.Contains(q, want) {
			t.Errorf("Question() = %q, missing %q", q, want)
		}
	}
	if _, ok := Parse(q); ok {
		t.Errorf("Parse(Question()) is a rating; the bot's own message must not rate itself")
	}
}

// FuzzParse checks that Parse never panics, is deterministic, and only
// ever returns a score from 1 to 5 for a short text.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"5", "4 из 5", "5/5", "5️⃣", "★★★☆☆", "пятёрка", "3 дня жду ответа", "5:30", "\xff5"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		score, ok := Parse(text)
		again, okAgain := Parse(text)
		if score != again || ok != okAgain {
			t.Fatalf("Parse(%q) gave %d, %v, then %d, %v", text, score, ok, again, okAgain)
		}
		if !ok && score != 0 {
			t.Errorf("Parse(%q) = %d, false: a non-rating has score 0", text, score)
		}
		if ok && (score < 1 || score > 5 || utf8.RuneCountInString(strings.TrimSpace(text)) > maxRunes) {
			t.Errorf("Parse(%q) = %d, true", text, score)
		}
	})
}
