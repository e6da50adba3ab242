package replycheck

import (
	"slices"
	"strings"
)

// kind is one kind of client data a reply may ask for.
type kind struct {
	message string
	values  func(Facts) []string
	// nouns are the ways to name the data, with their usual inflections
	// ("телефон", "номер телефона", "phone no").
	nouns ruleSet
	// device says a noun also names a thing ("какой у вас телефон,
	// iPhone?"), so a sentence that talks about devices is not a request
	// for the number.
	device bool
	// mustBeTheirs says the noun names things the client deals with as
	// well as the client itself ("какую компанию подключить к
	// интеграции?"), so only a question about the client's own counts.
	mustBeTheirs bool
}

// whose lets a phone or email belong to the client's company: "телефон
// вашей компании" is still the number on the account card.
const whose = `(?: (?:вашей |вашего )?(?:компании|организации|офиса))?`

// knownData lists the kinds in the order their warnings are reported.
// Every message says what was asked and that Keycare has it; none carries
// the value itself, which must stay out of logs and API answers alike.
var knownData = []kind{
	{
		message: "asks for the client's phone number, which is on the account card",
		values:  func(f Facts) []string { return f.Phones },
		nouns: compile(
			phrase(`контактн* мобильн* рабоч* сотов*`, `(?: номер\pL*)?(?: (?:контактн|мобильн|рабоч|сотов)\pL*)? телефон\pL*`+whose+`| номер\pL*`),
			phrase(`номер*`, `(?: (?:контактн|мобильн|рабоч|сотов)\pL*)? телефон\pL*`+whose+`| (?:для связи|мобильного|сотового)`),
			phrase(`телефон*`, whose),
			phrase(`тел`, ``),
			phrase(`mobile cell contact work office business callback`, ` (?:phone|telephone|cellphone)(?: number| no)?| number`),
			phrase(`phone telephone cellphone`, `(?: number| no)?`),
		),
		device: true,
	},
	{
		message: "asks for the client's email address, which is on the account card",
		values:  func(f Facts) []string { return f.Emails },
		nouns: compile(
			phrase(`адрес*`, ` (?:электронн\pL*|эл) почт\pL*| почт(?:ы|а)`),
			phrase(`электронн* эл`, ` почт\pL*`),
			phrase(`почта почты почте почту почтой`, ``),
			phrase(`почтов*`, ` (?:ящик|адрес)\pL*`),
			phrase(`email* mail* имейл* мейл* емейл* имэйл* мэйл* емэйл*`, `(?: address| адрес\pL*)?`),
		),
	},
	{
		message: "asks which company the client is from, which is on the account card",
		values:  func(f Facts) []string { return f.Companies },
		nouns: compile(
			phrase(`название наименование`, `(?: ваш\pL*)? (?:компании|организации|фирмы|юрлица|юридического лица)`),
			phrase(`компания компании компанию компанией организация организации организацию организацией юрлицо юрлица фирма фирмы фирму фирмой`, ``),
			phrase(`юридическ*`, ` лиц\pL*`),
			phrase(`name`, ` of (?:your |the )?(?:company|organization|organisation|business|firm)`),
			phrase(`company organization organisation firm`, `(?: name)?`),
			phrase(`legal`, ` entity`),
			phrase(`business`, ` name`),
		),
		mustBeTheirs: true,
	},
	{
		message: "asks for the client's account id or contract number, which is on the account card",
		values:  func(f Facts) []string { return f.AccountIDs },
		nouns: compile(
			phrase(`номер* id айди ид идентификатор*`, `(?: вашего| вашей)? (?:аккаунт\pL*|учетн\pL* запис\pL*|клиент\pL*|договор\pL*|лицев\pL* счет\pL*|контракт\pL*|учетк\pL*|профил\pL*|личн\pL* кабинет\pL*|пользовател\pL*)`),
			phrase(`лицев*`, ` счет\pL*`),
			phrase(`account customer client contract user subscriber`, ` (?:id|number|no)`),
			phrase(`username login логин*`, ``),
			phrase(`user`, ` name`),
			phrase(`id айди ид идентификатор`, ``), // see bareIDs
		),
	},
	{
		message: "asks for the ticket number, which is on file with the account's requests",
		values:  func(f Facts) []string { return f.Tickets },
		nouns: compile(
			phrase(`номер* id айди ид`, `(?: вашей| вашего)? (?:заявк\pL*|тикет\pL*|обращени\pL*|запрос\pL*|инцидент\pL*|задач\pL*)`),
			phrase(`тикет*`, ``),
			phrase(`ticket case request incident issue reference ref`, ` (?:number|no|id|key)`),
			phrase(`ticket`, ``),
		),
	},
}

