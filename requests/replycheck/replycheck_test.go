package replycheck

import (
	"slices"
	"strings"
	"testing"
)

// everything is an account with every kind of data on file.
var everything = Facts{
	Phones:     []string{"+7 916 123-45-67"},
	Emails:     []string{"it@acme.ru"},
	Companies:  []string{"Acme", "ООО «Акме»"},
	AccountIDs: []string{"acme", "crm-100500"},
	Tickets:    []string{"KC-42", "PROD-7"},
}

// kindTags name the kinds of knownData in test tables, in order.
var kindTags = []string{"phone", "email", "company", "account", "ticket"}

// tag names a warning in a test table: its code, or for asks_known_data
// the kind of data.
func tag(w Warning) string {
	if w.Code != CodeAsksKnownData {
		return w.Code
	}
	for i, k := range knownData {
		if w.Message == k.message {
			return kindTags[i]
		}
	}
	return "unknown asks_known_data message: " + w.Message
}

// TestCheck's cases named "seed NNN" quote the seed articles in
// shared/seeds/ word for word, those named "after seed NNN" paraphrase
// them: 000 is 000_681c015417d0577d.txt (signs of weak support), 002 is
// 002_09fd097192b988df.txt (agents who sabotage), 003 is
// 003_df4f85c5b18eb246.txt (five deadly support mistakes).
func TestCheck(t *testing.T) {
	noPhones := everything
	noPhones.Phones = []string{"", " "}
	noTickets := everything
	noTickets.Tickets = nil
	nothing := Facts{}

	tests := []struct {
		name  string
		text  string
		facts *Facts // nil: everything on file
		want  []string
	}{
		// Asking for data on file. Seed 003 §2, «Не проверить в базах
		// данных и системах и попросить дополнительную информацию».
		{"seed 003: which phone", "— А какой телефон вы указывали?", nil, []string{"phone"}},
		{"seed 003: which phone, none on file", "— А какой телефон вы указывали?", &noPhones, nil},
		{"seed 003: which company", "— А вы из какой компании?", nil, []string{"company"}},
		{"seed 003: your id", "— А уточните ваш айди", nil, []string{"account"}},
		{"seed 003: ticket number please", "— Номер ТИКЕТА ПОЖАЛУЙСТА!", nil, []string{"ticket"}},
		{"seed 003: ticket number, none open", "— Номер ТИКЕТА ПОЖАЛУЙСТА!", &noTickets, nil},
		{"send your phone number", "Пришлите, пожалуйста, ваш номер телефона", nil, []string{"phone"}},
		{"contact phone", "Подскажите контактный телефон для связи", nil, []string{"phone"}},
		{"phone, polite future", "Ваш телефон не подскажете?", nil, []string{"phone"}},
		{"what's your phone", "What's your phone number?", nil, []string{"phone"}},
		{"could you tell me your phone", "Could you tell me your phone number, please?", nil, []string{"phone"}},
		{"phone, nothing on file", "Could you tell me your phone number, please?", &nothing, nil},
		{"email, inflected", "Укажите, пожалуйста, e-mail для отправки счетов", nil, []string{"email"}},
		{"email, could you", "Можете прислать ваш имейл?", nil, []string{"email"}},
		{"email, bare question", "Ваша почта?", nil, []string{"email"}},
		{"please share your email", "Please share your email address.", nil, []string{"email"}},
		{"phone and email in one breath", "Напомните ваш телефон и e-mail, пожалуйста", nil, []string{"phone", "email"}},
		{"company name", "Как называется ваша компания?", nil, []string{"company"}},
		{"company name, genitive", "Напишите название вашей компании", nil, []string{"company"}},
		{"which company", "Which company are you from?", nil, []string{"company"}},
		{"contract number", "Пришлите номер договора, пожалуйста.", nil, []string{"account"}},
		{"personal account, ё", "Уточните номер лицевого счёта", nil, []string{"account"}},
		{"account id", "Can you provide your account ID?", nil, []string{"account"}},
		{"may I have your account number", "May I have your account number?", nil, []string{"account"}},
		{"request number", "Подскажите номер заявки", nil, []string{"ticket"}},
		{"ticket number", "What is your ticket number?", nil, []string{"ticket"}},
		{"we need the ticket", "We need your ticket number to proceed.", nil, []string{"ticket"}},
		{"drop me your number", "Скиньте номер телефона, перезвоню", nil, []string{"phone"}},
		{"phone, question after", "А телефон какой у вас?", nil, []string{"phone"}},
		{"dictate your email", "Продиктуйте, пожалуйста, вашу почту", nil, []string{"email"}},
		{"which organization", "Из какой вы организации?", nil, []string{"company"}},
		{"login", "Уточните, пожалуйста, ваш логин в системе", nil, []string{"account"}},
		{"contract number question", "Какой у вас номер договора?", nil, []string{"account"}},
		{"can I get your email", "Can I get your email address?", nil, []string{"email"}},
		{"provide company name", "Please provide your company name.", nil, []string{"company"}},
		{"your email please", "Your email, please?", nil, []string{"email"}},

		// Mentioning data is not asking for it.
		{"we called your phone", "Мы звонили на ваш телефон, но не дозвонились.", nil, nil},
		{"we called your phone, en", "We called your phone twice this morning.", nil, nil},
		{"updated your phone", "We've updated your phone number in our records.", nil, nil},
		{"account checked", "Я проверил ваш аккаунт, всё в порядке", nil, nil},
		{"sent to your email", "Отправил акт вам на почту.", nil, nil},
		{"check your email", "Проверьте, пожалуйста, почту — там письмо с паролем.", nil, nil},
		{"ticket number given", "Номер вашей заявки — KC-42, она уже в работе.", nil, nil},
		{"new phone is a new fact", "Пришлите новый номер телефона, старый удалим из карточки.", nil, nil},
		{"someone else's phone", "Подскажите телефон вашего бухгалтера", nil, nil},
		{"phone the device", "Какой у вас телефон — iPhone или Android?", nil, nil},
		{"we share your phone", "We'll share your phone number with the courier.", nil, nil},
		{"company as subject", "Подскажите, какие сервисы ваша компания использует?", nil, nil},
		{"company as place", "Сколько сотрудников в вашей компании пользуются сервисом?", nil, nil},
		{"server id", "Какой айди сервера, на котором ошибка?", nil, nil},
		{"vm id", "What's the ID of the failing VM?", nil, nil},
		{"which company to connect", "Какую компанию вы хотите подключить к интеграции — дочернюю?", nil, nil},
		{"a colleague's email", "Какой email у вашего нового сотрудника? Добавим его в группу.", nil, nil},
		{"email client", "What email client are you using?", nil, nil},
		{"phone model", "Which phone model do you have?", nil, nil},

		// Another channel. Seed 000: «Нет ничего менее клиентоориентированного
		// просьбы написать в другой мессенджер».
		{"after seed 000: another messenger", "Напишите нам в другой мессенджер, тут неудобно.", nil, []string{"other_channel"}},
		// Seed 002 §2: «Привет, не могли бы вы подписаться и написать мне
		// подробности бронирования?»
		{"seed 002: follow and DM", "Привет, не могли бы вы подписаться и написать мне подробности бронирования?", nil, []string{"other_channel"}},
		{"write to support email", "Напишите на почту support@acme.ru, там помогут", nil, []string{"other_channel"}},
		{"hotline", "Позвоните на горячую линию 8-800-123-45-67", nil, []string{"other_channel"}},
		{"ticket on the portal", "Создайте тикет в портале, так быстрее.", nil, []string{"other_channel"}},
		{"go to support", "Обратитесь в поддержку.", nil, []string{"other_channel"}},
		{"whatsapp", "Давайте продолжим в WhatsApp, мне там удобнее.", nil, []string{"other_channel"}},
		{"private messages", "Пишите в личку, так быстрее", nil, []string{"other_channel"}},
		{"request on the website", "Оставьте заявку на сайте, с вами свяжутся", nil, []string{"other_channel"}},
		{"you'll need to contact support", "You'll need to contact our support team.", nil, []string{"other_channel"}},
		{"please email us", "Please email us at support@acme.com", nil, []string{"other_channel"}},
		{"call our hotline", "Call our hotline, they are available 24/7.", nil, []string{"other_channel"}},
		{"open a ticket", "Please open a ticket on the portal.", nil, []string{"other_channel"}},
		{"contact support", "Hi Anna, you can contact support for that.", nil, []string{"other_channel"}},
		{"ticket number by email", "Пришлите, пожалуйста, номер заявки на почту support@acme.ru", nil, []string{"ticket", "other_channel"}},
		{"email your account id", "Please email your account ID to billing@acme.com", nil, []string{"account", "other_channel"}},
		{"we will call you", "Я позвоню вам через 10 минут, если удобно.", nil, nil},
		{"we contact support ourselves", "I'll contact support on your behalf and update you here.", nil, nil},
		{"come back any time", "Обращайтесь, если будут вопросы!", nil, nil},
		{"copy sent by email too", "Продублировал счёт на почту и прикладываю сюда.", nil, nil},
		{"write here", "Проверил: сервер перезапущен, доступ восстановлен. Если что-то ещё — пишите сюда.", nil, nil},
		{"logs here", "Отправьте мне, пожалуйста, логи сюда.", nil, nil},
		{"come to me directly", "Обратитесь ко мне напрямую, если что-то срочное.", nil, nil},

		// Look it up yourself. Seed 000: «Просить клиента найти ответ на его
		// вопрос самостоятельно "на сайте"».
		{"after seed 000: on the website", "Посмотрите на сайте, там всё написано.", nil, []string{"look_it_up"}},
		{"all in the docs", "Всё есть в документации.", nil, []string{"look_it_up"}},
		{"find in your dashboard", "Найдите в личном кабинете раздел «Счета».", nil, []string{"look_it_up"}},
		{"read the docs", "Ознакомьтесь с документацией по API.", nil, []string{"look_it_up"}},
		{"check our website", "Please check our website.", nil, []string{"look_it_up"}},
		{"see the FAQ", "See the FAQ.", nil, []string{"look_it_up"}},
		{"it's in the docs", "It's in the docs.", nil, []string{"look_it_up"}},
		{"knowledge base", "Всё подробно описано в базе знаний.", nil, []string{"look_it_up"}},
		{"google it", "Погуглите, это стандартная ошибка.", nil, []string{"look_it_up"}},
		{"refer to the docs", "Please refer to our documentation.", nil, []string{"look_it_up"}},
		{"we read the docs", "Я посмотрел в документации: лимит — 100 запросов в секунду.", nil, nil},
		{"answer with a link", "Limit is 100 rps, here is the page for later: https://docs.acme.com/limits", nil, nil},

		// Someone else's job. Seed 003 §5, «Сказать клиенту, что не
		// занимаешься этим вопросом».
		{"seed 003: to the accountant", "— Это к бухгалтеру, с вами свяжутся!", nil, []string{"deflects"}},
		{"seed 003: Vasya does that", "— Этой задачей Вася занимается.", nil, []string{"deflects"}},
		{"seed 003: I'm new", "— Я не знаю, я тут новенький, и когда это было, я еще не работал.", nil, []string{"deflects"}},
		{"not to me", "Это не ко мне.", nil, []string{"deflects"}},
		{"not my question", "Это не мой вопрос, уточните у коллег.", nil, []string{"deflects"}},
		{"question for accounting", "Это вопрос к бухгалтерии.", nil, []string{"deflects"}},
		{"go to accounting", "Обратитесь в бухгалтерию.", nil, []string{"deflects"}},
		{"not my area", "Это не моя зона ответственности.", nil, []string{"deflects"}},
		{"not my job", "Not my job, sorry.", nil, []string{"deflects"}},
		{"that's for accounting", "That's for accounting.", nil, []string{"deflects"}},
		{"not my department", "Sorry, not my department.", nil, []string{"deflects"}},
		{"ask sales", "Ask sales.", nil, []string{"deflects"}},
		{"sales does that", "Этим занимается отдел продаж.", nil, []string{"deflects"}},
		{"ask the manager", "Спросите у менеджера.", nil, []string{"deflects"}},
		{"handled by billing", "That's handled by billing.", nil, []string{"deflects"}},
		{"outside my area", "This is outside my area.", nil, []string{"deflects"}},
		{"I'll take it to accounting", "Thanks, I'll forward this to accounting myself and come back to you by 15:00", nil, nil},
		{"accounting does it, I passed it on", "Этим вопросом занимается бухгалтерия — я уже передал им ваш вопрос и вернусь к вам до 15:00.", nil, nil},
		{"I'll ask sales", "I'll ask sales and get back to you within the hour.", nil, nil},
		{"check with your own accountant", "Уточните у вашего бухгалтера, какие реквизиты нужны в акте.", nil, nil},
		{"developers do it, task filed", "Это вопрос к нашим разработчикам, я уже поставил задачу и сообщу, как будет ответ.", nil, nil},
		{"not a question for sales", "It's not a question for sales — I can change the plan right here.", nil, nil},
		{"no problem", "Не вопрос, сейчас сделаю.", nil, nil},
		{"finding out", "Я не знаю точного ответа, но уже уточняю у инженеров и вернусь через час.", nil, nil},
		{"account manager joins", "Your account manager Anna will join this chat tomorrow.", nil, nil},

		// Good replies: seed 003 §3's template, seed 002 §3's phrases.
		{"seed 003: clarifying template", "Подскажите, правильно ли понял, вы получили письмо о сбое за вчера? Но возможно, это было другое письмо. Давайте на всякий случай уточним детали — сможете прислать скриншот? И я помогу разобраться.", nil, nil},
		{"after seed 002: happy to help", "Счастлив помочь! Я понимаю, как это должно расстраивать — уже проверяю логи.", nil, nil},
		{"escalated", "Got it — I've escalated this to our engineers and will update you here by 15:00.", nil, nil},
		{"details filled in", "Счёт на оплату прикладываю, реквизиты вашей компании уже подставил.", nil, nil},
		{"empty", "", nil, nil},
		{"blank", " \n\t ", nil, nil},

		// Everything at once.
		{"all four", "Hi Anna! What's your phone number? Also, please check our FAQ and contact support. Honestly, it's not my job.", nil,
			[]string{"phone", "other_channel", "look_it_up", "deflects"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := everything
			if tt.facts != nil {
				f = *tt.facts
			}
			var got []string
			for _, w := range Check(tt.text, f) {
				got = append(got, tag(w))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Check(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

// TestCheckNil checks that a fine reply gets nil, not an empty slice, so
// that callers can test the result with == nil and JSON shows null.
func TestCheckNil(t *testing.T) {
	if got := Check("Спасибо, всё исправили!", everything); got != nil {
		t.Errorf("Check = %#v, want nil", got)
	}
}

// TestMessagesKeepDataOut checks that no message names the client's data:
// warnings end up in API answers and logs.
func TestMessagesKeepDataOut(t *testing.T) {
	text := "Пришлите ваш телефон, почту и номер договора. Какой номер заявки, KC-42? Напишите на it@acme.ru. Это не ко мне. See the FAQ."
	ws := Check(text, everything)
	if len(ws) != 7 {
		t.Fatalf("Check = %v, want several warnings", ws)
	}
	for _, w := range ws {
		for _, values := range [][]string{everything.Phones, everything.Emails, everything.Companies, everything.AccountIDs, everything.Tickets} {
			for _, v := range values {
				if strings.Contains(strings.ToLower(w.Message), strings.ToLower(v)) {
					t.Errorf("message %q contains %q", w.Message, v)
				}
			}
		}
	}
}

// TestCheckLongReply checks that a long run-on reply full of trigger words
// is handled in linear time: it would not finish if any step looked at
// the whole sentence for each of its words.
func TestCheckLongReply(t *testing.T) {
	for _, unit := range []string{"телефон ", "пришлите я это не ", "please email the support, ", "номер телефона компании и email "} {
		text := strings.Repeat(unit, 200_000/len(unit))
		Check(text, everything)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"Ёлки-палки! What's up?", "елкипалки . what is up ?"},
		{"I’ll send it; we've done it, don't worry", "i will send it , we have done it , dont worry ."},
		{"Напишите на support@acme.ru. Или на www.acme.ru/help!", "напишите на emailaddr . или на webaddr ."},
		{"Пишите @acme_support: там быстрее", "пишите tghandle , там быстрее ."},
		{"E-mail, телефон (рабочий) — всё?!", "email , телефон , рабочий , все ?"},
		{"Версия 2.5 вышла", "версия 2 . 5 вышла ."},
		{"...", ""},
	}
	for _, tt := range tests {
		if got := normalize(tt.text).text; got != tt.want {
			t.Errorf("normalize(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// FuzzCheck checks that Check never panics, is deterministic, never warns
// about data that is not on file, and keeps to one warning per code (one
// per kind of data for asks_known_data).
func FuzzCheck(f *testing.F) {
	for _, seed := range []string{
		"А какой телефон вы указывали?",
		"Номер ТИКЕТА ПОЖАЛУЙСТА!",
		"Напишите на почту support@acme.ru",
		"That's for accounting, not my job. See the FAQ.",
		"e-mail?!… ёЁ — «»",
		"\xff\xfe invalid utf-8 ?",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := Check(text, everything)
		if again := Check(text, everything); !slices.Equal(got, again) {
			t.Fatalf("Check(%q) gave %v, then %v", text, got, again)
		}
		seen := make(map[string]bool)
		for _, w := range got {
			key := w.Code
			if w.Code == CodeAsksKnownData {
				key = w.Message
			}
			if seen[key] {
				t.Errorf("Check(%q) repeats %q: %v", text, key, got)
			}
			seen[key] = true
			if strings.HasPrefix(tag(w), "unknown") {
				t.Errorf("Check(%q): %s", text, tag(w))
			}
		}
		for _, w := range Check(text, Facts{}) {
			if w.Code == CodeAsksKnownData {
				t.Errorf("Check(%q, no facts) = %v: asks_known_data with nothing on file", text, w)
			}
		}
	})
}

// benchmarkReplies are realistic replies cut to 1 KB: a fine one in
// Russian, and an English one that earns every warning.
var benchmarkReplies = map[string]string{
	"ru_fine": kilobyte("Добрый день! Проверил ваш аккаунт: сервер перезапущен, доступ восстановлен. " +
		"Если ошибка повторится, пришлите скриншот сюда, в чат, и я сразу передам инженерам. "),
	"en_warnings": kilobyte("Hi Anna, thanks for the report! What's your phone number and account ID? " +
		"It's all in the docs, but please email support@acme.com or open a ticket on the portal; billing is not my department. "),
}

// kilobyte repeats s to 1 KB, cut at a rune boundary.
func kilobyte(s string) string {
	for len(s) < 1024 {
		s += s
	}
	return strings.ToValidUTF8(s[:1024], "")
}

// BenchmarkCheck measures Check on 1 KB replies. The baseline sub-benchmark
// only lower-cases and splits the same text, to put the figures in
// proportion on a busy machine.
func BenchmarkCheck(b *testing.B) {
	for _, name := range []string{"ru_fine", "en_warnings"} {
		text := benchmarkReplies[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				Check(text, everything)
			}
		})
	}
	b.Run("baseline_lower_fields", func(b *testing.B) {
		text := benchmarkReplies["ru_fine"]
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			strings.Fields(strings.ToLower(text))
		}
	})
}