// nounSpan is where the reply names a kind of data: words[start:end].
type nounSpan struct{ kind, start, end int }

// askedFor reports, for each of knownData, whether the reply asks for it
// while Keycare has it on file.
func askedFor(r *reply, found findings, f Facts) []bool {
	asked := make([]bool, len(knownData))
	wanted := make([]bool, len(knownData))
	anyWanted := false
	for i, k := range knownData {
		wanted[i] = onFile(k.values(f))
		anyWanted = anyWanted || wanted[i]
	}
	if !anyWanted {
		return asked
	}
	var spans []nounSpan
	for i, k := range knownData {
		for _, sp := range found[k.nouns] {
			spans = append(spans, nounSpan{i, sp.start, sp.end})
		}
	}
	if len(spans) == 0 {
		return asked
	}
	// Words that name data count as filler between a request and another
	// noun: "напомните ваш телефон и e-mail" asks for both.
	noun := make([]bool, len(r.words))
	for _, sp := range spans {
		for j := sp.start; j < sp.end; j++ {
			noun[j] = true
		}
	}
	covered := coveredSpans(spans)
	for i, sp := range spans {
		k := knownData[sp.kind]
		if !wanted[sp.kind] || asked[sp.kind] || covered[i] ||
			k.device && talksDevices(r, sp.start) || k.mustBeTheirs && !theirs(r, noun, sp) {
			continue
		}
		asked[sp.kind] = asks(r, noun, sp.start, sp.end)
	}
	return asked
}

// coveredSpans reports, for each span, whether it is part of a longer
// one: "компании" in "телефон компании" says whose phone, it is not a
// question about the company. It sorts spans by start.
func coveredSpans(spans []nounSpan) []bool {
	slices.SortStableFunc(spans, func(a, b nounSpan) int { return a.start - b.start })
	covered := make([]bool, len(spans))
	reach := -1 // the furthest end of the spans that start earlier
	for i := 0; i < len(spans); {
		j, longest := i, -1
		for ; j < len(spans) && spans[j].start == spans[i].start; j++ {
			longest = max(longest, spans[j].end)
		}
		for k := i; k < j; k++ {
			covered[k] = reach >= spans[k].end || longest > spans[k].end
		}
		reach = max(reach, longest)
		i = j
	}
	return covered
}

// talksDevices reports whether the words around words[i] are about phones
// as devices.
func talksDevices(r *reply, i int) bool {
	first, end := r.sentence(i)
	return anyWord(r.words[max(first, i-6):min(end, i+7)], devices)
}

// theirs reports whether the noun at sp is the client's own: "ваша
// компания", "из какой вы компании", "which company are you from", "company
// name", or a sentence that is nothing but the noun ("Компания?").
func theirs(r *reply, noun []bool, sp nounSpan) bool {
	if sp.end-sp.start > 1 {
		return true // "название компании", "company name"
	}
	first, end := r.sentence(sp.start)
	for _, w := range r.words[max(first, sp.start-3):sp.start] {
		if theirsBefore[w] {
			return true
		}
	}
	for _, w := range r.words[sp.end:min(end, sp.end+3)] {
		if theirsAfter[w] || strings.HasPrefix(w, "представля") || strings.HasPrefix(w, "represent") {
			return true
		}
	}
	return bareRequest(r, noun, sp.start)
}

// someoneElses reports whether what follows the noun at words[end] says
// whose it is: "телефон бухгалтера", "email of your accountant", "какой
// email у вашего нового сотрудника?".
func someoneElses(w []string, end int) bool {
	if someoneElse[w[end]] || compounds[w[end]] {
		return true
	}
	for j := end; j < end+4 && !isEnd(w[j]) && w[j] != ","; j++ {
		for _, stem := range people {
			if strings.HasPrefix(w[j], stem) {
				return true
			}
		}
	}
	return false
}

// asks reports whether the noun at words[start:end] is being asked for:
// it is the object of a request word ("пришлите, пожалуйста, ваш телефон",
// "what's your phone number", "телефон не подскажете?"), or the whole
// sentence is the noun and a question mark or a please ("Ваш email?",
// "Номер тикета, пожалуйста!"). noun marks the words that name data.
func asks(r *reply, noun []bool, start, end int) bool {
	w := r.words
	// "на вашу почту", "to your email": the data is where something goes
	// or comes from, not what is asked for.
	i := start - 1
	for i >= 0 && possessives[w[i]] {
		i--
	}
	if i >= 0 && prepositions[w[i]] {
		return false
	}
	// "наш телефон", "a new email", "телефон бухгалтера": not the data on
	// file, or not the client's.
	if start > 0 && (ours[w[start-1]] || fresh[w[start-1]]) {
		return false
	}
	if someoneElses(w, end) {
		return false
	}
	// "какой айди сервера?": an id followed by another noun is that
	// noun's id.
	if end == start+1 && bareIDs[w[start]] && !isEnd(w[end]) && !fillers[w[end]] && !isTrigger(r, end) {
		return false
	}

	for j, n := start-1, 0; j >= 0 && n < 6; j, n = j-1, n+1 {
		if isTrigger(r, j) {
			return true
		}
		if !fillers[w[j]] && !noun[j] {
			break
		}
	}
	for j, n := end, 0; !isEnd(w[j]) && n < 3; j, n = j+1, n+1 {
		if isTrigger(r, j) {
			return true
		}
		if !fillers[w[j]] && !noun[j] {
			break
		}
	}
	return bareRequest(r, noun, start)
}

// isTrigger reports whether words[j] makes a request of what it governs.
func isTrigger(r *reply, j int) bool {
	w := r.words
	switch word := w[j]; {
	case interrogatives[word]:
		return true
	case word == "как":
		_, end := r.sentence(j)
		return w[end] == "?" // "как называется ваша компания?"
	case needs[word]:
		return j == 0 || !negations[w[j-1]] // "we need your email", not "we don't need"
	case requestVerbs[word]:
		return !statedBySomeone(w, j)
	case word == "get" || word == "have":
		// "can I get your email", "may we have your account id"
		return j >= 2 && (w[j-1] == "i" || w[j-1] == "we") && askModals[w[j-2]]
	}
	return false
}

// statedBySomeone reports whether the verb at words[j] says what we or
// they do ("we'll share your phone with the courier", "мы можем указать
// ваш телефон") rather than asking the client to do it.
func statedBySomeone(w []string, j int) bool {
	if j == 0 {
		return false
	}
	prev := w[j-1]
	if subjects[prev] || negations[prev] || ownModals[prev] {
		return true
	}
	return modals[prev] && j >= 2 && subjects[w[j-2]]
}

// bareRequest reports whether the sentence holding words[i] is nothing but
// names of data and filler, made a request by a question mark or a please.
func bareRequest(r *reply, noun []bool, i int) bool {
	first, end := r.sentence(i)
	if end-first > maxBare {
		return false
	}
	please := false
	for j := first; j < end; j++ {
		if noun[j] {
			continue
		}
		if !fillers[r.words[j]] && !openers[r.words[j]] {
			return false
		}
		please = please || pleases[r.words[j]]
	}
	return r.words[end] == "?" || please
}

// maxBare is the most words a bare request has: "Ну а ваш рабочий номер
// телефона тогда, пожалуйста?" is about as long as they get.
const maxBare = 12

// anyWord reports whether any of words is in set.
func anyWord(words []string, set map[string]bool) bool {
	for _, w := range words {
		if set[w] {
			return true
		}
	}
	return false
}

var (
	// requestVerbs ask the client to give something: imperatives,
	// infinitives after "could you", and the polite future of a question
	// ("не подскажете?").
	requestVerbs = wordSet(`
		пришлите пришли присылайте прислать пришлете пришлешь вышлите выслать
		отправьте отправь отправить отправите скиньте скинь скинуть скинете
		укажите укажи указать укажете напишите напиши написать напишете
		подскажите подскажи подсказать подскажете сообщите сообщи сообщить
		скажите скажи сказать скажете уточните уточни уточнить назовите назови
		назвать назовете продиктуйте продиктуй продиктовать дайте дай дать
		оставьте оставь оставить напомните напомни напомнить предоставьте
		предоставить продублируйте продублировать введите ввести поделитесь
		поделиться подтвердите подтвердить
		send provide share tell give confirm specify enter type write remind
		email drop dm text know verify doublecheck`)
	// needs say the reply cannot go on without the data ("нам нужен ваш
	// телефон", "we need your account id"); a subject before them does
	// not make them a statement.
	needs          = wordSet(`нужен нужна нужно нужны требуется необходим необходима необходимо need needs require`)
	interrogatives = wordSet(`какой какая какую какое каком какие каких какого какому каким какими чей чья чью what which`)
	// fillers may stand between a request word and the noun.
	fillers = wordSet(`
		, пожалуйста плиз please pls plz
		ваш ваша вашу ваше вашего вашей вашим ваши ваших свой свою свое своего своей свои
		your the a an мне нам me us у вас вы you is are was were
		еще раз again тоже также also не бы with называется называются и или and or
		актуальный актуальную актуальное актуального актуальной текущий текущую текущее
		current correct правильный правильную правильное полный полное полную full
		точный точное точную exact`)
	// openers may start a sentence that is nothing but a request for the
	// noun: "А ваш телефон?", "So, your email?".
	openers      = wordSet(`а ну так тогда so ok ок okay then hi привет`)
	pleases      = wordSet(`пожалуйста плиз please pls plz kindly`)
	possessives  = wordSet(`ваш ваша вашу ваше вашего вашей вашим ваши ваших свой свою свое своего своей свои your the a an`)
	prepositions = wordSet(`на по в во через с со к ко о об про при для от до из за to by via on at from in into about for over through of`)
	ours         = wordSet(`наш наша нашу наше нашего нашей нашим наши наших мой моя мою мое моего моей мои our my`)
	fresh        = wordSet(`
		новый новую новое нового новой новая другой другую другое другого другая
		дополнительный дополнительную дополнительное второй вторую резервный резервную
		запасной запасную new another other alternative additional backup second different`)
	// someoneElse, right after the noun, says it is not the client's:
	// "email of…", "телефон вашего…", "телефон поддержки".
	someoneElse = wordSet(`of вашего вашей ваших другого другой ответственного поддержки техподдержки`)
	// compounds, right after the noun, make it part of another thing:
	// "email client", "phone model".
	compounds = wordSet(`client clients server servers provider app apps service notification notifications
		template templates campaign campaigns model case call calls line settings signature newsletter`)
	// people are stems of the people whose contacts a reply may rightly
	// ask for.
	people = strings.Fields(`
		сотрудник бухгалтер коллег директор менеджер руководител курьер получател юрист
		employee colleague accountant manager director lawyer ceo cfo cto`)
	// theirsBefore and theirsAfter, near the noun, make it the client's
	// own: "ваша компания", "из какой вы компании", "which company are
	// you with".
	theirsBefore = wordSet(`ваш ваша вашу ваше вашего вашей вашим ваши ваших свой свою свое своего своей свои your вас из from`)
	theirsAfter  = wordSet(`from with`)
	bareIDs      = wordSet(`id айди ид идентификатор`)
	subjects     = wordSet(`я мы i we they he she`)
	// ownModals say "we/I will" by themselves ("можем указать"); English
	// modals need the subject ("we can share", not "can you share").
	ownModals = wordSet(`можем могу сможем смогу будем буду`)
	modals    = wordSet(`can could will would shall may might must should also then`)
	askModals = wordSet(`can could may`)
	negations = wordSet(`dont doesnt didnt wont cant never`)
	devices   = wordSet(`iphone android айфон андроид смартфон смартфона модель модели ios samsung xiaomi приложение приложении app smartphone model device`)
)
